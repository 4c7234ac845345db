//! [`Tree`]: a temporary folder built file by file, with the special entries the cases need.

use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A temporary tree, removed when dropped.
#[derive(Debug)]
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// An empty tree (world-readable, so an unprivileged user can walk it).
    pub fn new() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("reader-conformance-")
            .tempdir()
            .expect("create a temporary folder");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        Tree { dir }
    }

    /// The root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `root/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (and its parent folders).
    pub fn file(&self, rel: impl AsRef<Path>, data: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folders");
        }
        fs::write(&path, data).expect("write a file");
        path
    }

    /// Creates a folder (and its parents).
    pub fn dir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.join(rel);
        fs::create_dir_all(&path).expect("create folders");
        path
    }

    /// Creates a named pipe.
    pub fn fifo(&self, rel: impl AsRef<Path>) -> PathBuf {
        let path = self.join(rel);
        let c = cstring(&path);
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        path
    }

    /// Creates a symbolic link at `rel` pointing to `target`.
    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<Path>) -> PathBuf {
        let path = self.join(rel);
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        path
    }

    /// Creates a sparse file of `len` bytes (all zero, taking no disk space).
    pub fn sparse(&self, rel: impl AsRef<Path>, len: u64) -> PathBuf {
        let path = self.join(rel);
        fs::File::create(&path)
            .and_then(|f| f.set_len(len))
            .expect("sparse file");
        path
    }

    /// Sets a path's permission bits.
    pub fn chmod(&self, rel: impl AsRef<Path>, mode: u32) {
        fs::set_permissions(self.join(rel), fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Builds `levels` nested folders of `name_len`-byte names below `rel` (using `*at` calls,
    /// so the whole path may exceed `PATH_MAX`) and a file `deep.txt` holding `data` at the
    /// bottom. Returns the full path of the file.
    pub fn deep(&self, rel: &str, levels: usize, name_len: usize, data: &[u8]) -> PathBuf {
        let mut path = self.dir(rel);
        let name = "d".repeat(name_len);
        let cname = CString::new(name.clone()).expect("no NUL");
        let open_dir = |at: libc::c_int, n: &CString| {
            // SAFETY: `n` is NUL-terminated; `at` is an open directory or AT_FDCWD.
            let fd = unsafe { libc::openat(at, n.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(fd >= 0, "openat");
            fd
        };
        let mut fd = open_dir(libc::AT_FDCWD, &cstring(&path));
        for _ in 0..levels {
            // SAFETY: `fd` is an open directory and `cname` a valid name.
            assert_eq!(
                unsafe { libc::mkdirat(fd, cname.as_ptr(), 0o755) },
                0,
                "mkdirat"
            );
            let next = open_dir(fd, &cname);
            // SAFETY: `fd` is ours and no longer used.
            unsafe { libc::close(fd) };
            fd = next;
            path.push(&name);
        }
        let file = CString::new("deep.txt").expect("no NUL");
        // SAFETY: `fd` is an open directory and `file` a valid name.
        let ffd = unsafe { libc::openat(fd, file.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o644) };
        assert!(ffd >= 0, "create the deep file");
        // SAFETY: `ffd` is open for writing; `data` is valid for its length.
        let written = unsafe { libc::write(ffd, data.as_ptr().cast(), data.len()) };
        assert_eq!(written, data.len() as isize);
        // SAFETY: both descriptors are ours.
        unsafe {
            libc::close(ffd);
            libc::close(fd);
        }
        path.push("deep.txt");
        path
    }
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

/// A path from raw bytes (for names that are not UTF-8).
pub fn bytes_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

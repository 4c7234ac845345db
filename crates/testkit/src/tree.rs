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
        self.deep_with(rel, levels, name_len, |level| {
            if level == levels {
                vec![Deep::File("deep.txt".into(), data.to_vec())]
            } else {
                Vec::new()
            }
        });
        Tree::deep_dir(&self.join(rel), levels, name_len).join("deep.txt")
    }

    /// Builds `levels` nested folders of `name_len`-byte names `d…d` below `rel` (using `*at`
    /// calls, so the whole path may exceed `PATH_MAX`), and in the folder at each level (0 is
    /// `rel` itself, `levels` the deepest) what `make(level)` asks for. The folder at a level
    /// is [`Tree::deep_dir`].
    pub fn deep_with(
        &self,
        rel: &str,
        levels: usize,
        name_len: usize,
        mut make: impl FnMut(usize) -> Vec<Deep>,
    ) {
        let top = self.dir(rel);
        let cname = CString::new("d".repeat(name_len)).expect("no NUL");
        let mut fd = open_dir(libc::AT_FDCWD, &cstring(&top));
        for level in 0..=levels {
            for item in make(level) {
                item.make_in(fd);
            }
            if level == levels {
                break;
            }
            // SAFETY: `fd` is an open directory and `cname` a valid name.
            let made = unsafe { libc::mkdirat(fd, cname.as_ptr(), 0o755) };
            assert_eq!(made, 0, "mkdirat");
            let next = open_dir(fd, &cname);
            // SAFETY: `fd` is ours and no longer used.
            unsafe { libc::close(fd) };
            fd = next;
        }
        // SAFETY: `fd` is ours.
        unsafe { libc::close(fd) };
    }

    /// The folder `levels` below `top` in a chain made by [`Tree::deep_with`].
    pub fn deep_dir(top: &Path, levels: usize, name_len: usize) -> PathBuf {
        let name = "d".repeat(name_len);
        let mut path = top.to_path_buf();
        for _ in 0..levels {
            path.push(&name);
        }
        path
    }
}

/// What [`Tree::deep_with`] makes in one folder of a deep chain.
#[derive(Debug, Clone)]
pub enum Deep {
    /// A file with this name and content.
    File(String, Vec<u8>),
    /// A symbolic link with this name and target.
    Link(String, PathBuf),
    /// An empty folder.
    Dir(String),
}

impl Deep {
    /// Makes it in the open folder `dir`.
    fn make_in(&self, dir: libc::c_int) {
        match self {
            Deep::File(name, data) => {
                let name = CString::new(name.as_str()).expect("no NUL");
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
                // SAFETY: `dir` is an open folder and `name` a valid name.
                let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, 0o644) };
                assert!(fd >= 0, "create a deep file");
                // SAFETY: `fd` is open for writing; `data` is valid for its length.
                let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
                assert_eq!(written, data.len() as isize);
                // SAFETY: `fd` is ours.
                unsafe { libc::close(fd) };
            }
            Deep::Link(name, target) => {
                let name = CString::new(name.as_str()).expect("no NUL");
                // SAFETY: both are valid NUL-terminated strings; `dir` an open folder.
                let made = unsafe { libc::symlinkat(cstring(target).as_ptr(), dir, name.as_ptr()) };
                assert_eq!(made, 0, "symlinkat");
            }
            Deep::Dir(name) => {
                let name = CString::new(name.as_str()).expect("no NUL");
                // SAFETY: `dir` is an open folder and `name` a valid NUL-terminated name.
                let made = unsafe { libc::mkdirat(dir, name.as_ptr(), 0o755) };
                assert_eq!(made, 0, "mkdirat");
            }
        }
    }
}

/// Opens the folder `name` relative to `at` (an open folder or `AT_FDCWD`).
fn open_dir(at: libc::c_int, name: &CString) -> libc::c_int {
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; `at` is an open folder or AT_FDCWD.
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags) };
    assert!(fd >= 0, "openat");
    fd
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

/// A path from raw bytes (for names that are not UTF-8).
pub fn bytes_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

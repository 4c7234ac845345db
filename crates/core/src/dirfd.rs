//! Opening a file relative to its directory: each thread keeps the directory of the files it
//! opens (an `O_PATH` descriptor, which needs no read permission) once two files in a row share
//! it, and opens the next ones with `openat(dir, name)`, so the kernel resolves one name
//! instead of every component of the path (measured in BENCHMARKS.md, "The per-file path").
//!
//! A thread that moves to a file in another directory lets the old one go, so a tree of one
//! file a directory pays nothing but a comparison of names; a thread that ends closes it. The
//! descriptor names the directory as it was when it was opened: should the directory be
//! renamed or replaced meanwhile, the relative open fails or finds the old directory's file,
//! and the caller opens the path as it is now.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What [`open_relative`] did.
#[derive(Debug)]
pub(crate) enum Opened {
    /// No directory is kept for this path (the first file of a directory, a bare name): open
    /// the path itself.
    NotTried,
    /// Opened relative to the directory.
    File(File),
    /// The relative open failed; the path itself may still open (the directory was replaced).
    Failed,
}

/// The directory the calling thread opened last files in.
#[derive(Default)]
struct LastDir {
    /// Its path, as the files' paths spell it.
    path: Vec<u8>,
    /// Open once a second file in a row lives there.
    fd: Option<OwnedFd>,
}

thread_local! {
    static LAST_DIR: RefCell<LastDir> = RefCell::new(LastDir::default());
}

/// Opens `path` with `open(dir, name)` — `dir` the descriptor of its parent directory, `name`
/// its last component — if the calling thread keeps that directory, or opens it now because
/// the previous file was there too.
pub(crate) fn open_relative(
    path: &Path,
    open: impl FnOnce(RawFd, &CStr) -> io::Result<File>,
) -> Opened {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Opened::NotTried;
    };
    let parent = parent.as_os_str().as_bytes();
    let Ok(name) = CString::new(name.as_bytes()) else {
        return Opened::NotTried;
    };
    if parent.is_empty() {
        return Opened::NotTried;
    }
    LAST_DIR.with_borrow_mut(|last| {
        if last.path != parent {
            last.path.clear();
            last.path.extend_from_slice(parent);
            last.fd = None;
            return Opened::NotTried;
        }
        if last.fd.is_none() {
            last.fd = open_dir(parent);
        }
        let Some(dir) = &last.fd else {
            return Opened::NotTried;
        };
        match open(dir.as_raw_fd(), &name) {
            Ok(file) => Opened::File(file),
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    // Give our descriptor back before the path itself is tried.
                    last.fd = None;
                }
                Opened::Failed
            }
        }
    })
}

/// An `O_PATH` descriptor of the directory at `path`; `None` if it cannot be opened.
fn open_dir(path: &[u8]) -> Option<OwnedFd> {
    let path = CString::new(path).ok()?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    // SAFETY: a descriptor open has just returned to us; the OwnedFd owns it now.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags)` read-only, as a [`File`].
pub(crate) fn openat(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<File> {
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is an open descriptor.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor openat has just returned to us; the File owns it now.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;

    fn read(file: File) -> String {
        let mut text = String::new();
        let mut file = file;
        file.read_to_string(&mut text).expect("read");
        text
    }

    fn open(path: &Path) -> Opened {
        open_relative(path, |dir, name| openat(dir, name, 0))
    }

    #[test]
    fn the_second_file_of_a_directory_is_opened_relative_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a", "b", "c"] {
            fs::write(dir.path().join(name), name).expect("write");
        }
        assert!(matches!(open(&dir.path().join("a")), Opened::NotTried));
        for name in ["b", "c"] {
            match open(&dir.path().join(name)) {
                Opened::File(file) => assert_eq!(read(file), name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(open(Path::new("bare")), Opened::NotTried));
    }

    #[test]
    fn a_replaced_directory_fails_relative_and_the_path_is_opened_anew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).expect("mkdir");
        fs::write(sub.join("a"), "old").expect("write");
        fs::write(sub.join("b"), "old").expect("write");
        assert!(matches!(open(&sub.join("a")), Opened::NotTried));
        assert!(matches!(open(&sub.join("b")), Opened::File(_)));
        fs::rename(&sub, dir.path().join("gone")).expect("rename");
        fs::create_dir(&sub).expect("mkdir");
        fs::write(sub.join("new"), "new").expect("write");
        assert!(matches!(open(&sub.join("new")), Opened::Failed));
    }

    #[test]
    fn a_directory_without_read_permission_still_serves_its_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("x-only");
        fs::create_dir(&sub).expect("mkdir");
        fs::write(sub.join("a"), "a").expect("write");
        fs::write(sub.join("b"), "b").expect("write");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o111)).expect("chmod");
        assert!(matches!(open(&sub.join("a")), Opened::NotTried));
        let opened = open(&sub.join("b"));
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).expect("chmod back");
        match opened {
            Opened::File(file) => assert_eq!(read(file), "b"),
            other => panic!("{other:?}"),
        }
    }
}

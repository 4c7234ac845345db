//! Opening a file (or looking up its size) relative to its directory: each thread keeps the
//! directory of the files it opens (an `O_PATH` descriptor, which needs no read permission) once two files in a row share
//! it, and opens the next ones with `openat(dir, name)`, so the kernel resolves one name
//! instead of every component of the path (measured in BENCHMARKS.md, "The per-file path").
//!
//! A thread that moves to a file in another directory lets the old one go, so a tree of one
//! file a directory pays nothing but a comparison of names; a thread that ends closes it. These
//! descriptors come out of those kept for what is not a file being read, so at most
//! [`held_at_most`] threads keep one at once; the others open by path (a model with hundreds
//! of blocking threads under a low open-files limit ran out of descriptors otherwise). The
//! descriptor names the directory as it was when it was opened: should the directory be
//! renamed or replaced meanwhile, the relative open fails or finds the old directory's file,
//! and the caller opens the path as it is now.
//!
//! A path longer than `PATH_MAX`, which no call takes whole, is opened relative to its
//! directory from its first file on, the directory reached in pieces (`long.rs`); so is the
//! path itself when no directory is kept ([`open_path`]). Files at any depth are opened so.

use std::cell::RefCell;
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::defaults;
use crate::sys;
use crate::walk::long;

/// Directory descriptors the threads keep now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Threads that may keep a directory descriptor at once: a quarter of the descriptors a run
/// may hold open for reading (at least 1), from the open-files limit when first asked.
fn held_at_most() -> usize {
    static MOST: OnceLock<usize> = OnceLock::new();
    *MOST.get_or_init(|| (defaults::fd_budget() / 4).max(1))
}

/// A directory descriptor a thread keeps, counted in [`HELD`] while it is open.
struct HeldDir(OwnedFd);

impl HeldDir {
    /// Opens the directory at `path`, if fewer than [`held_at_most`] are kept now.
    fn open(path: &[u8]) -> Option<HeldDir> {
        HeldDir::open_within(path, held_at_most())
    }

    /// Opens the directory at `path`, if fewer than `most` are kept now.
    fn open_within(path: &[u8], most: usize) -> Option<HeldDir> {
        if HELD.fetch_add(1, Ordering::AcqRel) >= most {
            HELD.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let Some(fd) = open_dir(path) else {
            HELD.fetch_sub(1, Ordering::AcqRel);
            return None;
        };
        Some(HeldDir(fd))
    }
}

impl Drop for HeldDir {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What [`relative`] did.
#[derive(Debug)]
pub(super) enum Relative<T> {
    /// No directory is kept for this path (the first file of a directory, a bare name): use
    /// the path itself.
    NotTried,
    /// Done relative to the directory, which is on a local file system ([`Local`]) or not.
    Done(T, Local),
    /// The relative call failed; the path itself may still work (the directory was replaced).
    Failed,
}

/// What [`open_relative`] did.
pub(super) type Opened = Relative<File>;

/// Whether a directory is on one of the local file systems whose sizes are trusted
/// ([`crate::size_is_trusted`]). There a read of a regular file that comes back short off a
/// page boundary has reached its end (`extent::first_read_ends`), so most files that fit in one
/// read need neither their size looked up nor a read that returns 0. A file mounted on its own over a name of such a directory (a bind
/// mount of one file, as containers do for `/etc/hosts`) is taken to be local too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Local {
    Yes,
    No,
}

/// The directory the calling thread opened last files in.
struct LastDir {
    /// Its path, as the files' paths spell it.
    path: Vec<u8>,
    /// Open once a second file in a row lives there.
    fd: Option<HeldDir>,
    /// Where `fd` is, looked up once when it is opened.
    local: Local,
    /// The name being opened there, NUL-terminated: one buffer for every file.
    name: Vec<u8>,
}

thread_local! {
    static LAST_DIR: RefCell<LastDir> = const {
        RefCell::new(LastDir {
            path: Vec::new(),
            fd: None,
            local: Local::No,
            name: Vec::new(),
        })
    };
}

/// Opens `path` with `open(dir, name)` relative to its directory (see [`relative`]).
pub(super) fn open_relative(
    path: &Path,
    open: impl FnOnce(RawFd, &CStr) -> io::Result<File>,
) -> Opened {
    relative(path, open)
}

/// The size of the file at `path`, following symbolic links as [`std::fs::metadata`] does,
/// looked up relative to its directory when the thread keeps it (`fstatat`); `None` if it
/// cannot be looked up (it vanished).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// for name in ["a", "b"] {
///     std::fs::write(dir.path().join(name), "12345")?;
/// }
/// assert_eq!(reader_core::file_size(&dir.path().join("a")), Some(5));
/// assert_eq!(reader_core::file_size(&dir.path().join("b")), Some(5));
/// assert_eq!(reader_core::file_size(&dir.path().join("gone")), None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn file_size(path: &Path) -> Option<u64> {
    let stat = |dir: RawFd, name: &CStr| {
        let stat = sys::fstatat(dir, name, 0)?;
        u64::try_from(stat.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
    };
    match relative(path, stat) {
        Relative::Done(size, _) => Some(size),
        Relative::NotTried | Relative::Failed => long::metadata(path, true).ok().map(|m| m.len()),
    }
}

/// Opens `path` read-only with `flags` (and `O_CLOEXEC`) by its path — in pieces when it is
/// too long for one call — for when no directory of the thread's serves.
pub(super) fn open_path(path: &Path, flags: libc::c_int) -> io::Result<File> {
    let fd = long::open_at(
        libc::AT_FDCWD,
        path.as_os_str().as_bytes(),
        libc::O_RDONLY | flags,
    )?;
    Ok(File::from(fd))
}

/// Runs `call(dir, name)` — `dir` the descriptor of `path`'s parent directory, `name` its last
/// component — if the calling thread keeps that directory, or opens it now because the
/// previous file was there too, or because the path is too long to be opened whole.
fn relative<T>(path: &Path, call: impl FnOnce(RawFd, &CStr) -> io::Result<T>) -> Relative<T> {
    // Split at the last `/` in the path's bytes: this runs for every file read.
    let bytes = path.as_os_str().as_bytes();
    let Some(slash) = bytes.iter().rposition(|&b| b == b'/') else {
        return Relative::NotTried;
    };
    // A file of `/` itself has `/` for its directory.
    let parent = &bytes[..slash.max(1)];
    let name = &bytes[slash + 1..];
    if matches!(name, b"" | b"." | b"..") {
        return Relative::NotTried;
    }
    let long = long::too_long(bytes);
    LAST_DIR.with_borrow_mut(|last| {
        last.name.clear();
        last.name.extend_from_slice(name);
        last.name.push(0);
        let Ok(name) = CStr::from_bytes_with_nul(&last.name) else {
            return Relative::NotTried;
        };
        if last.path != parent {
            last.path.clear();
            last.path.extend_from_slice(parent);
            last.fd = None;
            if !long {
                return Relative::NotTried;
            }
        }
        if last.fd.is_none() {
            last.fd = HeldDir::open(parent);
            last.local = match &last.fd {
                Some(HeldDir(dir)) if on_local_file_system(dir.as_fd()) => Local::Yes,
                _ => Local::No,
            };
        }
        let Some(HeldDir(dir)) = &last.fd else {
            return Relative::NotTried;
        };
        match call(dir.as_raw_fd(), name) {
            Ok(done) => Relative::Done(done, last.local),
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    // Give our descriptor back before the path itself is tried.
                    last.fd = None;
                }
                Relative::Failed
            }
        }
    })
}

/// An `O_PATH` descriptor of the directory at `path`, however long; `None` if it cannot be
/// opened.
fn open_dir(path: &[u8]) -> Option<OwnedFd> {
    long::open_at(libc::AT_FDCWD, path, libc::O_PATH | libc::O_DIRECTORY).ok()
}

/// Whether the descriptor `fd` (an `O_PATH` one will do) is on a local file system.
fn on_local_file_system(fd: BorrowedFd<'_>) -> bool {
    sys::fstatfs_type(fd).is_some_and(crate::read::mapped::is_local)
}

/// `openat(dir, name, flags)` read-only, as a [`File`].
pub(super) fn openat(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<File> {
    sys::openat(dir, name, libc::O_RDONLY | libc::O_CLOEXEC | flags).map(File::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;

    fn read(file: File) -> String {
        let mut text = String::new();
        let mut file = file;
        file.read_to_string(&mut text).expect("read"); // whole-file read ok: a test's small file
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
        assert!(matches!(open(&dir.path().join("a")), Relative::NotTried));
        for name in ["b", "c"] {
            match open(&dir.path().join(name)) {
                Relative::Done(file, _) => assert_eq!(read(file), name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(open(Path::new("bare")), Relative::NotTried));
    }

    #[test]
    fn files_past_path_max_are_opened_relative_to_their_directory_from_the_first() {
        let tree = reader_testkit::Tree::new();
        let file = tree.deep("deep", 24, 200, b"far down\n");
        assert!(long::too_long(file.as_os_str().as_bytes()));
        match open(&file) {
            Relative::Done(file, _) => assert_eq!(read(file), "far down\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(file_size(&file), Some(9));
        let by_path = open_path(&file, 0).expect("reached in pieces");
        assert_eq!(read(by_path), "far down\n");
        let gone = open_path(&file.with_file_name("gone"), 0).expect_err("missing");
        assert_eq!(
            gone.kind(),
            io::ErrorKind::NotFound,
            "its own error, not the length's"
        );
        assert_eq!(file_size(&file.with_file_name("gone")), None);
    }

    #[test]
    fn no_directory_is_kept_past_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().as_os_str().as_bytes();
        assert!(HeldDir::open_within(path, 0).is_none());
        let kept = HeldDir::open_within(path, usize::MAX).expect("no limit");
        assert!(kept.0.as_raw_fd() >= 0);
        assert!(HeldDir::open_within(b"/no/such/directory", usize::MAX).is_none());
        assert!(held_at_most() >= 1);
    }

    #[test]
    fn sizes_follow_links_and_bare_names_are_looked_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        fs::write(&target, "12345").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert_eq!(file_size(&target), Some(5));
        assert_eq!(file_size(&link), Some(5), "relative to the kept directory");
        assert_eq!(file_size(&dir.path().join("missing")), None);
        assert_eq!(
            file_size(Path::new("Cargo.toml")),
            fs::metadata("Cargo.toml").ok().map(|m| m.len())
        );
    }

    #[test]
    fn a_replaced_directory_fails_relative_and_the_path_is_opened_anew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).expect("mkdir");
        fs::write(sub.join("a"), "old").expect("write");
        fs::write(sub.join("b"), "old").expect("write");
        assert!(matches!(open(&sub.join("a")), Relative::NotTried));
        assert!(matches!(open(&sub.join("b")), Relative::Done(..)));
        fs::rename(&sub, dir.path().join("gone")).expect("rename");
        fs::create_dir(&sub).expect("mkdir");
        fs::write(sub.join("new"), "new").expect("write");
        assert!(matches!(open(&sub.join("new")), Relative::Failed));
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
        assert!(matches!(open(&sub.join("a")), Relative::NotTried));
        let opened = open(&sub.join("b"));
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).expect("chmod back");
        match opened {
            Relative::Done(file, _) => assert_eq!(read(file), "b"),
            other => panic!("{other:?}"),
        }
    }
}

//! Paths longer than `PATH_MAX` (4,096 bytes on Linux, the terminating NUL included), which no
//! system call takes whole: what such a path names is reached one piece at a time, each piece a
//! run of whole components shorter than `PATH_MAX`, opened with `openat` relative to the
//! directory the piece before it reached — as `fts` reaches directories deeper than that.
//!
//! The kernel resolves a path one component after another either way, so the pieces find
//! exactly what the whole path names, through symbolic links and `..` alike. Every piece but the
//! last is opened `O_PATH`, which needs no permission to read the directory, as resolving the
//! whole path would not.

use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys;

/// The longest path a system call takes is one byte less, for the NUL.
pub(super) const PATH_MAX: usize = libc::PATH_MAX as usize;

/// How a directory on the way is opened: only to resolve names beneath it.
const THROUGH: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;

/// Whether `path` is too long for one system call.
pub(crate) fn too_long(path: &[u8]) -> bool {
    path.len() >= PATH_MAX
}

/// Opens `path` with `flags` (`O_CLOEXEC` is added), relative to `start` when it is relative
/// (`AT_FDCWD`: the working directory), one piece at a time if it is too long for one call.
pub(crate) fn open_at(start: RawFd, path: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let mut rest = path;
    let mut held: Option<OwnedFd> = None;
    loop {
        let dir = held.as_ref().map_or(start, AsRawFd::as_raw_fd);
        if !too_long(rest) {
            return openat(dir, rest, flags | libc::O_CLOEXEC);
        }
        // The longest run of whole components that fits; a `/` at 0 is the root's, and a name
        // as long as PATH_MAX is longer than any file system allows.
        let cut = rest[..PATH_MAX]
            .iter()
            .rposition(|&b| b == b'/')
            .filter(|&slash| slash > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
        held = Some(openat(dir, &rest[..cut], THROUGH)?);
        rest = trim_slashes(&rest[cut..]);
        if rest.is_empty() {
            // The path ended in slashes: it names the directory reached.
            rest = b".";
        }
    }
}

/// Runs `call(dir, name)` with `dir` a descriptor of the directory `path` is in and `name` its
/// last component, reached however long the path is.
pub(super) fn at_parent<T>(
    path: &[u8],
    call: impl FnOnce(RawFd, &CStr) -> io::Result<T>,
) -> io::Result<T> {
    let (parent, name) = parent_and_name(path);
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let dir = open_at(libc::AT_FDCWD, parent, THROUGH)?;
    call(dir.as_raw_fd(), &name)
}

/// What `path` is, as [`fs::metadata`] (`follow`: through a last symbolic link) or
/// [`fs::symlink_metadata`] say, however long the path is.
pub(crate) fn metadata(path: &Path, follow: bool) -> io::Result<fs::Metadata> {
    let bytes = path.as_os_str().as_bytes();
    if !too_long(bytes) {
        return if follow {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        };
    }
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let fd = at_parent(bytes, |dir, name| {
        openat(
            dir,
            name.to_bytes(),
            libc::O_PATH | libc::O_CLOEXEC | nofollow,
        )
    })?;
    // `fstat` takes an `O_PATH` descriptor: it says what the name is, a link itself included.
    File::from(fd).metadata()
}

/// `path` without its last component, and that component: `("a/b", "c")` for `a/b/c`,
/// `("/", "c")` for `/c`, `(".", "c")` for `c`. Trailing slashes are not part of the name.
pub(super) fn parent_and_name(path: &[u8]) -> (&[u8], &[u8]) {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(last) => &path[..=last],
        None => return (b"/", b"."),
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => (b".", trimmed),
        Some(slash) => {
            let parent = &trimmed[..slash];
            let parent = match parent.iter().rposition(|&b| b != b'/') {
                Some(last) => &parent[..=last],
                None => b"/",
            };
            (parent, &trimmed[slash + 1..])
        }
    }
}

fn trim_slashes(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    &bytes[start..]
}

/// `openat(dir, path, flags)`.
fn openat(dir: RawFd, path: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    sys::openat(dir, &path, flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn paths_split_into_their_directory_and_name() {
        for (path, parent, name) in [
            ("a/b/c", "a/b", "c"),
            ("/c", "/", "c"),
            ("c", ".", "c"),
            ("a//b/", "a", "b"),
            ("/", "/", "."),
        ] {
            let (p, n) = parent_and_name(path.as_bytes());
            assert_eq!((p, n), (parent.as_bytes(), name.as_bytes()), "{path}");
        }
    }

    #[test]
    fn what_lies_past_path_max_is_opened_and_looked_at() {
        let tree = reader_testkit::Tree::new();
        let file = tree.deep("deep", 30, 200, b"far down\n");
        let bytes = file.as_os_str().as_bytes();
        assert!(too_long(bytes));
        assert!(fs::metadata(&file).is_err(), "the whole path is refused");
        let fd = open_at(libc::AT_FDCWD, bytes, libc::O_RDONLY).expect("reached in pieces");
        let mut text = String::new();
        File::from(fd)
            .read_to_string(&mut text) // whole-file read ok: a test's small file
            .expect("read");
        assert_eq!(text, "far down\n");
        let meta = metadata(&file, true).expect("stat");
        assert!(meta.is_file() && meta.len() == 9);
        let dir = file.parent().expect("a directory");
        assert!(metadata(dir, false).expect("stat").is_dir());
        let dir_slash = [dir.as_os_str().as_bytes(), b"//"].concat();
        assert!(open_at(libc::AT_FDCWD, &dir_slash, THROUGH).is_ok());
        let missing = [bytes, b".gone"].concat();
        let err = open_at(libc::AT_FDCWD, &missing, libc::O_RDONLY).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let relative = file.strip_prefix(tree.path()).expect("inside");
        let root = File::open(tree.path()).expect("open the tree");
        let fd = open_at(
            root.as_raw_fd(),
            relative.as_os_str().as_bytes(),
            libc::O_RDONLY,
        );
        assert!(fd.is_ok(), "relative to a directory of its own");
        let name = vec![b'n'; PATH_MAX + 10];
        let err = open_at(libc::AT_FDCWD, &name, libc::O_RDONLY).expect_err("one long name");
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG));
    }

    #[test]
    fn links_on_the_way_are_followed_as_a_whole_path_follows_them() {
        let tree = reader_testkit::Tree::new();
        tree.deep("deep", 40, 200, b"x");
        // A link part way down (its target is a path too, shorter than PATH_MAX).
        let name = "d".repeat(200);
        let part_way = [name.as_str(); 12].join("/");
        let rest = [name.as_str(); 28].join("/");
        tree.symlink("link", format!("deep/{part_way}"));
        let through = tree.join(format!("link/{rest}/deep.txt"));
        assert!(too_long(through.as_os_str().as_bytes()));
        assert!(
            metadata(&through, true)
                .expect("through the link")
                .is_file()
        );
        let dangling = tree.symlink("deep/dangling", tree.join("nowhere"));
        let mut long_dangling = tree.join("deep");
        for _ in 0..24 {
            long_dangling.push("d".repeat(200));
        }
        for _ in 0..24 {
            long_dangling.push("..");
        }
        long_dangling.push("dangling");
        assert!(too_long(long_dangling.as_os_str().as_bytes()));
        let err = metadata(&long_dangling, true).expect_err("it dangles");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let meta = metadata(&long_dangling, false).expect("the link itself, back up by `..`");
        assert!(meta.is_symlink());
        assert!(
            metadata(&dangling, false)
                .expect("the link itself")
                .is_symlink()
        );
    }
}

//! The entries beneath a directory whose path is longer than `PATH_MAX` (4,096 bytes on
//! Linux), which no call that takes a whole path can reach, so that its failure says what was
//! left unread.
//!
//! Such a directory is reported once, as `name_too_long`, and the files beneath it are not
//! read: every reader opens files by path, and a path that long cannot be opened. To say how
//! much that leaves out, the directory is reached one name at a time with `openat`, as `find`
//! walks, and what is beneath it is counted through directory descriptors, never through a
//! path.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::ptr::NonNull;

/// Directories held open at once while counting: a directory deeper than this below the one
/// counted is counted, its entries are not. (Under a low descriptor limit the opens fail
/// sooner, with the same effect.)
const OPEN_AT_ONCE: usize = 64;

/// Entries counted at most: a count that reaches it stops there.
const COUNT_AT_MOST: u64 = 1_000_000;

/// What is beneath a directory: its entries and theirs, all the way down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Beneath {
    /// Entries found: files, directories and everything else, the directory itself left out.
    pub(crate) entries: u64,
    /// Every entry was counted; `false`: at least [`Beneath::entries`] (too deep or too many).
    pub(crate) complete: bool,
}

impl Beneath {
    /// For a message: `3 entries` or `at least 1000000 entries`.
    pub(crate) fn describe(self) -> String {
        let noun = if self.entries == 1 {
            "entry"
        } else {
            "entries"
        };
        if self.complete {
            format!("{} {noun}", self.entries)
        } else {
            format!("at least {} {noun}", self.entries)
        }
    }
}

/// Counts what is beneath the directory at `dir`, however long its path; `None` if it cannot
/// be reached or listed.
pub(crate) fn count(dir: &Path) -> Option<Beneath> {
    let top = Dir::open(reach(dir)?)?;
    let mut beneath = Beneath {
        entries: 0,
        complete: true,
    };
    let mut open = vec![top];
    while let Some(current) = open.last_mut() {
        let parent = current.fd();
        let Some((name, is_dir)) = current.next() else {
            open.pop();
            continue;
        };
        beneath.entries += 1;
        if beneath.entries >= COUNT_AT_MOST {
            beneath.complete = false;
            break;
        }
        if !is_dir {
            continue;
        }
        if open.len() >= OPEN_AT_ONCE {
            beneath.complete = false;
            continue;
        }
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        match openat(parent, &name, flags).and_then(Dir::open) {
            Some(child) => open.push(child),
            None => beneath.complete = false,
        }
    }
    Some(beneath)
}

/// A read-only descriptor of the directory at `path`, reached one component at a time.
fn reach(path: &Path) -> Option<libc::c_int> {
    const THROUGH: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let start = if path.is_absolute() { c"/" } else { c"." };
    // SAFETY: `start` is a NUL-terminated string.
    let mut fd = unsafe { libc::open(start.as_ptr(), THROUGH) };
    if fd < 0 {
        return None;
    }
    for component in path.components() {
        let name = match component {
            Component::Normal(name) => CString::new(name.as_bytes()).ok(),
            Component::ParentDir => Some(c"..".to_owned()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        let next = name.and_then(|name| openat(fd, &name, THROUGH));
        // SAFETY: `fd` is a descriptor this function opened and no longer uses.
        unsafe { libc::close(fd) };
        fd = next?;
    }
    // The last one, again, for reading: an O_PATH descriptor cannot be listed.
    let listed = openat(
        fd,
        c".",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
    );
    // SAFETY: as above.
    unsafe { libc::close(fd) };
    listed
}

/// `openat(dir, name, flags)`; `None` if it fails.
fn openat(dir: libc::c_int, name: &CStr, flags: libc::c_int) -> Option<libc::c_int> {
    // SAFETY: `name` is NUL-terminated and `dir` an open descriptor.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
    (fd >= 0).then_some(fd)
}

/// An open directory stream, closed when dropped.
struct Dir(NonNull<libc::DIR>);

impl Dir {
    /// Takes the directory descriptor `fd` (closed on failure too).
    fn open(fd: libc::c_int) -> Option<Dir> {
        // SAFETY: `fd` is an open directory descriptor; the stream owns it from now on.
        let stream = unsafe { libc::fdopendir(fd) };
        match NonNull::new(stream) {
            Some(stream) => Some(Dir(stream)),
            None => {
                // SAFETY: fdopendir failed, so `fd` is still ours.
                unsafe { libc::close(fd) };
                None
            }
        }
    }

    fn fd(&self) -> libc::c_int {
        // SAFETY: the stream is open.
        unsafe { libc::dirfd(self.0.as_ptr()) }
    }

    /// The next entry's name, and whether it is a directory; `.` and `..` passed over. A
    /// failure to read on ends the stream, as its end does.
    fn next(&mut self) -> Option<(CString, bool)> {
        loop {
            // SAFETY: the stream is open; the entry it returns stays valid until the next call
            // on this stream, and is copied out before that.
            let entry = unsafe { libc::readdir(self.0.as_ptr()).as_ref()? };
            // SAFETY: d_name is a NUL-terminated name inside the entry.
            let name = unsafe { CStr::from_ptr(entry.d_name.as_ptr()) };
            if name == c"." || name == c".." {
                continue;
            }
            let is_dir = match entry.d_type {
                libc::DT_DIR => true,
                libc::DT_UNKNOWN => self.is_dir(name),
                _ => false,
            };
            return Some((name.to_owned(), is_dir));
        }
    }

    /// Whether `name` in this directory is a directory (not following a link), for file
    /// systems whose listings do not say.
    fn is_dir(&self, name: &CStr) -> bool {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: the descriptor is open, `name` NUL-terminated, `stat` writable and its size.
        let rc = unsafe {
            libc::fstatat(
                self.fd(),
                name.as_ptr(),
                stat.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        // SAFETY: fstatat filled it in when it returned 0 (and it was zeroed anyway).
        rc == 0 && unsafe { stat.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFDIR
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed only here.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_everything_beneath_a_directory_past_path_max() {
        let tree = reader_testkit::Tree::new();
        tree.file("top/a.txt", "a\n");
        let deep = tree.deep("top/deep", 24, 200, b"far down\n");
        assert!(deep.as_os_str().len() > 4096);
        let top = tree.join("top");
        // a.txt, deep, 24 directories under it, and the file at the bottom.
        assert_eq!(
            count(&top),
            Some(Beneath {
                entries: 27,
                complete: true
            })
        );
        // A directory past PATH_MAX itself: 3 levels and the file are beneath the 21st.
        let mut past = tree.join("top/deep");
        for _ in 0..21 {
            past.push("d".repeat(200));
        }
        assert!(past.as_os_str().len() > 4096);
        let beneath = count(&past).expect("reached one name at a time");
        assert_eq!(beneath.describe(), "4 entries");
        assert_eq!(count(&tree.join("missing")), None);
    }

    #[test]
    fn a_tree_deeper_than_it_holds_open_is_a_lower_bound() {
        let tree = reader_testkit::Tree::new();
        tree.deep("d", OPEN_AT_ONCE + 4, 3, b"x");
        let beneath = count(&tree.join("d")).expect("counted");
        assert!(!beneath.complete && beneath.entries >= OPEN_AT_ONCE as u64);
        assert!(beneath.describe().starts_with("at least "));
    }
}

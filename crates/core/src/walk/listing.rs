//! Listing one directory whole through its descriptor, for the walk that goes by descriptors
//! (`descend.rs`): the names and types of its entries, each name once, and what the walk needs
//! to know of them — a file's size, what a symbolic link leads to — looked up relative to the
//! directory, so that the length of a path never matters.
//!
//! A thread that lists keeps a few descriptors of the directories it listed last ([`Chain`]):
//! in a walk, the ancestors of the next directory. A directory is opened relative to the
//! nearest of them — `openat(parent, name)` as a walk goes down — and from the working
//! directory only when none is kept; a rest too long for one call is reached in pieces
//! (`long.rs`).

use std::collections::HashSet;
use std::collections::hash_map::{Entry as Slot, HashMap, RandomState};
use std::ffi::CStr;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::sys;
use crate::walk::ahead::{self, Took};
use crate::walk::ignores::{IgnoreFiles, worktree_exclude};
use crate::walk::long;

/// Directories a listing thread keeps open: the walk's current directory and a few of its
/// ancestors, out of the descriptors kept for what is not a file being read.
const KEPT: usize = 8;

/// The buffer of one `getdents64` call.
const LISTING_BUFFER: usize = 32 * 1024;

/// The bytes of a `linux_dirent64` before its name: inode, offset, length and type.
const DIRENT_HEADER: usize = 19;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    BlockDevice,
    CharDevice,
}

impl Kind {
    /// The kind of a [`fs::FileType`].
    pub(super) fn of(file_type: fs::FileType) -> Kind {
        if file_type.is_file() {
            Kind::File
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_fifo() {
            Kind::Fifo
        } else if file_type.is_socket() {
            Kind::Socket
        } else if file_type.is_block_device() {
            Kind::BlockDevice
        } else {
            Kind::CharDevice
        }
    }

    /// The kind of a `stat`'s `st_mode`.
    fn of_mode(mode: libc::mode_t) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFSOCK => Kind::Socket,
            libc::S_IFBLK => Kind::BlockDevice,
            _ => Kind::CharDevice,
        }
    }

    /// The kind a listing's `d_type` says; `None` when it does not say (`DT_UNKNOWN`).
    fn of_listed(d_type: u8) -> Option<Kind> {
        match d_type {
            libc::DT_REG => Some(Kind::File),
            libc::DT_DIR => Some(Kind::Dir),
            libc::DT_LNK => Some(Kind::Symlink),
            libc::DT_FIFO => Some(Kind::Fifo),
            libc::DT_SOCK => Some(Kind::Socket),
            libc::DT_BLK => Some(Kind::BlockDevice),
            libc::DT_CHR => Some(Kind::CharDevice),
            _ => None,
        }
    }
}

/// A file's device and inode: which directory it is, for telling a loop of links.
pub(super) type Id = (u64, u64);

/// What a listing looks up of its entries besides their names and types.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ask {
    /// For a symbolic link: what it leads to.
    pub(super) follow: bool,
    /// For a regular file: its size.
    pub(super) sizes: bool,
    /// The directory's own ignore files ([`IgnoreFiles`]).
    pub(super) ignore_files: bool,
}

/// What a look at an entry found: the entry's own, or, through a link, what it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Look {
    pub(super) kind: Kind,
    pub(super) size: u64,
    pub(super) id: Id,
}

/// One entry of a listing.
#[derive(Debug)]
pub(super) struct Entry {
    /// Where its name is in its listing's [`Listing::names`].
    name: (usize, usize),
    /// Its type (a link's own), or why it could not be looked up.
    pub(super) kind: io::Result<Kind>,
    /// What [`Ask`] asked of it: for a link, what it leads to; for a file, its size.
    pub(super) look: Option<io::Result<Look>>,
}

/// A directory's listing: its entries in the order the file system gave them, each name once.
#[derive(Debug)]
pub(super) struct Listing {
    /// The directory's device and inode.
    pub(super) id: Id,
    /// The names of the entries, one after another ([`Entry::name`]).
    pub(super) names: Vec<u8>,
    pub(super) entries: Vec<Entry>,
    /// The listing failed part way: `entries` holds what came before.
    pub(super) broke: Option<io::Error>,
    /// Its ignore files, when asked for.
    pub(super) ignore_files: Option<IgnoreFiles>,
    /// How its first `getdents64` call went: whether it came from the device or the cache.
    pub(super) first_call: Option<Took>,
}

impl Entry {
    /// Its name, from its listing's `names`.
    pub(super) fn name<'a>(&self, names: &'a [u8]) -> &'a [u8] {
        let (start, end) = self.name;
        &names[start..end]
    }
}

/// The directories the calling thread listed last, each kept open (an ancestor of the next one
/// listed, in a walk), and the listing buffer.
#[derive(Debug, Default)]
pub(super) struct Chain {
    /// Paths and descriptors, shallowest first; each is an ancestor of those after it.
    dirs: Vec<(Vec<u8>, OwnedFd)>,
    buf: Vec<u8>,
    keys: RandomState,
}

impl Chain {
    /// Opens the directory at `path` for listing, relative to the deepest directory kept that
    /// holds it; `through_link`: a last component that is a link is followed.
    fn open(&mut self, path: &[u8], through_link: bool) -> io::Result<OwnedFd> {
        let nofollow = if through_link { 0 } else { libc::O_NOFOLLOW };
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | nofollow;
        let held = self.dirs.iter().rposition(|(dir, _)| holds(dir, path));
        self.dirs.truncate(held.map_or(0, |i| i + 1));
        let opened = match self.dirs.last() {
            Some((dir, fd)) => long::open_at(fd.as_raw_fd(), below(dir, path), flags),
            None => long::open_at(libc::AT_FDCWD, path, flags),
        };
        match opened {
            Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                // Give back what is kept before the path itself is tried.
                self.dirs.clear();
                long::open_at(libc::AT_FDCWD, path, flags)
            }
            opened => opened,
        }
    }

    /// Keeps `fd`, the directory at `path`, for what is listed beneath it next.
    fn keep(&mut self, path: &[u8], fd: OwnedFd) {
        self.dirs.push((path.to_vec(), fd));
        if self.dirs.len() > KEPT {
            // The shallowest but the first: the deepest are the next ones' parents.
            self.dirs.remove(1);
        }
    }
}

/// Whether the directory at `dir` holds `path`, going by the bytes of both.
fn holds(dir: &[u8], path: &[u8]) -> bool {
    path.len() > dir.len()
        && path.starts_with(dir)
        && (dir.ends_with(b"/") || path[dir.len()] == b'/')
}

/// `path` below `dir`, which [`holds`] it.
fn below<'a>(dir: &[u8], path: &'a [u8]) -> &'a [u8] {
    let rest = &path[dir.len()..];
    let start = rest.iter().position(|&b| b != b'/').unwrap_or(rest.len());
    &rest[start..]
}

/// Lists the directory at `dir` whole — `through_link`: `dir` may be a symbolic link to it —
/// looking up of its entries what `ask` says. Errs if it cannot be opened; a listing that
/// fails part way gives what it listed and the failure ([`Listing::broke`]).
pub(super) fn list(
    chain: &mut Chain,
    dir: &Path,
    through_link: bool,
    ask: Ask,
) -> io::Result<Listing> {
    let path = dir.as_os_str().as_bytes();
    let fd = chain.open(path, through_link)?;
    let stat = sys::fstatat(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH)?;
    let mut listing = Listing {
        id: (stat.st_dev, stat.st_ino),
        names: Vec::new(),
        entries: Vec::new(),
        broke: None,
        ignore_files: None,
        first_call: None,
    };
    let mut seen = Listed::default();
    let mut markers = Markers::default();
    let mut buf = std::mem::take(&mut chain.buf);
    buf.resize(LISTING_BUFFER, 0);
    loop {
        let read = if listing.first_call.is_none() {
            let (read, took) = ahead::timed(|| sys::getdents64(fd.as_fd(), &mut buf));
            listing.first_call = Some(took);
            read
        } else {
            sys::getdents64(fd.as_fd(), &mut buf)
        };
        let read = match read {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                listing.broke = Some(err);
                break;
            }
        };
        let mut at = 0;
        while at + DIRENT_HEADER <= read {
            let length = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            let Some(record) = buf.get(at..at + length).filter(|_| length > DIRENT_HEADER) else {
                listing.broke = Some(io::Error::other("the kernel's listing does not parse"));
                break;
            };
            at += length;
            let Ok(name) = CStr::from_bytes_until_nul(&record[DIRENT_HEADER..]) else {
                continue;
            };
            let bytes = name.to_bytes();
            if matches!(bytes, b"." | b"..") || !seen.insert(bytes, &chain.keys) {
                continue;
            }
            markers.note(bytes);
            let entry = look_at(fd.as_raw_fd(), name, record[18], ask, &mut listing.names);
            listing.entries.push(entry);
        }
        if listing.broke.is_some() {
            break;
        }
    }
    chain.buf = buf;
    if ask.ignore_files {
        listing.ignore_files = Some(markers.read(fd.as_raw_fd(), dir));
    }
    chain.keep(path, fd);
    Ok(listing)
}

/// Which names that say something of the ignore rules a listing holds.
#[derive(Debug, Default)]
struct Markers {
    ignore: bool,
    gitignore: bool,
    git: bool,
    jj: bool,
}

impl Markers {
    fn note(&mut self, name: &[u8]) {
        match name {
            b".ignore" => self.ignore = true,
            b".gitignore" => self.gitignore = true,
            b".git" => self.git = true,
            b".jj" => self.jj = true,
            _ => {}
        }
    }

    /// The ignore files of the directory `dir` (at `path`), read through its descriptor.
    fn read(&self, dir: RawFd, path: &Path) -> IgnoreFiles {
        let read = |name: &CStr| read_at(dir, name);
        let git = self
            .git
            .then(|| sys::fstatat(dir, c".git", 0).ok())
            .flatten();
        let jj = self.jj && sys::fstatat(dir, c".jj", 0).is_ok();
        let exclude = match &git {
            Some(stat) if Kind::of_mode(stat.st_mode) == Kind::File => {
                read(c".git").and_then(|dot_git| worktree_exclude(&dot_git))
            }
            Some(_) => {
                read(c".git/info/exclude").map(|text| (path.join(".git/info/exclude"), text))
            }
            None => None,
        };
        IgnoreFiles {
            ignore: self.ignore.then(|| read(c".ignore")).flatten(),
            gitignore: self.gitignore.then(|| read(c".gitignore")).flatten(),
            repository: git.is_some() || jj,
            exclude,
        }
    }
}

/// The content of the file `name` in the directory `dir`; `None` if it cannot be read. Opened
/// non-blocking: a FIFO of that name gives nothing instead of waiting for a writer.
fn read_at(dir: RawFd, name: &CStr) -> Option<Vec<u8>> {
    use std::io::Read;
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let mut file = fs::File::from(sys::openat(dir, name, flags).ok()?);
    let mut text = Vec::new();
    file.read_to_end(&mut text).ok()?; // whole-file read ok: an ignore file, as the ignore crate reads it
    Some(text)
}

/// The entry `name` of the directory `dir`, whose listing said `d_type`, with what `ask` says
/// to look up; its name is added to `names`.
fn look_at(dir: RawFd, name: &CStr, d_type: u8, ask: Ask, names: &mut Vec<u8>) -> Entry {
    let start = names.len();
    names.extend_from_slice(name.to_bytes());
    let lstat = || sys::fstatat(dir, name, libc::AT_SYMLINK_NOFOLLOW);
    let kind = match Kind::of_listed(d_type) {
        Some(kind) => Ok(kind),
        None => lstat().map(|stat| Kind::of_mode(stat.st_mode)),
    };
    let look = match kind {
        Ok(Kind::Symlink) if ask.follow => Some(sys::fstatat(dir, name, 0)),
        Ok(Kind::File) if ask.sizes => Some(lstat()),
        _ => None,
    };
    let look = look.map(|stat| {
        stat.map(|stat| Look {
            kind: Kind::of_mode(stat.st_mode),
            size: u64::try_from(stat.st_size).unwrap_or(0),
            id: (stat.st_dev, stat.st_ino),
        })
    });
    Entry {
        name: (start, names.len()),
        kind,
        look,
    }
}

/// The names one directory has listed so far, one after another in one buffer, so that a name
/// costs no allocation of its own: this runs for every entry of a walk.
#[derive(Debug, Default)]
pub(super) struct Listed {
    bytes: Vec<u8>,
    /// Where each name is in `bytes`, by its hash.
    spans: HashMap<u64, (usize, usize), BuildHasherDefault<Hashed>>,
    /// The names whose hash another name has already (one in 2^64 pairs).
    collided: HashSet<Vec<u8>>,
}

impl Listed {
    /// Adds `name`, hashed with `keys`; false if it was listed before.
    pub(super) fn insert(&mut self, name: &[u8], keys: &RandomState) -> bool {
        use std::hash::BuildHasher;
        match self.spans.entry(keys.hash_one(name)) {
            Slot::Vacant(vacant) => {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(name);
                vacant.insert((start, self.bytes.len()));
                true
            }
            Slot::Occupied(listed) => {
                let (start, end) = *listed.get();
                self.bytes[start..end] != *name && self.collided.insert(name.to_vec())
            }
        }
    }

    /// Forgets every name, keeping the memory.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.collided.clear();
    }
}

/// The hasher of keys that are hashes already: a `u64` is its own hash.
#[derive(Debug, Default)]
struct Hashed(u64);

impl Hasher for Hashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else folds in, byte by byte (FNV-1a).
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;
    use std::path::PathBuf;

    fn names(listing: &Listing) -> Vec<String> {
        let mut names: Vec<String> = listing
            .entries
            .iter()
            .map(|entry| String::from_utf8_lossy(entry.name(&listing.names)).into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_listing_has_every_entry_with_its_type_and_what_was_asked() {
        let tree = reader_testkit::Tree::new();
        tree.file("a.txt", "12345");
        tree.dir("sub");
        tree.fifo("pipe");
        tree.symlink("to-a", tree.join("a.txt"));
        tree.symlink("dangling", tree.join("nowhere"));
        let mut chain = Chain::default();
        let ask = Ask {
            follow: true,
            sizes: true,
            ignore_files: false,
        };
        let listing = list(&mut chain, tree.path(), true, ask).expect("listed");
        assert!(listing.broke.is_none());
        assert_eq!(
            names(&listing),
            ["a.txt", "dangling", "pipe", "sub", "to-a"]
        );
        let meta = fs::metadata(tree.path()).expect("stat");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(listing.id, (meta.dev(), meta.ino()));
        for entry in &listing.entries {
            let name = entry.name(&listing.names);
            let kind = entry.kind.as_ref().ok().copied();
            let look = entry
                .look
                .as_ref()
                .map(|l| l.as_ref().map(|l| (l.kind, l.size)));
            match name {
                b"a.txt" => assert_eq!(
                    (kind, look.map(Result::ok)),
                    (Some(Kind::File), Some(Some((Kind::File, 5))))
                ),
                b"sub" => assert_eq!((kind, look.is_none()), (Some(Kind::Dir), true)),
                b"pipe" => assert_eq!((kind, look.is_none()), (Some(Kind::Fifo), true)),
                b"to-a" => assert_eq!(
                    (kind, look.map(Result::ok)),
                    (Some(Kind::Symlink), Some(Some((Kind::File, 5))))
                ),
                b"dangling" => {
                    assert!(kind == Some(Kind::Symlink) && look.is_some_and(|l| l.is_err()))
                }
                other => panic!("{other:?}"),
            }
        }
        let plain = list(&mut chain, tree.path(), true, Ask::default()).expect("listed");
        assert!(plain.entries.iter().all(|entry| entry.look.is_none()));
    }

    #[test]
    fn directories_past_path_max_are_listed_from_a_kept_ancestor_or_in_pieces() {
        let tree = reader_testkit::Tree::new();
        let file = tree.deep("deep", 30, 200, b"far down\n");
        let mut dirs: Vec<PathBuf> = file.ancestors().skip(1).map(Path::to_path_buf).collect();
        dirs.truncate(31);
        dirs.reverse();
        let mut chain = Chain::default();
        for (depth, dir) in dirs.iter().enumerate() {
            let listing = list(&mut chain, dir, false, Ask::default()).expect("listed");
            let want = if depth == 30 { "deep.txt" } else { "dddd" };
            assert!(
                names(&listing)[0].starts_with(want),
                "{depth}: {:?}",
                names(&listing)
            );
            assert!(chain.dirs.len() <= KEPT);
        }
        // Afresh, with nothing kept: the whole path, in pieces.
        let bottom = list(&mut Chain::default(), &dirs[30], false, Ask::default());
        assert_eq!(names(&bottom.expect("listed")), ["deep.txt"]);
        // Back up to a directory kept, then down another way.
        let again = list(&mut chain, &dirs[2], false, Ask::default()).expect("listed");
        assert_eq!(again.entries.len(), 1);
        // A link half-way down (its target is a path too, shorter than PATH_MAX).
        let half_way = dirs[15].strip_prefix(tree.path()).expect("inside");
        let link = tree.symlink("link", half_way);
        let through = list(&mut chain, &link, true, Ask::default()).expect("through the link");
        assert_eq!(through.entries.len(), 1);
        let refused = list(&mut chain, &link, false, Ask::default()).expect_err("a link");
        assert!(
            matches!(refused.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)),
            "{refused}"
        );
        let below = link.join(dirs[30].strip_prefix(&dirs[15]).expect("beneath"));
        let bottom = list(&mut chain, &below, false, Ask::default()).expect("past the link");
        assert_eq!(names(&bottom), ["deep.txt"]);
        let missing = list(&mut chain, &dirs[30].join("gone"), false, Ask::default());
        assert_eq!(
            missing.expect_err("missing").kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn kept_directories_hold_only_the_deeper_paths() {
        assert!(holds(b"/a", b"/a/b"));
        assert!(holds(b"/", b"/a"));
        assert!(!holds(b"/a", b"/ab"));
        assert!(!holds(b"/a", b"/a"));
        assert_eq!(below(b"/a", b"/a//b/c"), b"b/c");
    }

    #[test]
    fn names_of_the_same_hash_are_told_apart() {
        let keys = RandomState::new();
        let mut listed = Listed::default();
        assert!(listed.insert(b"a", &keys));
        // Make "b" hash as "a" does: its key points at the bytes of "a".
        let span = listed.spans[&keys.hash_one(b"a")];
        listed.spans.insert(keys.hash_one(b"b"), span);
        assert!(listed.insert(b"b", &keys), "a name of its own");
        assert!(!listed.insert(b"b", &keys), "listed again");
        assert!(!listed.insert(b"a", &keys));
        listed.clear();
        assert!(listed.insert(b"a", &keys) && listed.insert(b"b", &keys));
    }
}

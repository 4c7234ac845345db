//! A file system that misbehaves on purpose, for the cases: a small FUSE file system (with the
//! `fuser` crate, mounted without libfuse) whose entries fail the way real trees fail in the
//! field — a file whose read never returns (a stalled NFS server), one whose read fails with
//! `EIO` half-way, one whose `stat` size is larger than its content and one whose size is
//! smaller, a directory whose listing fails after some entries, one that is slow to list, one
//! whose listing gives some names twice (as `/proc/self/map_files` does when the process maps
//! memory while it is listed), and one whose listing never returns, with files beside it and
//! below the directory walked after it.
//!
//! [`HostileFs::mount`] mounts it in a temporary folder, or says on stderr why it cannot (no
//! `/dev/fuse`, not allowed to mount) and returns `None`, so that a case skips visibly. The
//! mount is a guard: dropping it — at the end of a case, or while a failing case unwinds —
//! first answers every stalled read and listing with `EIO`, so that no reader is left in
//! uninterruptible sleep (state D), then unmounts (lazily, so that a file still open cannot keep
//! it mounted).
//!
//! The stalled read is the hard kind: the file is opened with `FOPEN_DIRECT_IO`, so the reading
//! thread waits in the kernel for the server's answer to a request the server has taken, and
//! not even SIGKILL frees it until the answer comes (or the connection ends).

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyEntry, ReplyOpen, Request,
};

/// A plain file, read as any other.
pub const PLAIN: &str = "plain.txt";
/// A file whose read never returns until the file system is unmounted.
pub const STALLED: &str = "stalled.txt";
/// A file whose read fails with `EIO` from the middle of its content on.
pub const FAILS_HALF_WAY: &str = "fails-half-way.txt";
/// A file whose `stat` size is larger than its content.
pub const SIZE_LARGER: &str = "size-larger-than-content.txt";
/// A file whose `stat` size is smaller than its content.
pub const SIZE_SMALLER: &str = "size-smaller-than-content.txt";
/// A directory whose listing fails with `EIO` after its first entries.
pub const LISTING_FAILS: &str = "listing-fails";
/// A directory that answers each part of its listing only after [`SLOW_LISTING_STEP`].
pub const SLOW_LISTING: &str = "slow-listing";

/// A directory whose listing goes back one entry at each reply, so that a file and a
/// subdirectory (with a file of its own) are listed twice.
pub const REPEATS_NAMES: &str = "repeats-names";

/// A directory holding, in this order: a file, [`NEVER_LISTED`], a directory with a file and a
/// directory with a file of its own, and another file — a tree in which everything but one
/// directory can be read.
pub const LISTING_STALLS: &str = "listing-stalls";

/// The directory of [`LISTING_STALLS`] whose listing never returns until the file system is
/// released (it holds a file no listing shows).
pub const NEVER_LISTED: &str = "never-listed";

/// How long the slow directory takes for each part of its listing (it is listed in four).
pub const SLOW_LISTING_STEP: Duration = Duration::from_millis(60);

/// Where [`FAILS_HALF_WAY`] starts failing: reads at or past this offset fail with `EIO`.
const HALF_WAY: u64 = 64 * 1024;
/// The size [`SIZE_LARGER`] claims: enough to be read through a mapping, if a reader maps.
const CLAIMED_LARGER: u64 = 128 << 20;
/// Entries a reply of the slow directory's listing holds.
const SLOW_BATCH: usize = 2;
/// Entries a reply of the repeating directory's listing holds; the next reply starts again at
/// the last of them.
const REPEAT_BATCH: usize = 3;
/// Attributes and entries stay valid this long in the kernel: the whole of a case.
const TTL: Duration = Duration::from_secs(300);

/// What a reader must report for one entry of the hostile file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Read, with this content (whatever its `stat` size said).
    Read(Vec<u8>),
    /// Failed, with this `error.kind`.
    Failed(&'static str),
}

/// How a file answers reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// Its content, through the page cache.
    Cached,
    /// Its content, each read straight from the server (`FOPEN_DIRECT_IO`).
    Direct,
    /// Never: the request is kept unanswered until the file system is released.
    Stalls,
    /// `EIO` at or past this offset, its content before (direct).
    FailsFrom(u64),
}

/// How a directory answers its listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// At once.
    Plain,
    /// Its first reply, then `EIO`.
    FailsAfterFirst,
    /// [`SLOW_BATCH`] entries a reply, each after [`SLOW_LISTING_STEP`].
    Slow,
    /// [`REPEAT_BATCH`] entries a reply, the last of them again first in the next reply, as
    /// procfs lists a directory whose entries move while it is listed.
    Repeats,
    /// Never: the request is kept unanswered until the file system is released.
    Stalls,
}

#[derive(Debug, Clone)]
enum Node {
    Dir(Listing),
    File {
        content: Vec<u8>,
        /// The size `stat` tells.
        size: u64,
        reads: Reads,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    parent: u64,
    name: String,
    node: Node,
}

/// The entries, inode `i + 1` at index `i`; the root is inode 1.
fn tree() -> Vec<Entry> {
    let text = |words: &str, times: usize| words.repeat(times).into_bytes();
    let file = |parent: u64, name: &str, content: Vec<u8>, reads: Reads| Entry {
        parent,
        name: name.into(),
        node: Node::File {
            size: content.len() as u64,
            content,
            reads,
        },
    };
    let dir_in = |parent: u64, name: &str, listing: Listing| Entry {
        parent,
        name: name.into(),
        node: Node::Dir(listing),
    };
    let dir = |name: &str, listing: Listing| dir_in(1, name, listing);
    let mut entries = vec![
        dir("", Listing::Plain),
        file(1, PLAIN, text("a plain file\n", 3), Reads::Cached),
        file(1, STALLED, text("never read\n", 1), Reads::Stalls),
        file(
            1,
            FAILS_HALF_WAY,
            text(
                "half of this is never read\n",
                2 * HALF_WAY as usize / 27 + 1,
            ),
            Reads::FailsFrom(HALF_WAY),
        ),
        Entry {
            parent: 1,
            name: SIZE_LARGER.into(),
            node: Node::File {
                content: text("less than it says\n", 4),
                size: CLAIMED_LARGER,
                reads: Reads::Cached,
            },
        },
        Entry {
            parent: 1,
            name: SIZE_SMALLER.into(),
            node: Node::File {
                content: text("more than it says\n", 40),
                size: 10,
                reads: Reads::Direct,
            },
        },
        dir(LISTING_FAILS, Listing::FailsAfterFirst),
        dir(SLOW_LISTING, Listing::Slow),
        dir(REPEATS_NAMES, Listing::Repeats),
    ];
    let failing = inode_of(&entries, LISTING_FAILS);
    let slow = inode_of(&entries, SLOW_LISTING);
    let repeats = inode_of(&entries, REPEATS_NAMES);
    numbered(&mut entries, failing, "listed", "listed\n", 3);
    numbered(
        &mut entries,
        slow,
        "slow",
        "slowly listed\n",
        2 * SLOW_BATCH + 1,
    );
    // Listed after the dots, three a reply, each reply going back one: `again` and
    // `repeated-1.txt` are listed twice.
    entries.push(Entry {
        parent: repeats,
        name: "again".into(),
        node: Node::Dir(Listing::Plain),
    });
    let again = inode_of(&entries, "again");
    entries.push(file(
        again,
        "inside.txt",
        text("listed twice\n", 2),
        Reads::Cached,
    ));
    numbered(&mut entries, repeats, "repeated", "maybe twice\n", 4);
    // The tree around a listing that never returns: beside it, before and after, and below
    // the directory walked after it.
    entries.push(dir(LISTING_STALLS, Listing::Plain));
    let stalls = inode_of(&entries, LISTING_STALLS);
    entries.push(file(
        stalls,
        "before.txt",
        text("listed before\n", 2),
        Reads::Cached,
    ));
    entries.push(dir_in(stalls, NEVER_LISTED, Listing::Stalls));
    let never = inode_of(&entries, NEVER_LISTED);
    entries.push(file(
        never,
        "unseen.txt",
        text("never listed\n", 1),
        Reads::Cached,
    ));
    entries.push(dir_in(stalls, "after", Listing::Plain));
    let after = inode_of(&entries, "after");
    entries.push(file(
        after,
        "after.txt",
        text("walked after\n", 3),
        Reads::Cached,
    ));
    entries.push(dir_in(after, "below", Listing::Plain));
    let below = inode_of(&entries, "below");
    entries.push(file(
        below,
        "below.txt",
        text("below it\n", 4),
        Reads::Cached,
    ));
    entries.push(file(
        stalls,
        "beside.txt",
        text("listed beside\n", 5),
        Reads::Cached,
    ));
    entries
}

/// Adds `count` plain files to directory `parent`: `{stem}-{i}.txt`, holding `line` `i + 1`
/// times.
fn numbered(entries: &mut Vec<Entry>, parent: u64, stem: &str, line: &str, count: usize) {
    for i in 0..count {
        entries.push(Entry {
            parent,
            name: format!("{stem}-{i}.txt"),
            node: Node::File {
                content: line.repeat(i + 1).into_bytes(),
                size: (line.len() * (i + 1)) as u64,
                reads: Reads::Cached,
            },
        });
    }
}

fn inode_of(entries: &[Entry], name: &str) -> u64 {
    entries
        .iter()
        .position(|e| e.name == name)
        .map_or(0, |i| i as u64 + 1)
}

/// What the mounted file system and its guard share.
#[derive(Debug, Default)]
struct Stalls {
    /// Reads of [`STALLED`] not answered yet.
    waiting: Vec<ReplyData>,
    /// Listings of [`NEVER_LISTED`] not answered yet.
    listings: Vec<ReplyDirectory>,
    /// The guard let go: every read and listing is answered, at once.
    released: bool,
}

#[derive(Debug)]
struct Hostile {
    entries: Vec<Entry>,
    stalls: Arc<Mutex<Stalls>>,
}

fn lock(stalls: &Mutex<Stalls>) -> MutexGuard<'_, Stalls> {
    stalls.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hostile {
    fn entry(&self, ino: INodeNo) -> Option<&Entry> {
        let index = usize::try_from(ino.0).ok()?.checked_sub(1)?;
        self.entries.get(index)
    }

    fn attr(&self, ino: INodeNo) -> Option<FileAttr> {
        let entry = self.entry(ino)?;
        let (kind, perm, size, nlink) = match &entry.node {
            Node::Dir(_) => (FileType::Directory, 0o555, 0, 2),
            Node::File { size, .. } => (FileType::RegularFile, 0o444, *size, 1),
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: SystemTime::UNIX_EPOCH,
            mtime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
            crtime: SystemTime::UNIX_EPOCH,
            kind,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    /// The children of directory `ino`, with `.` and `..` first, as `(inode, kind, name)`.
    fn children(&self, ino: INodeNo) -> Vec<(INodeNo, FileType, String)> {
        let mut listing = vec![
            (ino, FileType::Directory, ".".to_string()),
            (INodeNo::ROOT, FileType::Directory, "..".to_string()),
        ];
        for (i, entry) in self.entries.iter().enumerate().skip(1) {
            if entry.parent == ino.0 {
                let kind = match entry.node {
                    Node::Dir(_) => FileType::Directory,
                    Node::File { .. } => FileType::RegularFile,
                };
                listing.push((INodeNo(i as u64 + 1), kind, entry.name.clone()));
            }
        }
        listing
    }
}

impl Filesystem for Hostile {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = self
            .entries
            .iter()
            .position(|e| e.parent == parent.0 && OsStr::new(&e.name) == name)
            .and_then(|i| self.attr(INodeNo(i as u64 + 1)));
        match found {
            Some(attr) => reply.entry(&TTL, &attr, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.entry(ino).map(|e| &e.node) {
            Some(Node::File { reads, .. }) => {
                let flags = match reads {
                    Reads::Cached => FopenFlags::empty(),
                    Reads::Direct | Reads::Stalls | Reads::FailsFrom(_) => {
                        FopenFlags::FOPEN_DIRECT_IO
                    }
                };
                reply.opened(FileHandle(0), flags);
            }
            Some(Node::Dir(_)) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(Node::File { content, reads, .. }) = self.entry(ino).map(|e| &e.node) else {
            reply.error(Errno::EISDIR);
            return;
        };
        let end = match reads {
            Reads::Stalls => {
                let mut stalls = lock(&self.stalls);
                if stalls.released {
                    drop(stalls);
                    reply.error(Errno::EIO);
                } else {
                    stalls.waiting.push(reply);
                }
                return;
            }
            Reads::FailsFrom(at) if offset >= *at => {
                reply.error(Errno::EIO);
                return;
            }
            Reads::FailsFrom(at) => *at,
            Reads::Cached | Reads::Direct => content.len() as u64,
        };
        let start = offset.min(end);
        let stop = offset.saturating_add(u64::from(size)).min(end);
        let slice = usize::try_from(start)
            .ok()
            .zip(usize::try_from(stop).ok())
            .and_then(|(start, stop)| content.get(start..stop))
            .unwrap_or_default();
        reply.data(slice);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(Node::Dir(listing)) = self.entry(ino).map(|e| &e.node) else {
            reply.error(Errno::ENOTDIR);
            return;
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if *listing == Listing::Stalls {
            let mut stalls = lock(&self.stalls);
            if stalls.released {
                drop(stalls);
                reply.error(Errno::EIO);
            } else {
                stalls.listings.push(reply);
            }
            return;
        }
        let batch = match listing {
            Listing::FailsAfterFirst if start > 0 => {
                reply.error(Errno::EIO);
                return;
            }
            Listing::Slow => {
                std::thread::sleep(SLOW_LISTING_STEP);
                // The dots and the first entries, then a few at a time.
                if start == 0 {
                    SLOW_BATCH + 2
                } else {
                    SLOW_BATCH
                }
            }
            Listing::Repeats => REPEAT_BATCH,
            Listing::Plain | Listing::FailsAfterFirst | Listing::Stalls => usize::MAX,
        };
        // Where the listing goes on after the entry at `i`: the next one, or, for the last of
        // a repeating reply, that entry again.
        let next = |i: usize, last: bool| {
            if *listing == Listing::Repeats && last {
                i
            } else {
                i + 1
            }
        };
        let children = self.children(ino);
        let total = children.len();
        let end = start.saturating_add(batch).min(total);
        let listed = children.into_iter().enumerate().skip(start).take(batch);
        for (i, (child, kind, name)) in listed {
            // The offset of an entry is where the listing goes on after it.
            let offset = next(i, i + 1 == end && end < total);
            if reply.add(child, offset as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// The hostile file system, mounted; released and unmounted when dropped.
#[derive(Debug)]
pub struct HostileFs {
    /// `None` once unmounted.
    session: Option<BackgroundSession>,
    stalls: Arc<Mutex<Stalls>>,
    entries: Vec<Entry>,
    mountpoint: tempfile::TempDir,
}

impl HostileFs {
    /// Mounts a fresh copy in a temporary folder; `None`, with the reason on stderr (the
    /// caller's case is skipped), where FUSE cannot be mounted.
    pub fn mount() -> Option<HostileFs> {
        match HostileFs::try_mount() {
            Ok(mounted) => Some(mounted),
            Err(err) => {
                eprintln!("skipped: cannot mount the hostile FUSE file system here ({err})");
                None
            }
        }
    }

    fn try_mount() -> io::Result<HostileFs> {
        if !Path::new("/dev/fuse").exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no /dev/fuse"));
        }
        let mountpoint = tempfile::Builder::new()
            .prefix("reader-hostile-")
            .tempdir()?;
        let stalls = Arc::new(Mutex::new(Stalls::default()));
        let entries = tree();
        let fs = Hostile {
            entries: entries.clone(),
            stalls: Arc::clone(&stalls),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::RO,
            MountOption::FSName("reader-hostile".into()),
            MountOption::Subtype("reader-hostile".into()),
        ];
        // The slow directory sleeps in its handler: other requests go on meanwhile.
        config.n_threads = Some(4);
        let session = fuser::spawn_mount(fs, mountpoint.path(), &config)?;
        Ok(HostileFs {
            session: Some(session),
            stalls,
            entries,
            mountpoint,
        })
    }

    /// The root of the mounted file system.
    pub fn root(&self) -> &Path {
        self.mountpoint.path()
    }

    /// `root/name`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.root().join(name)
    }

    /// Every entry a reader must report when it reads the whole file system with a time limit,
    /// and what: each file with its content or its error kind, the directory whose listing
    /// fails as an `io` failure of its own, and the one whose listing never returns as a
    /// `timeout`. With `stalled` false, the stalled file and the directory that is never listed
    /// are left out (for a reader given the other entries' paths, without a time limit).
    pub fn expected(&self, stalled: bool) -> Vec<(PathBuf, Expected)> {
        self.expected_under(Path::new(""), stalled)
    }

    /// As [`HostileFs::expected`], for the entries under `dir` (a path below the root; empty
    /// for the root).
    pub fn expected_under(&self, dir: &Path, stalled: bool) -> Vec<(PathBuf, Expected)> {
        let dir = self.root().join(dir);
        let never = self.join(LISTING_STALLS).join(NEVER_LISTED);
        let mut expected = Vec::new();
        for (i, entry) in self.entries.iter().enumerate().skip(1) {
            let path = self.path_of(i);
            if !path.starts_with(&dir) || path == dir {
                continue;
            }
            if path.starts_with(&never) {
                // Never listed: reported as timeout itself, and nothing beneath it is seen.
                if path == never && stalled {
                    expected.push((path, Expected::Failed("timeout")));
                }
                continue;
            }
            match &entry.node {
                Node::Dir(Listing::FailsAfterFirst) => {
                    expected.push((path, Expected::Failed("io")));
                }
                Node::Dir(_) => {}
                Node::File {
                    reads: Reads::Stalls,
                    ..
                } => {
                    if stalled {
                        expected.push((path, Expected::Failed("timeout")));
                    }
                }
                Node::File {
                    reads: Reads::FailsFrom(_),
                    ..
                } => {
                    expected.push((path, Expected::Failed("io")));
                }
                Node::File { content, .. } => {
                    expected.push((path, Expected::Read(content.clone())));
                }
            }
        }
        expected
    }

    /// The path of the entry at `index`.
    fn path_of(&self, index: usize) -> PathBuf {
        let mut names = Vec::new();
        let mut at = index;
        while at > 0 {
            let entry = &self.entries[at];
            names.push(entry.name.as_str());
            at = usize::try_from(entry.parent).map_or(0, |p| p.saturating_sub(1));
        }
        names
            .iter()
            .rev()
            .fold(self.root().to_path_buf(), |path, name| path.join(name))
    }

    /// Answers every stalled read and listing with `EIO`, now and from now on: whoever was
    /// waiting in the kernel goes on.
    pub fn release(&self) {
        let (waiting, listings) = {
            let mut stalls = lock(&self.stalls);
            stalls.released = true;
            (
                std::mem::take(&mut stalls.waiting),
                std::mem::take(&mut stalls.listings),
            )
        };
        for reply in waiting {
            reply.error(Errno::EIO);
        }
        for reply in listings {
            reply.error(Errno::EIO);
        }
    }

    /// How many reads of the stalled file wait for an answer now.
    pub fn stalled_reads(&self) -> usize {
        lock(&self.stalls).waiting.len()
    }

    /// How many listings of the directory never listed wait for an answer now.
    pub fn stalled_listings(&self) -> usize {
        lock(&self.stalls).listings.len()
    }
}

impl Drop for HostileFs {
    fn drop(&mut self) {
        self.release();
        if let Ok(point) = std::ffi::CString::new(self.root().as_os_str().as_encoded_bytes()) {
            // SAFETY: a NUL-terminated path; a lazy unmount cannot fail for files still open.
            unsafe {
                libc::umount2(point.as_ptr(), libc::MNT_DETACH);
            }
        }
        // The session finds the file system unmounted and only lets its threads go.
        drop(self.session.take());
    }
}

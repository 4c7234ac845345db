//! Counting a large file through a read-only mapping instead of copying it into a buffer,
//! without the crash a mapping risks when the file shrinks underneath.
//!
//! A page of a mapping past the end of a truncated file raises `SIGBUS`, which kills the
//! process. So a file is mapped only under a **read lease** (`fcntl(F_SETLEASE, F_RDLCK)`):
//! the kernel grants it only while no process has the file open for writing, and whoever then
//! opens it for writing or truncates it waits until the lease is given back, after a signal
//! to the lease holder. That signal (a real-time signal of our own, with a handler that only
//! counts) is looked at between chunks of [`CHUNK`] bytes; once the lease is being broken the
//! mapping is dropped, the lease given back, and the caller reads the rest with `read`, as it
//! reads every other file. A file whose lease cannot be had — another process has it open
//! for writing, the file is not ours and we lack `CAP_LEASE`, leases turned off
//! (`fs.leases-enable`), the signal taken by someone else — is read with `read`, unmapped.
//!
//! A lease only holds off the processes of this machine. On a file system whose content lives
//! elsewhere — FUSE, NFS, SMB, a cluster file system — the server may have fewer bytes than
//! the size it told (a FUSE file whose `stat` says 128 MiB and whose content is 72 bytes made
//! the reader die of SIGBUS), or shrink the file under the lease. So only files of the local
//! file systems of `LOCAL` are mapped; every other one is read with `read`.
//!
//! What remains: the kernel breaks a lease by force after `fs.lease-break-time` (45 s by
//! default); a reader stopped for longer than that (`SIGSTOP`, a debugger) in the middle of a
//! chunk can still meet a truncated page.
#![allow(unsafe_code)]

use std::borrow::Borrow;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::work::FileWork;

/// Files of at least this many bytes are mapped when a lease allows it: below it a copy into
/// a buffer that stays in the core's cache costs less than the mapping's page faults
/// (measured in BENCHMARKS.md, "Large files without the copy"). A reader with a read path of
/// its own leaves files this large to [`read_job`](crate::read_job), which maps them.
pub const MAP_FROM: u64 = 64 << 20;

/// Bytes counted between two looks for a lease break.
const CHUNK: usize = 1 << 20;

/// Bytes mapped at once: what a mapped file adds to resident memory at most.
const WINDOW: usize = 8 << 20;

/// `fcntl`'s command that names the signal sent when a lease breaks (Linux, `<fcntl.h>`; not
/// in the libc crate).
const F_SETSIG: libc::c_int = 10;

/// Lease breaks signalled to this process so far.
static BREAKS: AtomicU64 = AtomicU64::new(0);

/// How a mapped count ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mapped {
    /// No mapping was made; nothing was counted.
    Declined,
    /// Counted up to this offset, the end of the file or of the range asked for.
    Done(u64),
    /// Another process wants to change the file: counted up to this offset, the rest is the
    /// caller's to read.
    Broken(u64),
}

/// The file systems whose files are mapped (`statfs` magic numbers, `<linux/magic.h>`): those
/// that keep a file's content on this machine, where the size the kernel has is the size.
const LOCAL: [libc::__fsword_t; 9] = [
    0xef53,      // ext2, ext3, ext4
    0x5846_5342, // xfs
    0x9123_683e, // btrfs
    0x0102_1994, // tmpfs
    0x8584_58f6, // ramfs
    0xf2f5_2010, // f2fs
    0x2fc1_2fc1, // zfs
    0xca45_1a4e, // bcachefs
    0x794c_7630, // overlayfs (its layers are local)
];

/// Gives the first `want` bytes of `file` (fewer if it is shorter now) to `state` through a
/// mapping held under a read lease; [`Mapped::Declined`] if no lease or mapping can be had, or
/// the file is not on a local file system (`LOCAL`).
pub(super) fn count(file: &File, want: u64, state: &mut impl FileWork) -> Mapped {
    match Lease::take(file) {
        Ok(lease) if lease.len.min(want) > 0 => lease.count(0, want, state),
        _ => Mapped::Declined,
    }
}

/// A file held under a read lease (module docs), so that byte ranges of it can be read
/// through mappings, by several threads at once ([`RangedFile`](crate::RangedFile)). Holds
/// the file borrowed (`&File`) or owned (`File`); the lease is given back when this is dropped.
#[derive(Debug)]
pub(super) struct Lease<F: Borrow<File>> {
    file: F,
    /// The file's size once leased: nobody can shrink it unannounced.
    len: u64,
    /// Lease breaks signalled before it was taken.
    breaks: u64,
}

impl<F: Borrow<File>> Lease<F> {
    /// Takes a read lease on `file`; gives `file` back where the kernel refuses one (module
    /// docs) or the file is not on a local file system (`LOCAL`): its ranges are then read
    /// with `read`.
    pub(super) fn take(file: F) -> Result<Lease<F>, F> {
        if !size_is_trusted(file.borrow()) || !take_lease(file.borrow()) {
            return Err(file);
        }
        let breaks = BREAKS.load(Ordering::Acquire);
        let len = file.borrow().metadata().map_or(0, |meta| meta.len());
        Ok(Lease { file, len, breaks })
    }

    /// The leased file.
    pub(super) fn file(&self) -> &File {
        self.file.borrow()
    }

    /// Counts the bytes `start..end` of the file that it had when leased through a mapping,
    /// into `state`. `start` must be a multiple of the page size, else nothing is mapped.
    pub(super) fn count(&self, start: u64, end: u64, state: &mut impl FileWork) -> Mapped {
        if !start.is_multiple_of(page_size()) || start >= self.len.min(end) {
            return Mapped::Declined;
        }
        count_mapping(self.file(), start, end.min(self.len), self.breaks, state)
    }
}

impl<F: Borrow<File>> Drop for Lease<F> {
    fn drop(&mut self) {
        give_back_lease(self.file.borrow());
    }
}

/// The size of a page of memory: mappings start at multiples of it.
fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096).max(1)
}

/// Whether the size the kernel gives for `file` is its content's size: the file lives on one
/// of the local file systems of `LOCAL`. On FUSE, NFS and the like the server may hold fewer
/// bytes than it said, and reads past what it holds can come back as zeros when several of
/// them are in flight at once; such a file is best read front to back by one reader.
///
/// ```
/// let file = std::fs::File::open(std::env::current_exe()?)?;
/// // Wherever the build lives, asking never fails; /proc is never trusted.
/// let _ = reader_core::size_is_trusted(&file);
/// assert!(!reader_core::size_is_trusted(&std::fs::File::open("/proc/self/status")?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn size_is_trusted(file: &File) -> bool {
    crate::read::file_system(file).is_some_and(is_local)
}

/// Whether the file system of type `kind` (`statfs`'s `f_type`) is one of `LOCAL`.
pub(super) fn is_local(kind: libc::__fsword_t) -> bool {
    LOCAL.contains(&kind)
}

/// Takes a read lease on `file`, its breaks signalled with [`lease_signal`]; false if the
/// kernel refuses it (module docs) or the signal is not ours.
fn take_lease(file: &File) -> bool {
    let Some(signal) = lease_signal() else {
        return false;
    };
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor the caller keeps open.
    unsafe {
        libc::fcntl(fd, F_SETSIG, signal) == 0
            && libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) == 0
    }
}

/// Gives back the lease on `file`: a truncation or writer waiting for it goes ahead.
fn give_back_lease(file: &File) {
    // SAFETY: a plain fcntl call on a descriptor the caller keeps open.
    unsafe {
        libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK);
    }
}

/// Maps the bytes `start..end` of `file` (leased; `start` a multiple of the page size) a
/// [`WINDOW`] at a time and gives them to `state` chunk by chunk while the lease holds. One
/// window is mapped at once, so the file's pages never add more than a window a thread to the
/// process's resident memory; a panic inside the work unmaps it too ([`Window`]).
fn count_mapping(
    file: &File,
    start: u64,
    end: u64,
    breaks: u64,
    state: &mut impl FileWork,
) -> Mapped {
    let mut at = start;
    while at < end {
        let Ok(size) = usize::try_from((end - at).min(WINDOW as u64)) else {
            return Mapped::Declined;
        };
        let Ok(offset) = libc::off_t::try_from(at) else {
            return Mapped::Broken(at);
        };
        // SAFETY: a new private read-only mapping of an open descriptor at a page-aligned
        // offset (`start` is one, and WINDOW a multiple of the page size); the kernel picks
        // the address, nothing aliases it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if base == libc::MAP_FAILED {
            return if at == start {
                Mapped::Declined
            } else {
                Mapped::Broken(at)
            };
        }
        let window = Window { base, size };
        // SAFETY: `base..base + size` is the mapping made above; advice is only a hint.
        unsafe {
            libc::madvise(base, size, libc::MADV_SEQUENTIAL);
        }
        let mut done = 0;
        while done < size {
            if BREAKS.load(Ordering::Acquire) != breaks && !still_leased(file) {
                break;
            }
            let stop = (done + CHUNK).min(size);
            // SAFETY: `done..stop` lies inside the mapping, whose pages all exist: the file
            // had at least `end` bytes when the lease was taken, and cannot have shrunk since
            // without the lease being broken, which was looked at just now (module docs).
            let chunk =
                unsafe { std::slice::from_raw_parts(base.cast::<u8>().add(done), stop - done) };
            state.update(chunk);
            done = stop;
        }
        drop(window);
        at += done as u64;
        if done < size {
            return Mapped::Broken(at);
        }
    }
    Mapped::Done(end)
}

/// One window of a file mapped by [`count_mapping`], unmapped when dropped, also when the
/// work that was given its bytes panics.
struct Window {
    base: *mut libc::c_void,
    size: usize,
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly a mapping `count_mapping` made; the chunks it lent the work
        // were borrowed for one `update` each and are gone.
        unsafe {
            libc::munmap(self.base, self.size);
        }
    }
}

/// Whether `file`'s read lease still holds (a lease being broken reads as `F_UNLCK`).
fn still_leased(file: &File) -> bool {
    // SAFETY: a plain fcntl query on an open descriptor.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLEASE) == libc::F_RDLCK }
}

/// The real-time signal the kernel sends us when a lease is being broken, with its handler
/// installed; `None` if it cannot be installed or another handler owns that signal.
fn lease_signal() -> Option<libc::c_int> {
    static SIGNAL: OnceLock<Option<libc::c_int>> = OnceLock::new();
    *SIGNAL.get_or_init(|| {
        let signal = libc::SIGRTMIN() + 5;
        if signal > libc::SIGRTMAX() {
            return None;
        }
        // SAFETY: sigaction with a zeroed (valid) struct to read the current disposition,
        // then with our handler, which only touches an atomic (async-signal-safe).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                return None;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_lease_break as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            (libc::sigaction(signal, &action, std::ptr::null_mut()) == 0).then_some(signal)
        }
    })
}

extern "C" fn on_lease_break(_: libc::c_int) {
    BREAKS.fetch_add(1, Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counter, Counts};
    use std::fs;
    use std::time::{Duration, Instant};

    fn mapped(data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, data).expect("write");
        (dir, path)
    }

    #[test]
    fn a_leased_file_counts_as_read_does() {
        let data = b"one two\nthree\tfour  five\n".repeat(100_000);
        let (_dir, path) = mapped(&data);
        let file = File::open(&path).expect("open");
        let mut counter = Counter::new();
        match count(&file, u64::MAX, &mut counter) {
            Mapped::Done(len) => {
                assert_eq!(len, data.len() as u64);
                assert_eq!(counter.counts(), Counts::of(&data));
            }
            // The file is ours, so only a file system without leases, or leases turned off,
            // refuses one: then nothing is counted.
            Mapped::Declined => {
                eprintln!("skipped: no read lease on this file system");
                assert_eq!(counter.counts(), Counts::default());
            }
            Mapped::Broken(at) => panic!("nobody broke the lease, yet it broke at {at}"),
        }
    }

    #[test]
    fn a_file_open_for_writing_elsewhere_is_not_mapped() {
        let (_dir, path) = mapped(&b"x\n".repeat(1000));
        let _writer = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open to write");
        let file = File::open(&path).expect("open");
        let mut counter = Counter::new();
        assert_eq!(count(&file, u64::MAX, &mut counter), Mapped::Declined);
    }

    /// The lease breaks when a truncation comes in: the mapping is dropped before the
    /// truncation goes ahead, so no page past the new end is ever touched (no SIGBUS).
    #[test]
    fn a_truncation_while_mapped_breaks_the_lease_before_it_happens() {
        let data = b"word ".repeat(4 << 20);
        let (_dir, path) = mapped(&data);
        let file = File::open(&path).expect("open");
        if !take_lease(&file) {
            eprintln!("skipped: this file system or user gets no read lease");
            return;
        }
        let breaks = BREAKS.load(Ordering::Acquire);
        let truncate = {
            let path = path.clone();
            std::thread::spawn(move || {
                // Waits here until the lease is given back.
                fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&path)
                    .expect("truncate");
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while BREAKS.load(Ordering::Acquire) == breaks && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!still_leased(&file), "the truncation breaks the lease");
        let mut counter = Counter::new();
        let ended = count_mapping(&file, 0, data.len() as u64, breaks, &mut counter);
        assert_eq!(
            ended,
            Mapped::Broken(0),
            "nothing counted once the lease broke"
        );
        give_back_lease(&file);
        truncate.join().expect("the truncation went ahead");
        assert_eq!(fs::metadata(&path).expect("stat").len(), 0);
    }
}

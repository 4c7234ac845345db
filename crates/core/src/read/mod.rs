//! Reading one file: open it safely, decide where it ends, and stream it to a [`Work`] (the
//! [`Counter`](crate::Counter) of [`Count`], for every reader binary) in fixed-size chunks
//! with the caller's reused buffer, never holding more than one chunk.
//!
//! Files are opened non-blocking and checked with `fstat` before the first read, so an entry
//! that became a FIFO or a device after discovery fails with `not_regular` instead of blocking.
//! A reader that already knows the size (its router looked it up) skips that `fstat` with
//! [`count_sized`]: it checks the file only if the data ends before that size or goes on past
//! it, so whatever the path has become meanwhile cannot hold it. A file whose size says
//! 0 on a pseudo file system (procfs, sysfs…) is read up to
//! [`PSEUDO_FILE_LIMIT`](crate::PSEUDO_FILE_LIMIT), so that a
//! pseudo-file without end (`/proc/self/pagemap`) cannot hold a reader for ever.
//!
//! A file of at least 64 MiB is counted through a read-only mapping when a read lease
//! guarantees it cannot shrink underneath unannounced (see `mapped.rs`), and with `read`
//! otherwise.
//!
//! [`read_cached`] is the one read that never waits: it takes a file only if the kernel can
//! serve it from its caches, for a scheduler whose threads must not block (the async model's
//! runtime threads).
//!
//! # Where a file ends
//!
//! Every read loop here decides where a file ends, whether it went past its cap, and when to
//! look at the open file again by one set of rules, [`Extent`] (`extent.rs`),
//! which io_uring's completions and the hybrid's splitter apply too.

mod dirfd;
pub mod extent;
mod mapped;
mod ranged;

pub use dirfd::file_size;
pub use mapped::{MAP_FROM, size_is_trusted};

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::faults;
use crate::read::dirfd::{Local, Opened, open_relative};
use crate::read::extent::{Extent, Size, Step, first_read_ends};
use crate::read::mapped::Mapped;
pub use crate::read::ranged::RangedFile;
use crate::record::{ErrorKind, FileError};
use crate::record::{FileResult, Worker};
use crate::sys;
use crate::walk::FileJob;
use crate::walk::Part;
use crate::work::Counts;
use crate::work::{Count, FileWork, Work};
use crate::work::{Measure, MeasureRanges, Measured, MeasuredRange};

/// Reads one job with the calling thread's buffer and times it: with [`count_sized`] when the
/// job's size is known, else with [`count_file`]. A panic inside the read is caught and becomes
/// this file's `worker_crashed` error, so one bad file costs only itself.
///
/// A byte range of a file split over shards ([`FileJob::part`]) is counted, and hashed with
/// BLAKE3 when asked for, as a range that joins its neighbours: the result carries the
/// range's edges and its BLAKE3 subtrees ([`FileResult::blake3_subtrees`]) instead of
/// digests. A range with digests that cannot be joined (SHA-256, XXH3; discovery never
/// cuts such a file into parts) fails, `io`.
///
/// ```
/// use reader_core::{read_job, FileJob, Worker};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\n")?;
/// let job = FileJob::new(path, None);
/// let result = read_job(job, &mut vec![0; 4096], Worker::Thread(0));
/// assert_eq!(result.outcome?.words, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_job(job: FileJob, buf: &mut [u8], worker: Worker) -> FileResult {
    let started = Instant::now();
    let work = Measure::of(&job);
    if let Some(part) = job.part {
        let read = || {
            faults::before_read(&job.path);
            if let Some(cap) = job.max_bytes.filter(|&cap| part.file_size > cap) {
                return Err(FileError::over_cap(&job.path, cap));
            }
            let ranges = work.ranges().ok_or_else(|| {
                let message = format!(
                    "{} cannot be computed over a byte range of a file (only BLAKE3 joins ranges)",
                    job.digests
                );
                FileError::new(ErrorKind::Io, &job.path, message)
            })?;
            measure_part(&job.path, &part, &ranges, buf)
        };
        let outcome = isolated(&job.path, read);
        return FileResult::measured_range(job, outcome, started.elapsed(), worker);
    }
    // A size looked up since discovery spares the `fstat`; a size of 0 says nothing (`/proc`).
    let read = || {
        faults::before_read(&job.path);
        match job.size {
            Some(size) if size > 0 => read_known_size(&job.path, size, job.max_bytes, buf, &work),
            _ => whole(&job.path, job.max_bytes, buf, &work),
        }
    };
    let outcome = isolated(&job.path, read);
    FileResult::measured(job, outcome, started.elapsed(), worker)
}

/// Where a reader sends, unread, the files it finds large, for a reader better at them (the
/// hybrid's splitter): see `ThreadedReader::hand_off_from` and `AsyncReader::hand_off_from`.
pub type HandOff = std::sync::Arc<dyn Fn(FileJob) + Send + Sync>;

/// What [`read_unless_larger`] made of a job.
#[derive(Debug)]
pub enum ReadUnless {
    /// The job was read (or failed), as [`read_job`] reads it.
    Read(FileResult),
    /// The file holds at least the bytes asked about: not read, and here with its size, for a
    /// reader better at large files.
    Larger(FileJob),
}

/// [`read_job`], but a whole file found to hold at least `larger` bytes is not read: it comes
/// back as [`ReadUnless::Larger`], its size filled in, for a reader that splits large files. A
/// file whose size is unknown is opened once, as [`read_job`] opens it, and its size looked at
/// there: no size is looked up beforehand. A byte range ([`FileJob::part`]) is always read,
/// and so is a file whose digests cannot be split across threads
/// ([`Algorithms::joins_ranges`](crate::Algorithms::joins_ranges)): SHA-256 and XXH3 hash a
/// file front to back.
///
/// ```
/// use reader_core::{read_unless_larger, ReadUnless, FileJob, Worker};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\n")?;
/// let job = FileJob::new(&path, None);
/// let mut buf = vec![0; 4096];
/// let small = read_unless_larger(job.clone(), 1 << 20, &mut buf, Worker::Thread(0));
/// assert!(matches!(small, ReadUnless::Read(_)));
/// let ReadUnless::Larger(larger) = read_unless_larger(job, 4, &mut buf, Worker::Thread(0)) else {
///     panic!("8 bytes are at least 4");
/// };
/// assert_eq!(larger.size, Some(8));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_unless_larger(job: FileJob, larger: u64, buf: &mut [u8], worker: Worker) -> ReadUnless {
    if job.part.is_some() || !job.joins_ranges() {
        return ReadUnless::Read(read_job(job, buf, worker));
    }
    if let Some(size) = job.size.filter(|&size| size > 0) {
        if size >= larger {
            return ReadUnless::Larger(job);
        }
        return ReadUnless::Read(read_job(job, buf, worker));
    }
    let started = Instant::now();
    let mut found = None;
    let work = Measure::of(&job);
    let outcome = isolated(&job.path, || {
        faults::before_read(&job.path);
        match read_whole_unless_larger(&job.path, job.max_bytes, Some(larger), buf, &work)? {
            Whole::Read(measured) => Ok(measured),
            Whole::Larger(size) => {
                found = Some(size);
                Ok(Measured::default())
            }
        }
    });
    match found {
        Some(size) => ReadUnless::Larger(FileJob {
            size: Some(size),
            ..job
        }),
        None => {
            let elapsed = started.elapsed();
            ReadUnless::Read(FileResult::measured(job, outcome, elapsed, worker))
        }
    }
}

/// What [`read_whole_unless_larger`] did.
enum Whole<O> {
    /// The work's output for the whole file.
    Read(O),
    /// The file was this large, at least the size asked about: not read.
    Larger(u64),
}

/// Reads the byte range of `part` of the regular file at `path` with `work` (counting, and
/// BLAKE3 when asked for); the last part reads on to the end of the file, wherever it is now.
fn measure_part(
    path: &Path,
    part: &Part,
    work: &MeasureRanges,
    buf: &mut [u8],
) -> Result<MeasuredRange, FileError> {
    let mut file = RangedFile::open(path, None)?;
    let end = if part.is_last() {
        file.most()
    } else {
        part.end
    };
    // A large part is read through a mapping, as a large file is.
    if part.end - part.start >= mapped::MAP_FROM {
        file = file.mapped();
    }
    file.read(part.start, end, buf, work)
}

/// The largest file [`read_cached`] takes: above it a hand-off to a blocking thread costs
/// little beside the read, and a file found half cached is never read twice for long.
pub const CACHED_READ_LIMIT: u64 = 1 << 20;

/// Reads and counts `job` only if that cannot wait for a device or a server: its path resolves
/// from the kernel's dentry cache (`openat2` with `RESOLVE_CACHED`) and every byte comes from
/// the page cache (`preadv2` with `RWF_NOWAIT`), as io_uring tries a request inline before it
/// hands it to a worker. Gives the job back — and has reported nothing — when a step would wait,
/// when anything fails (the blocking read that follows reports it with its usual kind), for a
/// file larger than [`CACHED_READ_LIMIT`], and when the kernel or the file system cannot say
/// (kernels before 5.12, FUSE, NFS, procfs): the caller then reads the job the blocking way,
/// from its start. A panic inside the read is that file's `worker_crashed` error, as in
/// [`read_job`].
///
/// A thread that must never block (an async runtime's worker) calls this first and sends only
/// what it declines to a blocking pool: on a cached tree nothing leaves the thread.
///
/// ```
/// use reader_core::{read_cached, FileJob, Worker};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\n")?;
/// let job = FileJob::new(path, None);
/// // Just written, so cached: on Linux 5.12 or later it is read here and now.
/// if let Ok(result) = read_cached(job, &mut vec![0; 4096], Worker::Task(0)) {
///     assert_eq!(result.outcome?.words, 2);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_cached(job: FileJob, buf: &mut [u8], worker: Worker) -> Result<FileResult, FileJob> {
    if faults::blocks(&job.path) {
        // An injected stall stands for a read that would wait: declined, as the probe would.
        return Err(job);
    }
    let started = Instant::now();
    let outcome = isolated(&job.path, || {
        faults::before_read(&job.path);
        Ok(count_cached(&job, buf, &Measure::of(&job)))
    });
    // Declined (`Ok(None)`): nothing to report; a panic is this file's error.
    match outcome.transpose() {
        None => Err(job),
        Some(outcome) => {
            let elapsed = started.elapsed();
            Ok(FileResult::measured(job, outcome, elapsed, worker))
        }
    }
}

/// The kernel refused `openat2` with `RESOLVE_CACHED` once (too old, or a seccomp filter):
/// [`read_cached`] declines everything from then on, without asking again.
static NO_CACHED_OPEN: AtomicBool = AtomicBool::new(false);

/// What `work` makes of `job` if every step is served from the kernel's caches; `None`
/// otherwise.
fn count_cached<W: Work>(job: &FileJob, buf: &mut [u8], work: &W) -> Option<W::Output> {
    // A shard's part of a file is left to the blocking path, which reads ranges.
    if NO_CACHED_OPEN.load(Ordering::Relaxed)
        || job.part.is_some()
        || job.size.is_some_and(|size| size > CACHED_READ_LIMIT)
    {
        return None;
    }
    let mut extent = Extent::new(Size::walked(job.size), job.max_bytes);
    // Capped: the blocking path reports it.
    if extent.over().is_some() {
        return None;
    }
    let (file, local) = open_cached(&job.path)?;
    let mut state = work.start();
    let mut first = None;
    // A file that fits in one read on a local file system needs no size when its read stops
    // off a page boundary ([`first_read_ends`]). A read stopped on one may only have met the
    // end of what is cached: its size is looked up below, and it is read on from there.
    let fits = job.max_bytes.is_none_or(|cap| cap >= buf.len() as u64);
    if extent.size() == Size::Unknown && local == Local::Yes && fits {
        let n = read_nowait(&file, buf)?;
        state.update(&buf[..n]);
        if first_read_ends(n, buf.len()) {
            return Some(state.finish());
        }
        first = Some(n);
    }
    if extent.size() == Size::Unknown {
        let stat = sys::fstat(file.as_fd()).ok()?;
        let size = u64::try_from(stat.st_size).ok()?;
        // Not a regular file, or one whose size 0 may say nothing: the blocking path knows
        // what to report.
        if stat.st_mode & libc::S_IFMT != libc::S_IFREG
            || (size == 0 && on_pseudo_file_system(&file))
        {
            return None;
        }
        extent.stated(size, false);
    }
    let size = extent.size().bytes().unwrap_or(0);
    // Too large to take here, or capped: the blocking path reports it.
    if size > CACHED_READ_LIMIT || extent.over().is_some() {
        return None;
    }
    let mut step = first.map(|n| extent.after(n, buf.len()));
    loop {
        // Past its size (it grew, perhaps for ever), over its cap, or ended where its size
        // says it should not (it shrank, or is no longer a regular file): the blocking path
        // reads it to its end, or checks it.
        if extent.take_odd() || extent.position() > size {
            return None;
        }
        match step {
            Some(Step::End) => return Some(state.finish()),
            Some(Step::Over(_)) => return None,
            Some(Step::More) | None => {}
        }
        let n = read_nowait(&file, buf)?;
        state.update(&buf[..n]);
        step = Some(extent.after(n, buf.len()));
    }
}

/// One read of `file` into `chunk` from its position, only from the page cache; `None` when
/// it would wait, when the file system cannot tell, or on a failure the blocking read will
/// report.
fn read_nowait(file: &File, chunk: &mut [u8]) -> Option<usize> {
    read_from_cache(file, chunk, None).ok()
}

/// One read of `file` into `chunk`, at `offset` (or from the file's position), that only
/// takes what the page cache holds: `preadv2` with `RWF_NOWAIT`, which never waits for the
/// device. A read that would wait fails as [`io::ErrorKind::WouldBlock`]; a file system that
/// cannot tell fails as unsupported. A refused read may start the kernel's read-ahead there,
/// so a second read of the same place may find it cached.
///
/// ```
/// use std::io::Write;
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"just written")?;
/// let mut chunk = [0; 4];
/// // Written a moment ago, it is in the page cache (tmpfs keeps everything there).
/// match reader_core::read_from_cache(&file, &mut chunk, Some(5)) {
///     Ok(n) => assert_eq!(&chunk[..n], b"writ"),
///     Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::Unsupported),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_from_cache(file: &File, chunk: &mut [u8], offset: Option<u64>) -> io::Result<usize> {
    loop {
        match sys::pread_nowait(file, chunk, offset) {
            Ok(n) => return Ok(n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                return Err(io::Error::new(io::ErrorKind::Unsupported, err));
            }
            Err(err) => return Err(err),
        }
    }
}

/// Opens `path` as [`open_regular`] does (relative to the thread's last directory, as
/// [`open_nonblocking`] does), but only if every component resolves from the dentry cache;
/// `None` if that would wait or anything fails.
fn open_cached(path: &Path) -> Option<(File, Local)> {
    match open_relative(path, openat2_cached) {
        Opened::Done(file, local) => Some((file, local)),
        Opened::Failed => None,
        Opened::NotTried => {
            let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
            openat2_cached(libc::AT_FDCWD, &name)
                .ok()
                .map(|file| (file, Local::No))
        }
    }
}

/// `openat2(dir, name)` read-only, non-blocking, resolved from the dentry cache only
/// (`RESOLVE_CACHED`, else `EAGAIN`). A kernel that cannot do it turns [`read_cached`] off.
fn openat2_cached(dir: libc::c_int, name: &std::ffi::CStr) -> io::Result<File> {
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let opened = sys::openat2(dir, name, flags, libc::RESOLVE_CACHED);
    if let Err(refused) = &opened {
        // ENOSYS: no openat2 (before 5.6); EINVAL: no RESOLVE_CACHED (before 5.12); EPERM: a
        // seccomp filter refuses it. ENOENT, EACCES and the like belong to the path.
        if matches!(
            refused.raw_os_error(),
            Some(libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::E2BIG)
        ) {
            NO_CACHED_OPEN.store(true, Ordering::Relaxed);
        }
    }
    opened.map(File::from)
}

/// Runs `read`; a panic inside it becomes the `worker_crashed` error of `path`.
fn isolated<T>(path: &Path, read: impl FnOnce() -> Result<T, FileError>) -> Result<T, FileError> {
    panic::catch_unwind(AssertUnwindSafe(read))
        .unwrap_or_else(|payload| Err(FileError::panicked(path, payload.as_ref())))
}

/// Opens `path` for reading without ever blocking on a FIFO or a terminal, and checks that it
/// is a regular file. Returns the file and its [`Extent`]: its size at open time, and its
/// limit — `cap` ([`FileJob::max_bytes`]), or [`PSEUDO_FILE_LIMIT`](crate::PSEUDO_FILE_LIMIT)
/// for a pseudo-file whose size says nothing. A file already over `cap` fails, `size_limit`.
fn open_regular(path: &Path, cap: Option<u64>) -> Result<(File, Extent), FileError> {
    let (file, _) = open_nonblocking(path)?;
    let size = check_regular(&file, path)?;
    let mut extent = Extent::new(Size::Unknown, cap);
    extent.stated(size, size == 0 && on_pseudo_file_system(&file));
    match extent.over() {
        Some(limit) => Err(limit.error(path)),
        None => Ok((file, extent)),
    }
}

/// Opens `path` for reading without ever blocking on a FIFO or a terminal; no check of its type.
/// Relative to the directory of the thread's previous file when it is the same ([`dirfd`]);
/// should that fail, the path itself is opened, and its error is the one reported. Says whether
/// the directory is known to be on a local file system (never when opened by path).
fn open_nonblocking(path: &Path) -> Result<(File, Local), FileError> {
    const FLAGS: libc::c_int = libc::O_NONBLOCK | libc::O_NOCTTY;
    if let Opened::Done(file, local) =
        open_relative(path, |dir, name| dirfd::openat(dir, name, FLAGS))
    {
        return Ok((file, local));
    }
    dirfd::open_path(path, FLAGS)
        .map(|file| (file, Local::No))
        .map_err(|e| FileError::io(path, e))
}

/// The size of the open `file` if it is a regular file; otherwise why it will not be read.
/// A plain `fstat`: `File::metadata` asks `statx` for the birth time too, which costs ext4
/// several times as much.
fn check_regular(file: &File, path: &Path) -> Result<u64, FileError> {
    let stat = sys::fstat(file.as_fd()).map_err(|e| FileError::io(path, e))?;
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => u64::try_from(stat.st_size)
            .map_err(|_| FileError::io(path, io::Error::from(io::ErrorKind::InvalidData))),
        libc::S_IFDIR => Err(FileError::is_directory(path)),
        _ => Err(FileError::no_longer_regular(path)),
    }
}

/// Is the open `file` on a file system whose files are made on demand (procfs, sysfs,
/// debugfs, tracefs, cgroupfs…), so that a size of 0 says nothing of how much it holds?
fn on_pseudo_file_system(file: &File) -> bool {
    const PSEUDO: [libc::__fsword_t; 10] = [
        0x9fa0,      // procfs
        0x6265_6572, // sysfs
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0x6265_6570, // configfs
        0xcafe_4a11, // bpf
        0x6165_676c, // pstore
    ];
    file_system(file).is_some_and(|kind| PSEUDO.contains(&kind))
}

/// The type of the file system the open `file` is on (`statfs`'s `f_type`, a magic number of
/// `<linux/magic.h>`), if the kernel tells.
fn file_system(file: &File) -> Option<libc::__fsword_t> {
    sys::fstatfs_type(file.as_fd())
}

/// Reads the file at `path` to its end through `buf` and counts it. A file of a pseudo file
/// system whose size says 0 is read up to [`PSEUDO_FILE_LIMIT`](crate::PSEUDO_FILE_LIMIT), then fails as `size_limit`.
///
/// `buf` is the caller's reused chunk buffer (its length is the chunk size, see
/// [`crate::defaults::BUFFER_SIZE`]); memory use does not depend on the file's size.
///
/// ```
/// use reader_core::{count_file, Counts};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "two words\n")?;
/// let mut buf = vec![0; 64 * 1024];
/// assert_eq!(count_file(&path, &mut buf)?, Counts { bytes: 10, lines: 1, words: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn count_file(path: &Path, buf: &mut [u8]) -> Result<Counts, FileError> {
    read_file(path, buf, &Count)
}

/// Reads the file at `path` to its end through `buf`, as [`count_file`] does, and gives its
/// bytes to `work`: what the work makes of the file, or why it could not be read.
///
/// ```
/// use reader_core::{Count, Counts, ReadOnly, read_file};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "two words\n")?;
/// let mut buf = vec![0; 4];
/// assert_eq!(read_file(&path, &mut buf, &ReadOnly)?, 10);
/// assert_eq!(read_file(&path, &mut buf, &Count)?, Counts { bytes: 10, lines: 1, words: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_file<W: Work>(path: &Path, buf: &mut [u8], work: &W) -> Result<W::Output, FileError> {
    whole(path, None, buf, work)
}

/// [`read_file`], reading at most `cap` bytes ([`FileJob::max_bytes`]).
fn whole<W: Work>(
    path: &Path,
    cap: Option<u64>,
    buf: &mut [u8],
    work: &W,
) -> Result<W::Output, FileError> {
    match read_whole_unless_larger(path, cap, None, buf, work)? {
        Whole::Read(output) => Ok(output),
        Whole::Larger(_) => unreachable!("no size was asked about"),
    }
}

/// [`whole`], but a file of at least `larger` bytes (at open time) is left unread.
fn read_whole_unless_larger<W: Work>(
    path: &Path,
    cap: Option<u64>,
    larger: Option<u64>,
    buf: &mut [u8],
    work: &W,
) -> Result<Whole<W::Output>, FileError> {
    let fits = |limit: Option<u64>| limit.is_none_or(|limit| limit >= buf.len() as u64);
    let may_end_early = fits(cap) && fits(larger);
    let mut state = work.start();
    let (mut file, size, first) = match start_whole(path, buf, may_end_early)? {
        Start::Whole(n) => {
            state.update(&buf[..n]);
            return Ok(Whole::Read(state.finish()));
        }
        Start::Open { file, size, first } => (file, size, first),
    };
    // Only a file whose size says nothing can run on for ever: look at its file system.
    let stated = |size: u64, file: &File| {
        let mut extent = Extent::new(Size::Unknown, cap);
        extent.stated(size, size == 0 && on_pseudo_file_system(file));
        extent
    };
    let mut extent = stated(size, &file);
    if let Some(limit) = extent.over() {
        return Err(limit.error(path));
    }
    if larger.is_some_and(|larger| size >= larger) {
        return Ok(Whole::Larger(size));
    }
    if size > buf.len() as u64 {
        sys::advise_sequential(&file);
    }
    if size >= mapped::MAP_FROM {
        if first.is_some_and(|n| n > 0) {
            // The mapping reads the file from its start.
            file.seek(SeekFrom::Start(0))
                .map_err(|e| FileError::io(path, e))?;
        }
        if !count_mapped(&mut file, path, &mut state, &mut extent)? {
            return Ok(Whole::Read(state.finish()));
        }
    } else if let Some(n) = first {
        state.update(&buf[..n]);
        match extent.after(n, buf.len()) {
            Step::More => {}
            Step::End => return Ok(Whole::Read(state.finish())),
            Step::Over(limit) => return Err(limit.error(path)),
        }
    }
    read_on(&mut file, path, buf, &mut state, &mut extent)?;
    Ok(Whole::Read(state.finish()))
}

/// Reads the open `file` from where `extent` stands to its end ([`Extent`]), giving each chunk
/// to `state`. An unchecked file whose data disagrees with the size it was taken to have is
/// looked at (`fstat`): one that is no longer a regular file fails, and one that grew is read
/// to its new end.
fn read_on(
    file: &mut File,
    path: &Path,
    buf: &mut [u8],
    state: &mut impl FileWork,
    extent: &mut Extent,
) -> Result<(), FileError> {
    loop {
        let n = match file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if !matches!(extent.size(), Size::Stated(_)) {
                    check_regular(file, path)?;
                }
                return Err(FileError::io(path, e));
            }
        };
        state.update(&buf[..n]);
        let step = extent.after(n, buf.len());
        if let Step::Over(limit) = step {
            return Err(limit.error(path));
        }
        if extent.take_odd() {
            let size = check_regular(file, path)?;
            extent.stated(size, size == 0 && on_pseudo_file_system(file));
        }
        if step == Step::End {
            return Ok(());
        }
    }
}

/// How [`start_whole`] began a read of a whole file.
enum Start {
    /// The file's first read came back short: it held these bytes, now in the buffer.
    Whole(usize),
    /// The file is open, a regular file of `size` bytes at open time; its first read, if one
    /// was made, returned `first` bytes, now in the buffer.
    Open {
        file: File,
        size: u64,
        first: Option<usize>,
    },
}

/// Opens the file at `path` for a read of all of it. On a local file system a read of a
/// regular file from its start that comes back short off a page boundary has reached its end
/// ([`first_read_ends`]), so when `may_end_early` (the caller needs no size beforehand) the
/// first read comes first there, and a file that fits in it is read without its size (or its
/// type: the walk saw a regular file) being looked up. Otherwise, and for a file larger than
/// `buf`, the open file is checked with one `fstat`.
fn start_whole(path: &Path, buf: &mut [u8], may_end_early: bool) -> Result<Start, FileError> {
    let (mut file, local) = open_nonblocking(path)?;
    let mut first = None;
    if local == Local::Yes && may_end_early {
        match file.read(buf) {
            Ok(n) if first_read_ends(n, buf.len()) => return Ok(Start::Whole(n)),
            // Empty, short on a page boundary, a buffer full: checked below like any file, and
            // read on from here. A failure comes again, or the check says why.
            Ok(n) => first = Some(n),
            Err(_) => {}
        }
    }
    let size = check_regular(&file, path)?;
    Ok(Start::Open { file, size, first })
}

/// Reads the file at `path` whose size is known to be `size` (looked up since discovery) and
/// counts it, without the `fstat` of [`count_file`].
///
/// Reading ends at a short read that reaches `size` exactly — the end of a file as large as it
/// said, with no read that returns 0 — or at a read that returns 0 ([`Extent`]). A file whose
/// data disagrees with `size` is checked with `fstat` then: an entry that became a FIFO or a
/// device fails with `not_regular`, and a file that holds more than it said (a FUSE file read
/// straight from its server, a file that grew since) is read to its end, as [`count_file`]
/// reads it.
///
/// ```
/// use reader_core::{count_sized, Counts};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "two words\nand more")?;
/// let mut buf = vec![0; 64 * 1024];
/// assert_eq!(count_sized(&path, 18, &mut buf)?, Counts { bytes: 18, lines: 1, words: 4 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn count_sized(path: &Path, size: u64, buf: &mut [u8]) -> Result<Counts, FileError> {
    read_known_size(path, size, None, buf, &Count)
}

/// [`count_sized`], reading at most `cap` bytes ([`FileJob::max_bytes`]): a file already known
/// to be larger is not even opened.
fn read_known_size<W: Work>(
    path: &Path,
    size: u64,
    cap: Option<u64>,
    buf: &mut [u8],
    work: &W,
) -> Result<W::Output, FileError> {
    let mut extent = Extent::new(Size::Walked(size), cap);
    if let Some(limit) = extent.over() {
        return Err(limit.error(path));
    }
    let (mut file, _) = open_nonblocking(path)?;
    if size > buf.len() as u64 {
        sys::advise_sequential(&file);
    }
    let mut state = work.start();
    if size >= mapped::MAP_FROM && !count_mapped(&mut file, path, &mut state, &mut extent)? {
        return Ok(state.finish());
    }
    read_on(&mut file, path, buf, &mut state, &mut extent)?;
    Ok(state.finish())
}

/// Gives a large `file` from its start to `state` through a mapping ([`mapped`]), up to one
/// byte past `extent`'s limit, and moves `extent` to where that stopped. Returns whether the
/// caller must read on with `read`: the mapping was declined (nothing given), or the lease
/// broke, and then the file is positioned where the mapping stopped. The mapping ends the
/// file at the size `fstat` gave under the lease, which nobody can shrink unannounced.
fn count_mapped(
    file: &mut File,
    path: &Path,
    state: &mut impl FileWork,
    extent: &mut Extent,
) -> Result<bool, FileError> {
    let (at, more) = match mapped::count(file, extent.most(), state) {
        Mapped::Declined => return Ok(true),
        Mapped::Done(end) => (end, false),
        Mapped::Broken(at) => {
            file.seek(SeekFrom::Start(at))
                .map_err(|e| FileError::io(path, e))?;
            (at, true)
        }
    };
    match extent.advanced_to(at) {
        Some(limit) => Err(limit.error(path)),
        None => Ok(more),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::Blake3Range;
    use crate::work::JoinRanges;
    use crate::work::RangeCounts;
    use std::fs;

    #[test]
    fn a_cap_fails_files_larger_than_it_however_their_size_is_known() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, "word ".repeat(10)).expect("write");
        let mut buf = vec![0; 8];
        let kind = |result: Result<Counts, FileError>| result.map_err(|e| e.kind());
        assert_eq!(
            kind(whole(&path, Some(50), &mut buf, &Count)).map(|c| c.bytes),
            Ok(50)
        );
        assert_eq!(
            kind(whole(&path, Some(49), &mut buf, &Count)),
            Err(ErrorKind::SizeLimit)
        );
        // A size that said less than the file holds: the cap still holds while it is read.
        assert_eq!(
            kind(read_known_size(&path, 10, Some(20), &mut buf, &Count)),
            Err(ErrorKind::SizeLimit)
        );
        assert_eq!(
            kind(read_known_size(&path, 10, Some(50), &mut buf, &Count)).map(|c| c.bytes),
            Ok(50)
        );
        // A size known to be over the cap: failed without opening anything.
        let gone = dir.path().join("gone");
        assert_eq!(
            kind(read_known_size(&gone, 100, Some(50), &mut buf, &Count)),
            Err(ErrorKind::SizeLimit)
        );
    }

    #[test]
    fn small_buffers_give_the_same_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = b"alpha beta\r\ngamma\t\x0bdelta\n".repeat(100);
        fs::write(&path, &data).expect("write");
        for size in [1, 2, 3, 7, 64, 4096] {
            let mut buf = vec![0; size];
            assert_eq!(
                count_file(&path, &mut buf).expect("read"),
                Counts::of(&data)
            );
        }
    }

    /// `data` written to a file and counted as the ranges between `cuts`, under a lease of
    /// the file when `leased`; `None` where no lease is granted.
    fn ranges_of(data: &[u8], cuts: &[u64], leased: bool) -> Option<Counts> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, data).expect("write");
        let mut file = RangedFile::open(&path, None).expect("open");
        if leased {
            file = file.mapped();
            if !file.is_mapped() {
                return None;
            }
        }
        let mut buf = vec![0; 100];
        let ranges = cuts
            .windows(2)
            .map(|w| file.read(w[0], w[1], &mut buf, &Count).expect("range"));
        Some(
            ranges
                .fold(RangeCounts::default(), RangeCounts::join)
                .counts(),
        )
    }

    #[test]
    fn parts_read_with_blake3_carry_subtrees_that_join_to_the_files_digest() {
        use crate::walk::Part;
        use crate::work::{Algorithm, Blake3};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(5 << 20) + 3u32).map(|i| (i % 253) as u8).collect();
        fs::write(&path, &data).expect("write");
        let size = data.len() as u64;
        let mut buf = vec![0; 64 * 1024];
        let mut joined = Blake3Range::default();
        let mut counts = RangeCounts::default();
        for index in 0..3 {
            let job = FileJob {
                part: Some(Part::new(index, 3, size)),
                digests: Algorithm::Blake3.into(),
                ..FileJob::new(&path, Some(size))
            };
            let result = read_job(job, &mut buf, Worker::Main);
            assert!(result.digests.is_empty(), "a part has no digest of its own");
            let (Ok(read), Some(part)) = (result.outcome, result.part) else {
                panic!("part {index} read");
            };
            counts = counts.join(RangeCounts::new(read, part.edges));
            let subtrees = result.blake3_subtrees.expect("BLAKE3 was asked for");
            assert_eq!(subtrees.first().map(|s| s.start), Some(part.start));
            assert_eq!(subtrees.iter().map(|s| s.len).sum::<u64>(), read.bytes);
            let range = Blake3Range::from_subtrees(&subtrees).expect("a range");
            joined = Blake3.join(joined, range);
        }
        assert_eq!(counts.counts(), Counts::of(&data));
        assert_eq!(
            joined.root().map(|d| d.to_string()),
            Some(blake3::hash(&data).to_hex().to_string())
        );
        // Counting alone carries no subtrees; a digest that cannot join fails the part.
        let part = Some(Part::new(1, 3, size));
        let counted = read_job(
            FileJob {
                part,
                ..FileJob::new(&path, Some(size))
            },
            &mut buf,
            Worker::Main,
        );
        assert!(counted.outcome.is_ok() && counted.blake3_subtrees.is_none());
        let sha = read_job(
            FileJob {
                part,
                digests: Algorithm::Sha256.into(),
                ..FileJob::new(&path, Some(size))
            },
            &mut buf,
            Worker::Main,
        );
        let err = sha.outcome.expect_err("sha256 cannot join");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.message().contains("sha256"), "{err}");
    }

    #[test]
    fn ranges_join_to_the_whole() {
        let data: Vec<u8> = b"word another\n".repeat(1000);
        let len = data.len() as u64;
        let cuts = [0, 5, 777, 778, 9000, len, len + 50];
        assert_eq!(ranges_of(&data, &cuts, false), Some(Counts::of(&data)));
    }

    #[test]
    fn leased_ranges_are_mapped_from_page_boundaries_and_join_to_the_whole() {
        let data: Vec<u8> = b"a mapped word\tand another\n".repeat(3000);
        let len = data.len() as u64;
        // Page-aligned starts are mapped, the others read; the last range runs past the end.
        let cuts = [0, 4096, 4100, 3 * 4096, 8 * 4096, 50_001, len, u64::MAX];
        match ranges_of(&data, &cuts, true) {
            Some(counts) => assert_eq!(counts, Counts::of(&data)),
            None => eprintln!("skipped: no read lease on this file system"),
        }
    }

    #[test]
    fn directories_and_missing_files_fail_with_their_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut buf = vec![0; 16];
        let err = count_file(dir.path(), &mut buf).expect_err("dir");
        assert_eq!(err.kind(), ErrorKind::IsDirectory);
        let err = count_file(&dir.path().join("gone"), &mut buf).expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.path(), dir.path().join("gone"));
    }

    /// A FIFO in a fresh directory (kept alive by the returned tree).
    fn fifo() -> (reader_testkit::Tree, std::path::PathBuf) {
        let tree = reader_testkit::Tree::new();
        let path = tree.fifo("pipe");
        (tree, path)
    }

    #[test]
    fn a_panic_while_reading_costs_only_that_file() {
        let outcome: Result<(), FileError> =
            isolated(Path::new("p"), || panic!("injected while reading"));
        let err = outcome.expect_err("the panic is this file's error");
        assert_eq!(err.kind(), ErrorKind::WorkerCrashed);
        assert_eq!(
            err.to_string(),
            "p: the reader panicked: injected while reading"
        );
    }

    #[test]
    fn files_opened_beside_their_neighbours_are_counted_whole_at_every_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = b"one two\nthree\t".repeat(8);
        let buf_len = 16;
        // The first file of a directory is opened by its path; the ones after it relative to
        // the directory, where a short read ends a file on a local file system.
        fs::write(dir.path().join("0-first"), "x").expect("write");
        let sizes = [
            0,
            1,
            buf_len - 1,
            buf_len,
            buf_len + 1,
            2 * buf_len,
            data.len(),
        ];
        for len in sizes {
            fs::write(dir.path().join(format!("{len}")), &data[..len]).expect("write");
        }
        let mut buf = vec![0; buf_len];
        count_file(&dir.path().join("0-first"), &mut buf).expect("first");
        let (_, local) = open_nonblocking(&dir.path().join("0")).expect("open beside the first");
        let on_local = mapped::size_is_trusted(&File::open(dir.path()).expect("open the dir"));
        assert_eq!(local == Local::Yes, on_local, "where the directory is");
        for len in sizes {
            let path = dir.path().join(format!("{len}"));
            assert_eq!(
                count_file(&path, &mut buf).expect("read"),
                Counts::of(&data[..len]),
                "{len} bytes"
            );
            assert_eq!(
                whole(&path, Some(buf_len as u64), &mut buf, &Count).map(|c| c.bytes),
                if len <= buf_len {
                    Ok(len as u64)
                } else {
                    Err(FileError::over_cap(&path, buf_len as u64))
                },
                "{len} bytes, capped"
            );
        }
        // What is not a regular file fails with its kind there too.
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).expect("mkdir");
        let err = count_file(&sub, &mut buf).expect_err("a directory");
        assert_eq!(err.kind(), ErrorKind::IsDirectory);
        let pipe = dir.path().join("pipe");
        sys::mkfifo(&pipe, 0o600).expect("mkfifo");
        let err = count_file(&pipe, &mut buf).expect_err("a FIFO");
        assert_eq!(err.kind(), ErrorKind::NotRegular);
    }

    /// A read that stops where the cached pages stop is not the end of the file: every state
    /// of a partly cached file is counted whole by the read that never waits (or declined, and
    /// then counted whole by the blocking read), by the blocking read, and by the reference.
    #[test]
    fn partly_cached_files_are_counted_whole_by_every_read() {
        use reader_testkit::cache::{self, Pages};
        let dir = cache::tempdir();
        let page = cache::page_size();
        let mut buf = vec![0; crate::defaults::BUFFER_SIZE];
        // The files after the first are opened beside it, where a short read may end a file.
        fs::write(dir.path().join("0-first"), "x").expect("write");
        count_file(&dir.path().join("0-first"), &mut buf).expect("first");
        for (i, size) in [page, 3 * page + 100, buf.len() + 1, 100_000]
            .into_iter()
            .enumerate()
        {
            for pages in Pages::PARTLY {
                let path = dir.path().join(format!("{i}-{pages:?}"));
                let data = reader_testkit::noise(size, i as u64 + 1);
                fs::write(&path, &data).expect("write");
                let whole = Counts::of(&data);
                let state = |what: &str| format!("{what}: {size} bytes cached {pages:?}");
                cache::cache_only(&path, pages).expect("a disk-backed folder");
                let job = FileJob::new(&path, None);
                match read_cached(job, &mut buf, Worker::Task(0)) {
                    Ok(result) => assert_eq!(result.outcome, Ok(whole), "{}", state("cached")),
                    Err(job) => {
                        let result = read_job(job, &mut buf, Worker::Thread(0));
                        assert_eq!(result.outcome, Ok(whole), "{}", state("declined"));
                    }
                }
                cache::cache_only(&path, pages).expect("a disk-backed folder");
                assert_eq!(
                    count_file(&path, &mut buf),
                    Ok(whole),
                    "{}",
                    state("blocking")
                );
                cache::cache_only(&path, pages).expect("a disk-backed folder");
                let bytes = read_file(&path, &mut buf, &crate::ReadOnly);
                assert_eq!(bytes, Ok(size as u64), "{}", state("uncounted"));
            }
        }
    }

    /// A work that panics once it has been given more than a MiB.
    struct Panics;
    struct Given(u64);

    impl Work for Panics {
        type Output = u64;
        type File = Given;
        fn start(&self) -> Given {
            Given(0)
        }
    }

    impl FileWork for Given {
        type Output = u64;
        fn update(&mut self, chunk: &[u8]) {
            self.0 += chunk.len() as u64;
            assert!(self.0 <= 1 << 20, "the work gave up");
        }
        fn finish(self) -> u64 {
            self.0
        }
    }

    #[test]
    fn a_panic_inside_the_work_leaves_no_mapping_no_descriptor_and_no_lease() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large");
        File::create(&path)
            .and_then(|f| f.set_len(mapped::MAP_FROM))
            .expect("a sparse file large enough to map");
        let mapped = RangedFile::open(&path, None)
            .expect("open")
            .mapped()
            .is_mapped();
        let caught = panic::catch_unwind(|| read_file(&path, &mut vec![0; 4096], &Panics));
        assert!(caught.is_err(), "the work panicked");
        let maps = fs::read_to_string("/proc/self/maps").expect("maps"); // whole-file read ok: a small pseudo-file
        let name = path.to_string_lossy();
        assert!(!maps.contains(&*name), "still mapped (mapped: {mapped})");
        for fd in fs::read_dir("/proc/self/fd").expect("fds").flatten() {
            let target = fs::read_link(fd.path()).unwrap_or_default();
            assert_ne!(target, path, "descriptor {:?} still open", fd.file_name());
        }
        // The lease was given back: a writer does not wait for it.
        let started = std::time::Instant::now();
        drop(
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open for writing"),
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "a lease held it"
        );
    }

    #[test]
    fn a_fifo_fails_at_once_instead_of_blocking() {
        let (_dir, path) = fifo();
        let err = count_file(&path, &mut [0; 16]).expect_err("fifo");
        assert_eq!(err.kind(), ErrorKind::NotRegular);
    }

    #[test]
    fn a_known_size_ends_the_read_and_an_early_end_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data = b"one two\nthree four\n";
        fs::write(&path, data).expect("write");
        let mut buf = vec![0; 3];
        let whole = Counts::of(data);
        assert_eq!(count_sized(&path, 20, &mut buf).expect("read"), whole);
        assert_eq!(
            count_sized(&path, 8, &mut buf).expect("grown since: read to its end"),
            whole
        );
        assert_eq!(
            count_sized(&path, 1000, &mut buf).expect("shrunk since: counted as it is"),
            whole
        );
        let err = count_sized(dir.path(), 10, &mut buf).expect_err("now a directory");
        assert_eq!(err.kind(), ErrorKind::IsDirectory);
        let err = count_sized(&dir.path().join("gone"), 10, &mut buf).expect_err("vanished");
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn the_reference_reads_a_mapped_file_into_memory() {
        use reader_testkit::cache;
        let dir = cache::tempdir();
        let path = dir.path().join("large");
        let len = usize::try_from(mapped::MAP_FROM).expect("fits") + 3 * cache::page_size();
        fs::write(&path, vec![b'x'; len]).expect("write");
        cache::evict(&path).expect("evict");
        let before = cache::resident(&path).expect("mincore");
        if before.iter().any(|&page| page) {
            // The file system keeps its pages whatever is asked: nothing to show here.
            return;
        }
        let mut buf = vec![0; 64 * 1024];
        let bytes = read_file(&path, &mut buf, &crate::work::ReadOnly).expect("read");
        assert_eq!(bytes, len as u64);
        let after = cache::resident(&path).expect("mincore");
        let read = after.iter().filter(|&&page| page).count();
        assert!(
            read * 10 >= after.len() * 9,
            "{read} of {} pages read: a mapping nobody touched",
            after.len()
        );
    }

    #[test]
    fn a_read_that_never_waits_reports_a_file_whole_or_declines_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data = b"one two\nthree four\n";
        fs::write(&path, data).expect("write");
        let whole = Counts::of(data);
        // The walk's size is right, said less than the file holds, or more: never a count of
        // anything but the whole file.
        for size in [None, Some(19), Some(8), Some(1000)] {
            for buf_len in [3, 19, 64] {
                let job = FileJob::new(&path, size);
                if let Ok(result) = read_cached(job, &mut vec![0; buf_len], Worker::Task(0)) {
                    let counts = result.outcome.expect("read");
                    assert_eq!(counts, whole, "walked size {size:?}, buffer {buf_len}");
                }
            }
        }
    }

    #[test]
    fn a_known_size_does_not_make_a_fifo_block() {
        let (_dir, path) = fifo();
        let err = count_sized(&path, 100, &mut [0; 16]).expect_err("fifo");
        assert_eq!(err.kind(), ErrorKind::NotRegular);
    }

    #[test]
    fn proc_files_that_report_size_zero_are_read_to_the_end() {
        let counts = count_file(Path::new("/proc/self/status"), &mut [0; 64]).expect("read");
        assert!(counts.bytes > 0 && counts.lines > 5, "{counts:?}");
    }
}

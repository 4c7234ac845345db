//! The io_uring runtime (`--runtime io-uring`): files opened and read as io_uring operations,
//! many in flight on each of a few threads, one ring a thread, no thread of ours blocked in a
//! read.
//!
//! Each ring thread owns a fixed set of *slots*, each with its reused buffer (allocated when
//! first used). A slot takes a job from the shared queue and walks it through `openat` →
//! `read`s of a buffer's length → `close`; a small file is one read. Every submission and
//! every reaping of completions is one `io_uring_enter` for all the slots of the thread, and
//! the counting runs on the ring thread as each read completes. On a cold tree the kernel
//! keeps every slot's open or read before the device at once — buffered reads wait on their
//! pages, opens that miss the dentry cache go to the kernel's io-wq workers.
//!
//! How many slots are busy is revised after every round ([`RingThread::adapt`]): all of the
//! thread's share while a quarter of its operations or more wait for the device, and back to
//! a few — as many as fit four buffers — once every operation completes as it is submitted (a
//! cached tree), where more files in flight only spread the copies over more memory than the
//! core's cache holds. The few files of a cached tree that must come from the device get a
//! slot each beside those.
//!
//! `statx` goes to an io-wq worker whatever the caches hold, so a file is looked at only when
//! something is odd by reader-core's rules ([`Extent`], applied in [`after_read`]): it is
//! empty, its data ends before or goes past the size the walk found, it runs past
//! [`LOOK_PAST`] (to map, a pseudo-file, a device), or its read is slow ([`SLOW_READ`]).
//! Files are opened with `O_NONBLOCK`, as reader-core opens them, so an entry that became a
//! FIFO after discovery cannot hold the open; its read waits for a writer, is found slow, and
//! `statx` fails it as `not_regular` (a directory fails as `is_directory`), with reader-core's
//! words, once the read is cancelled.
//!
//! What the ring does not read itself goes to a thread of its own with reader-core's
//! [`read_job`], which has every rule for it: files off the local file systems (FUSE, NFS:
//! see [`LocalDir`]), byte ranges of split files, files of [`MAP_FROM`] bytes or more (mapped
//! there), a file whose size says 0 but that has data (a pseudo-file, or one growing), an
//! open that fails as too long a path, a read that comes back `EAGAIN`, and the stalls the
//! fault-injection tests ask for. Such a file keeps its slot, so the files in flight stay
//! bounded; when it is done, an `eventfd` the ring is reading wakes the ring thread.
//!
//! With a per-file timeout, the ring thread wakes at the next deadline; a file past it is
//! reported as `timeout`, its operations are cancelled (`IORING_OP_ASYNC_CANCEL`) and its slot
//! is set aside until they end — counted in [`reader_core::stuck_reads`] meanwhile — while a
//! spare slot stands in for it. A read stuck where the kernel cannot cancel it keeps its slot
//! and, at the end of the run, its buffer, which is leaked rather than freed under the
//! kernel; a thread's read keeps its count until it ends.

use std::ffi::CString;
use std::io;
use std::mem::{self, MaybeUninit};
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, squeue, types};
use reader_core::extent::{Extent, Size, Step};
use reader_core::{
    Emitter, FileError, FileJob, FileResult, FileWork, HandOff, Jobs, JoinRanges, MAP_FROM,
    Measure, MeasureFile, MeasureRangeFile, RunError, StuckRead, Work, Worker, faults, read_job,
    size_is_trusted,
};

/// What a ring slot is doing, in the low bits of an operation's `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Open = 0,
    Stat = 1,
    Read = 2,
    /// A `close` whose result nobody waits for.
    Close = 3,
    /// The read of the ring's `eventfd`: a file read on a thread is done.
    Wake = 4,
    /// The cancel of a slot's operation, after its timeout.
    Cancel = 5,
}

const OP_BITS: u64 = 3;

fn user_data(slot: usize, op: Op) -> u64 {
    ((slot as u64) << OP_BITS) | op as u64
}

fn decode(data: u64) -> (usize, u64) {
    ((data >> OP_BITS) as usize, data & ((1 << OP_BITS) - 1))
}

/// Why io_uring cannot be used here, if it cannot: the kernel lacks it, `kernel.io_uring_disabled`
/// forbids it, a seccomp filter refuses it, or an operation the runtime needs is missing.
pub(crate) fn refusal() -> Option<String> {
    let ring = match IoUring::new(4) {
        Ok(ring) => ring,
        Err(err) => return Some(format!("io_uring is not available (io_uring_setup: {err})")),
    };
    let mut probe = io_uring::Probe::new();
    if let Err(err) = ring.submitter().register_probe(&mut probe) {
        return Some(format!(
            "io_uring is not available (cannot probe its operations: {err})"
        ));
    }
    let needed = [
        ("openat", opcode::OpenAt::CODE),
        ("statx", opcode::Statx::CODE),
        ("read", opcode::Read::CODE),
        ("close", opcode::Close::CODE),
        ("async cancel", opcode::AsyncCancel::CODE),
    ];
    needed
        .iter()
        .find(|(_, code)| !probe.is_supported(*code))
        .map(|(name, _)| format!("io_uring here lacks the {name} operation"))
}

/// Files of at least `from` bytes go to `to`, unread ([`crate::AsyncReader::hand_off_from`]).
#[derive(Clone)]
pub(crate) struct LargeFiles {
    pub(crate) from: u64,
    pub(crate) to: HandOff,
}

impl std::fmt::Debug for LargeFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeFiles")
            .field("from", &self.from)
            .finish()
    }
}

/// How the ring threads of a run are set up.
#[derive(Debug, Clone)]
pub(crate) struct Rings {
    /// Ring threads.
    pub(crate) threads: usize,
    /// Files in flight in all, shared out between the threads.
    pub(crate) in_flight: usize,
    pub(crate) buffer_size: usize,
    pub(crate) timeout: Option<Duration>,
    /// Slots a thread may set aside for reads abandoned after a timeout, beyond its share.
    pub(crate) spares: usize,
    /// Where files found this large go, unread.
    pub(crate) large: Option<LargeFiles>,
}

/// What the ring threads did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Files read through the rings.
    pub(crate) ring_files: usize,
    /// Files handed to a thread with [`read_job`].
    pub(crate) thread_files: usize,
    /// Files handed off, unread, as large ([`LargeFiles`]).
    pub(crate) handed_off: usize,
}

/// Reads the queue to its end on `rings.threads` ring threads.
pub(crate) fn run(rings: &Rings, jobs: &Jobs, out: &Emitter) -> Result<Tally, RunError> {
    let threads = rings.threads.clamp(1, rings.in_flight.max(1));
    let mut tally = Tally::default();
    let mut first_error = None;
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let share = rings.in_flight / threads + usize::from(index < rings.in_flight % threads);
            let (jobs, out) = (jobs.clone(), out.clone());
            let first_task = (0..index)
                .map(|i| rings.in_flight / threads + usize::from(i < rings.in_flight % threads))
                .sum::<usize>();
            let spawned = thread::Builder::new()
                .name(format!("reader-ring-{index}"))
                .spawn_scoped(scope, move || {
                    RingThread::new(rings, share.max(1), first_task, jobs, out)
                        .and_then(RingThread::run)
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(source) => {
                    // The threads that did start read the queue to its end.
                    if handles.is_empty() {
                        first_error = Some(RunError::Spawn {
                            what: "a ring thread".into(),
                            source,
                        });
                    }
                    break;
                }
            }
        }
        for handle in handles {
            match handle.join() {
                Ok(Ok(done)) => {
                    tally.ring_files += done.ring_files;
                    tally.thread_files += done.thread_files;
                    tally.handed_off += done.handed_off;
                }
                Ok(Err(err)) => {
                    first_error.get_or_insert(err);
                }
                Err(payload) => {
                    first_error
                        .get_or_insert(RunError::panicked("a ring thread", payload.as_ref()));
                }
            }
        }
    });
    match first_error {
        Some(err) if tally.ring_files + tally.thread_files + tally.handed_off == 0 => Err(err),
        _ => Ok(tally),
    }
}

/// One file a slot is reading.
struct Reading {
    job: FileJob,
    path: CString,
    started: Instant,
    /// The open descriptor, once `openat` has returned it.
    fd: Option<i32>,
    /// The work on its bytes so far.
    work: SlotWork,
    /// Where it ends, by reader-core's rules, and how far it has been read: where the next
    /// read starts. Its size is the walk's (a size of 0 says nothing), then what `statx` told.
    extent: Extent,
    /// Where its look at the file (`statx`) stands.
    stat: Look,
    /// The data has ended (a read returned 0): the file is done once `statx` has answered.
    ended: bool,
    /// When its read in flight was sent, if one is.
    reading_since: Option<Instant>,
    /// The round ([`RingThread::round`]) its open or read in flight was sent in, if one is.
    sent_in: Option<u64>,
    /// What to do once its operations in flight have ended (they were cancelled).
    then: Option<Next>,
    /// Operations of this file the kernel has not completed yet.
    ops: u32,
    /// Given up on after its timeout: whatever it does from now on is dropped.
    abandoned: bool,
    /// Counts it among the process's stuck reads while its operations are in flight, once
    /// abandoned.
    stuck: Option<StuckRead>,
    /// Where the thread reading it finds the count of its stuck read, once abandoned, and
    /// drops it when its read ends.
    hold: Option<Arc<Mutex<Option<StuckRead>>>>,
    /// The file went to a thread with [`read_job`].
    on_thread: bool,
}

impl Reading {
    /// `job`, at `path`, not started: its size as the walk found it (0 says nothing).
    fn new(job: FileJob, path: CString) -> Reading {
        Reading {
            path,
            started: Instant::now(),
            fd: None,
            work: SlotWork::of(&job),
            extent: Extent::new(Size::walked(job.size), job.max_bytes),
            stat: Look::Not,
            ended: false,
            reading_since: None,
            sent_in: None,
            then: None,
            ops: 0,
            abandoned: false,
            stuck: None,
            hold: None,
            on_thread: false,
            job,
        }
    }
}

/// The work on a slot's bytes.
enum SlotWork {
    /// A whole file's.
    File(MeasureFile),
    /// A byte range's ([`FileJob::part`]): `len` bytes from `start`, `read` of them so far.
    Range {
        state: MeasureRangeFile,
        start: u64,
        len: u64,
        read: u64,
    },
}

impl SlotWork {
    /// The work `job` asks for: of its byte range when it is one and its digests join ranges
    /// (reader-core's thread path reports why the others cannot be read), else of all of it.
    fn of(job: &FileJob) -> SlotWork {
        let measure = Measure::of(job);
        let range = job
            .part
            .and_then(|part| Some((part, measure.clone().ranges()?)));
        match range {
            Some((part, ranges)) => SlotWork::Range {
                state: ranges.start_range(part.start, part.end),
                start: part.start,
                len: part.end.saturating_sub(part.start),
                read: 0,
            },
            None => SlotWork::File(measure.start()),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        match self {
            SlotWork::File(work) => work.update(chunk),
            SlotWork::Range { state, read, .. } => {
                state.update(chunk);
                *read += chunk.len() as u64;
            }
        }
    }
}

/// Whether the ring has looked at a file with `statx` (forced onto an io-wq worker by the
/// kernel, so only when something is odd: see [`after_read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Not,
    Sent,
    Done,
}

/// A slot: a buffer and the file it reads, if any.
struct Slot {
    buf: Box<[u8]>,
    statx: Box<MaybeUninit<libc::statx>>,
    reading: Option<Reading>,
}

/// What becomes of a slot's file after an event.
enum Next {
    /// Operations are in flight; wait for them.
    Wait,
    /// Read the next chunk at this offset.
    ReadAt(u64),
    /// Look at the file with `statx`, and go on with the next step.
    Look(Box<Next>),
    /// Hand the file to a thread.
    Thread,
    /// Hand the file, unread, to whoever takes large ones ([`LargeFiles`]).
    HandOff,
    /// The file is done: read to its end, or failed.
    Done(Result<(), FileError>),
}

/// A file read on a thread, coming back: its slot and its result.
type Back = (usize, FileResult);

/// One ring thread: its ring, its slots and its share of the files in flight.
struct RingThread<'a> {
    ring: IoUring,
    rings: &'a Rings,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Slots reading a file that is not abandoned.
    active: usize,
    /// The most active slots: this thread's share of the files in flight.
    share: usize,
    /// The most active slots now: grows towards `share` while the kernel makes operations
    /// wait (a cold tree), and shrinks back while every one completes as it is submitted (a
    /// cached tree), so that few buffers stay in the core's cache (see [`RingThread::adapt`]).
    window: usize,
    /// The buffer recent files filled, on average (a moving average, in bytes).
    recent_bytes: u64,
    /// Opens and reads of files sent and not completed.
    waiting: usize,
    /// Rounds of submitting and reaping so far.
    round: u64,
    first_task: usize,
    jobs: Jobs,
    out: Emitter,
    drained: bool,
    /// Closes submitted whose completion has not come yet.
    closing: usize,
    /// Files on threads that have not come back.
    on_threads: usize,
    wake: Wake,
    back_tx: Sender<Back>,
    back_rx: Receiver<Back>,
    /// Whether the directory of the last file is on a local file system.
    local: LocalDir,
    /// Entries prepared while the submission queue was full.
    backlog: Vec<squeue::Entry>,
    tally: Tally,
}

/// Whether a file's directory is on a local file system ([`size_is_trusted`]), looked up
/// once for each run of files in one directory (the walk sends them together).
///
/// The ring reads only files there. A FUSE or NFS server may say one size and hold another,
/// and the kernel's answers to io_uring reads of such a file are not those of `read(2)`: a
/// FUSE file opened for direct I/O that holds 720 bytes and says 10 was read as 64 KiB of its
/// content over and over (kernel 6.18). reader-core reads those files front to back.
#[derive(Debug, Default)]
struct LocalDir {
    dir: std::path::PathBuf,
    local: bool,
}

impl LocalDir {
    fn holds(&mut self, path: &std::path::Path) -> bool {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        if dir != self.dir {
            self.local = std::fs::File::open(dir).is_ok_and(|dir| size_is_trusted(&dir));
            dir.clone_into(&mut self.dir);
        }
        self.local
    }
}

/// The `eventfd` a thread that has read a file writes to, and the ring's read of it.
struct Wake {
    fd: i32,
    value: Box<u64>,
    armed: bool,
}

/// Wakes the ring thread whose eventfd is `fd`.
fn wake(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of `one` to an eventfd that stays open as long as a thread
    // may write to it (see `RingThread::finish`).
    unsafe { libc::write(fd, (&raw const one).cast(), 8) };
}

/// Locks `mutex`, whatever a thread that panicked holding it left in it (a count of stuck
/// reads).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds a ring for one thread: submissions only from this thread, completions reaped when
/// it asks, without interrupting it (`SINGLE_ISSUER`, `COOP_TASKRUN`, `DEFER_TASKRUN`, kernel
/// 6.1 and later); a plain ring where those are unknown.
fn build_ring(entries: u32) -> io::Result<IoUring> {
    let quiet = IoUring::builder()
        .setup_single_issuer()
        .setup_coop_taskrun()
        .setup_defer_taskrun()
        .build(entries);
    match quiet {
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries),
        built => built,
    }
}

impl<'a> RingThread<'a> {
    fn new(
        rings: &'a Rings,
        share: usize,
        first_task: usize,
        jobs: Jobs,
        out: Emitter,
    ) -> Result<RingThread<'a>, RunError> {
        let spares = if rings.timeout.is_some() {
            rings.spares.div_ceil(rings.threads.max(1))
        } else {
            0
        };
        let slots = share + spares;
        // A slot has at most two operations in flight and a cancel for each of three; then
        // the wake-up and the closes. More wait in the backlog.
        let entries = u32::try_from((2 * slots + 8).next_power_of_two()).unwrap_or(4096);
        let ring = build_ring(entries.min(4096)).map_err(|source| RunError::Spawn {
            what: "an io_uring".into(),
            source,
        })?;
        // SAFETY: eventfd takes no memory.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(RunError::Spawn {
                what: "an eventfd for the io_uring".into(),
                source: io::Error::last_os_error(),
            });
        }
        let (back_tx, back_rx) = mpsc::channel();
        Ok(RingThread {
            ring,
            rings,
            slots: (0..slots)
                .map(|_| Slot {
                    buf: Box::default(),
                    statx: Box::new(MaybeUninit::zeroed()),
                    reading: None,
                })
                .collect(),
            free: (0..slots).rev().collect(),
            active: 0,
            share,
            window: MIN_WINDOW.min(share),
            waiting: 0,
            round: 0,
            recent_bytes: rings.buffer_size as u64,
            first_task,
            jobs,
            out,
            drained: false,
            closing: 0,
            on_threads: 0,
            wake: Wake {
                fd,
                value: Box::new(0),
                armed: false,
            },
            back_tx,
            back_rx,
            backlog: Vec::new(),
            local: LocalDir::default(),
            tally: Tally::default(),
        })
    }

    fn run(mut self) -> Result<Tally, RunError> {
        let ended = self.read_all();
        if let Err(err) = &ended {
            // The ring cannot go on: what it holds is reported, as not read.
            let why = format!("the reader's io_uring failed ({err})");
            for slot in &mut self.slots {
                if let Some(reading) = slot.reading.as_mut().filter(|r| !r.abandoned) {
                    reading.abandoned = true;
                    self.out
                        .emit(FileResult::abandoned(reading.job.clone(), &why));
                }
            }
        }
        self.finish();
        ended.map(|()| self.tally)
    }

    fn read_all(&mut self) -> Result<(), RunError> {
        loop {
            self.take_jobs();
            if self.drained && self.active == 0 {
                return Ok(());
            }
            if self.on_threads > 0 && !self.wake.armed {
                self.arm_wake();
            }
            let sent = self.waiting;
            self.round += 1;
            self.submit_and_wait()?;
            self.reap();
            self.adapt(sent);
            self.take_back();
            self.check_slow_reads();
            self.check_deadlines();
        }
    }

    /// Fills the free slots from the queue, waiting for jobs only when nothing is in flight.
    fn take_jobs(&mut self) {
        while !self.drained && self.active < self.window && !self.free.is_empty() {
            let room = (self.window - self.active).min(self.free.len());
            let batch = if self.active == 0 {
                let batch = self.jobs.next_batch(room, &mut self.out);
                self.drained = batch.is_empty();
                batch
            } else {
                self.jobs.try_batch(room)
            };
            if batch.is_empty() {
                return;
            }
            for job in batch {
                self.start(job);
            }
        }
    }

    /// Starts `job` in a free slot: its `openat`, or a thread for what the ring leaves to
    /// reader-core.
    fn start(&mut self, job: FileJob) {
        if let Some(large) = &self.rings.large
            && job.part.is_none()
            && job.joins_ranges()
            && job.size.is_some_and(|size| size >= large.from)
        {
            self.tally.handed_off += 1;
            return (large.to)(job);
        }
        let Some(slot) = self.free.pop() else {
            unreachable!("take_jobs takes no more jobs than there are free slots");
        };
        self.active += 1;
        let to_thread = (job.part.is_none() && job.size.is_some_and(|size| size >= MAP_FROM))
            || faults::blocks(&job.path)
            || !self.local.holds(&job.path);
        // A path holds no NUL byte; should one, reader-core says what it makes of it.
        let path = CString::new(job.path.as_os_str().as_bytes()).ok();
        let to_thread = to_thread || path.is_none();
        let reading = Reading::new(job, path.unwrap_or_default());
        // A byte range is read here when one read can take it (a duplicate search's prefix
        // or suffix): a longer one goes to reader-core, which maps or streams it.
        let to_thread = to_thread
            || match &reading.work {
                SlotWork::Range { len, .. } => *len > self.rings.buffer_size as u64,
                SlotWork::File(_) => reading.job.part.is_some(),
            };
        let job = &reading.job;
        let early = match reading.extent.over() {
            Some(limit) => Some(limit.error(&job.path)),
            None if to_thread => None,
            // Faults the tests inject (a panic) happen where a read begins.
            None => panic::catch_unwind(AssertUnwindSafe(|| faults::before_read(&job.path)))
                .err()
                .map(|payload| FileError::panicked(&job.path, payload.as_ref())),
        };
        let open = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), reading.path.as_ptr())
            .flags(libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .build()
            .user_data(user_data(slot, Op::Open));
        if self.slots[slot].buf.is_empty() {
            self.slots[slot].buf = vec![0; self.rings.buffer_size].into_boxed_slice();
        }
        self.slots[slot].reading = Some(reading);
        if let Some(err) = early {
            return self.follow(slot, Next::Done(Err(err)));
        }
        if to_thread {
            return self.hand_to_thread(slot);
        }
        self.push(slot, open);
    }

    /// Queues an operation of `slot` (counted among its operations in flight).
    fn push(&mut self, slot: usize, entry: squeue::Entry) {
        if let Some(reading) = self.slots[slot].reading.as_mut() {
            reading.ops += 1;
            // A `statx` always goes to an io-wq worker: it says nothing of the caches.
            if decode(entry.get_user_data()).1 != Op::Stat as u64 {
                self.waiting += 1;
                reading.sent_in = Some(self.round);
            }
        }
        self.queue(entry);
    }

    /// Queues an operation.
    fn queue(&mut self, entry: squeue::Entry) {
        // SAFETY: every pointer in an entry (a path, a buffer, a statx, the eventfd's value)
        // belongs to a slot or to the ring thread and stays where it is until the operation
        // completes: a slot is reused only once its operations have all completed, and at the
        // end of the run slots with operations in flight are leaked (`finish`).
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.backlog.push(entry);
        }
    }

    /// Submits what is queued and waits for a completion (or until [`Self::wait_limit`]).
    fn submit_and_wait(&mut self) -> Result<(), RunError> {
        loop {
            while let Some(entry) = self.backlog.pop() {
                // SAFETY: as in `queue`.
                if unsafe { self.ring.submission().push(&entry) }.is_err() {
                    self.backlog.push(entry);
                    break;
                }
            }
            let submitted = match self.wait_limit() {
                Some(limit) => {
                    let spec = types::Timespec::from(limit);
                    let args = types::SubmitArgs::new().timespec(&spec);
                    self.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.submit_and_wait(1),
            };
            match submitted {
                Ok(_) => {}
                // The wait timed out, a signal came, or completions must be reaped before
                // more can be submitted: the caller looks at what is due.
                Err(err)
                    if matches!(
                        err.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(source) => {
                    return Err(RunError::Spawn {
                        what: "io_uring_enter".into(),
                        source,
                    });
                }
            }
            if self.backlog.is_empty() || !self.ring.completion().is_empty() {
                return Ok(());
            }
        }
    }

    /// How long the ring may sleep: until the next deadline, or a moment when the queue may
    /// have jobs for free slots; `None`: until a completion comes.
    fn wait_limit(&self) -> Option<Duration> {
        let mut limit = None::<Duration>;
        if !self.drained && self.active < self.window && !self.free.is_empty() {
            limit = Some(QUEUE_LOOK);
        }
        let slow = self
            .slots
            .iter()
            .filter_map(|slot| slot.reading.as_ref())
            .filter(|reading| reading.stat == Look::Not && !reading.abandoned)
            .filter_map(|reading| reading.reading_since)
            .map(|since| SLOW_READ.saturating_sub(since.elapsed()))
            .min();
        if let Some(next) = slow {
            let next = next.max(Duration::from_millis(1));
            limit = Some(limit.map_or(next, |limit| limit.min(next)));
        }
        if let Some(timeout) = self.rings.timeout {
            let next = self
                .slots
                .iter()
                .filter_map(|slot| slot.reading.as_ref())
                .filter(|reading| !reading.abandoned)
                .map(|reading| timeout.saturating_sub(reading.started.elapsed()))
                .min();
            if let Some(next) = next {
                let next = next.max(Duration::from_millis(1));
                limit = Some(limit.map_or(next, |limit| limit.min(next)));
            }
        }
        limit
    }

    /// Handles the completions that have come.
    fn reap(&mut self) {
        let done: Vec<(u64, i32)> = self
            .ring
            .completion()
            .map(|cqe| (cqe.user_data(), cqe.result()))
            .collect();
        for (data, result) in done {
            let (slot, op) = decode(data);
            match op {
                op if op == Op::Close as u64 => self.closing -= 1,
                op if op == Op::Wake as u64 => self.wake.armed = false,
                op if op == Op::Cancel as u64 => {}
                op => self.complete(slot, op, result),
            }
        }
    }

    /// An operation of `slot` has completed with `result`.
    fn complete(&mut self, slot: usize, op: u64, result: i32) {
        let len = self.rings.buffer_size;
        let Slot {
            buf,
            statx,
            reading,
        } = &mut self.slots[slot];
        let Some(reading) = reading.as_mut() else {
            return;
        };
        reading.ops -= 1;
        if op != Op::Stat as u64 {
            self.waiting -= 1;
            reading.sent_in = None;
        }
        if op == Op::Open as u64 && result >= 0 {
            reading.fd = Some(result);
        }
        if op == Op::Read as u64 {
            reading.reading_since = None;
        }
        if reading.abandoned {
            return self.settle_abandoned(slot);
        }
        if reading.then.is_some() {
            if reading.ops == 0
                && let Some(then) = reading.then.take()
            {
                self.follow(slot, then);
            }
            return;
        }
        let next = if op == Op::Open as u64 {
            opened(reading, result)
        } else if op == Op::Stat as u64 {
            reading.stat = Look::Done;
            // A file whose work cannot be split is read here, however large.
            let large = (self.rings.large.as_ref())
                .filter(|_| reading.job.joins_ranges())
                .map(|large| large.from);
            // SAFETY: statx filled it in if it returned 0 (and it is zeroed before).
            stated(reading, result, unsafe { statx.assume_init_ref() }, large)
        } else if result < 0 {
            read_error(reading, result)
        } else {
            let n = usize::try_from(result).unwrap_or(0);
            reading.work.update(&buf[..n]);
            match reading.work {
                SlotWork::File(_) => after_read(reading, n, len),
                SlotWork::Range { .. } => after_range_read(reading, n),
            }
        };
        self.follow(slot, next);
    }

    fn follow(&mut self, slot: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::ReadAt(offset) => {
                let Slot { buf, reading, .. } = &mut self.slots[slot];
                let Some(reading) = reading.as_mut() else {
                    return;
                };
                let Some(fd) = reading.fd else {
                    return;
                };
                reading.reading_since = Some(Instant::now());
                let left = match reading.work {
                    SlotWork::Range { len, read, .. } => len - read,
                    SlotWork::File(_) => u64::MAX,
                };
                let len = u32::try_from(left.min(buf.len() as u64)).unwrap_or(u32::MAX);
                let read = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), len)
                    .offset(offset)
                    .build()
                    .user_data(user_data(slot, Op::Read));
                self.push(slot, read);
            }
            Next::Look(then) => {
                self.look(slot);
                self.follow(slot, *then);
            }
            Next::Thread | Next::HandOff | Next::Done(_) if self.in_flight(slot) => {
                // What is in flight (a read of what is not a regular file, or of a file the
                // ring leaves to a thread) is cancelled first; then this.
                if let Some(reading) = self.slots[slot].reading.as_mut() {
                    reading.then = Some(next);
                }
                self.cancel(slot);
            }
            Next::Thread => {
                self.close_fd(slot);
                self.hand_to_thread(slot);
            }
            Next::HandOff => {
                self.close_fd(slot);
                if let (Some(reading), Some(large)) =
                    (self.slots[slot].reading.take(), &self.rings.large)
                {
                    self.free.push(slot);
                    self.active -= 1;
                    self.tally.handed_off += 1;
                    (large.to)(FileJob {
                        size: reading.extent.size().bytes(),
                        ..reading.job
                    });
                }
            }
            Next::Done(outcome) => self.done(slot, outcome),
        }
    }

    fn in_flight(&self, slot: usize) -> bool {
        self.slots[slot]
            .reading
            .as_ref()
            .is_some_and(|reading| reading.ops > 0)
    }

    /// Sends the `statx` of the slot's open file, once.
    fn look(&mut self, slot: usize) {
        let Slot { statx, reading, .. } = &mut self.slots[slot];
        let Some(reading) = reading.as_mut() else {
            return;
        };
        let Some(fd) = reading.fd.filter(|_| reading.stat == Look::Not) else {
            return;
        };
        reading.stat = Look::Sent;
        let stat = opcode::Statx::new(
            types::Fd(fd),
            c"".as_ptr(),
            statx.as_mut_ptr().cast::<types::statx>(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_TYPE | libc::STATX_SIZE)
        .build()
        .user_data(user_data(slot, Op::Stat));
        self.push(slot, stat);
    }

    fn close_fd(&mut self, slot: usize) {
        if let Some(fd) = self.slots[slot].reading.as_mut().and_then(|r| r.fd.take()) {
            let close = opcode::Close::new(types::Fd(fd))
                .build()
                .user_data(user_data(0, Op::Close));
            self.closing += 1;
            self.queue(close);
        }
    }

    /// Reports the slot's file and frees the slot (nothing of it is in flight).
    fn done(&mut self, slot: usize, outcome: Result<(), FileError>) {
        self.close_fd(slot);
        let Some(reading) = self.slots[slot].reading.take() else {
            return;
        };
        self.free.push(slot);
        self.active -= 1;
        self.tally.ring_files += 1;
        let worker = self.worker(slot);
        let elapsed = reading.started.elapsed();
        let result = match reading.work {
            SlotWork::File(work) => {
                if outcome.is_ok() {
                    let filled = reading.extent.position().min(self.rings.buffer_size as u64);
                    self.recent_bytes = (self.recent_bytes * 7 + filled) / 8;
                }
                let outcome = outcome.map(|()| work.finish());
                FileResult::measured(reading.job, outcome, elapsed, worker)
            }
            SlotWork::Range { state, .. } => {
                let outcome = outcome.map(|()| state.finish());
                FileResult::measured_range(reading.job, outcome, elapsed, worker)
            }
        };
        self.out.emit(result);
    }

    fn worker(&self, slot: usize) -> Worker {
        Worker::Task(u32::try_from(self.first_task + slot).unwrap_or(u32::MAX))
    }

    /// Cancels whatever operation of `slot` is in flight.
    fn cancel(&mut self, slot: usize) {
        for op in [Op::Open, Op::Stat, Op::Read] {
            let cancel = opcode::AsyncCancel::new(user_data(slot, op))
                .build()
                .user_data(user_data(slot, Op::Cancel));
            self.queue(cancel);
        }
    }

    /// An abandoned slot is free again once nothing of it is in flight.
    fn settle_abandoned(&mut self, slot: usize) {
        let settled = self.slots[slot]
            .reading
            .as_ref()
            .is_some_and(|r| r.ops == 0 && !r.on_thread);
        if settled {
            self.close_fd(slot);
            self.slots[slot].reading = None;
            self.free.push(slot);
        }
    }

    /// Hands the slot's file to a thread that reads it with [`read_job`]; when no thread can
    /// be had, reads it here (holding up this ring's other files meanwhile).
    fn hand_to_thread(&mut self, slot: usize) {
        let worker = self.worker(slot);
        let Some(reading) = self.slots[slot].reading.as_mut() else {
            return;
        };
        reading.on_thread = true;
        let job = reading.job.clone();
        let hold = Arc::new(Mutex::new(None));
        reading.hold = Some(Arc::clone(&hold));
        self.on_threads += 1;
        let (back, fd, size) = (self.back_tx.clone(), self.wake.fd, self.rings.buffer_size);
        let spawned = thread::Builder::new()
            .name("reader-ring-file".into())
            .spawn(move || {
                let result = read_job(job, &mut vec![0; size], worker);
                // Abandoned meanwhile: the read is no longer stuck.
                drop(lock(&hold).take());
                let _ = back.send((slot, result));
                wake(fd);
            });
        if spawned.is_err()
            && let Slot {
                buf,
                reading: Some(reading),
                ..
            } = &mut self.slots[slot]
        {
            let result = read_job(reading.job.clone(), buf, worker);
            let _ = self.back_tx.send((slot, result));
            wake(self.wake.fd);
        }
    }

    fn arm_wake(&mut self) {
        let read = opcode::Read::new(
            types::Fd(self.wake.fd),
            (&raw mut *self.wake.value).cast::<u8>(),
            8,
        )
        .build()
        .user_data(user_data(0, Op::Wake));
        self.wake.armed = true;
        self.queue(read);
    }

    /// Reports the files read on threads that have come back.
    fn take_back(&mut self) {
        while let Ok((slot, result)) = self.back_rx.try_recv() {
            self.on_threads -= 1;
            let Some(reading) = self.slots[slot].reading.take() else {
                continue;
            };
            self.free.push(slot);
            if reading.abandoned {
                // Abandoned after the thread had looked: its count ends here.
                if let Some(hold) = &reading.hold {
                    drop(lock(hold).take());
                }
                continue;
            }
            self.active -= 1;
            self.tally.thread_files += 1;
            self.out.emit(result);
        }
    }

    /// Revises the window after a round in which `sent` opens and reads were in flight
    /// ([`revised_window`]). Those that wait for the device are the ones still in flight a
    /// whole round after the one that sent them: an operation the kernel finishes without the
    /// device but not at once (a read that passes a read-ahead mark completes from a task
    /// work item, at the next round) has ended by then.
    fn adapt(&mut self, sent: usize) {
        let round = self.round;
        let device = self
            .slots
            .iter()
            .filter_map(|slot| slot.reading.as_ref())
            .filter(|reading| reading.sent_in.is_some_and(|sent_in| sent_in + 1 < round))
            .count();
        self.window = revised_window(self.window, self.least_window(), self.share, sent, device);
    }

    /// The window on a cached tree: as many files as fit [`CACHED_WINDOW_BYTES`] of buffer
    /// (files of a few KiB touch a page or two of theirs), from [`MIN_WINDOW`] to
    /// [`MAX_CACHED_WINDOW`], within the thread's share.
    fn least_window(&self) -> usize {
        let per_file = self.recent_bytes.max(1);
        let files = usize::try_from(CACHED_WINDOW_BYTES / per_file).unwrap_or(MAX_CACHED_WINDOW);
        files.clamp(MIN_WINDOW, MAX_CACHED_WINDOW).min(self.share)
    }

    /// Looks at the files whose read is slow ([`SLOW_READ`]).
    fn check_slow_reads(&mut self) {
        for slot in 0..self.slots.len() {
            let slow = self.slots[slot].reading.as_ref().is_some_and(|reading| {
                reading.stat == Look::Not
                    && !reading.abandoned
                    && reading.then.is_none()
                    && reading
                        .reading_since
                        .is_some_and(|since| since.elapsed() >= SLOW_READ)
            });
            if slow {
                self.look(slot);
            }
        }
    }

    /// Reports the files past their deadline as `timeout`, cancels what they have in flight
    /// and sets their slots aside until it has ended.
    fn check_deadlines(&mut self) {
        let Some(limit) = self.rings.timeout else {
            return;
        };
        for slot in 0..self.slots.len() {
            let worker = self.worker(slot);
            let Some(reading) = self.slots[slot].reading.as_mut() else {
                continue;
            };
            if reading.abandoned || reading.started.elapsed() < limit {
                continue;
            }
            reading.abandoned = true;
            match &reading.hold {
                Some(hold) => *lock(hold) = Some(StuckRead::begin()),
                None => reading.stuck = Some(StuckRead::begin()),
            }
            let timeout = FileError::timeout(&reading.job.path, limit, "the read was abandoned");
            let result = FileResult::of(
                reading.job.clone(),
                Err(timeout),
                reading.started.elapsed(),
                worker,
            );
            let pending = reading.ops > 0;
            self.active -= 1;
            self.out.emit(result);
            if pending {
                self.cancel(slot);
            } else {
                self.settle_abandoned(slot);
            }
        }
    }

    /// The end of the run: waits for the closes and the ring's read of its eventfd. What the
    /// kernel or a thread may still write into — the slots of reads it could not cancel, the
    /// eventfd a thread still reading will write to — is leaked rather than freed under it.
    fn finish(&mut self) {
        while self.closing > 0 || self.wake.armed {
            if self.wake.armed {
                wake(self.wake.fd);
            }
            if self.submit_and_wait().is_err() {
                break;
            }
            self.reap();
        }
        self.out.flush();
        let busy = self
            .slots
            .iter()
            .any(|slot| slot.reading.as_ref().is_some_and(|reading| reading.ops > 0));
        if busy || self.wake.armed || self.closing > 0 {
            mem::forget(mem::take(&mut self.slots));
            mem::forget(mem::replace(&mut self.wake.value, Box::new(0)));
        }
        if self.on_threads == 0 {
            // SAFETY: our own eventfd, closed once; no read of it is armed and no thread is
            // left to write to it.
            unsafe { libc::close(self.wake.fd) };
        }
    }
}

/// A ring thread's window after a round: how many files it may have in flight, from `least`
/// (a cached tree's, [`RingThread::least_window`]) to `share` (all it may have), when `device`
/// of the `sent` operations that were in flight wait for the device (or a server).
///
/// When a quarter of them or more wait, the tree is read at the device's pace, and then every
/// file in flight the share allows pays, at once (growing by steps cost a cold `small` 25 %).
/// When fewer wait — files of a cached tree that the kernel has let go of — they get slots
/// beside the cached tree's window, and the rest goes on as cached. When none waits, the
/// window shrinks by one.
fn revised_window(window: usize, least: usize, share: usize, sent: usize, device: usize) -> usize {
    if device > 0 && device * 4 >= sent {
        return share;
    }
    let cached = (least + device).min(share);
    if window > cached { window - 1 } else { cached }
}

/// Files in flight a ring thread starts with, and comes back to on a cached tree of large
/// files: enough to batch the system calls, few enough that their buffers stay in the core's
/// cache.
const MIN_WINDOW: usize = 4;

/// Files in flight on a cached tree of small files at most: past it, batching saves no more.
const MAX_CACHED_WINDOW: usize = 32;

/// Buffer the files in flight of a cached tree may fill: four buffers, well within a core's
/// L2 cache (measured on `small`, `seed-mixed` and `medium`: 4 files in flight cost small
/// files 12 %, 32 files cost large ones 14 %).
const CACHED_WINDOW_BYTES: u64 = 4 * 64 * 1024;

/// How long a ring thread with free slots sleeps before it looks at the queue again, when
/// discovery may bring more jobs.
const QUEUE_LOOK: Duration = Duration::from_millis(2);

/// A read that has not come back after this long may be of what is no longer a regular file
/// (a FIFO waits for a writer): the ring looks at the file.
const SLOW_READ: Duration = Duration::from_millis(50);

/// A file that has given this many bytes is looked at: one `statx` is little beside reading
/// them, and it tells a file to map, a pseudo-file or a device before much more is read.
const LOOK_PAST: u64 = 1 << 20;

/// What follows `openat`'s `result`.
fn opened(reading: &Reading, result: i32) -> Next {
    if result >= 0 {
        return Next::ReadAt(match reading.work {
            SlotWork::Range { start, .. } => start,
            SlotWork::File(_) => 0,
        });
    }
    match -result {
        // Too long a path for one `openat`: reader-core opens it relative to its directory.
        libc::ENAMETOOLONG => Next::Thread,
        errno => Next::Done(Err(FileError::io(
            &reading.job.path,
            io::Error::from_raw_os_error(errno),
        ))),
    }
}

/// What follows `statx`'s `result`, with what it filled in; a file of at least `large`
/// bytes is handed off.
fn stated(reading: &mut Reading, result: i32, stat: &libc::statx, large: Option<u64>) -> Next {
    if result < 0 {
        let err = io::Error::from_raw_os_error(-result);
        return Next::Done(Err(FileError::io(&reading.job.path, err)));
    }
    match u32::from(stat.stx_mode) & libc::S_IFMT {
        libc::S_IFREG => {}
        libc::S_IFDIR => return Next::Done(Err(FileError::is_directory(&reading.job.path))),
        _ => return Next::Done(Err(FileError::no_longer_regular(&reading.job.path))),
    }
    if let SlotWork::Range { .. } = reading.work {
        // Looked at because its read was slow: a regular file still, its range read on.
        return if reading.ended {
            Next::Done(Ok(()))
        } else {
            Next::Wait
        };
    }
    let size = stat.stx_size;
    let empty = reading.ended && reading.extent.position() == 0;
    // The ring reads files of local file systems only: no pseudo-file comes here by design,
    // and whatever says 0 and is not known empty goes to reader-core, which has the rule.
    reading.extent.stated(size, false);
    if large.is_some_and(|large| size >= large) {
        return Next::HandOff;
    }
    if size >= MAP_FROM || (size == 0 && !empty) {
        // Mapped, or a size that says nothing (a pseudo-file, a file growing from empty):
        // reader-core's rules for them, from the start.
        return Next::Thread;
    }
    if let Some(limit) = reading.extent.over() {
        return Next::Done(Err(limit.error(&reading.job.path)));
    }
    if reading.ended {
        Next::Done(Ok(()))
    } else {
        Next::Wait
    }
}

/// A read that failed: `EAGAIN` (the kernel would not wait) goes to a thread; anything else is
/// the file's error.
fn read_error(reading: &Reading, result: i32) -> Next {
    match -result {
        libc::EAGAIN | libc::EINTR => Next::Thread,
        libc::EISDIR => Next::Done(Err(FileError::is_directory(&reading.job.path))),
        errno => Next::Done(Err(FileError::io(
            &reading.job.path,
            io::Error::from_raw_os_error(errno),
        ))),
    }
}

/// What follows a read of `n` bytes, counted, into a buffer of `len`.
///
/// Where the file ends, and when it is odd, is reader-core's [`Extent`]: the ring looks at a
/// file with `statx` only when the extent finds its data odd (empty, ending before the size
/// the walk found or going past it), when it runs past [`LOOK_PAST`] (it may be large enough
/// to map, a pseudo-file, or a device that never ends), or when its read is slow
/// ([`SLOW_READ`]). A file that ends as expected is not looked at.
fn after_read(reading: &mut Reading, n: usize, len: usize) -> Next {
    let step = reading.extent.after(n, len);
    if let Step::Over(limit) = step {
        return Next::Done(Err(limit.error(&reading.job.path)));
    }
    let odd = reading.extent.take_odd() || reading.extent.position() >= LOOK_PAST;
    let next = if step == Step::End {
        reading.ended = true;
        if reading.stat == Look::Not && !odd || reading.stat == Look::Done {
            return Next::Done(Ok(()));
        }
        Next::Wait
    } else {
        Next::ReadAt(reading.extent.position())
    };
    if odd && reading.stat == Look::Not {
        Next::Look(Box::new(next))
    } else {
        next
    }
}

/// What follows a read of `n` bytes of a byte range, counted: the range ends where its
/// length is read, or at the end of the file (a read that returns 0); a short read reads on.
fn after_range_read(reading: &mut Reading, n: usize) -> Next {
    let SlotWork::Range {
        start, len, read, ..
    } = reading.work
    else {
        unreachable!("called for ranges only");
    };
    if n == 0 || read >= len {
        reading.ended = true;
        // A look at a slow read is in flight: the range is done once it answers.
        return if reading.stat == Look::Sent {
            Next::Wait
        } else {
            Next::Done(Ok(()))
        };
    }
    Next::ReadAt(start + read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(size: Option<u64>, cap: Option<u64>) -> Reading {
        let mut job = FileJob::new("f.txt", size);
        job.max_bytes = cap;
        Reading {
            fd: Some(3),
            ..Reading::new(job, CString::default())
        }
    }

    /// Feeds `n` bytes as one read into a buffer of `len` and says what follows.
    fn read(reading: &mut Reading, n: usize, len: usize) -> Next {
        reading.work.update(&vec![b'a'; n]);
        after_read(reading, n, len)
    }

    /// The bytes a whole file's work counted.
    fn counted(reading: Reading) -> u64 {
        match reading.work {
            SlotWork::File(work) => work.finish().counts.bytes,
            SlotWork::Range { .. } => panic!("a whole file"),
        }
    }

    #[test]
    fn a_byte_range_ends_at_its_length_or_at_the_end_of_the_file() {
        let part = |start, end| reader_core::Part {
            index: 1,
            parts: 3,
            start,
            end,
            file_size: 1 << 20,
            edges: reader_core::Edges::default(),
        };
        let range = |start, end| {
            let mut job = FileJob::new("f", Some(1 << 20));
            job.part = Some(part(start, end));
            job.digests = "blake3".parse().expect("names");
            Reading {
                fd: Some(3),
                ..Reading::new(job, CString::default())
            }
        };
        let read = |reading: &mut Reading, n: usize| {
            reading.work.update(&vec![b'a'; n]);
            after_range_read(reading, n)
        };
        let mut whole = range(1024, 5120);
        assert!(matches!(opened(&whole, 3), Next::ReadAt(1024)));
        // Short: read on from where it stopped; then its length ends it.
        assert!(matches!(read(&mut whole, 1000), Next::ReadAt(2024)));
        assert!(matches!(read(&mut whole, 3096), Next::Done(Ok(()))));
        // The file ends first.
        let mut cut = range(0, 4096);
        assert!(matches!(read(&mut cut, 100), Next::ReadAt(100)));
        assert!(matches!(read(&mut cut, 0), Next::Done(Ok(()))));
        // A look at a slow read is in flight: done once it answers.
        let mut looked = range(0, 10);
        looked.stat = Look::Sent;
        assert!(matches!(read(&mut looked, 10), Next::Wait));
        assert!(looked.ended);
        // Digests that cannot join ranges: a whole-file work, which the ring leaves to a
        // thread (reader-core says why it cannot be read).
        let mut job = FileJob::new("f", Some(1 << 20));
        job.part = Some(part(0, 10));
        job.digests = "sha256".parse().expect("names");
        assert!(matches!(SlotWork::of(&job), SlotWork::File(_)));
    }

    #[test]
    fn a_file_of_known_size_ends_at_its_size_without_a_look() {
        let mut file = reading(Some(100), None);
        assert!(matches!(read(&mut file, 100, 4096), Next::Done(Ok(()))));
        assert_eq!(counted(file), 100);
    }

    #[test]
    fn without_a_size_the_read_that_returns_nothing_ends_it() {
        let mut file = reading(None, None);
        assert!(matches!(read(&mut file, 100, 4096), Next::ReadAt(100)));
        assert!(matches!(read(&mut file, 0, 4096), Next::Done(Ok(()))));
        assert_eq!(counted(file), 100);
    }

    #[test]
    fn odd_files_are_looked_at() {
        // Empty: perhaps a device now.
        let mut empty = reading(None, None);
        assert!(
            matches!(read(&mut empty, 0, 4096), Next::Look(next) if matches!(*next, Next::Wait))
        );
        // Shorter than the walk said.
        let mut shrunk = reading(Some(100), None);
        assert!(matches!(read(&mut shrunk, 50, 4096), Next::ReadAt(50)));
        assert!(matches!(read(&mut shrunk, 0, 4096), Next::Look(_)));
        // Past what the walk said (it grew, or is no longer a regular file): looked at, and
        // read on.
        let mut grew = reading(Some(100), None);
        assert!(matches!(read(&mut grew, 64, 64), Next::ReadAt(64)));
        assert!(
            matches!(read(&mut grew, 50, 64), Next::Look(next) if matches!(*next, Next::ReadAt(114)))
        );
        // Past LOOK_PAST: to map, a pseudo-file or a device that never ends.
        let mut long = reading(None, None);
        let len = usize::try_from(LOOK_PAST).expect("fits");
        assert!(
            matches!(read(&mut long, len, len), Next::Look(next) if matches!(*next, Next::ReadAt(_)))
        );
    }

    #[test]
    fn a_file_past_the_cap_fails_as_size_limit() {
        let mut file = reading(None, Some(10));
        let Next::Done(Err(err)) = read(&mut file, 11, 4096) else {
            panic!("not failed");
        };
        assert_eq!(err.kind(), reader_core::ErrorKind::SizeLimit);
    }

    #[test]
    fn the_window_opens_for_the_device_and_not_for_a_file_or_two_of_a_cached_tree() {
        let (least, share) = (8, 128);
        // A quarter of what was in flight waits or more: a cold tree, all of the share at once.
        assert_eq!(revised_window(8, least, share, 8, 2), share);
        assert_eq!(revised_window(share, least, share, 100, 90), share);
        // One file of sixteen waits: a slot for it beside the cached window.
        assert_eq!(revised_window(8, least, share, 16, 1), 9);
        // Nothing waits: back towards the cached window, one at a time.
        assert_eq!(revised_window(share, least, share, 20, 0), share - 1);
        assert_eq!(revised_window(9, least, share, 8, 0), 8);
        assert_eq!(revised_window(8, least, share, 8, 0), 8);
        // Never past the share.
        assert_eq!(revised_window(8, least, 10, 80, 12), 10);
    }

    #[test]
    fn user_data_round_trips() {
        assert_eq!(decode(user_data(77, Op::Read)), (77, Op::Read as u64));
    }
}

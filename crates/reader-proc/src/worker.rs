//! The worker process's side: connect to the parent, check that it is still there, then read
//! the batches it sends with one reused buffer and answer with counts, until it hangs up.
//!
//! With a time limit, a watchdog thread tells the parent when one file takes longer than the batch's progress
//! interval — which file of the batch — so that a worker killed for the timeout
//! charges that file at once instead of after a retry (see `attribution.rs`). A read stuck in
//! the kernel holds the reading thread only; the watchdog still speaks.
//!
//! The `reader-proc-worker` binary is only [`main`]; it is started by the parent, never by hand.
//!
//! A worker program of your own runs your own work on every file besides counting:
//! [`main_with`]. One program can be both parent and worker ([`started_as_worker`]):
//!
//! ```no_run
//! use reader_core::{FileWork, Record, Schedule, Walk, Work};
//! use reader_proc::ProcReader;
//!
//! /// How many lines of a file are longer than 100 bytes.
//! struct LongLines;
//! struct Lines { current: u64, long: u64 }
//! impl Work for LongLines {
//!     type Output = u64;
//!     type File = Lines;
//!     fn start(&self) -> Lines { Lines { current: 0, long: 0 } }
//! }
//! impl FileWork for Lines {
//!     type Output = u64;
//!     fn update(&mut self, chunk: &[u8]) {
//!         for &byte in chunk {
//!             if byte == b'\n' {
//!                 self.long += u64::from(self.current > 100);
//!                 self.current = 0;
//!             } else {
//!                 self.current += 1;
//!             }
//!         }
//!     }
//!     fn finish(self) -> u64 { self.long + u64::from(self.current > 100) }
//! }
//!
//! fn main() -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
//!     if reader_proc::worker::started_as_worker() {
//!         return Ok(reader_proc::worker::main_with(LongLines));
//!     }
//!     let pool = ProcReader::new().worker(std::env::current_exe()?).output::<u64>().start()?;
//!     pool.read(&Walk::new(["."]), |record| {
//!         if let Record::File(file) = record {
//!             let long = file.output.as_ref().and_then(|o| o.get::<u64>()).copied();
//!             println!("{} {}", long.unwrap_or(0), file.path.display());
//!         }
//!     })?;
//!     Ok(std::process::ExitCode::SUCCESS)
//! }
//! ```
//!
//! (`crates/reader-proc/examples/long_lines.rs` is this program; the tests run it.)
//!
//! Its reads can be made to misbehave for tests with reader-core's fault injection (the
//! `fault-injection` feature and `READER_FAULTS`): sleep, hang, panic or abort on a file, or —
//! here only — answer a file with bytes that do not decode (`garbage:PATTERN`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcBytesSender, IpcSender};
use reader_core::defaults::BUFFER_SIZE;
use reader_core::{CustomWork, FileJob, Work, Worker, faults, read_job};
use serde::Serialize;

use crate::protocol::{
    self, Batch, Connect, Hello, PROTOCOL_VERSION, Reading, Reply, WireOutcome, WireResult,
};

/// Replies a careless batch gathers at most before sending them.
const MAX_PENDING: usize = 256;

/// The worker's command line: `--connect NAME --parent PID`.
struct Options {
    server: String,
    parent: u32,
}

fn parse_options(args: &[OsString]) -> Result<Options, String> {
    let mut server = None;
    let mut parent = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.to_str());
        match (arg.to_str(), value) {
            (Some("--connect"), Some(v)) => server = Some(v.to_string()),
            (Some("--parent"), Some(v)) => parent = v.parse().ok(),
            _ => break,
        }
    }
    match (server, parent) {
        (Some(server), Some(parent)) => Ok(Options { server, parent }),
        _ => Err("this program is started by reader-proc, not by hand \
                  (usage: reader-proc-worker --connect NAME --parent PID)"
            .into()),
    }
}

/// Makes sure this process dies with its parent: asks the kernel for SIGKILL when the parent
/// goes, then checks the parent did not go before that request was made.
fn tie_to_parent(parent: u32) -> Result<(), String> {
    // SAFETY: plain system calls without pointers.
    let (rc, ppid) = unsafe {
        (
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ),
            libc::getppid(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot ask to die with the parent: {}",
            std::io::Error::last_os_error()
        ));
    }
    if u32::try_from(ppid).ok() != Some(parent) {
        return Err(format!("the parent (pid {parent}) is gone"));
    }
    Ok(())
}

/// Runs the worker over the process's arguments. Exit status 0 when the parent hung up,
/// 2 with one line on stderr for anything else.
pub fn main() -> ExitCode {
    serve_parent(None)
}

/// Runs a worker that also runs `work` on every file, in the same read as the counts, and
/// sends its output back to the parent encoded; a parent that reads with this program says
/// the output's type with [`ProcReader::output`](crate::ProcReader::output) (the handshake
/// checks that the two agree). See the module docs for a whole program.
pub fn main_with<W>(work: W) -> ExitCode
where
    W: Work + 'static,
    W::Output: Serialize + Sync,
{
    let name = std::any::type_name::<W::Output>();
    serve_parent(Some((name, CustomWork::new(crate::own::Encoded(work)))))
}

/// Whether this process was started by reader-proc as a worker (its first argument is
/// `--connect`), for a program that is both the parent and its own worker.
pub fn started_as_worker() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "--connect")
}

fn serve_parent(work: Option<(&'static str, CustomWork)>) -> ExitCode {
    reader_core::defaults::fit_address_space_limit();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args, work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("reader-proc-worker: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[OsString], work: Option<(&'static str, CustomWork)>) -> Result<(), String> {
    crate::signals::unblock_in_worker();
    let options = parse_options(args)?;
    tie_to_parent(options.parent)?;

    let (requests_tx, requests) =
        ipc::bytes_channel().map_err(|e| format!("cannot create a channel: {e}"))?;
    let (replies, replies_rx) =
        ipc::bytes_channel().map_err(|e| format!("cannot create a channel: {e}"))?;
    let pid = std::process::id();
    let (name, work) = match work {
        Some((name, work)) => (name, Some(work)),
        None => ("", None),
    };
    let hello = protocol::encode(&Hello {
        version: PROTOCOL_VERSION,
        pid,
        work: name.to_string(),
    })
    .map_err(|e| e.to_string())?;
    let server = IpcSender::<Connect>::connect(options.server)
        .map_err(|e| format!("cannot connect to the parent: {e}"))?;
    server
        .send(Connect::Worker {
            hello,
            requests: requests_tx,
            replies: replies_rx,
        })
        .map_err(|e| format!("cannot reach the parent: {e}"))?;
    drop(server);

    let me = Worker::Process(pid);
    let mut buf = vec![0; BUFFER_SIZE];
    let mut watchdog: Option<Watch> = None;
    // The parent closing its end is the normal end of the session.
    while let Ok(bytes) = requests.recv() {
        let batch: Batch = protocol::decode(&bytes, "batch").map_err(|e| e.to_string())?;
        if batch.watch && watchdog.is_none() {
            watchdog = Some(Watch::start_watchdog(&replies)?);
        }
        let watch = watchdog.as_ref().filter(|_| batch.watch);
        serve(batch, me, &mut buf, &replies, watch, work.as_ref())?;
    }
    Ok(())
}

/// What the reading thread is on, shared with the watchdog ([`watch`]) through atomics, so
/// the reading thread pays a few stores a file and never a lock.
#[derive(Debug, Default)]
struct Watched {
    /// When the file being read was started (nanoseconds since `origin`, plus one); 0 between
    /// files. Written last when a file starts, first when it ends.
    since: AtomicU64,
    batch: AtomicU64,
    index: AtomicU32,
    /// The batch's progress interval, in microseconds.
    every_us: AtomicU64,
    /// The file last told about, as its `since`: each file is told once.
    told: AtomicU64,
}

/// Shortest wait between two looks of the watchdog.
const WATCH_AT_LEAST: Duration = Duration::from_millis(1);

/// The watchdog's interval before the first batch.
const FIRST_WATCH: Duration = Duration::from_millis(20);

/// The watchdog: looks twice a progress interval whether the reading thread has been on one
/// file for longer than that, and if so tells the parent which (once a file). Ends when the
/// parent is gone.
fn watch(watched: &Watched, origin: Instant, replies: &IpcBytesSender) {
    loop {
        let every = match watched.every_us.load(Ordering::Relaxed) {
            0 => FIRST_WATCH,
            us => Duration::from_micros(us),
        };
        thread::sleep((every / 2).max(WATCH_AT_LEAST));
        let since = watched.since.load(Ordering::Acquire);
        let (batch, index) = (
            watched.batch.load(Ordering::Relaxed),
            watched.index.load(Ordering::Relaxed),
        );
        // Between files, a file told about already, or fields of two files: nothing to tell.
        if since == 0
            || watched.told.load(Ordering::Relaxed) == since
            || watched.since.load(Ordering::Acquire) != since
        {
            continue;
        }
        let spent = origin
            .elapsed()
            .saturating_sub(Duration::from_nanos(since - 1));
        if spent < every {
            continue;
        }
        watched.told.store(since, Ordering::Relaxed);
        let reply = Reply {
            batch,
            results: Vec::new(),
            reading: Some(Reading {
                index,
                for_us: u64::try_from(spent.as_micros()).unwrap_or(u64::MAX),
            }),
        };
        if send(replies, &reply).is_err() {
            return;
        }
    }
}

/// The reading thread's side of [`Watched`].
struct Watch {
    watched: Arc<Watched>,
    origin: Instant,
}

impl Watch {
    /// Starts the watchdog thread; the reading thread tells it what it reads through the
    /// `Watch` returned.
    fn start_watchdog(replies: &IpcBytesSender) -> Result<Watch, String> {
        let watched = Arc::new(Watched::default());
        let origin = Instant::now();
        let (shared, replies) = (Arc::clone(&watched), replies.clone());
        thread::Builder::new()
            .name("reader-proc-watchdog".into())
            .spawn(move || watch(&shared, origin, &replies))
            .map_err(|e| format!("cannot start the watchdog thread: {e}"))?;
        Ok(Watch { watched, origin })
    }

    /// The progress interval of the batch about to be read.
    fn interval(&self, every: Duration) {
        let us = u64::try_from(every.as_micros()).unwrap_or(u64::MAX).max(1);
        self.watched.every_us.store(us, Ordering::Relaxed);
    }

    /// File `index` of `batch` is being read from now on.
    fn start(&self, batch: u64, index: u32) {
        let w = &self.watched;
        w.batch.store(batch, Ordering::Relaxed);
        w.index.store(index, Ordering::Relaxed);
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        w.since.store(now + 1, Ordering::Release);
    }

    /// No file is being read.
    fn end(&self) {
        self.watched.since.store(0, Ordering::Release);
    }
}

fn send(replies: &IpcBytesSender, reply: &Reply) -> Result<(), String> {
    let bytes = protocol::encode(reply).map_err(|e| e.to_string())?;
    replies
        .send(&bytes)
        .map_err(|e| format!("the parent is gone: {e}"))
}

/// Reads one batch and sends its results: after every file when the batch is careful,
/// otherwise when results have waited `progress_every`, and at the end.
fn serve(
    batch: Batch,
    me: Worker,
    buf: &mut [u8],
    replies: &IpcBytesSender,
    watch: Option<&Watch>,
    work: Option<&CustomWork>,
) -> Result<(), String> {
    let every = batch.progress_every();
    let Batch {
        id,
        careful,
        paths,
        parts,
        max_bytes,
        digests,
        ..
    } = batch;
    let mut parts = parts.into_iter().peekable();
    let flush = |results: Vec<WireResult>| -> Result<(), String> {
        send(
            replies,
            &Reply {
                batch: id,
                results,
                reading: None,
            },
        )
    };
    if careful {
        // An empty reply says the batch has started: a failure now is this batch's doing.
        flush(Vec::new())?;
    }
    if let Some(watch) = watch {
        watch.interval(every);
    }
    let mut pending = Vec::with_capacity(paths.len().min(MAX_PENDING));
    let mut since = Instant::now();
    for (at, path) in (0u32..).zip(paths) {
        let mut job = FileJob::new(PathBuf::from(OsString::from_vec(path.0)), None);
        job.part = parts.next_if(|(of, _)| *of == at).map(|(_, part)| part);
        job.max_bytes = max_bytes;
        job.digests = digests;
        job.work = work.cloned();
        if faults::garbles(&job.path) {
            return replies
                .send(b"\xff\xfe not a reply \x00")
                .map_err(|e| format!("the parent is gone: {e}"));
        }
        if let Some(watch) = watch {
            watch.start(id, at);
        }
        let result = read_job(job, buf, me);
        if let Some(watch) = watch {
            watch.end();
        }
        let output = result
            .output
            .as_ref()
            .and_then(|o| o.get::<Vec<u8>>())
            .cloned();
        pending.push(WireResult {
            elapsed_us: u64::try_from(result.elapsed.as_micros()).unwrap_or(u64::MAX),
            output,
            outcome: match (result.outcome, result.part) {
                (Ok(counts), Some(part)) => {
                    WireOutcome::CountedPart(counts, part.edges, result.blake3_subtrees)
                }
                (Ok(counts), None) => WireOutcome::Counted(counts, result.digests),
                (Err(err), _) => WireOutcome::Failed {
                    kind: err.kind(),
                    message: err.message().to_string(),
                },
            },
        });
        if careful || pending.len() >= MAX_PENDING || since.elapsed() >= every {
            flush(std::mem::take(&mut pending))?;
            since = Instant::now();
        }
    }
    if !pending.is_empty() {
        flush(pending)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_checked() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let ok = parse_options(&args(&["--connect", "srv", "--parent", "12"])).expect("ok");
        assert_eq!((ok.server.as_str(), ok.parent), ("srv", 12));
        for bad in [
            &[][..],
            &["--connect", "x"],
            &["--parent", "p", "--connect", "x"],
        ] {
            assert!(parse_options(&args(bad)).is_err(), "{bad:?}");
        }
    }
}

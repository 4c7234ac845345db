//! The seam every concurrency model plugs into, and the one function that runs a read.
//!
//! A model implements [`Schedule`]: given the run's [`Jobs`] and an [`Emitter`], it reads
//! until the queue is closed and drained, and returns its own [`Stats`]. Everything else is
//! done once, here, by [`read`]: check the PATHs, start discovery beside the schedule (or in
//! it, see [`Feed`]), hand every record to the caller's [`Sink`] on the caller's thread as it
//! arrives, total them in a [`Summary`], and stop the whole run when the sink says so.
//!
//! Nothing is lost whatever the schedule does: what it leaves in its queue, because it
//! returned early, failed or panicked, is reported as not read, with the reason
//! ([`Jobs`] keeps that promise), and a failure after records have streamed still ends with
//! the summary ([`Finished::error`]).

mod deadline;
mod emit;
mod queue;
mod sequential;

pub use deadline::{StuckRead, stuck_reads, timed_pool};
pub use emit::{Emitter, Tally};
pub use queue::{JobSender, Jobs};
pub use sequential::SequentialReader;

use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use crate::record::{FileResult, Record, Summary};
use crate::record::{RunError, StartError};
use crate::schedule::queue::RunState;
use crate::walk::{Discovered, FileJob, Walk};

/// Batches of records in flight to the caller before workers wait for it (backpressure on a
/// slow sink).
const RECORD_CHANNEL: usize = 256;

/// How long a run that is over waits for the threads that listed ahead of its walks to end
/// their listing (a listing of a healthy directory takes far less): one that has not ended is
/// counted as stuck ([`Summary::stuck_listings`]).
const SETTLE: Duration = Duration::from_millis(100);

/// A concurrency model: how the files of a run are read.
///
/// A schedule takes jobs from `jobs` until [`Jobs::next`] says the queue is done, reads them
/// (usually with [`read_job`](crate::read_job)) and sends every result to `out` (clone it
/// for each worker). It may stop early or fail: whatever it leaves in the queue is reported
/// as not read. Implementing it is all a model needs to be run by [`read`] — and by the
/// command-line frame, the conformance suite and the benchmark.
///
/// ```
/// use reader_core::{Concurrency, Emitter, Jobs, Record, RunError, Schedule, Walk, Worker, read_job};
///
/// /// Reads every file on the scheduler's own thread.
/// struct OneByOne;
///
/// impl Schedule for OneByOne {
///     type Stats = Concurrency;
///     fn strategy(&self) -> &'static str {
///         "one-by-one"
///     }
///     fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<Concurrency, RunError> {
///         let mut buf = vec![0; 64 * 1024];
///         while let Some(job) = jobs.next(&mut out) {
///             out.emit(read_job(job, &mut buf, Worker::Thread(0)));
///         }
///         Ok(Concurrency(1))
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one two\n")?;
/// let finished = OneByOne.read(&Walk::new([dir.path()]), |_: Record| {})?;
/// assert_eq!((finished.summary.files, finished.summary.words), (1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Schedule: Sync {
    /// What the model tells the summary beyond the totals (flattened into the JSON summary).
    type Stats: Stats;

    /// The model's name in the summary: `threads`, `async`, `hybrid`, `proc`, `sequential`.
    fn strategy(&self) -> &'static str;

    /// How discovery feeds this schedule; by default on a thread of its own.
    fn feed(&self) -> Feed {
        Feed::Concurrent
    }

    /// What must be ready before the run counts as started — reader-proc's worker processes
    /// connecting — done while discovery already walks, so that the two overlap. An error fails
    /// the run as a start error, before any record reaches the sink. By default nothing.
    fn prepare(&self) -> Result<(), StartError> {
        Ok(())
    }

    /// Reads `jobs` until the queue is closed and drained (or the run is stopped), sending
    /// every result to `out`, and returns what it did.
    fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Self::Stats, RunError>;

    /// Discovers and reads everything `walk` names with this schedule, handing each record to
    /// `sink` on the calling thread as soon as it is known: [`read`].
    fn read<K: Sink>(&self, walk: &Walk, sink: K) -> Result<Finished<Self::Stats>, StartError>
    where
        Self: Sized,
    {
        read(walk, self, sink)
    }
}

/// What a model tells the summary about its run. It serialises as a map (a struct with named
/// fields, or [`Concurrency`]'s empty one): its fields join the JSON summary's.
pub trait Stats: Serialize + Send {
    /// The concurrency the run used — threads, processes or files in flight: the summary's
    /// `jobs`.
    fn jobs(&self) -> usize;

    /// The figures for people, as `(label, text)` lines under the human summary.
    fn describe(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// The stats of a model that has nothing to say but its concurrency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Concurrency(pub usize);

impl Serialize for Concurrency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Flattened into the summary, whose `jobs` already says it all.
        s.collect_map(std::iter::empty::<((), ())>())
    }
}

impl Stats for Concurrency {
    fn jobs(&self) -> usize {
        self.0
    }
}

/// Where discovery runs for a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Feed {
    /// On a thread of its own, filling a bounded queue while the schedule reads.
    #[default]
    Concurrent,
    /// On the schedule's own thread: each [`Jobs::next`] walks on to the next file. For a
    /// schedule that promises to use one thread for everything (the sequential baseline).
    Inline,
}

/// Where the records of a run go, one at a time, on the thread that called [`read`].
///
/// Any `FnMut(Record)` is a sink that takes everything. A sink that has seen enough (its
/// output is closed, it found what it wanted) returns [`ControlFlow::Break`]: the run stops
/// discovering, its queues hand out no more jobs, the files being read finish, and [`read`]
/// returns with [`Finished::stopped`] set.
///
/// ```
/// use std::ops::ControlFlow;
/// use reader_core::{Record, Schedule, SequentialReader, Sink, Walk};
///
/// /// Keeps the first three records.
/// struct FirstThree<'a>(&'a mut Vec<Record>);
///
/// impl Sink for FirstThree<'_> {
///     fn record(&mut self, record: Record) -> ControlFlow<()> {
///         self.0.push(record);
///         if self.0.len() < 3 { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// for i in 0..100 {
///     std::fs::write(dir.path().join(format!("f{i}")), "x\n")?;
/// }
/// let mut first = Vec::new();
/// let finished = SequentialReader::new().read(&Walk::new([dir.path()]), FirstThree(&mut first))?;
/// assert!(finished.stopped);
/// assert_eq!(first.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Sink {
    /// Takes one record; `Break` stops the run.
    fn record(&mut self, record: Record) -> ControlFlow<()>;
}

impl<F: FnMut(Record)> Sink for F {
    fn record(&mut self, record: Record) -> ControlFlow<()> {
        self(record);
        ControlFlow::Continue(())
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Finished<S> {
    /// The totals of every record the sink took, the model's name and its concurrency.
    pub summary: Summary,
    /// What the model told about its run; `None` if it failed.
    pub stats: Option<S>,
    /// Why the run could not finish its work, if it could not: the model failed (every entry
    /// was still reported, the files it did not read as `worker_crashed`, `not read: …`), or
    /// discovery did (the walk ended early).
    pub error: Option<RunError>,
    /// The sink stopped the run: the summary counts only what it took.
    pub stopped: bool,
}

/// Discovers and reads everything `walk` names with `schedule`, handing each record to
/// `sink` on the calling thread as soon as it is known, and returns the totals.
///
/// Fails before anything is read if a PATH does not exist, the run's threads cannot be
/// started or the schedule cannot be prepared ([`Schedule::prepare`], while discovery already
/// walks; nothing reaches the sink then); after that, every discovered entry becomes exactly
/// one record, whatever the schedule does.
pub fn read<S, K>(walk: &Walk, schedule: &S, sink: K) -> Result<Finished<S::Stats>, StartError>
where
    S: Schedule,
    K: Sink,
{
    walk.check()?;
    run(Source::Walk(walk), schedule, sink)
}

/// Reads exactly `jobs` with `schedule`, as [`read`] reads what a walk discovers: a run over
/// a plan made beforehand — byte ranges of files ([`FileJob::part`]), files known to exist —
/// with nothing walked or looked up first. Each job becomes exactly one record, in the order
/// the schedule finishes them; a file that is gone or unreadable is a failed record.
///
/// ```
/// use reader_core::{FileJob, Record, SequentialReader, read_jobs};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\n")?;
/// let jobs = vec![FileJob::new(&path, None), FileJob::new(dir.path().join("gone"), None)];
/// let finished = read_jobs(jobs, &SequentialReader::new(), |_: Record| {})?;
/// assert_eq!((finished.summary.ok, finished.summary.failed), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_jobs<S, K>(
    jobs: Vec<FileJob>,
    schedule: &S,
    sink: K,
) -> Result<Finished<S::Stats>, StartError>
where
    S: Schedule,
    K: Sink,
{
    run(Source::Jobs(jobs), schedule, sink)
}

/// Where the jobs of a run come from.
enum Source<'w> {
    /// Discovered by a walk.
    Walk(&'w Walk),
    /// Given, in order.
    Jobs(Vec<FileJob>),
}

/// [`read`] and [`read_jobs`]: the run, from its `source`.
fn run<S, K>(
    source: Source<'_>,
    schedule: &S,
    mut sink: K,
) -> Result<Finished<S::Stats>, StartError>
where
    S: Schedule,
    K: Sink,
{
    let started = Instant::now();
    let run = RunState::new();
    let (tx, rx) = mpsc::sync_channel::<Vec<Record>>(RECORD_CHANNEL);
    let out = Emitter::new(tx);
    let mut summary = Summary::new(schedule.strategy());
    let mut stopped = false;
    let outcome = thread::scope(|scope| {
        // A list has nothing to walk: it is queued, whatever the schedule's feed.
        let (sender, jobs) = match (schedule.feed(), &source) {
            (Feed::Inline, Source::Walk(walk)) => {
                (None, queue::inline(&run, walk.entries(), out.clone()))
            }
            _ => {
                let (sender, jobs) = queue::queue(&run, out.clone());
                (Some(sender), jobs)
            }
        };
        let discovery = match sender {
            Some(sender) => {
                let discovery_out = out.clone();
                let walking = move || {
                    let feed = || match source {
                        Source::Walk(walk) => discover(walk, sender, discovery_out),
                        Source::Jobs(jobs) => queue_all(jobs, sender),
                    };
                    panic::catch_unwind(AssertUnwindSafe(feed))
                        .err()
                        .map(|payload| RunError::panicked("discovery", payload.as_ref()))
                };
                let spawned = thread::Builder::new()
                    .name("discovery".into())
                    .spawn_scoped(scope, walking)
                    .map_err(|source| StartError::Spawn {
                        what: "the discovery thread".into(),
                        source,
                    })?;
                Some(spawned)
            }
            None => None,
        };
        if let Err(err) = schedule.prepare() {
            // Discovery stops, and whatever it sent is dropped with the channel, unread.
            run.stop();
            drop(rx);
            return Err(err);
        }
        let scheduler = spawn_schedule(scope, "scheduler", schedule, jobs, out.clone())
            .map_err(|err| start_error("the scheduler thread", err));
        let scheduler = match scheduler {
            Ok(scheduler) => scheduler,
            Err(err) => {
                run.stop();
                drop(rx);
                return Err(err);
            }
        };
        drop(out);
        for batch in rx {
            for record in batch {
                if stopped {
                    break;
                }
                summary.add(&record);
                if sink.record(record).is_break() {
                    stopped = true;
                    run.stop();
                }
            }
        }
        let scheduled = scheduler
            .join()
            .unwrap_or_else(|payload| Err(RunError::panicked("the scheduler", payload.as_ref())));
        // A discovery that panicked ended the walk early: what it had not reached is unknown.
        let walked = discovery.and_then(|d| d.join().ok().flatten());
        Ok((scheduled, walked))
    })?;
    summary.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    summary.stuck_reads = crate::schedule::deadline::stuck_reads() as u64;
    crate::walk::settle(SETTLE);
    summary.stuck_listings = crate::walk::stuck_listings() as u64;
    let (scheduled, walked) = outcome;
    let (stats, error) = match scheduled {
        Ok(stats) => (Some(stats), walked),
        Err(err) => (None, Some(err)),
    };
    summary.jobs = stats.as_ref().map_or(0, Stats::jobs);
    Ok(Finished {
        summary,
        stats,
        error,
        stopped,
    })
}

fn start_error(what: &str, err: RunError) -> StartError {
    match err {
        RunError::Spawn { source, .. } => StartError::Spawn {
            what: what.into(),
            source,
        },
        other => StartError::Model(Box::new(other)),
    }
}

/// Discovery's thread: walks, sending files to the queue and everything else on as records,
/// until the walk ends or the run is stopped.
fn discover(walk: &Walk, mut sender: JobSender, mut out: Emitter) {
    let _ = walk.run(|entry| {
        match entry {
            Discovered::File(job) => {
                sender.push(job);
                if sender.is_stopped() {
                    return ControlFlow::Break(());
                }
            }
            Discovered::Skipped(skipped) => out.record(Record::Skipped(skipped)),
            Discovered::Failed(err) => out.emit(FileResult::failed(err)),
        }
        ControlFlow::Continue(())
    });
}

/// The thread that queues a list of jobs ([`read_jobs`]), until it is queued or the run is
/// stopped.
fn queue_all(jobs: Vec<FileJob>, mut sender: JobSender) {
    for job in jobs {
        sender.push(job);
        if sender.is_stopped() {
            return;
        }
    }
}

/// Runs `work` on the calling thread and on up to `threads - 1` more, each with its own
/// clone of `jobs` and `out`, and returns how many ran: when the system will not give all the
/// threads, the pool reads with those it has. `work` gets its thread's index (0 for the caller).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use reader_core::{Concurrency, Emitter, Jobs, RunError, Schedule, SequentialReader, Walk, read_job, Worker};
///
/// /// A pool of four threads, each reading with its own buffer.
/// struct Four;
/// impl Schedule for Four {
///     type Stats = Concurrency;
///     fn strategy(&self) -> &'static str { "four" }
///     fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
///         let threads = reader_core::pool(4, jobs, out, |index, jobs, mut out| {
///             let mut buf = vec![0; 64 * 1024];
///             while let Some(job) = jobs.next(&mut out) {
///                 out.emit(read_job(job, &mut buf, Worker::Thread(index as u32)));
///             }
///         });
///         Ok(Concurrency(threads))
///     }
/// }
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one two\n")?;
/// let finished = Four.read(&Walk::new([dir.path()]), |_| {})?;
/// assert_eq!((finished.summary.ok, finished.stats.map(|s| s.0)), (1, Some(4)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pool<W>(threads: usize, jobs: &Jobs, out: Emitter, work: W) -> usize
where
    W: Fn(usize, &Jobs, Emitter) + Sync,
{
    thread::scope(|scope| {
        let work = &work;
        let mut started = 1;
        for index in 1..threads {
            let (jobs, out) = (jobs.clone(), out.clone());
            let spawned = thread::Builder::new()
                .name(format!("reader-{index}"))
                .spawn_scoped(scope, move || work(index, &jobs, out));
            if spawned.is_err() {
                break;
            }
            started += 1;
        }
        work(0, jobs, out);
        started
    })
}

/// Runs `schedule` over `jobs` on a thread of its own named `name`, sending records to `out`:
/// how a model made of parts (the hybrid) starts each part, and how [`read`] starts the whole.
///
/// Whatever the schedule leaves in the queue — because it returned, failed or panicked — is
/// reported as not read, with its error as the reason; a panic becomes
/// [`RunError::Panicked`]. If the thread cannot be started, the queue's jobs are reported the
/// same way and the error is returned.
pub fn spawn_schedule<'scope, 'env, S: Schedule>(
    scope: &'scope Scope<'scope, 'env>,
    name: &str,
    schedule: &'scope S,
    jobs: Jobs,
    out: Emitter,
) -> Result<ScopedJoinHandle<'scope, Result<S::Stats, RunError>>, RunError> {
    let fallback = jobs.clone();
    let what = name.to_string();
    let spawned = thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| schedule.schedule(&jobs, out)))
                .unwrap_or_else(|payload| Err(RunError::panicked(what, payload.as_ref())));
            if let Err(err) = &result {
                jobs.leftovers_because(err.to_string());
            }
            result
        });
    spawned.map_err(|source| {
        let err = RunError::Spawn {
            what: format!("the {name} thread"),
            source,
        };
        fallback.leftovers_because(err.to_string());
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::read_job;
    use crate::record::ErrorKind;
    use crate::record::Worker;
    use crate::work::Counts;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tree(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..n {
            fs::write(dir.path().join(format!("f{i}")), "a b\n").expect("write");
        }
        dir
    }

    /// A schedule that cannot be prepared (a process model whose workers do not start).
    struct Unprepared;

    impl Schedule for Unprepared {
        type Stats = Concurrency;
        fn strategy(&self) -> &'static str {
            "unprepared"
        }
        fn prepare(&self) -> Result<(), StartError> {
            // Long enough for discovery to have walked and sent its records.
            std::thread::sleep(std::time::Duration::from_millis(50));
            Err(StartError::Invalid("the workers did not start".into()))
        }
        fn schedule(&self, _: &Jobs, _: Emitter) -> Result<Concurrency, RunError> {
            unreachable!("never scheduled when prepare fails")
        }
    }

    /// A schedule that fails to prepare fails the run as a start error, and nothing discovery
    /// found meanwhile reaches the sink — not even records it had sent (a skipped symlink).
    #[test]
    fn a_failed_prepare_is_a_start_error_and_reports_nothing() {
        let dir = tree(200);
        std::os::unix::fs::symlink(dir.path().join("f0"), dir.path().join("link")).expect("link");
        let mut records = 0;
        let result = read(&Walk::new([dir.path()]), &Unprepared, |_: Record| {
            records += 1;
        });
        let err = result.expect_err("a start error");
        assert_eq!(err.to_string(), "the workers did not start");
        assert_eq!(records, 0);
    }

    /// A pool of `threads` threads, each reading at most `limit` files before it stops (or
    /// panics, if `panic` is set). Each record is sent on its own, so that the sink sees it as
    /// soon as the record channel lets it: the pool reads at most [`RECORD_CHANNEL`] records
    /// ahead of the sink, and what one thread has in hand.
    struct Pool {
        threads: u32,
        limit: usize,
        panic: bool,
        /// Files its threads have taken from the queue and read, all threads together.
        reads: AtomicUsize,
    }

    impl Schedule for Pool {
        type Stats = Concurrency;
        fn strategy(&self) -> &'static str {
            "test-pool"
        }
        fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
            thread::scope(|s| {
                for i in 0..self.threads {
                    let (jobs, mut out) = (jobs.clone(), out.clone());
                    s.spawn(move || {
                        let mut buf = vec![0; 64];
                        for _ in 0..self.limit {
                            let Some(job) = jobs.next(&mut out) else {
                                break;
                            };
                            self.reads.fetch_add(1, Ordering::Relaxed);
                            out.emit(read_job(job, &mut buf, Worker::Thread(i)));
                            out.flush();
                        }
                    });
                }
            });
            assert!(!self.panic, "the strategy gave up");
            Ok(Concurrency(self.threads as usize))
        }
    }

    fn crashed(records: &[Record]) -> usize {
        records
            .iter()
            .filter(|r| matches!(r, Record::File(f) if f.outcome.as_ref().is_err_and(|e| e.kind() == ErrorKind::WorkerCrashed)))
            .count()
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Jobs>();
        is::<JobSender>();
        is::<Finished<Concurrency>>();
    }

    #[test]
    fn every_file_once_through_several_workers() {
        let dir = tree(500);
        let mut records = Vec::new();
        let pool = Pool {
            threads: 3,
            limit: usize::MAX,
            panic: false,
            reads: AtomicUsize::new(0),
        };
        let finished = pool
            .read(&Walk::new([dir.path()]), |r| records.push(r))
            .expect("read");
        assert_eq!(records.len(), 500);
        assert_eq!(pool.reads.load(Ordering::Relaxed), 500);
        assert_eq!(
            finished.summary.counts(),
            Counts {
                bytes: 2000,
                lines: 500,
                words: 1000
            }
        );
        assert_eq!(
            (finished.summary.jobs, finished.summary.strategy),
            (3, "test-pool")
        );
        assert!(finished.error.is_none() && !finished.stopped);
    }

    #[test]
    fn a_strategy_that_stops_early_or_panics_loses_nothing() {
        for panic in [false, true] {
            let dir = tree(300);
            let mut records = Vec::new();
            let pool = Pool {
                threads: 1,
                limit: 10,
                panic,
                reads: AtomicUsize::new(0),
            };
            let finished = pool
                .read(&Walk::new([dir.path()]), |r| records.push(r))
                .expect("read");
            assert_eq!(records.len(), 300, "panic: {panic}");
            assert_eq!(crashed(&records), 290, "panic: {panic}");
            assert_eq!(finished.summary.failed, 290);
            assert_eq!(finished.error.is_some(), panic);
            if panic {
                let message = records.iter().rev().find_map(|r| match r {
                    Record::File(f) => f.outcome.as_ref().err().map(|e| e.message().to_string()),
                    Record::Skipped(_) => None,
                });
                assert_eq!(
                    message.as_deref(),
                    Some("not read: scheduler panicked: the strategy gave up")
                );
            }
        }
    }

    #[test]
    fn a_sub_queue_carries_more_than_its_capacity_and_reports_its_leftovers() {
        struct Relay;
        impl Schedule for Relay {
            type Stats = Concurrency;
            fn strategy(&self) -> &'static str {
                "relay"
            }
            fn schedule(&self, jobs: &Jobs, mut out: Emitter) -> Result<Concurrency, RunError> {
                let (mut sender, sub_jobs) = jobs.sub_queue(out.clone());
                let pool = Pool {
                    threads: 2,
                    limit: 5000,
                    panic: false,
                    reads: AtomicUsize::new(0),
                };
                thread::scope(|scope| {
                    let reading = spawn_schedule(scope, "pool", &pool, sub_jobs, out.clone())?;
                    while let Some(job) = jobs.next(&mut out) {
                        for _ in 0..5000 {
                            sender.push(job.clone());
                        }
                    }
                    sender.close();
                    reading.join().unwrap_or(Ok(Concurrency(0)))
                })
            }
        }
        let dir = tree(2);
        let mut records = Vec::new();
        let finished = Relay
            .read(&Walk::new([dir.path()]), |r| records.push(r))
            .expect("read");
        // 10,000 jobs: the pool's two threads read 5,000 each, nothing is left over.
        assert_eq!(records.len(), 10_000);
        assert_eq!(finished.summary.words, 20_000);
        assert_eq!(crashed(&records), 0);
    }

    #[test]
    fn a_sink_that_stops_stops_the_run() {
        let dir = tree(5000);
        let mut taken = 0;
        struct Three<'a>(&'a mut usize);
        impl Sink for Three<'_> {
            fn record(&mut self, _: Record) -> ControlFlow<()> {
                *self.0 += 1;
                if *self.0 < 3 {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }
        }
        let pool = Pool {
            threads: 2,
            limit: usize::MAX,
            panic: false,
            reads: AtomicUsize::new(0),
        };
        let finished = pool
            .read(&Walk::new([dir.path()]), Three(&mut taken))
            .expect("read");
        assert!(finished.stopped);
        assert_eq!((taken, finished.summary.files), (3, 3));
        // The pool stopped too: past the sink's third record it read at most what the record
        // channel holds and, on each thread, the file it was sending and one it took as the
        // run stopped — not the tree.
        let reads = pool.reads.load(Ordering::Relaxed);
        let most = 3 + RECORD_CHANNEL + 2 * 2;
        assert!(
            (3..=most).contains(&reads),
            "{reads} of 5000 files read, more than {most}, though the sink stopped at the third"
        );
    }

    #[test]
    fn a_missing_path_fails_before_anything_is_read() {
        let pool = Pool {
            threads: 1,
            limit: 1,
            panic: false,
            reads: AtomicUsize::new(0),
        };
        let err = pool
            .read(&Walk::new(["/no/such/path"]), |_| panic!("no record"))
            .expect_err("missing");
        assert!(matches!(err, StartError::Path { .. }), "{err}");
    }
}

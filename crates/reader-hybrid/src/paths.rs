//! The hybrid's three paths — the async path, the thread pool and the splitter — each a
//! schedule of its own reading a queue of its own, started through core's seam
//! ([`spawn_schedule`]) when the first file goes its way, so a tree without small or without
//! huge files never starts that path. Each path's emitter counts what it reported in a
//! [`Tally`]: the routes of the summary.

use std::thread::{Scope, ScopedJoinHandle};

use crate::route::Route;
use reader_core::{Emitter, FileJob, JobSender, Jobs, RunError, Schedule, Tally, spawn_schedule};

/// One path: its queue, the schedule that reads it, and whether that has started.
struct Path<'scope, S: Schedule> {
    name: &'static str,
    schedule: &'scope S,
    sender: JobSender,
    /// The queue's reading handle, until the path starts with it.
    jobs: Option<Jobs>,
    out: Emitter,
    running: Option<ScopedJoinHandle<'scope, Result<S::Stats, RunError>>>,
    failed: Option<RunError>,
}

impl<'scope, S: Schedule> Path<'scope, S> {
    fn new(name: &'static str, schedule: &'scope S, jobs: &Jobs, out: Emitter) -> Self {
        let (sender, path_jobs) = jobs.sub_queue(out.clone());
        Path {
            name,
            schedule,
            sender,
            jobs: Some(path_jobs),
            out,
            running: None,
            failed: None,
        }
    }

    /// Starts the path's schedule on a thread of its own, unless it has started. A path that
    /// cannot start reports what reaches its queue as not read (core's queue does that).
    fn start<'env>(&mut self, scope: &'scope Scope<'scope, 'env>) {
        let Some(jobs) = self.jobs.take() else {
            return;
        };
        match spawn_schedule(scope, self.name, self.schedule, jobs, self.out.clone()) {
            Ok(running) => self.running = Some(running),
            Err(err) => self.failed = Some(err),
        }
    }

    /// Closes the queue and waits for the path to drain it: what went wrong, if anything, and
    /// the path's stats, if it ran to its end.
    fn finish(self) -> (Option<RunError>, Option<S::Stats>) {
        let Path {
            sender,
            running,
            failed,
            ..
        } = self;
        sender.close();
        let ended = running.map(|running| {
            running
                .join()
                .unwrap_or_else(|payload| Err(RunError::panicked("a path", payload.as_ref())))
        });
        match ended {
            Some(Ok(stats)) => (failed, Some(stats)),
            Some(Err(err)) => (failed.or(Some(err)), None),
            None => (failed, None),
        }
    }
}

/// The three paths of one run, in [`Route`] order, and what each reported.
pub(crate) struct Paths<'scope, 'env, A: Schedule, T: Schedule, P: Schedule> {
    scope: &'scope Scope<'scope, 'env>,
    lanes: Path<'scope, A>,
    pool: Path<'scope, T>,
    split: Path<'scope, P>,
}

/// Files and bytes each path reported: async, threads, split.
/// What each path read: its files and bytes, for the summary's routes.
#[derive(Debug, Default)]
pub(crate) struct Tallies {
    /// The async path's.
    pub(crate) async_path: Tally,
    /// The thread pool's.
    pub(crate) pool: Tally,
    /// The splitter's.
    pub(crate) split: Tally,
}

impl<'scope, 'env, A: Schedule, T: Schedule, P: Schedule> Paths<'scope, 'env, A, T, P> {
    /// The paths over queues of the run of `jobs`, reporting through `out`; none started.
    pub(crate) fn new(
        scope: &'scope Scope<'scope, 'env>,
        jobs: &Jobs,
        out: &Emitter,
        (lanes, pool, split): (&'scope A, &'scope T, &'scope P),
        tallies: &Tallies,
    ) -> Self {
        let counted = |tally: &Tally| out.clone().counting(tally);
        Paths {
            scope,
            lanes: Path::new("hybrid-async", lanes, jobs, counted(&tallies.async_path)),
            pool: Path::new("hybrid-pool", pool, jobs, counted(&tallies.pool)),
            split: Path::new("hybrid-split", split, jobs, counted(&tallies.split)),
        }
    }

    /// Starts the pool now: it reads whatever sizes cannot be looked up, and most trees have
    /// files for it.
    pub(crate) fn start_pool(&mut self) {
        self.pool.start(self.scope);
    }

    /// Sends each job to its path, starting the path with its first file.
    pub(crate) fn send(&mut self, routed: impl IntoIterator<Item = (Route, FileJob)>) {
        for (route, job) in routed {
            match route {
                Route::Async => {
                    self.lanes.start(self.scope);
                    self.lanes.sender.push(job);
                }
                Route::Threads => {
                    self.pool.start(self.scope);
                    self.pool.sender.push(job);
                }
                Route::Split => {
                    self.split.start(self.scope);
                    self.split.sender.push(job);
                }
            }
        }
        self.lanes.sender.flush();
        self.pool.sender.flush();
        self.split.sender.flush();
    }

    /// Closes every queue and waits for the paths: the first failure, if any, and the async
    /// path's stats, if it ran.
    pub(crate) fn finish(self) -> (Option<RunError>, Option<A::Stats>) {
        let Paths {
            lanes, pool, split, ..
        } = self;
        let (lanes, lane_stats) = lanes.finish();
        let failures = [lanes, pool.finish().0, split.finish().0];
        (failures.into_iter().flatten().next(), lane_stats)
    }
}

//! Listing directories ahead of the walk when the tree is not cached.
//!
//! Discovery is one walker, in one order, because that is what keeps its contract (each entry
//! once, loops, repeated names, errors under the right path: `entries.rs`). On a cold tree
//! that walker waits for the device at every directory, one after another: on `/usr/include`
//! (820 directories) the listings alone take 73 ms cold against 5 ms cached. So once the walk
//! finds its listings slow, several in a row ([`Pace`]), a few threads list the rest of the root's directories
//! ahead of it, in parallel, and throw what they read away: the walker then finds each
//! directory's blocks in the page cache. Nothing they see reaches a reader.
//!
//! They apply the filters that prune directories cheaply ([`Prune`]: hidden names, `--exclude`
//! globs, the depth limit), follow no links, and stop when the walk of the root ends or the
//! queue of directories to list is full. They are never waited for: a listing stuck in the
//! kernel (a dead network mount) holds one of them, not the walk. But a thread in the kernel
//! keeps the process from being reaped, so their listings are counted while they last
//! ([`listing_now`]), and a listing that has not ended a moment after the run is among the
//! run's stuck listings ([`crate::stuck_listings`]).

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ignore::gitignore::Gitignore;

use crate::defaults;
use crate::sys;

/// Threads listing ahead: a device answers several reads at once, and a thread waits for each.
const THREADS: usize = 8;
/// A directory's first listing call slower than this came from the device, not the cache.
/// Measured on `/usr/include`, the walker's call that lists a directory: cached, a median of
/// 4 µs and 99 % under 44 µs (the root's, the process's first, 65 µs); cold, 80–200 µs.
const SLOW: Duration = Duration::from_micros(50);
/// Slow listings in a row before the threads start: one slow listing of a cached tree is a
/// thread put off its core, or the process's first listing.
const SLOW_LISTINGS: u32 = 3;
/// Directories waiting to be listed ahead at most; past it the read-ahead lists no deeper.
const QUEUE: usize = 1 << 16;
/// Stack of each thread: a listing needs little.
const STACK: usize = 128 << 10;

/// Listings of the threads listing ahead, in this process, that have not ended.
static LISTING_NOW: AtomicUsize = AtomicUsize::new(0);

/// How many listings of threads listing ahead have not ended.
pub(super) fn listing_now() -> usize {
    LISTING_NOW.load(Ordering::Acquire)
}

/// Waits at most `grace` for the listings of the threads listing ahead to end: once a run is
/// over, the threads of its walks end with their listing, unless it is stuck.
pub(crate) fn settle(grace: Duration) {
    let until = Instant::now() + grace;
    while listing_now() > 0 && Instant::now() < until {
        thread::sleep(Duration::from_millis(1));
    }
}

/// One listing of a thread listing ahead, counted in [`LISTING_NOW`] while it lasts.
struct Listing;

impl Listing {
    fn begin() -> Listing {
        LISTING_NOW.fetch_add(1, Ordering::AcqRel);
        Listing
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        LISTING_NOW.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How fast the walk's own listings are; says when to start listing ahead.
///
/// A listing is slow when it took longer than [`SLOW`] *and* the walker slept meanwhile (a
/// voluntary context switch: it waited for the device or a server). A listing of a cached
/// directory that took long only because the walker was put off its core — every core busy
/// reading — is not slow: on a warm tree with two cores that happened in one run of six.
#[derive(Debug, Default)]
pub(super) struct Pace {
    slow: u32,
}

impl Pace {
    /// Runs `list`, one listing call of the walker, and takes note of how it went; says
    /// (true, once) when enough in a row were slow.
    pub(super) fn time<T>(&mut self, list: impl FnOnce() -> T) -> (T, bool) {
        let (listed, took) = timed(list);
        (listed, self.listed(took))
    }

    /// Takes note of one listing call that `took` as long, and waited or not (see [`timed`]);
    /// true once, when enough in a row were slow.
    pub(super) fn listed(&mut self, took: Took) -> bool {
        let Took { took, slept } = took;
        if self.slow >= SLOW_LISTINGS {
            return false;
        }
        if took < SLOW || !slept {
            self.slow = 0;
            return false;
        }
        self.slow += 1;
        self.slow == SLOW_LISTINGS
    }
}

/// How long a listing call took, and whether the thread that made it slept meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Took {
    took: Duration,
    /// It took longer than [`SLOW`] and the thread gave up its core meanwhile.
    slept: bool,
}

/// Runs `list`, one listing call, on the calling thread, and says how it went.
pub(super) fn timed<T>(list: impl FnOnce() -> T) -> (T, Took) {
    let slept_before = voluntary_switches();
    let started = Instant::now();
    let listed = list();
    let took = started.elapsed();
    let slept = took >= SLOW && voluntary_switches() != slept_before;
    (listed, Took { took, slept })
}

/// How many times the calling thread has given up its core to wait (`ru_nvcsw` of
/// `RUSAGE_THREAD`); 0 if the kernel does not say.
fn voluntary_switches() -> i64 {
    sys::voluntary_switches().unwrap_or(0)
}

/// What the threads leave unlisted, as the walker would.
#[derive(Debug, Clone, Default)]
pub(super) struct Prune {
    pub(super) hidden: bool,
    pub(super) excludes: Option<Arc<Gitignore>>,
    pub(super) max_depth: Option<usize>,
}

impl Prune {
    fn keeps(&self, path: &Path, depth: usize) -> bool {
        let hidden = self.hidden
            && path
                .file_name()
                .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."));
        let excluded = self
            .excludes
            .as_ref()
            .is_some_and(|globs| globs.matched(path, true).is_ignore());
        !hidden && !excluded && self.max_depth.is_none_or(|max| depth < max)
    }
}

/// Threads listing the directories under one root ahead of the walk; told to stop when
/// dropped, never waited for.
#[derive(Debug)]
pub(super) struct ReadAhead {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    stop: AtomicBool,
    prune: Prune,
}

#[derive(Debug, Default)]
struct Queue {
    /// Directories to list, with their depth, in the walk's order (front first).
    dirs: VecDeque<(PathBuf, usize)>,
    /// Threads listing a directory now, which may queue more.
    busy: usize,
}

impl ReadAhead {
    /// Starts listing every directory beneath `root` ahead of the walk; `None` if no thread
    /// could be started, or the open-files limit is too low to spare descriptors for them (the
    /// walk goes on without).
    pub(super) fn start(root: &Path, prune: Prune) -> Option<ReadAhead> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                dirs: VecDeque::from([(root.to_path_buf(), 0)]),
                busy: 0,
            }),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
            prune,
        });
        // Each holds a directory open while it lists it, out of the descriptors kept for what
        // is not a file being read: none where the open-files limit leaves little room.
        let threads = defaults::clamp_to_address_space(THREADS).min(defaults::fd_budget() / 32);
        let started = (0..threads)
            .filter(|_| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name("discover-ahead".into())
                    .stack_size(STACK)
                    .spawn(move || shared.list_until_done())
                    .is_ok()
            })
            .count();
        (started > 0).then_some(ReadAhead { shared })
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.ready.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        crate::sync::lock(&self.queue)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Lists directories from the queue, queueing the subdirectories found, until the queue is
    /// empty with no thread to fill it, or the walk has ended.
    fn list_until_done(&self) {
        let mut queue = self.lock();
        loop {
            if self.stopped() {
                return;
            }
            let Some((dir, depth)) = queue.dirs.pop_front() else {
                if queue.busy == 0 {
                    self.ready.notify_all();
                    return;
                }
                queue = self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            queue.busy += 1;
            drop(queue);
            let found = self.list(&dir, depth + 1);
            queue = self.lock();
            queue.busy -= 1;
            let room = QUEUE.saturating_sub(queue.dirs.len());
            // In front, in listing order: the walker goes into them next.
            for sub in found.into_iter().take(room).rev() {
                queue.dirs.push_front((sub, depth + 1));
            }
            self.ready.notify_all();
        }
    }

    /// The subdirectories of `dir` to list ahead (entries of `depth`), from its listing; none
    /// if it cannot be listed (the walker reports that).
    fn list(&self, dir: &Path, depth: usize) -> Vec<PathBuf> {
        let _counted = Listing::begin();
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut subdirs = Vec::new();
        for entry in entries.flatten() {
            if self.stopped() {
                break;
            }
            // The listing's own file type: a link is not followed, nothing is looked up.
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                let path = entry.path();
                if self.prune.keeps(&path, depth) {
                    subdirs.push(path);
                }
            }
        }
        subdirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_starts_after_enough_slow_listings_in_a_row_and_only_once() {
        let mut pace = Pace::default();
        let took = |took, slept| Took { took, slept };
        let (slow, fast) = (took(SLOW * 2, true), took(Duration::from_micros(5), true));
        assert!(!pace.listed(fast));
        for _ in 1..SLOW_LISTINGS {
            assert!(!pace.listed(slow));
        }
        assert!(!pace.listed(fast), "a fast listing breaks the row");
        for _ in 1..SLOW_LISTINGS {
            assert!(!pace.listed(slow));
        }
        assert!(
            !pace.listed(took(SLOW * 2, false)),
            "a listing that did not wait breaks the row"
        );
        for _ in 1..SLOW_LISTINGS {
            assert!(!pace.listed(slow));
        }
        assert!(pace.listed(slow));
        assert!(!pace.listed(slow));
    }

    #[test]
    fn a_thread_that_sleeps_is_seen_to_have_waited() {
        let mut pace = Pace::default();
        let ((), _) = pace.time(|| thread::sleep(SLOW * 4));
        assert_eq!(pace.slow, 1, "slept for longer than a slow listing");
        let ((), _) = pace.time(|| {
            let spin = Instant::now();
            while spin.elapsed() < SLOW * 4 {
                std::hint::spin_loop();
            }
        });
        assert_eq!(pace.slow, 0, "busy all along: it never waited");
    }

    #[test]
    fn the_threads_end_when_nothing_is_left_and_prune_as_the_walker_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["a/b/c", "a/.hidden/x", "d", "deep/1/2/3/4"] {
            fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let prune = Prune {
            hidden: true,
            excludes: None,
            max_depth: Some(3),
        };
        let ahead = ReadAhead::start(dir.path(), prune).expect("threads");
        // Each thread ends once nothing is left to list; then only this handle holds it.
        let shared = Arc::clone(&ahead.shared);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&shared) > 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the threads did not end"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let queue = shared.lock();
        assert!(queue.dirs.is_empty() && queue.busy == 0);
        settle(Duration::from_secs(10));
        assert_eq!(listing_now(), 0, "no listing is counted once they end");
        assert!(!shared.prune.keeps(&dir.path().join("a/.hidden"), 2));
        assert!(!shared.prune.keeps(&dir.path().join("deep/1/2"), 3));
        assert!(shared.prune.keeps(&dir.path().join("deep/1"), 2));
    }
}

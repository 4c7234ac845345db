//! The time limit of the walk (`--timeout`): [`Patience`] makes the calls a walk waits on —
//! listing a directory, looking a PATH up — on a helper thread and waits for each at most the
//! limit; [`stuck_listings`] counts those given up on that have not ended.
//!
//! It follows the design of the per-file limit (`deadline.rs`): a call that waits on a stalled
//! server cannot be cancelled (a listing whose request a FUSE or NFS server has taken sleeps in
//! the kernel, and not even SIGKILL ends it before the answer comes), so the helper in it is
//! never joined. The walk gives up on it, reports what it was for as `timeout`, and makes the
//! next call on a new helper; the old one, should its call ever end, drops the result and ends.
//! Each helper keeps a state of its own across calls (the directories it keeps open), which a
//! helper given up on takes with it. Without a limit every call is made on the calling thread.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::record::{FileError, panic_message};
use crate::sync::lock;

/// Stack of a helper: a listing needs little.
const STACK: usize = 256 << 10;

/// Calls given up on after their time limit, in this process, that have not ended yet.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// The directory listings of this process that its runs do not wait for and that have not
/// ended: those given up on after the time limit, and those of the threads listing ahead of a
/// walk (`ahead.rs`) still in the kernel. Each keeps a thread in the kernel, and the process
/// cannot be reaped before they end.
pub fn stuck_listings() -> usize {
    STUCK.load(Ordering::Acquire) + crate::walk::ahead::listing_now()
}

/// A call given up on, counted in [`stuck_listings`] until dropped — by its helper, once the
/// call has ended.
#[derive(Debug)]
struct StuckCall(());

impl StuckCall {
    fn begin() -> StuckCall {
        STUCK.fetch_add(1, Ordering::AcqRel);
        StuckCall(())
    }
}

impl Drop for StuckCall {
    fn drop(&mut self) {
        STUCK.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lost {
    /// It had not returned when the limit passed; it was given up on.
    Overdue(Duration),
    /// It panicked, with this message.
    Panicked(String),
}

impl Lost {
    /// The failure of the entry at `path` whose call — `what` it was — was lost: `timeout`
    /// (`… the 0.5 s timeout; {what} was abandoned`), or `worker_crashed` for a panic.
    pub(super) fn error(self, path: impl Into<std::path::PathBuf>, what: &str) -> FileError {
        match self {
            Lost::Overdue(limit) => {
                FileError::timeout(path, limit, &format!("{what} was abandoned"))
            }
            Lost::Panicked(message) => {
                FileError::crashed(path, format!("{what} panicked: {message}"))
            }
        }
    }
}

/// A call for a helper, with the helper's state.
type Call<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A helper thread, and what it shares with the walk.
#[derive(Debug)]
struct Helper<S> {
    calls: mpsc::Sender<Call<S>>,
    /// Set when the walk gave up on its call: the helper ends once the call does.
    given_up: Arc<Mutex<Option<StuckCall>>>,
}

/// Makes calls within a time limit, each on a helper thread of its own state `S`; without a
/// limit, on the calling thread (with a state kept here).
#[derive(Debug)]
pub(super) struct Patience<S> {
    limit: Option<Duration>,
    here: S,
    helper: Option<Helper<S>>,
}

impl<S: Default + Send + 'static> Patience<S> {
    /// Calls that wait at most `limit` each; `None`: as long as they take.
    pub(super) fn new(limit: Option<Duration>) -> Patience<S> {
        Patience {
            limit,
            here: S::default(),
            helper: None,
        }
    }

    /// The limit of each call.
    pub(super) fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// Makes `call` and gives its result, or why there is none. With a limit it is made on the
    /// helper (started when none is), and a call that has not returned when the limit passes
    /// is given up on, together with its helper. Should no helper thread start, it is made
    /// here, without a limit: what the walk needs is done, however long it takes.
    pub(super) fn call<T, F>(&mut self, call: F) -> Result<T, Lost>
    where
        T: Send + 'static,
        F: FnOnce(&mut S) -> T + Send + 'static,
    {
        let Some(limit) = self.limit else {
            return self.here(call);
        };
        let helper = match self.helper.take().map_or_else(Helper::start, Ok) {
            Ok(helper) => helper,
            Err(_) => return self.here(call),
        };
        let (reply, result) = mpsc::sync_channel(1);
        let sent = helper.calls.send(Box::new(move |state: &mut S| {
            let made = panic::catch_unwind(AssertUnwindSafe(|| call(state))).map_err(|payload| {
                // What a call that panicked left behind is not kept.
                *state = S::default();
                panic_message(payload.as_ref())
            });
            // Nobody waits for the result of a call given up on.
            let _ = reply.send(made);
        }));
        if let Err(mpsc::SendError(call)) = sent {
            // The helper is gone (it cannot be, short of a bug): the call is made here.
            call(&mut self.here);
        } else {
            self.helper = Some(helper);
        }
        match result.recv_timeout(limit) {
            Ok(made) => made.map_err(Lost::Panicked),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(helper) = self.helper.take() {
                    *lock(&helper.given_up) = Some(StuckCall::begin());
                }
                Err(Lost::Overdue(limit))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.helper = None;
                Err(Lost::Panicked("the helper thread ended".into()))
            }
        }
    }

    /// Makes `call` on the calling thread.
    fn here<T>(&mut self, call: impl FnOnce(&mut S) -> T) -> Result<T, Lost> {
        panic::catch_unwind(AssertUnwindSafe(|| call(&mut self.here)))
            .map_err(|payload| Lost::Panicked(panic_message(payload.as_ref())))
    }
}

impl<S: Default + Send + 'static> Helper<S> {
    fn start() -> std::io::Result<Helper<S>> {
        let (calls, requests) = mpsc::channel::<Call<S>>();
        let given_up = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&given_up);
        thread::Builder::new()
            .name("walk-helper".into())
            .stack_size(STACK)
            .spawn(move || serve(&requests, &shared))?;
        Ok(Helper { calls, given_up })
    }
}

/// A helper: makes the calls that come until the walk lets it go, or gives up on its call.
fn serve<S: Default>(requests: &mpsc::Receiver<Call<S>>, given_up: &Mutex<Option<StuckCall>>) {
    let mut state = S::default();
    while let Ok(call) = requests.recv() {
        call(&mut state);
        if lock(given_up).is_some() {
            break;
        }
    }
    // Its call, given up on, has ended (or there was none): no longer stuck.
    drop(lock(given_up).take());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, PoisonError};
    use std::time::Instant;

    #[test]
    fn without_a_limit_calls_are_made_here_with_one_state() {
        let mut patience = Patience::<Vec<u32>>::new(None);
        let here = thread::current().id();
        for n in 0..3 {
            let on = patience.call(move |seen: &mut Vec<u32>| {
                seen.push(n);
                (thread::current().id(), seen.len())
            });
            assert_eq!(on, Ok((here, n as usize + 1)));
        }
        let panicked = patience.call(|_: &mut Vec<u32>| -> u32 { panic!("boom") });
        assert_eq!(panicked, Err(Lost::Panicked("boom".into())));
    }

    #[test]
    fn a_call_past_its_limit_is_given_up_and_the_next_goes_to_a_new_helper() {
        let limit = Duration::from_millis(100);
        let mut patience = Patience::<Vec<u32>>::new(Some(limit));
        let first = patience.call(|seen: &mut Vec<u32>| {
            seen.push(1);
            (thread::current().id(), seen.len())
        });
        let (helper, seen) = first.expect("in time");
        assert_ne!(helper, thread::current().id());
        assert_eq!(seen, 1);
        let kept = patience.call(|seen: &mut Vec<u32>| seen.len());
        assert_eq!(kept, Ok(1), "the same helper, with its state");

        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let stalled = Arc::clone(&release);
        let slot = patience
            .helper
            .as_ref()
            .map(|helper| Arc::clone(&helper.given_up))
            .expect("a helper");
        let started = Instant::now();
        let lost = patience.call(move |_: &mut Vec<u32>| {
            let (done, wake) = &*stalled;
            let mut done = lock(done);
            while !*done {
                done = wake.wait(done).unwrap_or_else(PoisonError::into_inner);
            }
        });
        assert_eq!(lost, Err(Lost::Overdue(limit)));
        assert!(started.elapsed() < limit * 10, "{:?}", started.elapsed());
        assert!(lock(&slot).is_some(), "counted while stuck");
        assert!(stuck_listings() >= 1);
        let fresh = patience.call(|seen: &mut Vec<u32>| seen.len());
        assert_eq!(fresh, Ok(0), "a new helper, with a state of its own");

        let (done, wake) = &*release;
        *lock(done) = true;
        wake.notify_all();
        // The helper ends once its call does, and is no longer counted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&slot) > 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(Arc::strong_count(&slot), 1, "the helper ended");
        assert!(lock(&slot).is_none(), "no longer counted");
    }

    #[test]
    fn a_call_that_panics_on_the_helper_loses_only_itself() {
        let mut patience = Patience::<u32>::new(Some(Duration::from_secs(10)));
        assert_eq!(patience.call(|n: &mut u32| std::mem::replace(n, 7)), Ok(0));
        let lost = patience.call(|_: &mut u32| -> u32 { panic!("boom") });
        assert_eq!(lost, Err(Lost::Panicked("boom".into())));
        assert_eq!(
            patience.call(|n: &mut u32| *n),
            Ok(0),
            "its state begun afresh"
        );
    }
}

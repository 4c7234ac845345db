//! The little the lanes need from an async runtime — spawn a task, run a closure on the blocking
//! pool, sleep — behind one trait, with an implementation for tokio and one for async-std (with
//! the `async-std` feature).
//!
//! Everything else the lanes use (the semaphore) is `tokio::sync`, which works on any executor.

use std::cell::Cell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::Duration;

use reader_core::RunError;

/// An async runtime the lanes can run on.
pub(crate) trait Exec: Clone + Send + Sync + 'static {
    /// Runs `task` concurrently; the returned future resolves when it has ended.
    fn spawn<F>(&self, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static;

    /// Runs `work` on the runtime's blocking thread pool; `None` if it panicked.
    fn spawn_blocking<R, F>(&self, work: F) -> impl Future<Output = Option<R>> + Send + 'static
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static;

    /// Resolves after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static;

    /// Lets the runtime's other tasks run before this one goes on.
    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static;
}

/// tokio, through a handle to a runtime (ours, or the caller's).
#[derive(Debug, Clone)]
pub(crate) struct Tokio(pub(crate) tokio::runtime::Handle);

impl Exec for Tokio {
    fn spawn<F>(&self, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.0.spawn(task);
        async move {
            // A lane that panicked has nothing to return; what it held was reported as it
            // unwound (lane.rs, `Held`).
            let _ = handle.await;
        }
    }

    fn spawn_blocking<R, F>(&self, work: F) -> impl Future<Output = Option<R>> + Send + 'static
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        // tokio catches a panic of a blocking task and turns it into a JoinError.
        let handle = self.0.spawn_blocking(work);
        async move { handle.await.ok() }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        tokio::task::yield_now()
    }
}

/// Starts the first thread of `runtime`'s blocking pool and waits for it. tokio panics when it
/// needs a blocking thread, has none, and the system refuses one (`ulimit -u`, a cgroup's
/// `pids.max`): here that is an error instead. Its threads are kept to the end of the run
/// (see the runtime's keep-alive), so the pool never falls back to none, and later refusals
/// only queue the work for the threads it has.
pub(crate) fn first_blocking_thread(runtime: &tokio::runtime::Runtime) -> Result<(), RunError> {
    let started = quietly(|| runtime.spawn_blocking(|| ()));
    match started {
        Ok(task) => {
            let _ = runtime.block_on(task);
            Ok(())
        }
        // tokio's panic says what the system refused.
        Err(payload) => Err(RunError::Spawn {
            what: "the tokio runtime's blocking pool".into(),
            source: std::io::Error::other(reader_core::panic_message(payload.as_ref())),
        }),
    }
}

thread_local! {
    /// This thread expects a panic it will catch: the panic hook stays silent for it.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic without the panic hook printing it (for a panic that is turned
/// into an error). The hook in place when this is first used stays in charge of every other
/// panic.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(false));
    result
}

/// async-std's global executor and blocking pool.
#[cfg(feature = "async-std")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct AsyncStd;

#[cfg(feature = "async-std")]
impl Exec for AsyncStd {
    fn spawn<F>(&self, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        async_std::task::spawn(task)
    }

    fn spawn_blocking<R, F>(&self, work: F) -> impl Future<Output = Option<R>> + Send + 'static
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        // async-std would resume the panic in the awaiting task; catch it where it happens.
        async_std::task::spawn_blocking(move || panic::catch_unwind(AssertUnwindSafe(work)).ok())
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::sleep(duration)
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        async_std::task::yield_now()
    }
}

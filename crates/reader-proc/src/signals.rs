//! How the `reader-proc` binary ends when it is interrupted, leaving neither orphans nor
//! zombies: on SIGINT or SIGTERM it kills and reaps every worker and exits with 130 or 143.
//! (Every other end — the run finished, its output closed, an error — goes through the pool's
//! normal end, which reaps its workers.)
//!
//! The two signals are blocked in every thread and taken by one thread in `sigwait`, so the
//! handling code is ordinary code, not an async-signal handler.

use std::io;
use std::thread;

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts after
/// this) and starts the thread that handles them. Call it first thing in `main`, before any
/// other thread exists. A worker inherits the mask and unblocks the two first thing.
pub fn exit_on_signals(program: &str) -> io::Result<()> {
    let set = signal_set();
    // SAFETY: `set` is an initialised sigset_t; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let program = program.to_string();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is initialised and `signal` is writable.
                if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                    stop(&program, signal);
                }
            }
        })?;
    Ok(())
}

/// Waits for ever if a signal is being handled: the signal thread ends the program with the
/// signal's status, and no other ending — the run's own, an error — may come first. Returns at
/// once otherwise.
pub fn yield_to_signal() {
    while crate::process::stopping() {
        thread::park();
    }
}

/// Unblocks the two signals again, in a worker process: it inherits the parent's mask, and
/// must die of them as any program does.
pub(crate) fn unblock_in_worker() {
    let set = signal_set();
    // SAFETY: `set` is an initialised sigset_t; the old mask is not wanted.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// SIGINT and SIGTERM.
fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

fn stop(program: &str, signal: libc::c_int) -> ! {
    crate::process::kill_all();
    let name = if signal == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    eprintln!("{program}: interrupted by {name}; every worker was stopped");
    // SAFETY: _exit ends the process at once, without running destructors or flushing
    // buffers that other threads may be holding locks on.
    unsafe { libc::_exit(128 + signal) }
}

//! How the `reader-proc` binary ends when it does not end normally, leaving neither orphans
//! nor zombies: on SIGINT or SIGTERM it kills and reaps every worker and exits with 130 or 143;
//! on `exit()` from anywhere else (core's report exits at once when stdout is closed) an exit
//! hook kills and reaps them first.
//!
//! The two signals are blocked in every thread and taken by one thread in `sigwait`, so the
//! handling code is ordinary code, not an async-signal handler.

use std::io;
use std::thread;

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts after
/// this), starts the thread that handles them, and registers the exit hook. Call it first
/// thing in `main`, before any other thread exists. Workers start with the signals unblocked
/// again.
pub fn exit_on_signals(program: &str) -> io::Result<()> {
    // SAFETY: registers a plain `extern "C" fn()` that lives as long as the program.
    if unsafe { libc::atexit(kill_workers_at_exit) } != 0 {
        return Err(io::Error::other("cannot register an exit hook"));
    }
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

extern "C" fn kill_workers_at_exit() {
    crate::process::kill_all();
}

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

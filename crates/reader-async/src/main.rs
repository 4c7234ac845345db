//! `reader-async`: reads every file of the PATHs with an async runtime (tokio or async-std) and
//! a bounded number of files in flight, and reports bytes, lines and words.

use std::process::ExitCode;

use reader_async::{AsyncReader, Runtime};
use reader_cli::{Binary, Uses};

const BINARY: Binary = Binary {
    name: "reader-async",
    about: "Reads every file of the PATHs with an async runtime and a bounded number of files in \
            flight, and reports bytes, lines and words.",
    uses: &[
        Uses::Counter,
        Uses::Refusable {
            name: "io_uring",
            refusal: reader_async::io_uring_refusal,
        },
    ],
};

/// The async model's own flags.
#[derive(Debug, clap::Args)]
struct Flags {
    /// The async runtime: tokio, async-std (discontinued upstream in favour of smol; kept for
    /// comparison) or io-uring (reads as io_uring operations; where the kernel refuses
    /// io_uring, says so on stderr and runs on tokio).
    #[arg(long, value_name = "RUNTIME", default_value = "tokio")]
    runtime: Runtime,
}

fn main() -> ExitCode {
    cap_blocking_pool();
    reader_cli::main(BINARY, |args, flags: &Flags| {
        if flags.runtime == Runtime::IoUring
            && let Some(why) = reader_async::io_uring_refusal()
        {
            eprintln!("{}: {why}; reading on tokio instead", BINARY.name);
        }
        let mut reader = AsyncReader::new()
            .runtime(flags.runtime)
            .timeout(args.timeout);
        if let Some(files) = args.jobs {
            reader = reader.max_in_flight(files);
        }
        Ok(reader)
    })
}

/// The variable through which async-std's blocking pool (the `blocking` crate) takes its most
/// threads, 500 when unset.
const BLOCKING_MAX_THREADS: &str = "BLOCKING_MAX_THREADS";

/// Caps async-std's blocking pool at the threads a limit on address space (`ulimit -v`) or on
/// tasks (`ulimit -u`, a cgroup's `pids.max`: half of what it leaves, the rest being for the
/// executor and the reader's own threads) leaves room for. Left at 500, the pool spins for
/// ever once the system refuses it a thread (smol-rs/blocking#79) instead of waiting for one
/// of its own to be free. A value the user set is kept. Runs first in `main`, while this is the
/// only thread: the pool reads the variable when it starts.
fn cap_blocking_pool() {
    const POOL_DEFAULT: usize = 500;
    if std::env::var_os(BLOCKING_MAX_THREADS).is_some() {
        return;
    }
    let tasks = reader_core::defaults::task_headroom().map_or(POOL_DEFAULT, |room| {
        usize::try_from(room / 2).unwrap_or(POOL_DEFAULT)
    });
    let room = reader_core::defaults::clamp_to_address_space(POOL_DEFAULT.min(tasks).max(1));
    if room < POOL_DEFAULT {
        // SAFETY: no other thread runs yet, so none reads the environment meanwhile.
        unsafe { std::env::set_var(BLOCKING_MAX_THREADS, room.to_string()) };
    }
}

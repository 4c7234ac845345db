//! `reader-proc-worker`: the worker process of `reader-proc`. It is started by the parent with
//! the name of the parent's connection point and serves batches until the parent hangs up; it
//! is not meant to be run by hand. See `reader_proc::worker`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    reader_proc::worker::main()
}

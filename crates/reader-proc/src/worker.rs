//! The worker process's side: connect to the parent, check that it is still there, then read
//! the batches it sends with one reused buffer and answer with counts, until it hangs up.
//!
//! The `reader-proc-worker` binary is only [`main`]; it is started by the parent, never by hand.
//!
//! Its reads can be made to misbehave for tests with reader-core's fault injection (the
//! `fault-injection` feature and `READER_FAULTS`): sleep, hang, panic or abort on a file, or —
//! here only — answer a file with bytes that do not decode (`garbage:PATTERN`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ipc_channel::ipc::{self, IpcSender};
use reader_core::defaults::BUFFER_SIZE;
use reader_core::{FileJob, Worker, faults, read_job};

use crate::protocol::{
    self, Batch, Connect, Hello, PROTOCOL_VERSION, Reply, WireOutcome, WireResult,
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
    reader_core::defaults::fit_address_space_limit();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("reader-proc-worker: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[OsString]) -> Result<(), String> {
    crate::signals::unblock_in_worker();
    let options = parse_options(args)?;
    tie_to_parent(options.parent)?;

    let (requests_tx, requests) =
        ipc::bytes_channel().map_err(|e| format!("cannot create a channel: {e}"))?;
    let (replies, replies_rx) =
        ipc::bytes_channel().map_err(|e| format!("cannot create a channel: {e}"))?;
    let pid = std::process::id();
    let hello = protocol::encode(&Hello {
        version: PROTOCOL_VERSION,
        pid,
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
    // The parent closing its end is the normal end of the session.
    while let Ok(bytes) = requests.recv() {
        let batch: Batch = protocol::decode(&bytes, "batch").map_err(|e| e.to_string())?;
        serve(batch, me, &mut buf, &replies)?;
    }
    Ok(())
}

/// Reads one batch and sends its results: after every file when the batch is careful,
/// otherwise when results have waited `progress_every`, and at the end.
fn serve(
    batch: Batch,
    me: Worker,
    buf: &mut [u8],
    replies: &ipc::IpcBytesSender,
) -> Result<(), String> {
    let every = batch.progress_every();
    let Batch {
        id,
        careful,
        paths,
        parts,
        max_bytes,
        ..
    } = batch;
    let mut parts = parts.into_iter().peekable();
    let send = |results: Vec<WireResult>| -> Result<(), String> {
        let bytes = protocol::encode(&Reply { batch: id, results }).map_err(|e| e.to_string())?;
        replies
            .send(&bytes)
            .map_err(|e| format!("the parent is gone: {e}"))
    };
    if careful {
        // An empty reply says the batch has started: a failure now is this batch's doing.
        send(Vec::new())?;
    }
    let mut pending = Vec::with_capacity(paths.len().min(MAX_PENDING));
    let mut since = Instant::now();
    for (at, path) in (0u32..).zip(paths) {
        let mut job = FileJob::new(PathBuf::from(OsString::from_vec(path.0)), None);
        job.part = parts.next_if(|(of, _)| *of == at).map(|(_, part)| part);
        job.max_bytes = max_bytes;
        if faults::garbles(&job.path) {
            return replies
                .send(b"\xff\xfe not a reply \x00")
                .map_err(|e| format!("the parent is gone: {e}"));
        }
        let result = read_job(&job, buf, me);
        pending.push(WireResult {
            elapsed_us: u64::try_from(result.elapsed.as_micros()).unwrap_or(u64::MAX),
            outcome: match (result.outcome, result.part) {
                (Ok(counts), Some(part)) => WireOutcome::CountedPart(counts, part.edges),
                (Ok(counts), None) => WireOutcome::Counted(counts),
                (Err(err), _) => WireOutcome::Failed {
                    kind: err.kind(),
                    message: err.message().to_string(),
                },
            },
        });
        if careful || pending.len() >= MAX_PENDING || since.elapsed() >= every {
            send(std::mem::take(&mut pending))?;
            since = Instant::now();
        }
    }
    if !pending.is_empty() {
        send(pending)?;
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

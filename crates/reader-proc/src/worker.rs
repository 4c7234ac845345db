//! The worker process's side: connect to the parent, check that it is still there, then read
//! the batches it sends with one reused buffer and answer with counts, until it hangs up.
//!
//! The `reader-proc-worker` binary is only [`main`]; it is started by the parent, never by hand.
//!
//! # Fault injection (for tests only)
//!
//! When the environment variable [`FAULT_ENV`] (`READER_PROC_FAULT`) is set, the worker
//! misbehaves on purpose when it reaches a file whose path contains PATTERN (as bytes):
//!
//! | value              | what the worker does on a matching file                        |
//! |--------------------|-----------------------------------------------------------------|
//! | `abort:PATTERN`    | aborts (SIGABRT), as a crash in the reading code would          |
//! | `hang:PATTERN`     | sleeps forever, as a read stuck on a dead mount would           |
//! | `sleep:MS:PATTERN` | sleeps MS milliseconds, then reads the file normally            |
//! | `garbage:PATTERN`  | sends bytes that do not decode instead of its results           |
//!
//! Several faults may be given separated by `;`. A value that does not parse stops the worker
//! with a one-line error. The variable is read once at start-up; when it is unset the only cost
//! is one branch per file. It exists so the test suite can exercise every failure of the
//! process model through the real binaries; it is not a user feature.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcSender};
use reader_core::defaults::BUFFER_SIZE;
use reader_core::{FileJob, Worker, read_job};

use crate::protocol::{
    self, Batch, Connect, Hello, PROTOCOL_VERSION, Reply, WireOutcome, WireResult,
};

/// The environment variable that switches on fault injection (tests only; see the module docs).
pub const FAULT_ENV: &str = "READER_PROC_FAULT";

/// Replies a careless batch gathers at most before sending them.
const MAX_PENDING: usize = 256;

/// A deliberate misbehaviour, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    Abort(Vec<u8>),
    Hang(Vec<u8>),
    Sleep(Duration, Vec<u8>),
    Garbage(Vec<u8>),
}

impl Fault {
    fn pattern(&self) -> &[u8] {
        match self {
            Fault::Abort(p) | Fault::Hang(p) | Fault::Sleep(_, p) | Fault::Garbage(p) => p,
        }
    }
}

/// What to do with one file, as the faults say.
enum Action {
    Read,
    SendGarbage,
}

/// Parses the value of [`FAULT_ENV`].
fn parse_faults(value: &OsStr) -> Result<Vec<Fault>, String> {
    value
        .as_bytes()
        .split(|&b| b == b';')
        .filter(|spec| !spec.is_empty())
        .map(|spec| {
            let (name, rest) = split_once(spec)
                .ok_or_else(|| format!("{FAULT_ENV}: '{}' is not KIND:PATTERN", lossy(spec)))?;
            match name {
                b"abort" => Ok(Fault::Abort(rest.to_vec())),
                b"hang" => Ok(Fault::Hang(rest.to_vec())),
                b"garbage" => Ok(Fault::Garbage(rest.to_vec())),
                b"sleep" => {
                    let (ms, pattern) = split_once(rest)
                        .ok_or_else(|| format!("{FAULT_ENV}: sleep needs sleep:MS:PATTERN"))?;
                    let ms: u64 = std::str::from_utf8(ms)
                        .ok()
                        .and_then(|ms| ms.parse().ok())
                        .ok_or_else(|| {
                            format!("{FAULT_ENV}: '{}' is not milliseconds", lossy(ms))
                        })?;
                    Ok(Fault::Sleep(Duration::from_millis(ms), pattern.to_vec()))
                }
                _ => Err(format!(
                    "{FAULT_ENV}: unknown fault '{}' (abort, hang, sleep, garbage)",
                    lossy(name)
                )),
            }
        })
        .collect()
}

fn split_once(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b':')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Applies the faults that match `path`; returns what to do next.
fn inject(faults: &[Fault], path: &[u8]) -> Action {
    for fault in faults.iter().filter(|f| contains(path, f.pattern())) {
        match fault {
            Fault::Abort(_) => std::process::abort(),
            Fault::Hang(_) => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Fault::Sleep(d, _) => std::thread::sleep(*d),
            Fault::Garbage(_) => return Action::SendGarbage,
        }
    }
    Action::Read
}

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

/// Signals the parent blocks for its own handling must not stay blocked here.
fn unblock_signals() {
    // SAFETY: `set` is a valid sigset_t initialised by sigemptyset before use.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Runs the worker over the process's arguments. Exit status 0 when the parent hung up,
/// 2 with one line on stderr for anything else.
pub fn main() -> ExitCode {
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
    unblock_signals();
    let options = parse_options(args)?;
    tie_to_parent(options.parent)?;
    let faults = match std::env::var_os(FAULT_ENV) {
        Some(value) => parse_faults(&value)?,
        None => Vec::new(),
    };

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
        serve(batch, &faults, me, &mut buf, &replies)?;
    }
    Ok(())
}

/// Reads one batch and sends its results: after every file when the batch is careful,
/// otherwise when results have waited `progress_every`, and at the end.
fn serve(
    batch: Batch,
    faults: &[Fault],
    me: Worker,
    buf: &mut [u8],
    replies: &ipc::IpcBytesSender,
) -> Result<(), String> {
    let every = batch.progress_every();
    let Batch {
        id, careful, paths, ..
    } = batch;
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
    for path in paths {
        if !faults.is_empty() && matches!(inject(faults, &path.0), Action::SendGarbage) {
            return replies
                .send(b"\xff\xfe not a reply \x00")
                .map_err(|e| format!("the parent is gone: {e}"));
        }
        let job = FileJob {
            path: PathBuf::from(OsString::from_vec(path.0)),
            size: None,
        };
        let result = read_job(&job, buf, me);
        pending.push(WireResult {
            elapsed_us: u64::try_from(result.elapsed.as_micros()).unwrap_or(u64::MAX),
            outcome: match result.outcome {
                Ok(counts) => WireOutcome::Counted(counts),
                Err(err) => WireOutcome::Failed {
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
    fn faults_parse() {
        let faults = parse_faults(OsStr::new("abort:x;hang:y/z;sleep:25:w;garbage:")).expect("ok");
        assert_eq!(
            faults,
            [
                Fault::Abort(b"x".to_vec()),
                Fault::Hang(b"y/z".to_vec()),
                Fault::Sleep(Duration::from_millis(25), b"w".to_vec()),
                Fault::Garbage(Vec::new()),
            ]
        );
        assert_eq!(parse_faults(OsStr::new("")), Ok(Vec::new()));
        for bad in ["abort", "explode:x", "sleep:x", "sleep:ten:x"] {
            assert!(parse_faults(OsStr::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_match_substrings() {
        assert!(contains(b"dir/bad-file.txt", b"bad"));
        assert!(contains(b"anything", b""));
        assert!(!contains(b"dir/good.txt", b"bad"));
        assert!(matches!(
            inject(&[Fault::Garbage(b"g".to_vec())], b"a/g"),
            Action::SendGarbage
        ));
        assert!(matches!(
            inject(&[Fault::Abort(b"zzz".to_vec())], b"a/g"),
            Action::Read
        ));
    }

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

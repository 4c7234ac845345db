//! One worker process from start to reaping: start the program, wait a bounded time for it to
//! connect and shake hands, and kill or close it so that it is always reaped (also on drop).
//!
//! Every live worker's pid is kept in a registry for one reader only: the signal thread of
//! [`crate::signals`], which kills them all on SIGINT or SIGTERM; no worker is started once it
//! has begun to. Every other end of a worker goes through its [`Process`]: closed, killed or
//! dropped, it is reaped.
//!
//! A worker asks the kernel to kill it when its parent *thread* exits (`PR_SET_PDEATHSIG`
//! follows the thread that forked it), so workers are started only from threads that outlive
//! them: the caller's thread and the scheduler thread, which reap every worker they started
//! before they end.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};

use crate::protocol::{self, Connect};

/// How often a starting worker is checked for having exited before it connected.
const START_POLL: Duration = Duration::from_millis(2);
/// How long a worker whose requests were closed may take to exit before it is killed, and
/// how long a killed worker may take to die before it is left to a reaper thread (a process
/// stuck in uninterruptible I/O dies only when that I/O ends).
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// Why a worker process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The parent could not make the point the worker connects to.
    #[error("cannot create the connection point for a worker: {0}")]
    Listen(#[source] io::Error),
    /// The program is being stopped by a signal: no worker may start.
    #[error("the program is stopping")]
    Stopping,
    /// The worker program could not be run.
    #[error("cannot run the worker {}: {source}", program.display())]
    Run {
        /// The worker program.
        program: PathBuf,
        /// What running it said.
        source: io::Error,
    },
    /// The worker ran but did not connect and shake hands; it was killed and reaped.
    #[error("the worker {} (pid {pid}) {failure}; it {ending}", program.display())]
    Connect {
        /// The worker program.
        program: PathBuf,
        /// Its process id.
        pid: u32,
        /// What went wrong.
        failure: ConnectFailure,
        /// How it ended ("was killed by signal 9 (SIGKILL)").
        ending: String,
    },
    /// No thread could be started to wait for it or to listen to it.
    #[error("cannot start a thread for a worker: {0}")]
    Thread(#[source] io::Error),
}

/// How connecting to a starting worker failed.
#[derive(Debug)]
pub enum ConnectFailure {
    /// It exited first, as it says.
    Exited(String),
    /// It did not connect in time.
    TimedOut(Duration),
    /// It connected but its handshake was wrong.
    Handshake(String),
    /// The thread waiting for it died.
    Unwatched,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectFailure::Exited(status) => write!(f, "exited before connecting ({status})"),
            ConnectFailure::TimedOut(limit) => write!(f, "did not connect within {limit:?}"),
            ConnectFailure::Handshake(why) => write!(f, "failed the handshake: {why}"),
            ConnectFailure::Unwatched => {
                f.write_str("could not be waited for (the accepting thread died)")
            }
        }
    }
}

/// Pids of the workers that are running now.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Set once the process is being torn down by a signal: no new worker may start.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn live() -> MutexGuard<'static, Vec<u32>> {
    // A Vec of pids is consistent whatever panicked while holding it.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the program is being stopped by a signal: every other way of ending must wait for
/// the signal thread, which exits with the signal's status.
pub(crate) fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Kills every live worker with SIGKILL and reaps it; no worker starts after this. For the
/// signal thread, which exits right after.
pub(crate) fn kill_all() {
    let pids = {
        let mut live = live();
        STOPPING.store(true, Ordering::SeqCst);
        std::mem::take(&mut *live)
    };
    for &pid in &pids {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: plain system calls; the pid is one of our unreaped children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    // Reap them, but never wait longer than GRACE: one stuck in uninterruptible I/O dies
    // only when that I/O ends, and the caller exits anyway (init reaps what is left).
    let mut left: Vec<libc::pid_t> = pids
        .iter()
        .filter_map(|&pid| libc::pid_t::try_from(pid).ok())
        .collect();
    let deadline = Instant::now() + GRACE;
    while !left.is_empty() && Instant::now() < deadline {
        // SAFETY: as above; a null status pointer is allowed, WNOHANG never blocks.
        left.retain(|&pid| unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) } == 0);
        thread::sleep(Duration::from_millis(2));
    }
}

/// A connected worker process.
#[derive(Debug)]
pub(crate) struct Process {
    /// `None` once reaped or handed to a reaper thread.
    child: Option<Child>,
    /// Its process id.
    pub pid: u32,
    /// Where its batches go; `None` once closed.
    requests: Option<IpcBytesSender>,
    /// Where its replies come from; taken by the thread that listens to it.
    pub replies: Option<IpcBytesReceiver>,
}

impl Process {
    /// Starts `program` and waits at most `connect_timeout` for it to connect and shake hands.
    /// On any failure the child is killed and reaped, and the error says what happened.
    /// `work` is the work it must say it runs (the name of its output type, empty for
    /// counting alone).
    pub fn start(
        program: &Path,
        connect_timeout: Duration,
        work: &'static str,
    ) -> Result<Process, WorkerError> {
        Process::spawn(program, work)?.connect(connect_timeout)
    }

    /// Starts `program` without waiting for it to connect, so several can start at once.
    pub fn spawn(program: &Path, work: &'static str) -> Result<Starting, WorkerError> {
        let (server, name) = IpcOneShotServer::<Connect>::new().map_err(WorkerError::Listen)?;
        let mut live = live();
        if STOPPING.load(Ordering::SeqCst) {
            return Err(WorkerError::Stopping);
        }
        let child = Command::new(program)
            .arg("--connect")
            .arg(&name)
            .arg("--parent")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // What goes wrong with a worker, the parent says itself, in one line.
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| WorkerError::Run {
                program: program.to_path_buf(),
                source,
            })?;
        live.push(child.id());
        Ok(Starting {
            child: Some(child),
            server: Some(server),
            name,
            program: program.to_path_buf(),
            work,
        })
    }

    /// Sends one encoded batch.
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        match &self.requests {
            Some(requests) => requests.send(bytes),
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the session is closed",
            )),
        }
    }

    /// Sends SIGKILL without waiting for it to take effect.
    pub fn signal_kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _live = live();
            let _ = child.kill();
        }
    }

    /// Kills the worker and reaps it; tells how it ended.
    pub fn kill(&mut self) -> String {
        self.finish(true)
    }

    /// Kills a worker that was killed a while ago and has not died — stuck in the kernel — and
    /// leaves it to a reaper thread at once, without waiting for it again.
    pub fn give_up(&mut self) -> String {
        match self.child.take() {
            Some(child) => reap_within(child, true, Duration::ZERO),
            None => "was already reaped".into(),
        }
    }

    /// Closes the worker's requests: it sees them end and exits. Workers told this all at
    /// once end side by side, before each is [`Process::close`]d.
    pub fn hang_up(&mut self) {
        self.requests = None;
    }

    /// Ends the session: the worker sees its requests closed and exits; if it has not within
    /// a second it is killed. Reaps it either way.
    pub fn close(mut self) -> String {
        self.hang_up();
        self.finish(false)
    }

    fn finish(&mut self, kill: bool) -> String {
        match self.child.take() {
            Some(child) => reap(child, kill),
            None => "was already reaped".into(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.finish(true);
    }
}

/// The workers a run begins with: those connected, and those started that are still
/// connecting, which the run takes as they connect.
#[derive(Debug, Default)]
pub(crate) struct Workers {
    pub ready: Vec<Process>,
    pub starting: Vec<Starting>,
}

impl Workers {
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.starting.is_empty()
    }
}

/// A worker process that was started but has not connected yet; killed and reaped if dropped.
pub(crate) struct Starting {
    child: Option<Child>,
    server: Option<IpcOneShotServer<Connect>>,
    name: String,
    program: PathBuf,
    /// The work it must say it runs.
    work: &'static str,
}

impl std::fmt::Debug for Starting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Starting")
            .field("child", &self.child)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Starting {
    /// Waits at most `timeout` for the worker to connect and shake hands. On any failure the
    /// child is killed and reaped, and the error says what happened.
    pub fn connect(mut self, timeout: Duration) -> Result<Process, WorkerError> {
        // Both are taken only here, and `connect` consumes the value.
        let (Some(mut child), Some(server)) = (self.child.take(), self.server.take()) else {
            return Err(WorkerError::Stopping);
        };
        let pid = child.id();
        match connect(server, &self.name, &mut child, timeout, self.work) {
            Ok((requests, replies)) => Ok(Process {
                child: Some(child),
                pid,
                requests: Some(requests),
                replies: Some(replies),
            }),
            Err(Waited::Thread(err)) => {
                reap(child, true);
                Err(WorkerError::Thread(err))
            }
            Err(Waited::Failed(failure)) => Err(WorkerError::Connect {
                program: self.program.clone(),
                pid,
                failure,
                ending: reap(child, true),
            }),
        }
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            reap(child, true);
        }
    }
}

/// Why waiting for a worker to connect ended without a connection.
enum Waited {
    /// No thread could wait for it.
    Thread(io::Error),
    /// It did not connect properly.
    Failed(ConnectFailure),
}

/// Waits for the worker's [`Connect`] on a helper thread (`accept` has no timeout of its
/// own), watching the child meanwhile; returns its channels once the handshake checks out.
fn connect(
    server: IpcOneShotServer<Connect>,
    name: &str,
    child: &mut Child,
    timeout: Duration,
    work: &str,
) -> Result<(IpcBytesSender, IpcBytesReceiver), Waited> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("accept".into())
        .spawn(move || {
            let _ = tx.send(server.accept());
        })
        .map_err(Waited::Thread)?;
    let deadline = Instant::now() + timeout;
    let accepted = loop {
        match rx.recv_timeout(START_POLL) {
            Ok(accepted) => break Ok(accepted),
            Err(RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(ConnectFailure::Exited(describe(status)));
                }
                if Instant::now() >= deadline {
                    break Err(ConnectFailure::TimedOut(timeout));
                }
            }
            Err(RecvTimeoutError::Disconnected) => break Err(ConnectFailure::Unwatched),
        }
    };
    let accepted = match accepted {
        Ok(accepted) => accepted,
        Err(why) => {
            // Release the helper thread, still blocked in accept(), with a message of our own.
            if let Ok(sender) = IpcSender::<Connect>::connect(name.to_string()) {
                let _ = sender.send(Connect::Abort);
            }
            return Err(Waited::Failed(why));
        }
    };
    let handshake = |why: String| Waited::Failed(ConnectFailure::Handshake(why));
    match accepted {
        Ok((
            _,
            Connect::Worker {
                hello,
                requests,
                replies,
            },
        )) => {
            let hello = protocol::decode_hello(&hello).map_err(|e| handshake(e.to_string()))?;
            if hello.pid != child.id() {
                return Err(handshake(format!("it says it is pid {}", hello.pid)));
            }
            if hello.work != work {
                return Err(handshake(format!(
                    "it runs {}, and this run expects {} (a worker of your own needs \
                     ProcReader::output with its output's type)",
                    crate::own::shown(&hello.work),
                    crate::own::shown(work)
                )));
            }
            Ok((requests, replies))
        }
        Ok((_, Connect::Abort)) => Err(handshake("it sent no channels".into())),
        Err(e) => Err(handshake(e.to_string())),
    }
}

/// Kills `child` (at once when asked, else after [`GRACE`] if it has not exited), reaps it and
/// forgets its pid; tells how it ended. One that does not die within [`GRACE`] of SIGKILL is
/// left to a reaper thread, so the caller never blocks on it.
fn reap(child: Child, kill: bool) -> String {
    reap_within(child, kill, GRACE)
}

/// Workers killed that had not died, left to reaper threads, and not reaped yet.
static UNREAPED: AtomicUsize = AtomicUsize::new(0);

/// How many workers were killed and left to the kernel because they did not die — stuck in an
/// uninterruptible read — and are not reaped yet. Nothing waits for them; each is reaped by a
/// thread of its own once its read ends, or by init if the program has ended by then.
pub(crate) fn unreaped() -> usize {
    UNREAPED.load(Ordering::Acquire)
}

/// [`reap`], waiting at most `grace` after SIGKILL before the child is left to a reaper thread.
fn reap_within(mut child: Child, kill: bool, grace: Duration) -> String {
    let pid = child.id();
    if !kill && let Some(ended) = wait_for(&mut child, GRACE) {
        return ended;
    }
    {
        // The registry lock keeps the signal handler from reaping this child under us.
        let _live = live();
        if let Err(e) = child.kill() {
            // ESRCH: already reaped by the signal handler; wait() says so below.
            if e.raw_os_error() != Some(libc::ESRCH) {
                return format!("could not be killed: {e}");
            }
        }
    }
    if let Some(ended) = wait_for(&mut child, grace) {
        return ended;
    }
    UNREAPED.fetch_add(1, Ordering::AcqRel);
    let reaper = thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            // Wait for it to end without reaping it (WNOWAIT), then reap it under the
            // registry's lock, so that its pid is never freed while still registered.
            loop {
                // SAFETY: an all-zero siginfo_t is a valid value to be written over.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: `info` is writable; the pid is our unreaped child.
                let rc = unsafe {
                    libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
                };
                if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
            let _ = wait_for(&mut child, GRACE);
            UNREAPED.fetch_sub(1, Ordering::AcqRel);
        });
    match reaper {
        Ok(_) => "was killed but had not died a second later (stuck in the kernel?)".into(),
        Err(e) => {
            // The child went with the closure: it is left to init.
            UNREAPED.fetch_sub(1, Ordering::AcqRel);
            format!("was killed but could not be waited for: {e}")
        }
    }
}

/// Waits at most `limit` for `child` to end; how it ended, if it did. It is woken the moment
/// the child exits where the kernel gives a pidfd (Linux 5.3), else it looks in short naps. A
/// child reaped here leaves the registry in the same step, under its lock, so its pid is never
/// signalled once freed.
fn wait_for(child: &mut Child, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(100);
    let pid = child.id();
    let mut exits: Option<Option<OwnedFd>> = None;
    loop {
        {
            let mut live = live();
            match child.try_wait() {
                Ok(Some(status)) => {
                    live.retain(|&p| p != pid);
                    return Some(describe(status));
                }
                // Not reaped, so the pid is still this child's: the pidfd is of the child.
                Ok(None) => {
                    exits.get_or_insert_with(|| pidfd(pid));
                }
                Err(e) => {
                    live.retain(|&p| p != pid);
                    return Some(format!("could not be waited for: {e}"));
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match exits.as_ref().and_then(Option::as_ref) {
            Some(exits) => until_readable(exits, left),
            None => {
                thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(5));
            }
        }
    }
}

/// A descriptor that becomes readable when process `pid` exits, if the kernel gives one.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the descriptor was just made for us and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits at most `limit` (and at least a millisecond) for `fd` to become readable; an
/// interrupted wait returns early, which the caller's loop allows for.
fn until_readable(fd: &OwnedFd, limit: Duration) {
    let mut ready = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(limit.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    unsafe { libc::poll(&mut ready, 1, ms) };
}

/// How a worker ended, for messages: "exited with status 3", "was killed by signal 6 (SIGABRT)".
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGBUS => " (SIGBUS)",
                libc::SIGFPE => " (SIGFPE)",
                libc::SIGILL => " (SIGILL)",
                libc::SIGINT => " (SIGINT)",
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGTERM => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        None => format!("ended ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn endings_are_described() {
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGABRT)),
            "was killed by signal 6 (SIGABRT)"
        );
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let err = Process::start(Path::new("/nonexistent/worker"), Duration::from_secs(1), "")
            .expect_err("missing")
            .to_string();
        assert!(err.contains("cannot run the worker"), "{err}");
    }

    #[test]
    fn a_program_that_exits_at_once_is_noticed_before_the_timeout() {
        let err = Process::start(Path::new("true"), Duration::from_secs(30), "")
            .expect_err("exits")
            .to_string();
        assert!(err.contains("exited before connecting"), "{err}");
    }
}

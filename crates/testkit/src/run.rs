//! Running a reader binary: [`Reader`] names it (with its extra arguments), [`Run`] is what one
//! run printed, with the JSON records parsed and checked for the invariants every run keeps.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reader_core::{FileResult, Record, Summary};
use serde::Deserialize;
use serde_json::Value;

/// A run that takes longer than this is a hang: the reader is killed and the case fails.
pub const HANG: Duration = Duration::from_secs(60);

/// The environment variable of reader-core's fault injection: removed from every run unless a
/// case sets it ([`Reader::env`]), so the caller's environment never injects faults.
pub const FAULTS_VAR: &str = "READER_FAULTS";

/// A reader binary and the extra arguments of one configuration.
#[derive(Debug, Clone)]
pub struct Reader {
    bin: PathBuf,
    extra: Vec<String>,
    /// Set (`Some`) or removed (`None`) in the environment of every run.
    env: Vec<(String, Option<String>)>,
    processes: bool,
}

impl Reader {
    /// The binary at `bin`, always given `extra` first.
    pub fn new(bin: &str, extra: &[&str]) -> Reader {
        Reader {
            bin: bin.into(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            processes: false,
        }
    }

    /// This reader with `key=value` in the environment of every run.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Reader {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// This reader with `key` removed from the environment of every run.
    #[must_use]
    pub fn env_remove(mut self, key: &str) -> Reader {
        self.env.push((key.into(), None));
        self
    }

    /// This reader with `flag value` among its configuration's arguments, in place of the
    /// value the configuration gives it, if it gives one (`--timeout` for a case that needs a
    /// limit of its own).
    #[must_use]
    pub fn setting(mut self, flag: &str, value: &str) -> Reader {
        match self.extra.iter().position(|arg| arg == flag) {
            Some(at) if at + 1 < self.extra.len() => self.extra[at + 1] = value.into(),
            _ => self.extra.extend([flag.to_string(), value.to_string()]),
        }
        self
    }

    /// This reader with faults injected (reader-core's `READER_FAULTS`, e.g. `hang:stuck`).
    #[must_use]
    pub fn faults(self, faults: &str) -> Reader {
        self.env(FAULTS_VAR, faults)
    }

    /// This reader reads with child processes (reader-proc): the cases that end a run check
    /// that none is left.
    #[must_use]
    pub fn with_processes(mut self) -> Reader {
        self.processes = true;
        self
    }

    /// Whether this reader reads with child processes.
    pub fn has_processes(&self) -> bool {
        self.processes
    }

    /// The binary's path.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A command for this reader with `args` after the configuration's own.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.extra).args(args);
        self.environment(&mut cmd);
        cmd
    }

    /// Gives `cmd` this reader's environment: its own variables, and no injected faults
    /// unless asked for.
    fn environment(&self, cmd: &mut Command) {
        cmd.env_remove(FAULTS_VAR);
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
    }

    /// Runs `--format json --progress never` with `args` under the shell's resource limits
    /// `ulimit` (`-n 16`, `-v 65536`), killing it past `limit`.
    pub fn json_limited<S: AsRef<OsStr>>(&self, ulimit: &str, limit: Duration, args: &[S]) -> Run {
        let all = json_args(args);
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit {ulimit} && exec {}", self.shell_words(&all)),
        ]);
        self.environment(&mut cmd);
        finish_within(cmd, limit)
    }

    /// The command line as one shell string (for `sh -c` cases), arguments single-quoted.
    pub fn shell_words<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        std::iter::once(self.bin.as_os_str())
            .chain(self.extra.iter().map(|s| OsStr::new(s.as_str())))
            .chain(args.iter().map(AsRef::as_ref))
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What `--version` says the binary uses here, a line each after the first, which must
    /// name the binary `name`; the run must exit 0.
    pub fn version_uses(&self, name: &str) -> Vec<String> {
        let run = self.run(&["--version"]);
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        let version = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(version.starts_with(&format!("{name} ")), "{version}");
        version.lines().skip(1).map(str::to_string).collect()
    }

    /// The line `--version` gives a facility the kernel may refuse (`io_uring`): `NAME: yes`,
    /// or `NAME: no (WHY)` with the reason the kernel gave.
    pub fn refusable_line(name: &str, refusal: Option<String>) -> String {
        match refusal {
            None => format!("{name}: yes"),
            Some(why) => format!("{name}: no ({why})"),
        }
    }

    /// Runs with `args` and waits (at most [`HANG`]).
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        finish(self.command(args))
    }

    /// Runs with `args` and waits at most `limit`, then kills it and fails the case.
    pub fn run_within<S: AsRef<OsStr>>(&self, limit: Duration, args: &[S]) -> Run {
        finish_within(self.command(args), limit)
    }

    /// Runs `--format json --progress never` with `args`.
    pub fn json<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        let all = json_args(args);
        self.run(&all)
    }
}

/// `--format json --progress never`, then `args`.
fn json_args<S: AsRef<OsStr>>(args: &[S]) -> Vec<&OsStr> {
    let mut all: Vec<&OsStr> = vec![
        "--format".as_ref(),
        "json".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
    ];
    all.extend(args.iter().map(AsRef::as_ref));
    all
}

/// Runs a prepared command to its end, killing it if it hangs.
pub fn finish(cmd: Command) -> Run {
    finish_within(cmd, HANG)
}

/// Runs a prepared command to its end, killing it (and failing the case) past `limit`.
pub fn finish_within(mut cmd: Command, limit: Duration) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    collect(cmd.spawn().expect("start the reader"), limit)
}

/// Waits for a started reader (its stdout and stderr piped) and gathers what it printed;
/// past `limit` kills it and fails the case.
pub fn collect(mut child: Child, limit: Duration) -> Run {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_or_kill(&mut child, limit);
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    Run {
        status,
        stdout,
        stderr,
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf); // whole-file read ok: the reader's output, checked whole
        }
        buf
    })
}

/// Waits for `child`; past `limit` kills it and fails the test.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the reader hung for more than {limit:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// What one run printed.
#[derive(Debug)]
pub struct Run {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: Vec<u8>,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stderr's lines that are not blank.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Stdout parsed as JSON Lines; panics (failing the case) if any line is not JSON.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The summary: the last line, checked to be one.
    pub fn summary(&self) -> Value {
        let lines = self.lines();
        let last = lines
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr));
        assert_eq!(last["type"], "summary", "the last line is the summary");
        last
    }

    /// The records by path ([`path_key`]), checking the invariants of every JSON run: a summary last and
    /// nowhere else, each path once, `files = ok + failed`, and the totals equal to the sum
    /// of the records; and that each line is a record of the contract, exactly as reader-core
    /// writes the record it reads back as (reader-core's `Deserialize` and `Serialize` of
    /// [`Record`]).
    pub fn records(&self) -> HashMap<String, Value> {
        let lines = self.lines();
        let summary = self.summary();
        let text = String::from_utf8_lossy(&self.stdout);
        let mut by_path = HashMap::new();
        let mut totals = Summary::default();
        for (line, value) in text.lines().zip(&lines[..lines.len() - 1]) {
            if value["type"] == "group" {
                continue;
            }
            let record = record_of(line);
            if let Record::File(FileResult {
                outcome: Err(_), ..
            }) = &record
            {
                assert!(value["size"].is_null(), "a failed file has no size: {line}");
                assert!(value["error"]["message"].is_string(), "{line}");
            }
            totals.add(&record);
            let path = path_key(path_of(&record));
            assert!(
                by_path.insert(path.clone(), value.clone()).is_none(),
                "{path} reported twice"
            );
        }
        let field = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("summary.{k}"));
        assert_eq!(field("files"), totals.files, "summary.files");
        assert_eq!(field("ok"), totals.ok, "summary.ok");
        assert_eq!(field("failed"), totals.failed, "summary.failed");
        assert_eq!(
            field("files"),
            field("ok") + field("failed"),
            "files = ok + failed"
        );
        assert_eq!(field("skipped"), totals.skipped, "summary.skipped");
        assert_eq!(field("bytes"), totals.bytes, "summary.bytes");
        assert_eq!(field("words"), totals.words, "summary.words");
        by_path
    }
}

/// The record a line of a JSON run is, read with reader-core's `Deserialize`; panics (failing
/// the case) unless the line is a record of the contract, exactly as reader-core writes it.
pub(crate) fn record_of(line: &str) -> Record {
    let record: Record = serde_json::from_str(line)
        .unwrap_or_else(|err| panic!("not a record of the contract ({err}): {line}"));
    let again = serde_json::to_string(&record).unwrap_or_else(|err| panic!("{err}: {line}"));
    assert_eq!(
        again, line,
        "the record this line reads back as is written otherwise"
    );
    record
}

/// The path a record is of.
pub(crate) fn path_of(record: &Record) -> &Path {
    match record {
        Record::File(file) => &file.path,
        Record::Skipped(skipped) => &skipped.path,
    }
}

/// The key of a path in [`Run::records`]: the path itself when it is UTF-8, else `bytes:`
/// and the hex of its raw bytes, so that names that differ only in invalid bytes stay apart.
pub fn path_key(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    match path.to_str() {
        Some(text) => text.to_string(),
        None => {
            let hex: String = path
                .as_os_str()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("bytes:{hex}")
        }
    }
}

/// The path of a JSON record, read with reader-core's `Deserialize`, checked to be written
/// as the contract's lossless form says: a string when it is UTF-8, else
/// `{"bytes": "<base64>"}`.
pub fn record_path(record: &Value) -> PathBuf {
    let path = match Record::deserialize(record) {
        Ok(Record::File(file)) => file.path,
        Ok(Record::Skipped(skipped)) => skipped.path,
        Err(err) => panic!("not a record of the contract ({err}): {record}"),
    };
    assert_eq!(
        record["path"].is_string(),
        path.to_str().is_some(),
        "a path is a string exactly when it is UTF-8: {record}"
    );
    path
}

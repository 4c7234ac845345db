//! Faults: a read that panics, a read that never ends (`--timeout`), and the hostile FUSE file
//! system, whose reads and listings fail, lie or never return.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::checks::{assert_failed, assert_no_panic, assert_one_line_error, assert_read, record};
use crate::hostile::{self, Expected, HostileFs};
use crate::run::{Reader, Run, wait_or_kill};
use crate::tree::Tree;
use crate::{path_key, procfs};

/// A read that panics (injected with `panic:PATTERN`) costs that file only: it is reported as
/// `worker_crashed`, naming the panic, and every other file is read.
pub fn a_panic_while_reading_costs_one_file(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..60 {
        let data = format!("file {i} of sixty\n").repeat(i + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 3), &data), data));
    }
    let boom = tree.file("d1/boom.txt", "never counted\n");
    let run = reader.clone().faults("panic:boom.txt").json(&[tree.path()]);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), files.len() + 1);
    assert_failed(&records, &boom, "worker_crashed");
    let message = record(&records, &boom)["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("panicked"), "{message}");
    for (path, data) in &files {
        assert_read(&records, path, data.as_bytes());
    }
}

/// A read that never returns (`hang:` injected, as a stalled mount would do), with
/// `--timeout`: it is reported as `timeout`, the run goes on with a thread or worker in place
/// of the stuck one, reads every other file and ends. The limit is taken in seconds, with `s`
/// and with `ms`; one that is not a positive time is a usage error.
pub fn a_read_that_never_ends_is_a_timeout_and_the_run_goes_on(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..40 {
        let data = format!("file {i} is read\n").repeat(i % 5 + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 2), &data), data));
    }
    let hung: Vec<PathBuf> = (0..2)
        .map(|i| tree.file(format!("d{i}/hung-{i}.txt"), "never counted\n"))
        .collect();
    for limit in ["2s", "1.5", "500ms"] {
        let run = reader
            .clone()
            .setting("--timeout", limit)
            .json(&[&files[0].0]);
        assert_eq!(run.code(), Some(0), "--timeout {limit}: {}", run.stderr);
    }
    for bad in ["0", "soon", "2h"] {
        let run = reader.clone().setting("--timeout", bad).run(&[tree.path()]);
        assert_one_line_error(&run);
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    }
    let run = reader
        .clone()
        .setting("--timeout", "300ms")
        .faults("hang:hung-")
        .json(&["--jobs".as_ref(), "2".as_ref(), tree.path().as_os_str()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), files.len() + hung.len());
    for path in &hung {
        assert_failed(&records, path, "timeout");
    }
    for (path, data) in &files {
        assert_read(&records, path, data.as_bytes());
    }
}

/// Every entry of the hostile file system reported once, as [`HostileFs::expected`] says.
fn assert_hostile(records: &HashMap<String, Value>, expected: &[(PathBuf, Expected)]) {
    for (path, want) in expected {
        match want {
            Expected::Read(data) => assert_read(records, path, data),
            Expected::Failed(kind) => assert_failed(records, path, kind),
        }
    }
    assert_eq!(records.len(), expected.len(), "{:?}", records.keys());
}

/// What a run on the hostile file system with a time limit did ([`run_stalled`]).
struct Stalled {
    /// The run, its output read to the end.
    run: Run,
    /// How long after the start its output ended.
    took: Duration,
    /// The process had exited (it may not have been reaped) 2 s after its output ended.
    exited: bool,
    /// Reads and listings of the file system that waited for an answer before it let go.
    stalled: (usize, usize),
    /// Worker processes still there once the file system let go.
    left: Vec<u32>,
}

impl Stalled {
    /// The run ended as a run with a stuck read or listing must, whatever got stuck: its
    /// output within `bound`, its process exited although a thread (or worker) of it waited in
    /// the kernel, no worker left once the file system let go, status 1 and no panic, every
    /// entry reported as `expected` says, and the stuck listings counted and told on stderr.
    /// Returns the records.
    fn assert_ended_within(
        &self,
        bound: Duration,
        expected: &[(PathBuf, Expected)],
    ) -> HashMap<String, Value> {
        let Stalled {
            run,
            took,
            exited,
            left,
            ..
        } = self;
        assert!(
            *took <= bound,
            "the output ended after {took:?}, past {bound:?}"
        );
        assert!(
            *exited,
            "the process had not exited 2 s after its output ended"
        );
        assert!(
            left.is_empty(),
            "workers left after the file system let go: {left:?}"
        );
        assert_no_panic(run);
        assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
        let records = run.records();
        assert_hostile(&records, expected);
        let summary = run.summary();
        assert!(summary["stuck_listings"].as_u64() >= Some(1), "{summary}");
        assert!(
            run.stderr.contains("still stuck in the kernel"),
            "{}",
            run.stderr
        );
        records
    }
}

/// Runs `reader` with `--timeout 500ms` and JSON output over `path` of the hostile file system
/// `fs`, reading its output to the end but for at most `bound`; then releases what the file
/// system holds and reaps the reader. Nothing is judged before the file system lets go, so
/// that no failing case leaves a reader in uninterruptible sleep.
fn run_stalled(reader: &Reader, fs: &HostileFs, path: &Path, bound: Duration) -> Stalled {
    let mut cmd = reader.clone().setting("--timeout", "500ms").command(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        path.as_os_str(),
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start the reader");
    let pid = child.id();
    // Read to the end of the output: a process that cannot be reaped can still close it.
    let (ended_tx, ended) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("piped stdout");
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf); // whole-file read ok: the reader's output, checked whole
        let _ = ended_tx.send((buf, started.elapsed()));
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf); // whole-file read ok: the reader's stderr
        String::from_utf8_lossy(&buf).into_owned()
    });
    let mut workers = BTreeSet::new();
    let output = loop {
        workers.extend(procfs::children(pid).into_iter().map(|(child, _)| child));
        match ended.recv_timeout(Duration::from_millis(20)) {
            Ok(output) => break Some(output),
            Err(_) if started.elapsed() < bound => {}
            Err(_) => break None,
        }
    };
    let exit_deadline = Instant::now() + Duration::from_secs(2);
    while procfs::alive(pid) && Instant::now() < exit_deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let exited = !procfs::alive(pid);
    let stalled = (fs.stalled_reads(), fs.stalled_listings());
    fs.release();
    let status = wait_or_kill(&mut child, Duration::from_secs(30));
    let left: Vec<u32> = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left: Vec<u32> = workers
                .iter()
                .copied()
                .filter(|&w| procfs::alive(w))
                .collect();
            if left.is_empty() || Instant::now() >= deadline {
                break left;
            }
            thread::sleep(Duration::from_millis(20));
        }
    };
    let stderr = errors.join().unwrap_or_default();
    let Some((stdout, took)) = output else {
        panic!("the output was still open {bound:?} after the start; stderr: {stderr}");
    };
    Stalled {
        run: Run {
            status,
            stdout,
            stderr,
        },
        took,
        exited,
        stalled,
        left,
    }
}

/// The hostile FUSE file system ([`HostileFs`]: a file whose read never returns, one whose read
/// fails half-way, sizes that lie both ways, a listing that fails half-way, a slow listing, a
/// listing that gives a file and a subdirectory twice, a listing that never returns).
///
/// Without its stalled file and directory every other entry is reported once with the right
/// counts or kind, with no time limit. Whole, with `--timeout 500ms`: every record and the
/// summary are written and the output closed within the limit and a moment (a second more for
/// reader-proc, which waits that long for a killed worker to die), the process exits although
/// a thread of it (or its worker) is stuck in the kernel — it is reaped once the file system
/// lets the read go, with status 1 — and nothing is left in uninterruptible sleep after the
/// mount is gone. Skipped, visibly, where FUSE cannot be mounted.
pub fn a_hostile_file_system_is_read_to_its_end(reader: &Reader) {
    let Some(fs) = HostileFs::mount() else {
        return;
    };
    let stalls = Path::new(hostile::LISTING_STALLS);
    let others: Vec<PathBuf> = [
        Path::new(hostile::PLAIN),
        Path::new(hostile::FAILS_HALF_WAY),
        Path::new(hostile::SIZE_LARGER),
        Path::new(hostile::SIZE_SMALLER),
        Path::new(hostile::LISTING_FAILS),
        Path::new(hostile::SLOW_LISTING),
        Path::new(hostile::REPEATS_NAMES),
        &stalls.join("before.txt"),
        &stalls.join("after"),
        &stalls.join("beside.txt"),
    ]
    .iter()
    .map(|name| fs.join(name))
    .collect();
    let run = reader.json(&others);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    assert_hostile(&run.records(), &fs.expected(false));
    let whole = fs.expected(true);

    let bound = if reader.has_processes() {
        Duration::from_millis(500) + Duration::from_secs(3)
    } else {
        Duration::from_millis(500) + Duration::from_secs(2)
    };
    let stalled = run_stalled(reader, &fs, fs.root(), bound);
    drop(fs);
    let waiting = stalled.stalled;
    assert!(
        waiting.0 >= 1 && waiting.1 >= 1,
        "the stalled file was read and the stalled directory listed ({waiting:?} waiting)"
    );
    stalled.assert_ended_within(bound, &whole);
    let summary = stalled.run.summary();
    if reader.has_processes() {
        assert!(summary["workers_left"].as_u64() >= Some(1), "{summary}");
    } else {
        assert!(summary["stuck_reads"].as_u64() >= Some(1), "{summary}");
    }
}

/// A directory whose listing never returns (the hostile file system's
/// [`hostile::NEVER_LISTED`]), with `--timeout 500ms`: it is reported once, as `timeout`, naming
/// it; every file beside it, and below the directory walked after it, is read; every record and
/// the summary are written and the output ends within the limit and a second, in every model;
/// the process exits although a thread of it is stuck in the kernel (`stuck_listings`, and a
/// line on stderr), is reaped with status 1 once the file system lets go, and leaves no worker
/// behind. Skipped, visibly, where FUSE cannot be mounted.
pub fn a_listing_that_never_returns_costs_one_directory(reader: &Reader) {
    let Some(fs) = HostileFs::mount() else {
        return;
    };
    let tree = Path::new(hostile::LISTING_STALLS);
    let expected = fs.expected_under(tree, true);
    let bound = Duration::from_millis(500) + Duration::from_secs(1);
    let stalled = run_stalled(reader, &fs, &fs.join(tree), bound);
    let never = fs.join(tree).join(hostile::NEVER_LISTED);
    drop(fs);
    let waiting = stalled.stalled;
    assert!(
        waiting.1 >= 1,
        "the directory was listed ({waiting:?} waiting)"
    );
    let records = stalled.assert_ended_within(bound, &expected);
    assert_eq!(records.len(), 5, "{:?}", records.keys());
    let message = records[&path_key(&never)]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("timeout") && message.contains("listing"),
        "{message}"
    );
}

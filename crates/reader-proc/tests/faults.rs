//! Every fault of the process model, through the real binaries: a worker that crashes on a
//! file, is killed from outside, hangs past the timeout, sends garbage, dies or stalls before
//! it connects, is missing; a parent interrupted or killed; workers killed at random mid-run.
//! Faults are injected with the worker's test-only `READER_PROC_FAULT` switch.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use reader_core::{Schedule, Walk};
use reader_proc::ProcReader;
use reader_testkit::{Reader, Run, Value, collect, procfs};

const BIN: &str = env!("CARGO_BIN_EXE_reader-proc");
const WORKER: &str = env!("CARGO_BIN_EXE_reader-proc-worker");
/// Longer than any of these runs takes; a run past it is a hang.
const LIMIT: Duration = Duration::from_secs(60);

/// A tree of `n` small files `fNNNN.txt` with `i + 1` words each, plus the named extra files.
fn tree(n: usize, extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..n {
        fs::write(
            dir.path().join(format!("f{i:04}.txt")),
            "w ".repeat(i % 50 + 1) + "\n",
        )
        .expect("write");
    }
    for name in extra {
        fs::write(dir.path().join(name), "one two three\n").expect("write");
    }
    dir
}

/// reader-proc with `fault` injected into its workers' reads, if any, and its worker found
/// next to it.
fn reader(fault: Option<&str>) -> Reader {
    let reader = Reader::new(BIN, &[]).env_remove("READER_PROC_WORKER");
    match fault {
        Some(fault) => reader.faults(fault),
        None => reader,
    }
}

/// Runs `args` to its end as `--format json`, at most [`LIMIT`].
fn json(reader: &Reader, args: &[&str], dir: &Path) -> Run {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--format".as_ref(), "json".as_ref()];
    all.extend(args.iter().map(|a| a.as_ref() as &std::ffi::OsStr));
    all.push(dir.as_os_str());
    reader.run_within(LIMIT, &all)
}

/// Starts `args` as `--format json` without waiting, stdout and stderr piped.
fn spawn(reader: &Reader, args: &[&str], dir: &Path) -> std::process::Child {
    let mut cmd = reader.command(&["--format", "json"]);
    cmd.args(args)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn reader-proc")
}

fn file<'a>(files: &'a HashMap<String, Value>, dir: &Path, name: &str) -> &'a Value {
    let path = dir.join(name);
    files
        .get(path.to_str().expect("utf-8"))
        .unwrap_or_else(|| panic!("no record for {name}"))
}

fn error_kind(record: &Value) -> Option<&str> {
    record["error"]["kind"].as_str()
}

/// Asserts every `fNNNN.txt` of [`tree`] was read with the right counts.
fn assert_regular_files_ok(files: &HashMap<String, Value>, dir: &Path, n: usize) {
    for i in 0..n {
        let record = file(files, dir, &format!("f{i:04}.txt"));
        assert_eq!(record["error"], Value::Null, "{record}");
        assert_eq!(record["words"], (i % 50 + 1) as u64, "{record}");
    }
}

fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: plain kill(2) of a process this test started (or its child).
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

#[test]
fn a_file_that_crashes_its_worker_twice_is_worker_crashed_and_the_rest_are_read() {
    let dir = tree(300, &["poison.txt"]);
    let run = json(&reader(Some("abort:poison")), &["--jobs", "2"], dir.path());
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let (files, summary) = (run.records(), run.summary());
    assert_eq!(files.len(), 301);
    let poison = file(&files, dir.path(), "poison.txt");
    assert_eq!(error_kind(poison), Some("worker_crashed"), "{poison}");
    let message = poison["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("SIGABRT") && message.contains("retried"),
        "{message}"
    );
    assert_regular_files_ok(&files, dir.path(), 300);
    assert_eq!(
        (summary["ok"].as_u64(), summary["failed"].as_u64()),
        (Some(300), Some(1))
    );
    assert_eq!(summary["workers_replaced"], 2, "{summary}");
    assert_eq!(summary["files_charged"], 1, "{summary}");
}

#[test]
fn a_worker_killed_mid_run_is_replaced_and_what_it_held_is_retried() {
    let dir = tree(200, &["slow.txt"]);
    let child = spawn(
        &reader(Some("sleep:1000:slow")),
        &["--jobs", "2"],
        dir.path(),
    );
    let workers = procfs::wait_for_children(child.id(), 2, Duration::from_secs(10));
    // By now one worker sleeps in slow.txt; kill both (SIGKILL, as the OOM killer would).
    thread::sleep(Duration::from_millis(300));
    for &pid in &workers {
        kill(pid, libc::SIGKILL);
    }
    let run = collect(child, LIMIT);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let (files, summary) = (run.records(), run.summary());
    assert_eq!(files.len(), 201);
    assert_regular_files_ok(&files, dir.path(), 200);
    assert_eq!(file(&files, dir.path(), "slow.txt")["words"], 3);
    assert!(summary["workers_replaced"].as_u64() >= Some(1), "{summary}");
    assert!(summary["files_retried"].as_u64() >= Some(1), "{summary}");
    assert_eq!(
        summary["files_charged"], 0,
        "a kill on a first try charges nobody"
    );
    let left = procfs::left_after(&workers, Duration::from_secs(1));
    assert!(left.is_empty(), "killed workers still shown: {left:?}");
}

#[test]
fn a_worker_that_hangs_past_the_timeout_is_replaced_and_the_file_is_a_timeout_at_once() {
    let dir = tree(200, &["stuck.txt"]);
    let args = ["--jobs", "2", "--timeout", "500ms"];
    let run = json(&reader(Some("hang:stuck")), &args, dir.path());
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let (files, summary) = (run.records(), run.summary());
    assert_eq!(files.len(), 201);
    let stuck = file(&files, dir.path(), "stuck.txt");
    assert_eq!(error_kind(stuck), Some("timeout"), "{stuck}");
    assert_regular_files_ok(&files, dir.path(), 200);
    // The worker had named the file it was stuck on: charged at once, with no retry that
    // would stall as long again; one worker replaced. (Files it had read whose results it had
    // not sent yet are read again.)
    let message = stuck["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not retried"), "{message}");
    assert_eq!(summary["files_charged"], 1, "{summary}");
    assert_eq!(summary["workers_replaced"], 1, "{summary}");
}

#[test]
fn slow_files_within_the_timeout_are_not_timeouts() {
    let dir = tree(50, &["slow-a.txt", "slow-b.txt"]);
    let args = ["--jobs", "2", "--timeout", "1.5"];
    let run = json(&reader(Some("sleep:300:slow")), &args, dir.path());
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let (files, summary) = (run.records(), run.summary());
    assert_eq!(files.len(), 52);
    assert_eq!(summary["workers_replaced"], 0, "{summary}");
}

#[test]
fn a_worker_that_sends_garbage_is_replaced_and_only_its_file_fails() {
    let dir = tree(100, &["noise.txt"]);
    let run = json(&reader(Some("garbage:noise")), &[], dir.path());
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let files = run.records();
    assert_eq!(files.len(), 101);
    let noise = file(&files, dir.path(), "noise.txt");
    assert_eq!(error_kind(noise), Some("worker_crashed"), "{noise}");
    let message = noise["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("undecodable"), "{message}");
    assert_regular_files_ok(&files, dir.path(), 100);
}

/// A script standing in for the worker.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-worker");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn a_worker_that_dies_before_connecting_is_a_one_line_error() {
    let dir = tree(5, &[]);
    let bin = tempfile::tempdir().expect("tempdir");
    let fake = script(bin.path(), "exit 3");
    let run = reader(None).run_within(
        LIMIT,
        &[
            "--worker".as_ref(),
            fake.as_os_str(),
            dir.path().as_os_str(),
        ],
    );
    assert_eq!(run.code(), Some(2));
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("exited before connecting (exited with status 3)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_worker_that_never_connects_is_given_up_on_in_bounded_time() {
    let bin = tempfile::tempdir().expect("tempdir");
    let marker = "61.23456";
    let fake = script(bin.path(), &format!("exec sleep {marker}"));
    let err = ProcReader::new()
        .jobs(1)
        .worker(&fake)
        .connect_timeout(Duration::from_millis(300))
        .start()
        .expect_err("never connects");
    let err = err.to_string();
    assert!(err.contains("did not connect within 300ms"), "{err}");
    assert!(err.contains("SIGKILL"), "{err}");
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let left = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !left.contains(marker),
        "the stalled worker is still running"
    );
}

#[test]
fn a_missing_worker_is_a_one_line_error() {
    let dir = tree(1, &[]);
    for (flag, env) in [
        (Some("/nonexistent/reader-proc-worker"), None),
        (None, Some("/nonexistent/from-env-worker")),
    ] {
        let mut proc_reader = reader(None);
        if let Some(env) = env {
            proc_reader = proc_reader.env("READER_PROC_WORKER", env);
        }
        let mut args: Vec<&std::ffi::OsStr> = Vec::new();
        if let Some(flag) = flag {
            args.extend([std::ffi::OsStr::new("--worker"), std::ffi::OsStr::new(flag)]);
        }
        args.push(dir.path().as_os_str());
        let run = proc_reader.run_within(LIMIT, &args);
        assert_eq!(run.code(), Some(2));
        assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("not found"), "{}", run.stderr);
        assert!(
            run.stderr.contains(flag.or(env).unwrap_or_default()),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_worker_named_by_the_environment_is_used() {
    let dir = tree(20, &[]);
    let run = json(
        &reader(None).env("READER_PROC_WORKER", WORKER),
        &[],
        dir.path(),
    );
    assert_eq!(run.code(), Some(0));
    assert_regular_files_ok(&run.records(), dir.path(), 20);
}

#[test]
fn the_worker_refuses_to_run_by_hand() {
    let out = Command::new(WORKER).output().expect("run worker");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("started by reader-proc"), "{stderr}");
}

/// Starts a run whose workers hang, signals the parent, and checks that it exits with
/// `code` and that none of its workers is left, neither running nor a zombie.
fn interrupt(signal: libc::c_int, code: Option<i32>) {
    let dir = tree(20, &[]);
    let child = spawn(&reader(Some("hang:")), &["--jobs", "3"], dir.path());
    let parent = child.id();
    let workers = procfs::wait_for_children(parent, 3, Duration::from_secs(10));
    thread::sleep(Duration::from_millis(100));
    kill(parent, signal);
    let run = collect(child, Duration::from_secs(5));
    assert_eq!(run.code(), code, "{}", run.stderr);
    let left = procfs::left_after(&workers, Duration::from_secs(1));
    assert!(
        left.is_empty(),
        "workers left a second after the signal: {left:?}"
    );
}

#[test]
fn sigint_stops_every_worker_and_exits_130() {
    interrupt(libc::SIGINT, Some(130));
}

#[test]
fn sigterm_stops_every_worker_and_exits_143() {
    interrupt(libc::SIGTERM, Some(143));
}

#[test]
fn a_parent_killed_outright_takes_its_workers_with_it() {
    let dir = tree(20, &[]);
    let child = spawn(&reader(Some("hang:")), &["--jobs", "2"], dir.path());
    let parent = child.id();
    let workers = procfs::wait_for_children(parent, 2, Duration::from_secs(10));
    kill(parent, libc::SIGKILL);
    let run = collect(child, Duration::from_secs(5));
    assert_eq!(run.code(), None);
    // The kernel kills the workers (PR_SET_PDEATHSIG); whoever adopted them reaps them.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while workers.iter().any(|&w| procfs::alive(w)) {
        assert!(
            std::time::Instant::now() < deadline,
            "workers still running a second after the parent died"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killing_random_workers_every_few_milliseconds_loses_and_duplicates_nothing() {
    const FILES: usize = 3000;
    let dir = tree(FILES, &[]);
    // One millisecond a file keeps the run going for about 1.5 s with two workers.
    let child = spawn(&reader(Some("sleep:1:")), &["--jobs", "2"], dir.path());
    let parent = child.id();
    procfs::wait_for_children(parent, 1, Duration::from_secs(10));
    let killer = thread::spawn(move || {
        let mut kills = 0u64;
        let mut seed = u64::from(parent);
        loop {
            if !procfs::alive(parent) {
                return kills;
            }
            let live = procfs::live_children(parent);
            if !live.is_empty() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                kill(live[(seed >> 33) as usize % live.len()], libc::SIGKILL);
                kills += 1;
            }
            thread::sleep(Duration::from_millis(25));
            if kills > 400 {
                return kills;
            }
        }
    });
    let run = collect(child, LIMIT);
    let kills = killer.join().expect("killer");
    assert!(matches!(run.code(), Some(0 | 1)), "{}", run.stderr);
    let (files, summary) = (run.records(), run.summary());
    assert_eq!(files.len(), FILES, "every file exactly once");
    let mut crashed = 0;
    for i in 0..FILES {
        let record = file(&files, dir.path(), &format!("f{i:04}.txt"));
        match error_kind(record) {
            None => assert_eq!(record["words"], (i % 50 + 1) as u64, "{record}"),
            Some("worker_crashed") => crashed += 1,
            Some(other) => panic!("unexpected error {other}: {record}"),
        }
    }
    assert!(kills >= 10, "only {kills} kills");
    assert_eq!(summary["failed"], crashed, "{summary}");
    assert!(
        summary["workers_replaced"].as_u64() >= Some(kills / 2),
        "{summary} after {kills} kills"
    );
}

#[test]
fn a_closed_stdout_ends_the_run_and_every_worker() {
    use std::io::{BufRead, BufReader};
    // More records than the output's 64 KiB buffer holds, so the first line reaches the pipe
    // while the run goes on, and the next write finds it closed.
    let dir = tree(3000, &[]);
    let mut child = spawn(&reader(Some("sleep:1:")), &["--jobs", "2"], dir.path());
    let workers = procfs::wait_for_children(child.id(), 2, Duration::from_secs(10));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first record");
    drop(stdout);
    let run = collect(child, Duration::from_secs(10));
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(run.stderr.is_empty(), "quiet: {}", run.stderr);
    let left = procfs::left_after(&workers, Duration::from_secs(1));
    assert!(left.is_empty(), "workers left: {left:?}");
}

#[test]
fn a_bad_timeout_is_a_one_line_usage_error() {
    let dir = tree(1, &[]);
    for bad in ["0", "-1", "soon", "inf"] {
        let flag = format!("--timeout={bad}");
        let run = reader(None).run_within(LIMIT, &[flag.as_ref(), dir.path().as_os_str()]);
        assert_eq!(run.code(), Some(2), "--timeout {bad}");
        assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    }
}

#[test]
fn work_is_shared_so_that_no_worker_idles() {
    // 120 files of 10 ms each: shared well, each of the two workers reads about half.
    let dir = tree(120, &[]);
    let run = json(&reader(Some("sleep:10:")), &["--jobs", "2"], dir.path());
    assert_eq!(run.code(), Some(0));
    let mut per_worker: HashMap<String, usize> = HashMap::new();
    for record in run.records().values() {
        *per_worker
            .entry(record["worker"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    assert_eq!(per_worker.len(), 2, "{per_worker:?}");
    assert!(per_worker.values().all(|&n| n >= 40), "{per_worker:?}");
}

/// The pool through the library: started once, read through core's seam.
#[test]
fn a_started_pool_reads_through_the_seam() {
    let dir = tree(40, &[]);
    let pool = ProcReader::new()
        .jobs(2)
        .worker(WORKER)
        .start()
        .expect("the worker starts");
    let mut words = 0;
    let finished = pool
        .read(&Walk::new([dir.path()]), |record| {
            if let reader_core::Record::File(file) = record {
                words += file.outcome.map_or(0, |c| c.words);
            }
        })
        .expect("read");
    let expected: u64 = (0..40).map(|i| (i % 50 + 1) as u64).sum();
    assert_eq!((words, finished.summary.jobs), (expected, 2));
    assert_eq!(finished.stats.map(|s| s.charged), Some(0));
}

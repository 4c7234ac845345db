//! Every fault of the process model, through the real binaries: a worker that crashes on a
//! file, is killed from outside, hangs past the timeout, sends garbage, dies or stalls before
//! it connects, is missing; a parent interrupted or killed; workers killed at random mid-run.
//! Faults are injected with the worker's test-only `READER_PROC_FAULT` switch.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reader_core::Walk;
use reader_proc::ProcReader;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reader-proc");
const WORKER: &str = env!("CARGO_BIN_EXE_reader-proc-worker");

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

fn reader(fault: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("READER_PROC_WORKER");
    match fault {
        Some(fault) => cmd.env("READER_PROC_FAULT", fault),
        None => cmd.env_remove("READER_PROC_FAULT"),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` at most `limit`; kills it and fails the test if it takes longer.
fn wait_bounded(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            // SAFETY: plain kill(2) of our own child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("reader-proc still running after {limit:?}");
        }
    }
}

fn run(cmd: &mut Command, limit: Duration) -> Output {
    wait_bounded(cmd.spawn().expect("spawn reader-proc"), limit)
}

/// The JSON lines of a run: the file records by path, and the summary.
fn parse(output: &Output) -> (HashMap<String, Value>, Value) {
    let text = String::from_utf8_lossy(&output.stdout);
    let mut files = HashMap::new();
    let mut summary = Value::Null;
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        match value["type"].as_str() {
            Some("file") => {
                let path = value["path"].as_str().expect("path").to_string();
                assert!(
                    files.insert(path.clone(), value).is_none(),
                    "{path} reported twice"
                );
            }
            Some("summary") => summary = value,
            _ => panic!("unexpected line {line}"),
        }
    }
    (files, summary)
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

/// The processes whose parent is `pid`, with their state letter.
fn children(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            found.push((child, state));
        }
    }
    found
}

/// Waits until `pid` has `count` children, for at most `limit`.
fn wait_for_workers(pid: u32, count: usize, limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let kids: Vec<u32> = children(pid).into_iter().map(|(p, _)| p).collect();
        if kids.len() >= count {
            return kids;
        }
        assert!(started.elapsed() < limit, "workers did not start: {kids:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// What `ps` still shows of `pids` (pid and state), if anything.
fn ps(pids: &[u32]) -> String {
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("ps")
        .args(["-o", "pid=,stat=,comm=", "-p", &list])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: plain kill(2) of a process this test started (or its child).
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

#[test]
fn a_file_that_crashes_its_worker_twice_is_worker_crashed_and_the_rest_are_read() {
    let dir = tree(300, &["poison.txt"]);
    let out = run(
        reader(Some("abort:poison"))
            .args(["--format", "json", "--jobs", "2"])
            .arg(dir.path()),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (files, summary) = parse(&out);
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
    let started = Instant::now();
    let child = reader(Some("sleep:1000:slow"))
        .args(["--format", "json", "--jobs", "2"])
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let parent = child.id();
    let workers = wait_for_workers(parent, 2, Duration::from_secs(10));
    // By now one worker sleeps in slow.txt; kill both (SIGKILL, as the OOM killer would).
    thread::sleep(Duration::from_millis(300));
    for &pid in &workers {
        kill(pid, libc::SIGKILL);
    }
    let killed_at = started.elapsed();
    let out = wait_bounded(child, Duration::from_secs(20));
    let failures: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"kind\""))
        .map(str::to_string)
        .collect();
    assert_eq!(out.status.code(), Some(0), "{failures:?}");
    let (files, summary) = parse(&out);
    assert_eq!(files.len(), 201);
    assert_regular_files_ok(&files, dir.path(), 200);
    assert_eq!(file(&files, dir.path(), "slow.txt")["words"], 3);
    assert!(summary["workers_replaced"].as_u64() >= Some(1), "{summary}");
    assert!(summary["files_retried"].as_u64() >= Some(1), "{summary}");
    // Noticed at once: the retry of slow.txt (1 s) is nearly all that follows the kill.
    let after_kill = started.elapsed() - killed_at;
    assert!(
        after_kill < Duration::from_secs(4),
        "{after_kill:?} after the kill"
    );
    assert!(
        ps(&workers).is_empty(),
        "killed workers still shown: {}",
        ps(&workers)
    );
}

#[test]
fn a_worker_that_hangs_past_the_timeout_is_replaced_and_the_file_is_a_timeout() {
    let dir = tree(200, &["stuck.txt"]);
    let started = Instant::now();
    let out = run(
        reader(Some("hang:stuck"))
            .args(["--format", "json", "--jobs", "2", "--timeout", "0.5"])
            .arg(dir.path()),
        Duration::from_secs(20),
    );
    let elapsed = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (files, summary) = parse(&out);
    assert_eq!(files.len(), 201);
    let stuck = file(&files, dir.path(), "stuck.txt");
    assert_eq!(error_kind(stuck), Some("timeout"), "{stuck}");
    assert_regular_files_ok(&files, dir.path(), 200);
    assert_eq!(summary["files_charged"], 1, "{summary}");
    // The first attempt and the careful retry each wait one timeout; nothing else does.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn slow_files_within_the_timeout_are_not_timeouts() {
    let dir = tree(50, &["slow-a.txt", "slow-b.txt"]);
    let out = run(
        reader(Some("sleep:300:slow"))
            .args(["--format", "json", "--jobs", "2", "--timeout", "1.5"])
            .arg(dir.path()),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (files, summary) = parse(&out);
    assert_eq!(files.len(), 52);
    assert_eq!(summary["workers_replaced"], 0, "{summary}");
}

#[test]
fn a_worker_that_sends_garbage_is_replaced_and_only_its_file_fails() {
    let dir = tree(100, &["noise.txt"]);
    let out = run(
        reader(Some("garbage:noise"))
            .args(["--format", "json"])
            .arg(dir.path()),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (files, _) = parse(&out);
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
    let started = Instant::now();
    let out = run(
        reader(None).arg("--worker").arg(&fake).arg(dir.path()),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("exited before connecting (exited with status 3)"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_worker_that_never_connects_is_given_up_on_in_bounded_time() {
    let dir = tree(5, &[]);
    let bin = tempfile::tempdir().expect("tempdir");
    let marker = "61.23456";
    let fake = script(bin.path(), &format!("exec sleep {marker}"));
    let started = Instant::now();
    let err = ProcReader::new()
        .jobs(1)
        .worker(&fake)
        .connect_timeout(Duration::from_millis(300))
        .read(&Walk::new([dir.path()]), |_| {})
        .expect_err("never connects");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
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
        let mut cmd = reader(None);
        if let Some(flag) = flag {
            cmd.args(["--worker", flag]);
        }
        if let Some(env) = env {
            cmd.env("READER_PROC_WORKER", env);
        }
        let out = run(cmd.arg(dir.path()), Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("not found"), "{stderr}");
        assert!(
            stderr.contains(flag.or(env).unwrap_or_default()),
            "{stderr}"
        );
    }
}

#[test]
fn the_worker_named_by_the_environment_is_used() {
    let dir = tree(20, &[]);
    let out = run(
        reader(None)
            .env("READER_PROC_WORKER", WORKER)
            .args(["--format", "json"])
            .arg(dir.path()),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0));
    let (files, _) = parse(&out);
    assert_regular_files_ok(&files, dir.path(), 20);
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
/// `code` and that none of its workers is left, as `ps` sees it.
fn interrupt(signal: libc::c_int, code: Option<i32>) {
    let dir = tree(20, &[]);
    let child = reader(Some("hang:"))
        .args(["--format", "json", "--jobs", "3"])
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let parent = child.id();
    let workers = wait_for_workers(parent, 3, Duration::from_secs(10));
    thread::sleep(Duration::from_millis(100));
    kill(parent, signal);
    let signalled = Instant::now();
    let out = wait_bounded(child, Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        code,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every worker is gone within a second: neither running nor a zombie.
    loop {
        let left = ps(&workers);
        if left.is_empty() {
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "workers left a second after the signal:\n{left}"
        );
        thread::sleep(Duration::from_millis(20));
    }
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
    let child = reader(Some("hang:"))
        .args(["--format", "json", "--jobs", "2"])
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let parent = child.id();
    let workers = wait_for_workers(parent, 2, Duration::from_secs(10));
    kill(parent, libc::SIGKILL);
    let killed = Instant::now();
    let out = wait_bounded(child, Duration::from_secs(5));
    assert_eq!(out.status.code(), None);
    // The kernel kills the workers (PR_SET_PDEATHSIG); whoever adopted them reaps them.
    loop {
        let running: Vec<String> = ps(&workers)
            .lines()
            .filter(|l| {
                !l.split_whitespace()
                    .nth(1)
                    .is_some_and(|s| s.starts_with('Z'))
            })
            .map(str::to_string)
            .collect();
        if running.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "workers still running a second after the parent died: {running:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killing_random_workers_every_few_milliseconds_loses_and_duplicates_nothing() {
    const FILES: usize = 3000;
    let dir = tree(FILES, &[]);
    // One millisecond a file keeps the run going for about 1.5 s with two workers.
    let child = reader(Some("sleep:1:"))
        .args(["--format", "json", "--jobs", "2"])
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let parent = child.id();
    wait_for_workers(parent, 1, Duration::from_secs(10));
    let killer = thread::spawn(move || {
        let mut kills = 0u64;
        let mut seed = u64::from(parent);
        loop {
            let kids = children(parent);
            if kids.is_empty() && fs::metadata(format!("/proc/{parent}")).is_err() {
                return kills;
            }
            let live: Vec<u32> = kids
                .iter()
                .filter(|(_, s)| *s != 'Z')
                .map(|&(p, _)| p)
                .collect();
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
    let out = wait_bounded(child, Duration::from_secs(60));
    let kills = killer.join().expect("killer");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (files, summary) = parse(&out);
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
    let dir = tree(200, &[]);
    let mut child = reader(Some("sleep:20:"))
        .args(["--format", "json", "--jobs", "2"])
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let parent = child.id();
    let workers = wait_for_workers(parent, 2, Duration::from_secs(10));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first record");
    drop(stdout);
    let out = wait_bounded(child, Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ps(&workers).is_empty(), "workers left: {}", ps(&workers));
}

#[test]
fn a_bad_timeout_is_a_one_line_usage_error() {
    let dir = tree(1, &[]);
    for bad in ["0", "-1", "soon", "inf"] {
        let out = run(
            reader(None).arg(format!("--timeout={bad}")).arg(dir.path()),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--timeout"), "{stderr}");
    }
}

#[test]
fn work_is_shared_so_that_no_worker_idles() {
    // 120 files of 10 ms each: one worker alone would take 1.2 s, two sharing well 0.6 s.
    let dir = tree(120, &[]);
    let started = Instant::now();
    let out = run(
        reader(Some("sleep:10:"))
            .args(["--format", "json", "--jobs", "2"])
            .arg(dir.path()),
        Duration::from_secs(20),
    );
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0));
    let (files, _) = parse(&out);
    let mut per_worker: HashMap<&str, usize> = HashMap::new();
    for record in files.values() {
        *per_worker
            .entry(record["worker"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    assert_eq!(per_worker.len(), 2, "{per_worker:?}");
    assert!(per_worker.values().all(|&n| n >= 40), "{per_worker:?}");
    assert!(elapsed < Duration::from_millis(1100), "took {elapsed:?}");
}

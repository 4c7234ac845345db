//! The `reader-async` binary beyond the shared conformance suite: runtime selection, the
//! per-file timeout (through the documented fault-injection hook), the open-files limit and
//! memory bounds.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use reader_async::STALL_VAR;
use reader_core::{Record, SequentialReader, Walk};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reader-async");
const RUNTIMES: [&str; 2] = ["tokio", "async-std"];

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove(STALL_VAR);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.timeout(Duration::from_secs(120));
    cmd.output().expect("reader-async runs")
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn summary(out: &Output) -> Value {
    lines(out).pop().expect("a summary line")
}

fn file_record<'a>(records: &'a [Value], name: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["type"] == "file" && r["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or_else(|| panic!("no record for {name}"))
}

fn write_tree(dir: &Path, files: usize) {
    for i in 0..files {
        let text = format!("file {i} has some words\n").repeat(i % 7 + 1);
        fs::write(dir.join(format!("f{i:05}.txt")), text).expect("write");
    }
}

#[test]
fn per_file_results_match_the_sequential_reader_on_both_runtimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 300);
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    fs::write(dir.path().join("sub/big.txt"), "w \n".repeat(400_000)).expect("write");
    let mut expected = Vec::new();
    SequentialReader::new()
        .read(&Walk::new([dir.path()]), |r| {
            if let Record::File(f) = r {
                let c = f.outcome.expect("readable");
                expected.push((f.path.display().to_string(), c.bytes, c.lines, c.words));
            }
        })
        .expect("sequential read");
    expected.sort();
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        for jobs in ["1", "64"] {
            let out = run(
                &["--format", "json", "--runtime", runtime, "-j", jobs, root],
                &[],
            );
            assert_eq!(out.status.code(), Some(0), "{runtime} -j {jobs}");
            let mut got: Vec<_> = lines(&out)
                .iter()
                .filter(|r| r["type"] == "file")
                .map(|r| {
                    let n = |k: &str| r[k].as_u64().expect("a count");
                    let path = r["path"].as_str().expect("path").to_string();
                    (path, n("size"), n("lines"), n("words"))
                })
                .collect();
            got.sort();
            assert_eq!(got, expected, "{runtime} -j {jobs}");
            let summary = summary(&out);
            assert_eq!(summary["strategy"], "async");
            assert_eq!(summary["runtime"], runtime);
            assert_eq!(summary["jobs"].as_u64(), jobs.parse().ok());
        }
    }
}

#[test]
fn an_unknown_runtime_is_a_one_line_usage_error() {
    let out = run(&["--runtime", "smol", "."], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--runtime"), "{stderr}");
    for bad in ["0", "-1", "soon"] {
        let out = run(&["--timeout", bad, "."], &[]);
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
    }
}

/// Three files of which one hangs for a minute: with `--timeout` it is reported as `timeout`
/// within about the timeout, the others are read, and the run ends without waiting for it.
#[test]
fn a_hung_read_is_reported_as_timeout_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["a.txt", "hang.txt", "b.txt"] {
        fs::write(dir.path().join(name), "two words\n").expect("write");
    }
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        let started = Instant::now();
        let out = run(
            &[
                "--format",
                "json",
                "--runtime",
                runtime,
                "--timeout",
                "0.3",
                root,
            ],
            &[(STALL_VAR, "60000:hang")],
        );
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{runtime}");
        assert!(took < Duration::from_secs(20), "{runtime} took {took:?}");
        let records = lines(&out);
        let hung = file_record(&records, "hang.txt");
        assert_eq!(hung["error"]["kind"], "timeout", "{runtime}: {hung}");
        assert!(hung["elapsed_us"].as_u64() >= Some(300_000), "{hung}");
        for name in ["a.txt", "b.txt"] {
            assert_eq!(file_record(&records, name)["words"], 2, "{runtime}");
        }
        let summary = summary(&out);
        assert_eq!(
            (summary["ok"].as_u64(), summary["failed"].as_u64()),
            (Some(2), Some(1))
        );
    }
}

/// A slow read that ends before the deadline is not a timeout, and without `--timeout` the
/// reader waits for it: the hook really delays the read.
#[test]
fn a_slow_read_within_the_deadline_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("slow.txt"), "one two three\n").expect("write");
    let root = dir.path().to_str().expect("utf-8 temp path");
    for extra in [&["--timeout", "30"][..], &[]] {
        let started = Instant::now();
        let args = [&["--format", "json"][..], extra, &[root]].concat();
        let out = run(&args, &[(STALL_VAR, "700:slow")]);
        assert!(started.elapsed() >= Duration::from_millis(700));
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        assert_eq!(file_record(&lines(&out), "slow.txt")["words"], 3);
    }
}

/// More hung files than files in flight: each is replaced by a spare slot, so the others are
/// still read and the run ends.
#[test]
fn more_hung_files_than_slots_do_not_stop_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 20);
    for i in 0..6 {
        fs::write(dir.path().join(format!("hang{i}.txt")), "x\n").expect("write");
    }
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        let started = Instant::now();
        let out = run(
            &[
                "--format",
                "json",
                "--runtime",
                runtime,
                "-j",
                "2",
                "--timeout",
                "0.2",
                root,
            ],
            &[(STALL_VAR, "60000:hang")],
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{runtime}");
        assert_eq!(out.status.code(), Some(1), "{runtime}");
        let summary = summary(&out);
        assert_eq!(summary["ok"], 20, "{runtime}: {summary}");
        assert_eq!(summary["failed"], 6, "{runtime}: {summary}");
    }
}

/// 100,000 files under `ulimit -n 256`, asking for far more files in flight than that: the
/// reader clamps to the descriptors it has and reads them all.
#[test]
fn a_hundred_thousand_files_under_ulimit_256() {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in 0..100 {
        let sub = dir.path().join(format!("d{d:02}"));
        fs::create_dir(&sub).expect("mkdir");
        for f in 0..1000 {
            fs::write(sub.join(format!("{f}")), "a b\n").expect("write");
        }
    }
    let root = dir.path().to_str().expect("utf-8 temp path");
    for (runtime, jobs) in [("tokio", "4096"), ("async-std", "1000")] {
        let script = format!(
            "ulimit -n 256 && exec \"$0\" --format json --runtime {runtime} -j {jobs} \"$1\" | tail -n 1"
        );
        let out = Command::new("bash")
            .args(["-c", &script, BIN, root])
            .env_remove(STALL_VAR)
            .timeout(Duration::from_secs(120))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{runtime}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = summary(&out);
        assert_eq!(summary["ok"], 100_000, "{runtime}: {summary}");
        assert_eq!(summary["failed"], 0, "{runtime}: {summary}");
        assert!(summary["jobs"].as_u64() < Some(256), "{runtime}: {summary}");
    }
}

/// 100 files in flight, each large enough to fill its lane's buffer: memory stays bounded by
/// the buffers, whatever the file sizes.
#[test]
fn memory_is_bounded_by_the_buffers_with_a_hundred_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..100 {
        let file = fs::File::create(dir.path().join(format!("sparse{i}"))).expect("create");
        file.set_len(4 << 20).expect("set_len");
    }
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        let out = run(
            &["--format", "json", "--runtime", runtime, "-j", "100", root],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{runtime}");
        let summary = summary(&out);
        assert_eq!(summary["bytes"], 100 * (4 << 20), "{runtime}");
        let rss = summary["peak_rss_kib"].as_u64().expect("peak_rss_kib");
        assert!(rss < 64 * 1024, "{runtime}: peak RSS {rss} KiB");
    }
}

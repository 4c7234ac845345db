//! The `reader-async` binary beyond the shared conformance suite: runtime selection, the
//! per-file timeout (with reader-core's fault injection), the open-files limit and memory
//! bounds.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reader_core::{Record, Schedule, SequentialReader, Walk};
use reader_testkit::{FAULTS_VAR, Reader, Run, Value, finish_within};

const BIN: &str = env!("CARGO_BIN_EXE_reader-async");
const RUNTIMES: [&str; 2] = ["tokio", "async-std"];
/// Longer than any of these runs takes; a run past it is a hang.
const LIMIT: Duration = Duration::from_secs(60);

fn on(runtime: &str) -> Reader {
    Reader::new(BIN, &["--runtime", runtime])
}

fn file_record<'a>(records: &'a HashMap<String, Value>, name: &str) -> &'a Value {
    records
        .iter()
        .find(|(path, r)| r["type"] == "file" && path.ends_with(name))
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no record for {name}"))
}

fn write_tree(dir: &Path, files: usize) {
    for i in 0..files {
        let text = format!("file {i} has some words\n").repeat(i % 7 + 1);
        fs::write(dir.join(format!("f{i:05}.txt")), text).expect("write");
    }
}

fn json(reader: &Reader, args: &[&str]) -> Run {
    let mut all = vec!["--format", "json", "--progress", "never"];
    all.extend(args);
    reader.run_within(LIMIT, &all)
}

#[test]
fn per_file_results_match_the_sequential_reader_on_both_runtimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 300);
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    fs::write(dir.path().join("sub/big.txt"), "w \n".repeat(400_000)).expect("write");
    let mut expected = Vec::new();
    let _ = SequentialReader::new()
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
            let run = json(&on(runtime), &["-j", jobs, root]);
            assert_eq!(run.code(), Some(0), "{runtime} -j {jobs}");
            let mut got: Vec<_> = run
                .records()
                .into_iter()
                .map(|(path, r)| {
                    let n = |k: &str| r[k].as_u64().expect("a count");
                    (path, n("size"), n("lines"), n("words"))
                })
                .collect();
            got.sort();
            assert_eq!(got, expected, "{runtime} -j {jobs}");
            let summary = run.summary();
            assert_eq!(summary["strategy"], "async");
            assert_eq!(summary["runtime"], runtime);
            assert_eq!(summary["jobs"].as_u64(), jobs.parse().ok());
        }
    }
}

#[test]
fn an_unknown_runtime_is_a_one_line_usage_error() {
    let reader = Reader::new(BIN, &[]);
    let run = reader.run(&["--runtime", "smol", "."]);
    assert_eq!(run.code(), Some(2));
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("--runtime"), "{}", run.stderr);
    for bad in ["0", "-1", "soon"] {
        let run = reader.run(&["--timeout", bad, "."]);
        assert_eq!(run.code(), Some(2), "--timeout {bad}");
    }
}

/// Three files of which one never finishes its read: with `--timeout` it is reported as
/// `timeout` once its deadline passes, the others are read, and the run ends without waiting
/// for it (it never ends).
#[test]
fn a_hung_read_is_reported_as_timeout_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["a.txt", "hang.txt", "b.txt"] {
        fs::write(dir.path().join(name), "two words\n").expect("write");
    }
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        let run = json(
            &on(runtime).faults("hang:hang.txt"),
            &["--timeout", "300ms", root],
        );
        assert_eq!(run.code(), Some(1), "{runtime}");
        let records = run.records();
        let hung = file_record(&records, "hang.txt");
        assert_eq!(hung["error"]["kind"], "timeout", "{runtime}: {hung}");
        assert!(hung["elapsed_us"].as_u64() >= Some(300_000), "{hung}");
        for name in ["a.txt", "b.txt"] {
            assert_eq!(file_record(&records, name)["words"], 2, "{runtime}");
        }
        let summary = run.summary();
        assert_eq!(
            (summary["ok"].as_u64(), summary["failed"].as_u64()),
            (Some(2), Some(1))
        );
    }
}

/// On a cached tree the runtime's threads read every file themselves, and the summary says
/// so; a read that stalls is never taken there (it would hold a runtime thread): it goes to
/// the blocking pool, where the timeout finds it.
#[test]
fn cached_files_are_read_on_the_runtime_threads_and_a_stalled_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 200);
    fs::write(dir.path().join("hang.txt"), "two words\n").expect("write");
    let root = dir.path().to_str().expect("utf-8 temp path");
    for runtime in RUNTIMES {
        let run = json(&on(runtime), &[root]);
        assert_eq!(run.code(), Some(0), "{runtime}");
        let inline = run.summary()["inline_files"].as_u64();
        if inline == Some(0) {
            eprintln!(
                "skipped: this kernel does not open files from its caches only (Linux < 5.12)"
            );
            return;
        }
        assert_eq!(
            inline,
            Some(201),
            "{runtime}: every cached file read inline"
        );
        let run = json(
            &on(runtime).faults("hang:hang.txt"),
            &["--timeout", "300ms", root],
        );
        assert_eq!(run.code(), Some(1), "{runtime}");
        let records = run.records();
        assert_eq!(
            file_record(&records, "hang.txt")["error"]["kind"],
            "timeout"
        );
        let summary = run.summary();
        assert_eq!(summary["ok"].as_u64(), Some(200), "{runtime}");
        assert!(summary["inline_files"].as_u64() <= Some(200), "{summary}");
    }
}

/// A slow read that ends before the deadline is not a timeout, and without `--timeout` the
/// reader waits for it: the injected delay really delays the read.
#[test]
fn a_slow_read_within_the_deadline_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("slow.txt"), "one two three\n").expect("write");
    let root = dir.path().to_str().expect("utf-8 temp path");
    let reader = Reader::new(BIN, &[]).faults("sleep:700:slow");
    for extra in [&["--timeout", "30"][..], &[]] {
        let args = [extra, &[root]].concat();
        let run = json(&reader, &args);
        assert_eq!(run.code(), Some(0), "{extra:?}");
        let slow = run
            .records()
            .remove(&format!("{root}/slow.txt"))
            .expect("slow.txt");
        assert_eq!(slow["words"], 3);
        assert!(slow["elapsed_us"].as_u64() >= Some(700_000), "{slow}");
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
        let reader = on(runtime).faults("hang:hang");
        let run = json(&reader, &["-j", "2", "--timeout", "0.2", root]);
        assert_eq!(run.code(), Some(1), "{runtime}");
        let summary = run.summary();
        assert_eq!(summary["ok"], 20, "{runtime}: {summary}");
        assert_eq!(summary["failed"], 6, "{runtime}: {summary}");
        let timeouts = run
            .records()
            .values()
            .filter(|r| r["error"]["kind"] == "timeout")
            .count();
        assert_eq!(timeouts, 6, "{runtime}");
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
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &script, BIN, root]).env_remove(FAULTS_VAR);
        let run = finish_within(cmd, Duration::from_secs(120));
        assert_eq!(run.code(), Some(0), "{runtime}: {}", run.stderr);
        let summary = run.summary();
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
        let run = json(&on(runtime), &["-j", "100", root]);
        assert_eq!(run.code(), Some(0), "{runtime}");
        let summary = run.summary();
        assert_eq!(summary["bytes"], 100 * (4 << 20), "{runtime}");
        let rss = summary["peak_rss_kib"].as_u64().expect("peak_rss_kib");
        assert!(rss < 64 * 1024, "{runtime}: peak RSS {rss} KiB");
    }
}

/// `reader-async --runtime io-uring` on `dir`, with io_uring_setup refused by a seccomp
/// filter (as a container's profile refuses it) when `refused`.
fn io_uring_run(dir: &Path, refused: bool) -> Run {
    let reader = Reader::new(BIN, &["--runtime", "io-uring"]);
    let mut cmd = reader.command(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        dir.as_os_str(),
    ]);
    if refused {
        use std::os::unix::process::CommandExt;
        // SAFETY: the hook runs in the child between fork and exec and only makes two prctl
        // calls, which are async-signal-safe; the filter it points to lives on its stack.
        unsafe { cmd.pre_exec(refuse_io_uring) };
    }
    finish_within(cmd, LIMIT)
}

/// Installs a seccomp filter that fails `io_uring_setup` with `EPERM` and allows the rest.
fn refuse_io_uring() -> std::io::Result<()> {
    const IO_URING_SETUP: u32 = 425;
    let ret = |k: u32| libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let mut filter = [
        // The system call's number (`seccomp_data.nr`, at offset 0).
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        },
        ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ret(libc::SECCOMP_RET_ALLOW),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with the documented arguments; `program` outlives the call.
    let installed = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &raw const program,
            ) == 0
    };
    if installed {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn io_uring_refused_by_seccomp_falls_back_to_tokio_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 40);
    let run = io_uring_run(dir.path(), true);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let said = run.stderr_lines();
    assert_eq!(said.len(), 1, "one line on stderr: {said:?}");
    assert!(
        said[0].starts_with("reader-async: io_uring is not available")
            && said[0].contains("Operation not permitted")
            && said[0].ends_with("reading on tokio instead"),
        "{said:?}"
    );
    let summary = run.summary();
    assert_eq!(summary["runtime"], "tokio", "{summary}");
    let fallback = summary["fallback"].as_str().expect("the summary says why");
    assert!(fallback.contains("io_uring_setup"), "{fallback}");
    assert_eq!(summary["files"], 40);
    assert_eq!(summary["failed"], 0);
    assert!(summary.get("io_uring").is_none(), "{summary}");
    let alone = io_uring_run(dir.path(), false).summary();
    assert_eq!(summary["bytes"], alone["bytes"]);
    assert_eq!(summary["words"], alone["words"]);
}

#[test]
fn io_uring_reads_through_rings_where_the_kernel_allows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), 300);
    fs::write(dir.path().join("empty.txt"), "").expect("write");
    let run = io_uring_run(dir.path(), false);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let summary = run.summary();
    if let Some(why) = reader_async::io_uring_refusal() {
        // A kernel without io_uring: the fallback, which the test above shows.
        assert_eq!(summary["fallback"], why.as_str());
        return;
    }
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(summary["runtime"], "io-uring", "{summary}");
    assert_eq!(summary["io_uring"]["ring_files"], 301, "{summary}");
    assert_eq!(summary["io_uring"]["thread_files"], 0, "{summary}");
    let threads = Reader::new(env!("CARGO_BIN_EXE_reader-async"), &["--runtime", "tokio"]);
    let tokio = json(&threads, &[dir.path().to_str().expect("utf-8 temp path")]).summary();
    for field in ["files", "bytes", "lines", "words"] {
        assert_eq!(summary[field], tokio[field], "{field}");
    }
}

#[test]
fn version_says_whether_io_uring_can_be_used_here() {
    let uses = Reader::new(BIN, &[]).version_uses("reader-async");
    let io_uring = Reader::refusable_line("io_uring", reader_async::io_uring_refusal());
    assert!(
        uses.len() == 2 && uses[0].starts_with("counter: ") && uses[1] == io_uring,
        "{uses:?}"
    );
}

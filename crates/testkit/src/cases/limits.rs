//! Limits a reader runs within: a cap on the bytes of a file (`--max-bytes`) and on pseudo
//! files, bounded memory (`ulimit -v`) on a sparse file and on 100,000 files, few file
//! descriptors, few threads.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::checks::{
    assert_failed, assert_no_panic, assert_one_line_error, assert_read, counts, record,
};
use crate::HANG;
use crate::run::{Reader, finish};
use crate::tree::Tree;

/// `/proc/self` finishes in seconds with every entry reported once: `/proc/self/status` is read
/// to its end, and `/proc/self/pagemap`, whose size says 0 and whose content runs to hundreds of
/// GiB, stops at the pseudo-file limit as `size_limit`.
pub fn proc_self_finishes_and_pseudo_files_are_capped(reader: &Reader) {
    let run = reader.run_within(
        Duration::from_secs(60),
        &["--format", "json", "--progress", "never", "/proc/self"],
    );
    assert!(matches!(run.code(), Some(0 | 1)), "stderr: {}", run.stderr);
    assert_no_panic(&run);
    let records = run.records();
    let status = record(&records, Path::new("/proc/self/status"));
    assert!(status["error"].is_null(), "{status}");
    assert!(status["lines"].as_u64().is_some_and(|l| l > 5), "{status}");
    let pagemap = record(&records, Path::new("/proc/self/pagemap"));
    assert_eq!(pagemap["error"]["kind"], "size_limit", "{pagemap}");
}

/// `--max-bytes SIZE` caps every file: one of SIZE bytes or fewer is read exactly, a larger one
/// (a 70 MiB file, whose size says so, included) is reported once as `size_limit` and not
/// counted, and a pseudo-file whose size says 0 stops at the cap too. A cap that is not a size
/// is one line and status 2.
pub fn a_byte_cap_fails_larger_files_as_size_limit(reader: &Reader) {
    let tree = Tree::new();
    let mut read = Vec::new();
    for (name, len) in [("empty", 0), ("under.txt", 999), ("at.txt", 1000)] {
        let data = "word ".repeat(len / 5);
        read.push((tree.file(name, &data), data));
    }
    let over = tree.file("sub/over.txt", "x".repeat(1001));
    let huge = tree.sparse("sub/huge.bin", 70 << 20);
    let capped = reader.clone().setting("--max-bytes", "1000");
    let run = capped.json(&[tree.path()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 5, "{:?}", records.keys());
    for (path, data) in &read {
        assert_read(&records, path, data.as_bytes());
    }
    for path in [&over, &huge] {
        assert_failed(&records, path, "size_limit");
        let message = record(&records, path)["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("--max-bytes"), "{message}");
    }
    let summary = run.summary();
    assert_eq!(
        (summary["ok"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(summary["bytes"].as_u64(), Some(995 + 1000));

    let status = Path::new("/proc/self/status");
    let run = reader.clone().setting("--max-bytes", "100").json(&[status]);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    assert_failed(&run.records(), status, "size_limit");

    let run = reader
        .clone()
        .setting("--max-bytes", "lots")
        .run(&[tree.path()]);
    assert_one_line_error(&run);
    assert!(run.stderr.contains("--max-bytes"), "{}", run.stderr);
}

/// The address space the memory-limit cases leave a reader: 64 MiB (`ulimit -v`, in KiB).
const MEMORY_LIMIT: &str = "-v 65536";

/// A sparse file of 1 GiB: exact counts (zeros are one long word), read within 64 MiB of address
/// space (`ulimit -v`), its resident memory bounded by the buffers.
pub fn sparse_file_exact_and_bounded_memory(reader: &Reader) {
    let tree = Tree::new();
    let len = 1u64 << 30;
    let sparse = tree.sparse("sparse.bin", len);
    let args = ["--jobs".as_ref(), "4".as_ref(), tree.path().as_os_str()];
    let run = reader.json_limited(MEMORY_LIMIT, HANG, &args);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(counts(record(&run.records(), &sparse)), (len, 0, 1));
    let rss = run.summary()["peak_rss_kib"]
        .as_u64()
        .expect("peak_rss_kib");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB reading a 1 GiB file");
}

/// `ulimit -n 16`, with the default jobs and with `--jobs 200`: the reader adapts and reads
/// everything.
pub fn low_fd_limit_with_many_jobs(reader: &Reader) {
    let tree = Tree::new();
    for i in 0..300 {
        tree.file(format!("d{}/f{i}.txt", i % 3), format!("file {i}\n"));
    }
    for jobs in [None, Some("200")] {
        let mut args = vec![tree.path().as_os_str()];
        if let Some(jobs) = jobs {
            args.extend(["--jobs", jobs].map(std::ffi::OsStr::new));
        }
        let run = reader.json_limited("-n 16", HANG, &args);
        assert_no_panic(&run);
        assert_eq!(run.code(), Some(0), "--jobs {jobs:?}: {}", run.stderr);
        let records = run.records();
        assert_eq!(records.len(), 300);
        assert!(
            records.values().all(|r| r["error"].is_null()),
            "every file read"
        );
    }
}

/// Under a limit on the threads and processes the reader may start (`ulimit -u`, as an
/// unprivileged user it applies to), a run either reads everything or ends with one line on
/// stderr and status 2 — with every entry reported and the summary if records had begun —
/// and never panics. Needs root to switch users; skipped, visibly, without.
pub fn a_thread_limit_ends_in_one_line_or_a_complete_run(reader: &Reader) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching to an unprivileged user for `ulimit -u` needs root");
        return;
    }
    let tree = Tree::new();
    for i in 0..200 {
        tree.file(format!("d{}/f{i}.txt", i % 4), "a few words\n");
    }
    // A user of this configuration's own: the limit counts every process of the user, and the
    // configurations of one test binary run at the same time.
    let uid = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        reader.shell_words::<&str>(&[]).hash(&mut hasher);
        60_000 + hasher.finish() % 5_000
    };
    for limit in [1, 2, 3, 4, 6, 10] {
        for format in ["json", "human"] {
            let script = format!(
                "ulimit -u {limit} && exec setpriv --reuid={uid} --regid={uid} --clear-groups -- {}",
                reader.shell_words(&[
                    "--format".as_ref(),
                    format.as_ref(),
                    "--progress".as_ref(),
                    "never".as_ref(),
                    tree.path().as_os_str(),
                ])
            );
            let mut cmd = Command::new("bash");
            cmd.args(["-c", &script]);
            let run = finish(cmd);
            let what = format!("ulimit -u {limit}, {format}");
            assert_no_panic(&run);
            match run.code() {
                Some(0) if format == "json" => assert_eq!(run.records().len(), 200, "{what}"),
                Some(0) => assert!(run.stderr.trim().is_empty(), "{what}: {}", run.stderr),
                Some(2) => {
                    assert_eq!(run.stderr_lines().len(), 1, "{what}: {}", run.stderr);
                    assert!(run.stderr.contains("error: "), "{what}: {}", run.stderr);
                    if format == "json" && !run.stdout.is_empty() {
                        assert_eq!(run.records().len(), 200, "{what}");
                    }
                }
                other => panic!("{what}: status {other:?}, stderr: {}", run.stderr),
            }
        }
    }
}

/// A folder of 100,000 files: all read, each once, within 64 MiB of address space
/// (`ulimit -v`: a reader's memory does not grow with the tree).
///
/// The tree is built once under `shared` (the test target's scratch folder) and reused by every
/// configuration and every later run: making 100,000 files costs more than reading them.
pub fn hundred_thousand_files(reader: &Reader, shared: &Path) {
    let tree = shared_tree(shared, "hundred-thousand-files", |root| {
        for d in 0..100 {
            let dir = root.join(format!("d{d:03}"));
            fs::create_dir_all(&dir)?;
            for f in 0..1000 {
                fs::write(dir.join(format!("{f:04}")), "x\n")?;
            }
        }
        Ok(())
    });
    // Cold, on a slow disk busy with other cases' writes, 100,000 opens can take minutes: the
    // guard is for hangs, not for speed.
    let run = reader.json_limited(MEMORY_LIMIT, Duration::from_secs(600), &[tree.as_os_str()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(run.records().len(), 100_000);
    let summary = run.summary();
    assert_eq!(
        (summary["ok"].as_u64(), summary["lines"].as_u64()),
        (Some(100_000), Some(100_000))
    );
}

/// A read-only tree under `shared/name`, built by `build` the first time it is asked for: in a
/// private folder renamed into place when complete, so concurrent tests and test processes
/// never see half a tree.
fn shared_tree(
    shared: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::path::PathBuf {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let done = shared.join(name);
    if !done.is_dir() {
        fs::create_dir_all(shared).expect("create the scratch folder");
        let partial = tempfile::Builder::new()
            .prefix(&format!("{name}-partial-"))
            .tempdir_in(shared)
            .expect("create a private folder");
        build(partial.path()).expect("build the shared tree");
        // Another process may have finished first: then its tree is used and ours dropped.
        if fs::rename(partial.path(), &done).is_ok() {
            std::mem::forget(partial);
        }
    }
    done
}

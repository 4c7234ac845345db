//! The hybrid's own behaviour through its binary: the routes in the summary, `--threshold
//! auto`, split reads that equal one pass, and the command line's errors.

use std::collections::HashMap;
use std::path::Path;

use reader_testkit::cache::{self, Pages};
use reader_testkit::{Reader, Value};

fn hybrid() -> Reader {
    Reader::new(env!("CARGO_BIN_EXE_reader-hybrid"), &[])
}

/// Runs `--format json` with `args`; returns the file records by path and the summary (the
/// run's invariants checked by the test kit).
fn json_run(args: &[&str], root: &Path) -> (HashMap<String, Value>, Value) {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.push(root.as_os_str());
    let run = hybrid().json(&all);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    (run.records(), run.summary())
}

/// 40 files of 100 B, 20 of 20 KiB, 3 of 300 KiB, with words of every length.
fn mixed_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = |len: usize, seed: usize| -> Vec<u8> {
        let words = ["a", "bb", "ccc dd", "eeee\n", "f\r\n", "ggggggggg\t"];
        let mut data = Vec::with_capacity(len + 16);
        let mut i = seed;
        while data.len() < len {
            data.extend_from_slice(words[i % words.len()].as_bytes());
            data.push(b' ');
            i += 1;
        }
        data.truncate(len);
        data
    };
    for i in 0..40 {
        std::fs::write(dir.path().join(format!("s{i}.txt")), text(100, i)).expect("write");
    }
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    for i in 0..20 {
        std::fs::write(dir.path().join(format!("sub/m{i}.txt")), text(20 << 10, i)).expect("write");
    }
    for i in 0..3 {
        std::fs::write(dir.path().join(format!("l{i}.txt")), text(300 << 10, i)).expect("write");
    }
    dir
}

fn route(summary: &Value, name: &str) -> (u64, u64) {
    let r = &summary["routes"][name];
    (
        r["files"].as_u64().expect("files"),
        r["bytes"].as_u64().expect("bytes"),
    )
}

fn per_file_counts(files: &HashMap<String, Value>) -> HashMap<String, (Value, Value, Value)> {
    files
        .iter()
        .map(|(p, r)| {
            (
                p.clone(),
                (r["size"].clone(), r["lines"].clone(), r["words"].clone()),
            )
        })
        .collect()
}

#[test]
fn the_routes_add_up_to_the_totals_and_follow_the_sizes() {
    let tree = mixed_tree();
    let (files, summary) = json_run(
        &["--threshold", "1KiB", "--split-at", "100KiB"],
        tree.path(),
    );
    assert_eq!(summary["strategy"], "hybrid");
    assert_eq!(route(&summary, "async"), (40, 40 * 100));
    assert_eq!(route(&summary, "threads"), (20, 20 * (20 << 10)));
    assert_eq!(route(&summary, "split"), (3, 3 * (300 << 10)));
    let (mut routed_files, mut routed_bytes) = (0, 0);
    for name in ["async", "threads", "split"] {
        let (f, b) = route(&summary, name);
        routed_files += f;
        routed_bytes += b;
    }
    assert_eq!(Some(routed_files), summary["files"].as_u64());
    assert_eq!(Some(routed_bytes), summary["bytes"].as_u64());
    assert_eq!(summary["threshold"], 1024);
    for (path, record) in &files {
        let worker = record["worker"].as_str().expect("worker");
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected = match name.as_bytes().first() {
            Some(b's') => "task-",
            Some(b'm') => "thread-",
            _ => "split-",
        };
        assert!(worker.starts_with(expected), "{path}: {worker}");
    }
}

#[test]
fn every_route_gives_the_same_per_file_counts() {
    let tree = mixed_tree();
    let configs: [&[&str]; 4] = [
        &["--threshold", "0"],
        &[],
        &["--threshold", "1GiB"],
        &["--split-at", "1"],
    ];
    let runs: Vec<_> = configs
        .iter()
        .map(|args| per_file_counts(&json_run(args, tree.path()).0))
        .collect();
    assert_eq!(runs[0].len(), 63);
    for run in &runs[1..] {
        assert_eq!(run, &runs[0]);
    }
}

#[test]
fn the_human_summary_shows_the_routes() {
    let tree = mixed_tree();
    let run = hybrid().run(&[
        "--progress".as_ref(),
        "never".as_ref(),
        "--threshold".as_ref(),
        "10KiB".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.starts_with("hybrid: 63 files read"), "{stdout}");
    assert!(
        stdout.contains("  routing: by size, as the threshold or split size set asks\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  async path: on tokio\n"), "{stdout}");
    assert!(
        stdout.contains(
            "  routes: async 40 files (3.9 KiB), threads 23 files (1.3 MiB), split 0 files (0 B)\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("  cache probe: "), "{stdout}");
}

/// A tree just written is cached: without a threshold or a split size, every file goes to the
/// thread pool without its size being looked up, and the summary says why; with either set,
/// the files are routed by size after all.
#[test]
fn a_cached_tree_goes_to_the_pool_unless_routing_is_asked_for() {
    let tree = mixed_tree();
    let (files, summary) = json_run(&[], tree.path());
    assert_eq!(files.len(), 63);
    assert_eq!(
        summary["cache_probe"]["cached"],
        summary["cache_probe"]["probed"]
    );
    assert_eq!(summary["routing"], "pool", "{summary}");
    assert_eq!(
        route(&summary, "threads"),
        (63, 40 * 100 + 20 * (20 << 10) + 3 * (300 << 10))
    );
    assert_eq!(route(&summary, "async"), (0, 0));
    for args in [["--threshold", "10KiB"], ["--split-at", "64MiB"]] {
        let (routed, summary) = json_run(&args, tree.path());
        assert_eq!(summary["routing"], "sizes", "{args:?}");
        assert_eq!(route(&summary, "async"), (40, 40 * 100), "{args:?}");
        assert_eq!(
            per_file_counts(&routed),
            per_file_counts(&files),
            "{args:?}"
        );
    }
}

#[test]
fn threshold_auto_chooses_and_reports_its_choice() {
    let tree = mixed_tree();
    // More small files than the sample, so the choice is made while files are still routed.
    for i in 0..200 {
        std::fs::write(tree.path().join(format!("x{i}.txt")), "tiny file\n").expect("write");
    }
    let (files, summary) = json_run(&["--threshold", "auto"], tree.path());
    assert_eq!(files.len(), 263);
    assert_eq!(summary["threshold_mode"], "auto");
    let auto = &summary["auto"];
    assert_eq!(auto["sampled"], 64, "{summary}");
    let probed = auto["probed"].as_u64().expect("probed");
    assert!(probed >= 1, "{summary}");
    // Every file was just written: the probes find them cached.
    assert_eq!(auto["cached"].as_u64(), Some(probed), "{summary}");
    let chosen = auto["chosen"].as_u64().expect("chosen");
    assert_eq!(summary["threshold"].as_u64(), Some(chosen));
    // After the choice, the routes follow it: at most the files routed before it went async
    // against it.
    let before = auto["routed_before"].as_u64().expect("routed_before");
    assert!(before < 263, "{summary}");
    let against = files
        .values()
        .filter(|r| {
            let async_read = r["worker"].as_str().is_some_and(|w| w.starts_with("task-"));
            let small = r["size"].as_u64().is_some_and(|s| s < chosen);
            async_read != small
        })
        .count() as u64;
    assert!(
        against <= before,
        "{against} files against the choice; {summary}"
    );
    let (ok, fixed) = (
        per_file_counts(&files),
        json_run(&["--threshold", "0"], tree.path()).0,
    );
    assert_eq!(ok, per_file_counts(&fixed));
}

#[test]
fn a_split_file_counts_like_one_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.txt");
    // 40 MiB of 11-byte words: the 16 MiB ranges cut words, and one cut falls inside a CRLF.
    let mut data = b"helloworld ".repeat((40 << 20) / 11);
    data[16 << 20] = b'\n';
    data[(16 << 20) - 1] = b'\r';
    std::fs::write(&path, &data).expect("write");
    let oracle = reader_testkit::oracle(&data);
    for jobs in ["1", "2", "3"] {
        let (files, summary) = json_run(&["--split-at", "1MiB", "--jobs", jobs], dir.path());
        let record = files.values().next().expect("one record");
        assert_eq!(files.len(), 1);
        assert_eq!(
            (
                record["size"].as_u64(),
                record["lines"].as_u64(),
                record["words"].as_u64()
            ),
            (Some(oracle.0), Some(oracle.1), Some(oracle.2)),
            "--jobs {jobs}"
        );
        assert_eq!(record["worker"], format!("split-{jobs}"));
        assert_eq!(route(&summary, "split"), (1, oracle.0));
    }
}

#[test]
fn bad_sizes_are_one_line_errors_with_status_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 temp path");
    for args in [
        &["--threshold", "abc", root][..],
        &["--threshold", "10XB", root],
        &["--split-at", "auto", root],
    ] {
        let run = hybrid().run(args);
        assert_eq!(run.code(), Some(2), "{args:?}");
        assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
        assert!(
            run.stderr.starts_with("reader-hybrid: error:"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_cached_tree_gets_few_async_lanes_unless_they_are_set() {
    let tree = mixed_tree();
    let (_, summary) = json_run(&[], tree.path());
    let probe = &summary["cache_probe"];
    let probed = probe["probed"].as_u64().expect("probed");
    assert!(probed >= 1, "{summary}");
    // Just written: cached.
    assert_eq!(probe["cached"].as_u64(), Some(probed), "{summary}");
    // Two lanes a core when the tree is cached (never more than the uncached default).
    let warm = (2 * reader_core::defaults::cores()).min(reader_core::defaults::in_flight());
    assert_eq!(
        summary["in_flight"].as_u64(),
        Some(warm as u64),
        "{summary}"
    );
    let (_, summary) = json_run(&["--in-flight", "3"], tree.path());
    assert_eq!(summary["in_flight"], 3, "{summary}");
}

/// Drops the pages of every file under `dir` from the page cache (written back first): the
/// tree reads as cold, where the file system lets them go (not tmpfs).
fn evict(dir: &Path) {
    cache::evict_tree(dir).expect("evict");
}

/// Whether the first page of `path` is in the page cache.
fn is_cached(path: &Path) -> bool {
    cache::resident(path).expect("mincore").first() == Some(&true)
}

/// The records and summary of a run on `tree` evicted from the page cache; `None` (said on
/// stderr) where the file system keeps it cached.
fn cold_run(tree: &Path) -> Option<(HashMap<String, Value>, Value)> {
    evict(tree);
    let (files, summary) = json_run(&[], tree);
    let probe = &summary["cache_probe"];
    if probe["cached"] == probe["probed"] {
        eprintln!("skipped: this file system keeps the tree cached ({probe})");
        return None;
    }
    Some((files, summary))
}

/// A tree out of the page cache is read through io_uring without a size look-up (routed by
/// size, its small files on tokio, where the kernel refuses io_uring), and the summary says
/// what was decided and why.
#[test]
fn a_cold_tree_reads_its_small_files_through_io_uring() {
    let tree = mixed_tree();
    let (warm, _) = json_run(&[], tree.path());
    let Some((files, summary)) = cold_run(tree.path()) else {
        return;
    };
    assert_eq!(
        summary["in_flight"],
        reader_async::RING_IN_FLIGHT,
        "{summary}"
    );
    match reader_async::io_uring_refusal() {
        // Every file through the rings, no size looked up.
        None => {
            assert_eq!(summary["routing"], "ring", "{summary}");
            assert_eq!(summary["async_runtime"], "io-uring", "{summary}");
            assert_eq!(summary["routes"]["async"]["files"], 63, "{summary}");
            assert_eq!(summary["jobs"], reader_async::RING_IN_FLIGHT, "{summary}");
        }
        // By size, the small files on tokio.
        Some(why) => {
            assert_eq!(summary["routing"], "sizes", "{summary}");
            assert_eq!(summary["async_runtime"], "tokio", "{summary}");
            assert_eq!(summary["async_fallback"], why.as_str(), "{summary}");
            assert_eq!(summary["routes"]["async"]["files"], 40, "{summary}");
        }
    }
    let counts = |records: &HashMap<String, Value>| {
        let mut all: Vec<(String, String)> = records
            .iter()
            .map(|(path, r)| {
                (
                    path.clone(),
                    format!("{} {} {}", r["size"], r["lines"], r["words"]),
                )
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(counts(&files), counts(&warm));
    let human = hybrid().run(&[
        "--progress".as_ref(),
        "never".as_ref(),
        tree.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&human.stdout);
    // Read once, the tree may be cached again: only the words of whichever case it is.
    assert!(
        stdout.contains("  routing: the tree is not cached (")
            || stdout.contains("  routing: the tree is cached: every file to the thread pool"),
        "{stdout}"
    );
}

/// On a cached tree nothing is routed by size, yet a huge file is still split: the pool
/// thread that opens it hands it to the splitter.
#[test]
fn a_cached_huge_file_is_split_without_routing_by_size() {
    let tree = tempfile::tempdir().expect("tempdir");
    let path = tree.path().join("huge.bin");
    let mut content = b"the start of it\n".to_vec();
    content.resize(64 << 20, b'x');
    content.extend_from_slice(b" and its end\n");
    std::fs::write(&path, &content).expect("write");
    let (files, summary) = json_run(&[], tree.path());
    assert_eq!(summary["routing"], "pool", "{summary}");
    assert_eq!(summary["routes"]["split"]["files"], 1, "{summary}");
    let record = files.values().next().expect("one record");
    let (bytes, lines, words) = reader_testkit::oracle(&content);
    assert_eq!(
        (&record["size"], &record["lines"], &record["words"]),
        (&bytes.into(), &lines.into(), &words.into()),
        "{record}"
    );
    assert!(
        record["worker"]
            .as_str()
            .is_some_and(|w| w.starts_with("split-")),
        "{record}"
    );
}

/// Cold and read through io_uring, a huge file is still split: the ring that finds it large
/// hands it to the splitter, unread.
#[test]
fn a_cold_huge_file_is_split_from_the_rings() {
    if reader_async::io_uring_refusal().is_some() {
        eprintln!("skipped: no io_uring here (the cold tree is routed by size, tested above)");
        return;
    }
    let tree = tempfile::tempdir().expect("tempdir");
    let mut content = b"one two\n".to_vec();
    content.resize(64 << 20, b'y');
    std::fs::write(tree.path().join("huge.bin"), &content).expect("write");
    for i in 0..20 {
        std::fs::write(tree.path().join(format!("s{i}.txt")), "a b c\n").expect("write");
    }
    let Some((files, summary)) = cold_run(tree.path()) else {
        return;
    };
    assert_eq!(summary["routing"], "ring", "{summary}");
    assert_eq!(summary["routes"]["split"]["files"], 1, "{summary}");
    assert_eq!(summary["routes"]["async"]["files"], 20, "{summary}");
    assert_eq!(files.len(), 21);
    let huge = files
        .iter()
        .find(|(path, _)| path.ends_with("huge.bin"))
        .map(|(_, r)| r)
        .expect("huge.bin");
    let (bytes, lines, words) = reader_testkit::oracle(&content);
    assert_eq!(
        (&huge["size"], &huge["lines"], &huge["words"]),
        (&bytes.into(), &lines.into(), &words.into()),
        "{huge}"
    );
}

/// Half of a tree cached and half not (one directory just written, the other dropped from the
/// page cache): whichever comes first, the routing starts as the first files say and turns
/// when the walk reaches the other half, and the summary says when and why. Where io_uring is
/// refused the routing cannot turn to the rings, and stays.
#[test]
fn a_half_cached_tree_turns_its_routing_where_the_cache_state_changes() {
    const HALF: usize = 3000;
    let tree = tempfile::tempdir().expect("tempdir");
    for half in ["cold", "warm"] {
        let dir = tree.path().join(half);
        std::fs::create_dir(&dir).expect("mkdir");
        for i in 0..HALF {
            std::fs::write(dir.join(format!("{i}.txt")), format!("{half} {i}\n")).expect("write");
        }
    }
    evict(&tree.path().join("cold"));
    if is_cached(&tree.path().join("cold/0.txt")) {
        eprintln!("skipped: this file system keeps the tree cached");
        return;
    }
    let (files, summary) = json_run(&[], tree.path());
    assert_eq!(files.len(), 2 * HALF);
    for (path, record) in &files {
        let name = Path::new(path);
        let half = name.parent().and_then(Path::file_name).expect("half");
        let i = name.file_stem().expect("stem");
        let text = format!("{} {}\n", half.to_string_lossy(), i.to_string_lossy());
        assert_eq!(record["size"], text.len(), "{record}");
        assert_eq!((&record["lines"], &record["words"]), (&1.into(), &2.into()));
    }
    let (async_files, _) = route(&summary, "async");
    let (pool_files, _) = route(&summary, "threads");
    assert_eq!(async_files + pool_files, 2 * HALF as u64, "{summary}");
    if let Some(why) = reader_async::io_uring_refusal() {
        // A cold start is routed by size; a cached one stays on the pool.
        assert_eq!(summary["revised"], 0, "{why}: {summary}");
        return;
    }
    let first = summary["routing"].as_str().expect("routing");
    let turned = &summary["revisions"][0];
    let expected = if first == "pool" { "ring" } else { "pool" };
    assert_eq!(turned["routing"], expected, "{summary}");
    assert!(summary["revised"].as_u64() >= Some(1), "{summary}");
    // Each half went mostly its own way: the turn came within a few batches of the border.
    assert!(async_files >= HALF as u64 / 2, "{summary}");
    assert!(pool_files >= HALF as u64 / 2, "{summary}");
    // Read once, the cold half is cached now.
    evict(&tree.path().join("cold"));
    let human = hybrid().run(&[
        "--progress".as_ref(),
        "never".as_ref(),
        tree.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(stdout.contains("  revised: after "), "{stdout}");
}

/// A tree whose cached part is followed by files partly in the page cache, some with their
/// first page cached (which the probe reads, so they look cached) and some with every page
/// but the first (so they look cold), is read exactly wherever the routing sends each file:
/// a read that stops where the cached pages stop ends nothing, on the pool or on the rings.
#[test]
fn a_tree_turning_partly_cached_part_way_is_read_exactly() {
    const EACH: usize = 1500;
    let tree = cache::tempdir();
    let page = cache::page_size();
    let mut files = Vec::new();
    // Each part's files, and the pages each keeps cached (none left out: cached whole).
    let looks_cached = [Pages::First, Pages::EveryOther, Pages::AllButLast];
    let parts: [(&str, &[Pages]); 3] = [
        ("1-cached", &[]),
        ("2-first-page-cached", &looks_cached),
        ("3-first-page-cold", &[Pages::AllButFirst]),
    ];
    for (part, states) in parts {
        let dir = tree.path().join(part);
        std::fs::create_dir(&dir).expect("mkdir");
        for i in 0..EACH {
            let path = dir.join(format!("{i}.txt"));
            let data = reader_testkit::noise(3 * page + 100, i as u64 + 1);
            std::fs::write(&path, &data).expect("write");
            let pages = (!states.is_empty()).then(|| states[i % states.len()]);
            files.push((path, reader_testkit::oracle(&data), pages));
        }
    }
    evict(tree.path());
    for (path, _, pages) in &files {
        match pages {
            Some(pages) => cache::cache_only(path, *pages).expect("a disk-backed folder"),
            None => drop(std::fs::read(path).expect("cache it whole")), // whole-file read ok: a test's small file
        }
    }
    let (records, summary) = json_run(&[], tree.path());
    assert_eq!(records.len(), files.len());
    for (path, (bytes, lines, words), pages) in &files {
        let record = &records[&reader_testkit::path_key(path)];
        assert_eq!(
            (&record["size"], &record["lines"], &record["words"]),
            (&(*bytes).into(), &(*lines).into(), &(*words).into()),
            "cached {pages:?}: {record}"
        );
    }
    if reader_async::io_uring_refusal().is_none() {
        // The probe saw the first pages turn cold, whichever part came first.
        assert!(summary["revised"].as_u64() >= Some(1), "{summary}");
    }
}

#[test]
fn version_says_whether_io_uring_can_be_used_here() {
    let uses = hybrid().version_uses("reader-hybrid");
    let io_uring = Reader::refusable_line("io_uring", reader_async::io_uring_refusal());
    assert!(
        uses.len() == 2 && uses[0].starts_with("counter: ") && uses[1] == io_uring,
        "{uses:?}"
    );
}

//! `reader-merge` through its binary, on the shards `reader-seq --shard K/N` writes: the merge
//! of N shards is the unsharded run record for record, in every format, and an input set that
//! is not exactly the whole of one run is refused with one line naming what is wrong. Shards
//! are also run the way users run them, with GNU parallel, when it is installed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use reader_testkit::{Reader, Run, Tree, Value, finish};

const READER: &str = env!("CARGO_BIN_EXE_reader-seq");
const MERGE: &str = env!("CARGO_BIN_EXE_reader-merge");

/// A tree with files in several directories, one that fails and one that is skipped.
fn tree() -> Tree {
    let tree = Tree::new();
    for i in 0..60 {
        let data = format!("line {i} of some words\n").repeat(i % 9 + 1);
        tree.file(format!("d{}/sub{}/f{i}.txt", i % 4, i % 3), data);
    }
    tree.fifo("d1/pipe");
    tree
}

/// The records of a JSON run as `path → record` less what differs between runs (time, worker).
fn records(run: &Run) -> BTreeMap<String, Value> {
    run.records()
        .into_iter()
        .map(|(path, mut record)| {
            if let Some(map) = record.as_object_mut() {
                map.remove("elapsed_us");
                map.remove("worker");
            }
            (path, record)
        })
        .collect()
}

/// Runs shard K of N for each K, writing `dir/K.jsonl`; returns the files.
fn shards(tree: &Tree, count: u32, dir: &Path) -> Vec<PathBuf> {
    shards_with(tree.path(), count, dir, &[])
}

/// [`shards`] with more arguments for every shard.
fn shards_with(root: &Path, count: u32, dir: &Path, more: &[&str]) -> Vec<PathBuf> {
    let template = dir.join("{shard}.jsonl");
    (0..count)
        .map(|k| {
            let shard = format!("{k}/{count}");
            let mut args: Vec<&std::ffi::OsStr> = more.iter().map(|a| a.as_ref()).collect();
            args.extend([
                "--format".as_ref(),
                "json".as_ref(),
                "--shard".as_ref(),
                shard.as_ref(),
                "-o".as_ref(),
                template.as_os_str(),
                root.as_os_str(),
            ]);
            let run = Reader::new(READER, &[]).run(&args);
            assert_eq!(run.code(), Some(0), "{}", run.stderr);
            dir.join(format!("{k}.jsonl"))
        })
        .collect()
}

fn merge(args: &[&Path]) -> Run {
    let mut cmd = Command::new(MERGE);
    cmd.args(args);
    finish(cmd)
}

fn json(files: &[PathBuf]) -> Run {
    let mut args: Vec<&Path> = vec!["--format".as_ref(), "json".as_ref()];
    args.extend(files.iter().map(PathBuf::as_path));
    merge(&args)
}

#[test]
fn the_merge_of_n_shards_is_the_whole_run() {
    let tree = tree();
    let whole = Reader::new(READER, &[]).json(&[tree.path()]);
    let expected = records(&whole);
    for count in [1, 3, 7] {
        let out = tempfile::tempdir().expect("tempdir");
        let files = shards(&tree, count, out.path());
        let merged = json(&files);
        assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
        assert_eq!(records(&merged), expected, "{count} shards");
        let summary = merged.summary();
        for field in [
            "files", "ok", "failed", "skipped", "bytes", "lines", "words",
        ] {
            assert_eq!(summary[field], whole.summary()[field], "{field}");
        }
        assert_eq!(summary["shards"], count);
        let per_shard: u64 = summary["shard_bytes"]
            .as_array()
            .expect("shard_bytes")
            .iter()
            .filter_map(Value::as_u64)
            .sum();
        assert_eq!(Some(per_shard), summary["bytes"].as_u64());
    }
    // Any order, any format.
    let out = tempfile::tempdir().expect("tempdir");
    let mut files = shards(&tree, 3, out.path());
    files.reverse();
    let mut args: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let human = merge(&args);
    assert_eq!(human.code(), Some(0), "{}", human.stderr);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("60 files read") && text.contains("shards: 3 merged"),
        "{text}"
    );
    args.splice(0..0, ["--format".as_ref(), "csv".as_ref()]);
    let csv = merge(&args);
    assert_eq!(csv.code(), Some(0), "{}", csv.stderr);
    let rows = String::from_utf8_lossy(&csv.stdout).lines().count();
    assert_eq!(rows, 1 + 61, "a header and a row for every entry");
}

#[test]
fn the_parts_of_split_files_are_joined_into_the_whole_files() {
    let tree = tree();
    let mut text = Vec::new();
    for i in 0..40_000 {
        text.extend_from_slice(format!("word{i} {}\r\n\t", "q".repeat(i % 11)).as_bytes());
    }
    tree.file("big/text.log", &text);
    tree.file("big/one-word.bin", vec![b'x'; 700_000]);
    let whole = Reader::new(READER, &[]).json(&[tree.path()]);
    let expected = records(&whole);
    for count in [2, 5] {
        let out = tempfile::tempdir().expect("tempdir");
        let files = shards_with(tree.path(), count, out.path(), &["--shard-split", "100KiB"]);
        let parts: u64 = files
            .iter()
            .map(|f| {
                let text = fs::read_to_string(f).expect("read");
                text.lines()
                    .filter(|l| l.contains(r#""type":"part""#))
                    .count() as u64
            })
            .sum();
        assert_eq!(parts, 2 * u64::from(count), "both big files on every shard");
        let merged = json(&files);
        assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
        assert_eq!(records(&merged), expected, "{count} shards");
        for field in ["files", "ok", "bytes", "lines", "words"] {
            assert_eq!(merged.summary()[field], whole.summary()[field], "{field}");
        }
        assert!(
            merged.summary()["parts"].is_null(),
            "the merge has whole files"
        );
    }
    // A part that no shard has (taken out, with its shard's summary made to agree) is named.
    let out = tempfile::tempdir().expect("tempdir");
    let files = shards_with(tree.path(), 2, out.path(), &["--shard-split", "100KiB"]);
    let text = fs::read_to_string(&files[1]).expect("read");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let at = lines
        .iter()
        .position(|r| r["type"] == "part")
        .expect("a part in shard 1");
    let part = lines.remove(at);
    let summary = lines.last_mut().expect("summary");
    for (field, less) in [
        ("files", 1),
        ("ok", 1),
        ("parts", 1),
        ("bytes", part["size"].as_u64().unwrap_or(0)),
        ("lines", part["lines"].as_u64().unwrap_or(0)),
        ("words", part["words"].as_u64().unwrap_or(0)),
    ] {
        summary[field] = (summary[field].as_u64().unwrap_or(0) - less).into();
    }
    let cut: Vec<String> = lines.iter().map(Value::to_string).collect();
    fs::write(&files[1], cut.join("\n") + "\n").expect("write");
    let incomplete = json(&files);
    assert_eq!(incomplete.code(), Some(2), "{}", incomplete.stderr);
    assert!(
        incomplete.stderr.contains("is in no shard's output"),
        "{}",
        incomplete.stderr
    );
}

#[test]
fn the_tricky_fixture_cut_into_small_ranges_merges_into_the_whole_run() {
    let root = reader_testkit::fixtures_dir().join("tricky");
    let whole = Reader::new(READER, &[]).json(&[&root]);
    let expected = records(&whole);
    for (count, unit) in [(3, "16"), (7, "1KiB")] {
        let out = tempfile::tempdir().expect("tempdir");
        let files = shards_with(&root, count, out.path(), &["--shard-split", unit]);
        let merged = json(&files);
        assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
        assert_eq!(
            records(&merged),
            expected,
            "{count} shards, split above {unit}"
        );
    }
}

#[test]
fn a_1_gib_file_split_over_7_shards_joins_exactly() {
    use std::os::unix::fs::FileExt;
    let tree = Tree::new();
    let size: u64 = 1 << 30;
    let big = tree.sparse("huge.bin", size);
    // A word written across every place a cut falls, and lines beside it: the join must count
    // each straddling word once.
    let file = fs::OpenOptions::new().write(true).open(&big).expect("open");
    for j in 1..7 {
        let cut = reader_core::Part::new(j, 7, size).start;
        file.write_at(b"\nstraddling words\n", cut - 6)
            .expect("write");
    }
    drop(file);
    let whole = Reader::new(READER, &[]).json(&[tree.path()]);
    let expected = records(&whole);
    let out = tempfile::tempdir().expect("tempdir");
    let files = shards_with(tree.path(), 7, out.path(), &["--shard-split", "64MiB"]);
    let merged = json(&files);
    assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
    assert_eq!(records(&merged), expected);
    // NUL bytes are not whitespace: the zeros between the writes are 7 words, beside 12.
    let record = &expected[&big.display().to_string()];
    assert_eq!(
        (record["lines"].as_u64(), record["words"].as_u64()),
        (Some(12), Some(19))
    );
    assert_eq!(merged.summary()["words"], 19);
}

/// Asserts a refused merge: status 2, one line on stderr containing `says`, nothing on stdout.
fn assert_refused(run: &Run, says: &str) {
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing is written");
}

#[test]
fn a_missing_duplicated_foreign_or_damaged_shard_is_refused() {
    let tree = tree();
    let out = tempfile::tempdir().expect("tempdir");
    let files = shards(&tree, 3, out.path());
    assert_refused(&json(&files[..2]), "missing: 2");
    let twice = [
        files[0].clone(),
        files[1].clone(),
        files[1].clone(),
        files[2].clone(),
    ];
    assert_refused(&json(&twice), "given twice");
    // A shard of a run with other filters is another run.
    let other = out.path().join("other.jsonl");
    let run = Reader::new(READER, &[]).run(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--shard".as_ref(),
        "1/3".as_ref(),
        "--ext".as_ref(),
        "txt".as_ref(),
        "-o".as_ref(),
        other.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_refused(
        &json(&[files[0].clone(), other, files[2].clone()]),
        "another run",
    );
    // The output of a run that did not finish (no summary), or of a run without --shard.
    let cut = out.path().join("cut.jsonl");
    let text = fs::read_to_string(&files[1]).expect("read");
    let body: Vec<&str> = text.lines().collect();
    fs::write(&cut, body[..body.len() - 1].join("\n") + "\n").expect("write");
    assert_refused(
        &json(&[files[0].clone(), cut, files[2].clone()]),
        "does not end with a shard's summary",
    );
    // A record moved to another shard's output: found, named, and the merge fails.
    let (first, rest) = body.split_at(1);
    let moved = out.path().join("moved.jsonl");
    fs::write(&moved, rest.join("\n") + "\n").expect("write");
    let mut receiver = fs::read_to_string(&files[2]).expect("read");
    receiver.insert_str(0, &format!("{}\n", first[0]));
    let received = out.path().join("received.jsonl");
    fs::write(&received, receiver).expect("write");
    let foreign = json(&[files[0].clone(), files[1].clone(), received]);
    assert_eq!(foreign.code(), Some(2), "{}", foreign.stderr);
    assert!(
        foreign.stderr.contains("belongs to shard 1"),
        "{}",
        foreign.stderr
    );
    let short = json(&[files[0].clone(), moved, files[2].clone()]);
    assert_eq!(short.code(), Some(2), "{}", short.stderr);
    assert!(short.stderr.contains("do not add up"), "{}", short.stderr);
}

/// `program`, if `program --version` says it is `what`; else `None`, saying the test is
/// skipped and what to install.
fn installed(program: &str, what: &str, package: &str) -> Option<Command> {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(what));
    if !found {
        eprintln!("skipped: {what} is not installed (apt-get install {package})");
        return None;
    }
    Some(Command::new(program))
}

/// Runs `launcher`, which starts 4 shards of the tree writing `dir/{shard}.jsonl`, and checks
/// that their merge is the unsharded run.
fn launched_shards_merge_into_the_whole_run(launcher: Command, tree: &Tree, dir: &Path) {
    let run = finish(launcher);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let files: Vec<PathBuf> = (0..4).map(|k| dir.join(format!("{k}.jsonl"))).collect();
    let merged = json(&files);
    assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
    let whole = Reader::new(READER, &[]).json(&[tree.path()]);
    assert_eq!(records(&merged), records(&whole));
}

#[test]
fn shards_run_by_gnu_parallel_merge_into_the_whole_run() {
    let Some(mut parallel) = installed("parallel", "GNU parallel", "parallel") else {
        return;
    };
    let (tree, out) = (tree(), tempfile::tempdir().expect("tempdir"));
    parallel
        .args(["--will-cite", "--halt", "now,fail=1", "-j", "4"])
        .arg(READER)
        .args(["--format", "json", "--shard", "{}/4", "-o"])
        .arg(out.path().join("{shard}.jsonl"))
        .arg(tree.path())
        .args([":::", "0", "1", "2", "3"]);
    launched_shards_merge_into_the_whole_run(parallel, &tree, out.path());
}

#[test]
fn ranks_started_by_mpirun_take_their_shard_from_it_and_merge_into_the_whole_run() {
    let Some(mut mpirun) = installed("mpirun", "Open MPI", "openmpi-bin") else {
        return;
    };
    let (tree, out) = (tree(), tempfile::tempdir().expect("tempdir"));
    // Allowed to run as root (a container's CI) and to start more ranks than there are cores.
    mpirun
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", "4"])
        .arg(READER)
        .args(["--format", "json", "--shard", "auto", "-o"])
        .arg(out.path().join("{shard}.jsonl"))
        .arg(tree.path());
    launched_shards_merge_into_the_whole_run(mpirun, &tree, out.path());
}

//! `--duplicates` across machines, through the binaries: N shards of a search
//! (`reader-seq --duplicates --shard K/N`), each comparing the files of the sizes it owns,
//! merged by `reader-merge` into exactly what one unsharded search writes — its groups, hard
//! links, failures, skipped entries and summary — in JSON, fdupes, CSV and for people; inputs
//! that are not the shards of one search are refused with one line. The shards are also run
//! the way users run them, as ranks of `mpirun` (`--shard auto`), when it is installed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use reader_testkit::cases::duplicates::{FAILS, json_groups, known_copies};
use reader_testkit::{Reader, Run, Tree, Value, finish};

const READER: &str = env!("CARGO_BIN_EXE_reader-seq");
const MERGE: &str = env!("CARGO_BIN_EXE_reader-merge");

/// The summary fields of a search that its shards add up to.
const TOTALS: [&str; 9] = [
    "files",
    "failed",
    "skipped",
    "groups",
    "duplicates",
    "wasted",
    "hard_links",
    "bytes_read",
    "bytes_needed",
];

/// `reader-seq --duplicates` with `args` then `root`, with the fault that fails a copy.
fn search(more: &[&str], root: &Path) -> Run {
    let mut args: Vec<&OsStr> = vec!["--duplicates".as_ref(), "--progress".as_ref()];
    args.push("never".as_ref());
    args.extend(more.iter().map(OsStr::new));
    args.push(root.as_os_str());
    Reader::new(READER, &[]).faults(FAILS).run(&args)
}

/// Runs shard K of `count` of a search with `more` for each K, writing `dir/K.jsonl`; returns
/// the files and each shard's exit status.
fn shards(root: &Path, count: u32, dir: &Path, more: &[&str]) -> (Vec<PathBuf>, Vec<i32>) {
    let template = dir.join("{shard}.jsonl");
    let template = template.to_str().expect("a UTF-8 temporary name");
    (0..count)
        .map(|k| {
            let shard = format!("{k}/{count}");
            let mut args = vec!["--format", "json", "--shard", &shard, "-o", template];
            args.extend(more);
            let run = search(&args, root);
            assert!(matches!(run.code(), Some(0 | 1)), "{}", run.stderr);
            (dir.join(format!("{k}.jsonl")), run.code().unwrap_or(2))
        })
        .unzip()
}

fn merge(format: &str, files: &[PathBuf]) -> Run {
    let mut cmd = Command::new(MERGE);
    cmd.args(["--format", format]).args(files);
    finish(cmd)
}

/// The records of a JSON search of one type, less what differs between runs (time, worker).
fn of_type(run: &Run, kind: &str) -> Vec<Value> {
    run.lines()
        .into_iter()
        .filter(|line| line["type"] == kind)
        .map(|mut line| {
            if let Some(map) = line.as_object_mut() {
                map.remove("elapsed_us");
                map.remove("worker");
            }
            line
        })
        .collect()
}

/// `records` in the order of their JSON text.
fn sorted(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_key(Value::to_string);
    records
}

/// The lines for people less the closing one, which says how long the run took.
fn groups_for_people(run: &Run) -> String {
    let text = String::from_utf8_lossy(&run.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    lines.join("\n")
}

#[test]
fn the_merge_of_n_shards_of_a_search_is_the_unsharded_search() {
    let (tree, mut expected) = known_copies();
    tree.fifo("p/pipe");
    tree.symlink("p/link", "../s1");
    expected.insert(["e/2", "e1"].into_iter().map(String::from).collect());
    let root = tree.path();
    let empty = ["--include-empty"];
    let whole = search(&["--format", "json", "--include-empty"], root);
    assert_eq!(whole.code(), Some(1), "{}", whole.stderr);
    assert_eq!(json_groups(&whole.lines(), root), expected);
    let whole_fdupes = search(&["--format", "fdupes", "--include-empty"], root);
    let whole_csv = search(&["--format", "csv", "--include-empty"], root);
    let whole_human = search(&["--include-empty"], root);
    let summary = whole.summary();
    assert_eq!(
        (summary["failed"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(2))
    );
    for count in [1, 2, 3, 5] {
        let out = tempfile::tempdir().expect("tempdir");
        let (files, codes) = shards(root, count, out.path(), &empty);
        // The copy that fails is reported once, by the shard that compares its size.
        assert_eq!(codes.iter().filter(|&&c| c == 1).count(), 1, "{codes:?}");
        let merged = merge("json", &files);
        assert_eq!(merged.code(), Some(1), "{}", merged.stderr);
        // The groups in the search's order; the entries reported on their own as they come
        // (the shards' in shard order).
        for kind in ["duplicates", "hard_links"] {
            assert_eq!(
                of_type(&merged, kind),
                of_type(&whole, kind),
                "{kind}, {count} shards"
            );
        }
        for kind in ["skipped", "file"] {
            assert_eq!(
                sorted(of_type(&merged, kind)),
                sorted(of_type(&whole, kind)),
                "{kind}"
            );
        }
        let failures = of_type(&merged, "file");
        assert!(
            failures[0]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("p/fails-one"))
        );
        assert_eq!(json_groups(&merged.lines(), root), expected);
        let merged_summary = merged.summary();
        for field in TOTALS {
            assert_eq!(
                merged_summary[field], summary[field],
                "{field}, {count} shards"
            );
        }
        assert_eq!(merged_summary["strategy"], "merge");
        assert_eq!(merged_summary["shards"], count);
        // fdupes and CSV byte for byte, the groups for people line for line.
        let fdupes = merge("fdupes", &files);
        assert_eq!(fdupes.code(), Some(1), "{}", fdupes.stderr);
        assert_eq!(
            String::from_utf8_lossy(&fdupes.stdout),
            String::from_utf8_lossy(&whole_fdupes.stdout),
            "{count} shards"
        );
        assert!(fdupes.stderr.contains("fails-one"), "{}", fdupes.stderr);
        assert_eq!(
            merge("csv", &files).stdout,
            whole_csv.stdout,
            "{count} shards"
        );
        let human = merge("human", &files);
        assert_eq!(groups_for_people(&human), groups_for_people(&whole_human));
    }
}

/// Asserts a refused merge: status 2, one line on stderr containing `says`, nothing on stdout.
fn assert_refused(run: &Run, says: &str) {
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing is written");
}

/// A small tree of copies of many sizes, so that every shard of a few has groups.
fn copies() -> Tree {
    let tree = Tree::new();
    for i in 0..12 {
        let data = format!("copy {i} ").repeat(i + 1);
        tree.file(format!("a/f{i}"), &data);
        tree.file(format!("b/c/f{i}"), &data);
    }
    tree
}

#[test]
fn inputs_that_are_not_the_shards_of_one_search_are_refused() {
    let tree = copies();
    let out = tempfile::tempdir().expect("tempdir");
    let (files, codes) = shards(tree.path(), 3, out.path(), &[]);
    assert_eq!(codes, [0, 0, 0]);
    assert_eq!(merge("json", &files).code(), Some(0));
    assert_refused(&merge("json", &files[..2]), "missing: 2");
    // A shard of a plain run, or of a search with other settings.
    let plain = out.path().join("plain.jsonl");
    let run = Reader::new(READER, &[]).run(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--shard".as_ref(),
        "2/3".as_ref(),
        "-o".as_ref(),
        plain.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let mixed = [files[0].clone(), files[1].clone(), plain.clone()];
    assert_refused(&merge("json", &mixed), "of a plain run");
    let mixed = [plain, files[0].clone(), files[1].clone()];
    assert_refused(&merge("fdupes", &mixed), "of a plain run");
    let other = tempfile::tempdir().expect("tempdir");
    let (with_empty, _) = shards(tree.path(), 3, other.path(), &["--include-empty"]);
    let foreign = [files[0].clone(), files[1].clone(), with_empty[2].clone()];
    assert_refused(&merge("json", &foreign), "another run");
    // A group moved to another shard's output (its own made to agree), and one given twice.
    let text = |k: usize| std::fs::read_to_string(&files[k]).expect("read");
    let (from, to) = (0..3)
        .flat_map(|a| (0..3).map(move |b| (a, b)))
        .find(|&(a, b)| a != b && text(a).contains(r#""type":"duplicates""#))
        .expect("a shard with a group");
    let moved_out = out.path().join("moved-out.jsonl");
    let moved_in = out.path().join("moved-in.jsonl");
    let mut giver: Vec<Value> = text(from)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let at = giver
        .iter()
        .position(|l| l["type"] == "duplicates")
        .expect("a group");
    let group = giver.remove(at);
    let write = |path: &Path, lines: &[Value]| {
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        std::fs::write(path, text.join("\n") + "\n").expect("write");
    };
    write(&moved_out, &giver);
    let mut taker: Vec<Value> = text(to)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    taker.insert(0, group.clone());
    write(&moved_in, &taker);
    let mut inputs = files.clone();
    inputs[to] = moved_in;
    assert_refused(&merge("json", &inputs), "belongs to shard");
    let mut inputs = files.clone();
    inputs[from] = moved_out;
    assert_refused(&merge("json", &inputs), "do not add up");
    let mut twice = text(from);
    twice.insert_str(0, &format!("{group}\n"));
    let doubled = out.path().join("doubled.jsonl");
    std::fs::write(&doubled, twice).expect("write");
    let mut inputs = files.clone();
    inputs[from] = doubled;
    assert_refused(&merge("json", &inputs), "reported again");
    // Split files are not compared across shards: refused before anything is read.
    let split = search(
        &[
            "--format",
            "json",
            "--shard",
            "0/3",
            "--shard-split",
            "1KiB",
        ],
        tree.path(),
    );
    assert_eq!(split.code(), Some(2), "{}", split.stderr);
    assert!(
        split.stderr.contains("--shard-split") && split.stderr.contains("whole files"),
        "{}",
        split.stderr
    );
}

#[test]
fn ranks_started_by_mpirun_search_their_sizes_and_merge_into_the_whole_search() {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("Open MPI"));
    if !found {
        eprintln!("skipped: Open MPI is not installed (apt-get install openmpi-bin)");
        return;
    }
    let tree = copies();
    let out = tempfile::tempdir().expect("tempdir");
    let mut mpirun = Command::new("mpirun");
    // Allowed to run as root (a container's CI) and to start more ranks than there are cores.
    mpirun
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", "3"])
        .arg(READER)
        .args(["--duplicates", "--format", "json", "--shard", "auto", "-o"])
        .arg(out.path().join("{shard}.jsonl"))
        .arg(tree.path());
    let run = finish(mpirun);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let files: Vec<PathBuf> = (0..3)
        .map(|k| out.path().join(format!("{k}.jsonl")))
        .collect();
    let merged = merge("fdupes", &files);
    assert_eq!(merged.code(), Some(0), "{}", merged.stderr);
    let whole = Reader::new(READER, &[]).run(&[
        "--duplicates".as_ref(),
        "--format".as_ref(),
        "fdupes".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(whole.code(), Some(0), "{}", whole.stderr);
    assert_eq!(merged.stdout, whole.stdout);
    assert_eq!(
        String::from_utf8_lossy(&merged.stdout)
            .matches("\n\n")
            .count(),
        12
    );
}

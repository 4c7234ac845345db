//! Shards: `--shard K/N` shares the run out with nothing lost or read twice, `--shard auto`
//! and `--output` included, and `--shard-split` cuts large files into parts that join.

use std::collections::{BTreeSet, HashMap};
use std::fs;

use serde_json::Value;

use super::checks::{assert_one_line_error, assert_read, counts, record};
use crate::oracle;
use crate::run::{Reader, Run};
use crate::tree::Tree;

/// The records of the runs of the shards of one run, together; a path in two of them fails the
/// case (named by its length and last name: paths can be tens of kilobytes long).
pub(super) fn union_of_shards(shards: impl IntoIterator<Item = Run>) -> HashMap<String, Value> {
    let mut union = HashMap::new();
    for run in shards {
        for (path, record) in run.records() {
            let name = format!(
                "{} bytes, …{}",
                path.len(),
                path.rsplit('/').next().unwrap_or_default()
            );
            assert!(union.insert(path, record).is_none(), "{name} in two shards");
        }
    }
    union
}

/// `--shard K/N` with `--output 'DIR/{shard}.jsonl'`: the N shards' files hold between them
/// every record of the unsharded run once (files, failures and skipped entries alike), each
/// file appears only when its run is complete, and a shard that cannot write its output
/// leaves none.
pub fn shards_together_are_the_whole_run(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..40 {
        let data = format!("file {i} has {} words\n", i % 7).repeat(i % 5 + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 3), &data), data));
    }
    tree.fifo("d1/pipe");
    tree.symlink("d2/dangling", "nowhere");
    let whole = reader.json(&[tree.path()]);
    assert_eq!(whole.code(), Some(0), "stderr: {}", whole.stderr);
    let expected = whole.records();
    let out = tempfile::tempdir().expect("tempdir");
    let template = out.path().join("{shard}.jsonl");
    let count = 3;
    let union = union_of_shards((0..count).map(|k| {
        let shard = format!("{k}/{count}");
        let run = reader.run(&[
            "--format".as_ref(),
            "json".as_ref(),
            "--shard".as_ref(),
            shard.as_ref(),
            "--output".as_ref(),
            template.as_os_str(),
            tree.path().as_os_str(),
        ]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "--output leaves stdout empty");
        let written = Run {
            status: run.status,
            stdout: fs::read(out.path().join(format!("{k}.jsonl"))).expect("the shard's file"), // whole-file read ok: a shard's output, checked whole
            stderr: run.stderr,
        };
        let summary = written.summary();
        assert_eq!(summary["shard"]["index"], k, "{summary}");
        assert_eq!(summary["shard"]["count"], count, "{summary}");
        assert!(summary["shard"]["version"].is_string(), "{summary}");
        written
    }));
    let names = |records: &HashMap<String, Value>| {
        let mut names: Vec<String> = records
            .iter()
            .map(|(path, r)| format!("{path} {} {} {}", r["type"], r["size"], r["reason"]))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&union), names(&expected));
    for (path, data) in &files {
        assert_read(&union, path, data.as_bytes());
    }
    let left: Vec<_> = fs::read_dir(out.path()).expect("list").flatten().collect();
    assert_eq!(left.len(), count, "only the shards' files: {left:?}");
    // An output that cannot be created: one line, status 2, and nothing read or written.
    // (a file where its directory should be)
    let nowhere = out.path().join("0.jsonl/{shard}.jsonl");
    let failed = reader.run(&[
        "--shard".as_ref(),
        "0/2".as_ref(),
        "--output".as_ref(),
        nowhere.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&failed);
    assert!(
        failed.stderr.contains("0.jsonl/0.jsonl"),
        "{}",
        failed.stderr
    );
    let auto = reader
        .clone()
        .env("PMI_RANK", "1")
        .env("PMI_SIZE", "3")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_PROCID")
        .env_remove("OMPI_COMM_WORLD_RANK")
        .json(&["--shard".as_ref(), "auto".as_ref(), tree.path().as_os_str()]);
    assert_eq!(auto.summary()["shard"]["index"], 1, "{}", auto.stderr);
    let unset = reader
        .clone()
        .env_remove("PMI_RANK")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_PROCID")
        .env_remove("OMPI_COMM_WORLD_RANK")
        .run(&["--shard".as_ref(), "auto".as_ref(), tree.path().as_os_str()]);
    assert_one_line_error(&unset);
}

/// `--shard-split`: files above the unit are cut into byte ranges over the shards, and every
/// range is a `part` record whose counts are those of its bytes alone and whose edges say
/// whether it starts and ends inside a word — so that the ranges of a file, on different
/// shards, cover it exactly once and join (with a word across each boundary counted once) to
/// the whole file's counts. Files at or below the unit are whole, as without the flag.
pub fn split_shards_cover_large_files_once(reader: &Reader) {
    let tree = Tree::new();
    let unit: u64 = 64 * 1024;
    let mut data = Vec::new();
    for i in 0..12_000u32 {
        // Words of every length, tabs, CRLFs and runs of spaces, so that boundaries fall
        // inside words and between them.
        data.extend_from_slice(
            format!("w{i} {}\t\r\n  x", "y".repeat((i % 13) as usize)).as_bytes(),
        );
    }
    let big = tree.file("big/words.txt", &data);
    let solid_data = vec![b'z'; 5 * 64 * 1024 + 7];
    let solid = tree.file("big/solid.bin", &solid_data);
    let exact = tree.file("exact.txt", vec![b'a'; 64 * 1024]);
    let small = tree.file("small.txt", "one two\n");
    tree.file("empty", "");
    let expected = reader.json(&[tree.path()]).records();
    let count = 3;
    let mut whole = HashMap::new();
    let mut parts: HashMap<String, Vec<(u64, Value)>> = HashMap::new();
    for k in 0..count {
        let shard = format!("{k}/{count}");
        let run = reader.json(&[
            "--shard".as_ref(),
            shard.as_ref(),
            "--shard-split".as_ref(),
            "64KiB".as_ref(),
            tree.path().as_os_str(),
        ]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        assert_eq!(
            run.summary()["shard"]["split_above"],
            unit,
            "{}",
            run.summary()
        );
        for (path, record) in run.records() {
            if record["type"] == "part" {
                parts.entry(path).or_default().push((k, record));
            } else {
                assert!(whole.insert(path.clone(), record).is_none(), "{path} twice");
            }
        }
    }
    for (path, content) in [(&big, &data), (&solid, &solid_data)] {
        let key = path.display().to_string();
        let mut got = parts
            .remove(&key)
            .unwrap_or_else(|| panic!("{key} was not split"));
        got.sort_by_key(|(_, r)| r["part"].as_u64());
        let size = content.len() as u64;
        let wanted = size.div_ceil(unit).min(count);
        assert_eq!(got.len() as u64, wanted, "{key}: {got:?}");
        let shards: BTreeSet<u64> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(shards.len(), got.len(), "{key}: one part a shard");
        let (mut at, mut joined, mut ended_in_word) = (0u64, (0, 0, 0), false);
        for (_, part) in &got {
            let field = |name: &str| {
                part[name]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: {part}"))
            };
            assert_eq!(
                field("start"),
                at,
                "{key}: the parts follow each other: {part}"
            );
            assert_eq!(field("parts"), wanted, "{part}");
            assert_eq!(field("file_size"), size, "{part}");
            let range = &content[at as usize..field("end") as usize];
            assert_eq!(counts(part), oracle(range), "{key}: {part}");
            let in_word = |byte: Option<&u8>| byte.is_some_and(|b| !b" \t\n\x0b\x0c\r".contains(b));
            assert_eq!(part["starts_in_word"], in_word(range.first()), "{part}");
            assert_eq!(part["ends_in_word"], in_word(range.last()), "{part}");
            let (b, l, w) = oracle(range);
            let across = ended_in_word && in_word(range.first());
            joined = (joined.0 + b, joined.1 + l, joined.2 + w - u64::from(across));
            ended_in_word = in_word(range.last());
            at = field("end");
        }
        assert_eq!(at, size, "{key}: the parts reach the end");
        assert_eq!(joined, oracle(content), "{key}: joined");
        assert_eq!(joined, counts(record(&expected, path)), "{key}");
    }
    assert!(
        parts.is_empty(),
        "nothing else is split: {:?}",
        parts.keys()
    );
    let mut names: Vec<&String> = whole.keys().collect();
    names.sort();
    assert_eq!(names.len(), expected.len() - 2, "{names:?}");
    assert_read(&whole, &exact, &[b'a'; 64 * 1024]);
    assert_read(&whole, &small, b"one two\n");
    // The flag needs shards, and output only the merge can join.
    assert_one_line_error(&reader.json(&[
        "--shard-split".as_ref(),
        "1MiB".as_ref(),
        tree.path().as_os_str(),
    ]));
    assert_one_line_error(&reader.run(&[
        "--format".as_ref(),
        "csv".as_ref(),
        "--shard".as_ref(),
        "0/2".as_ref(),
        "--shard-split".as_ref(),
        "1MiB".as_ref(),
        tree.path().as_os_str(),
    ]));
}

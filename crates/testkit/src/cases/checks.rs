//! What the cases check a run with: the record of a path, read with the oracle's counts,
//! failed or skipped as expected; no panic; a start error of one line; and a run inside a
//! bash script, for pipes and redirections.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::run::{Reader, Run, finish};
use crate::{oracle, path_key};

/// The counts of a read file's record, `(size, lines, words)`; it must not have failed.
pub(super) fn counts(record: &Value) -> (u64, u64, u64) {
    assert!(record["error"].is_null(), "expected a read file: {record}");
    let n = |k: &str| {
        record[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {record}"))
    };
    (n("size"), n("lines"), n("words"))
}

/// The record of `path` among `records`; its absence fails the case, naming what there is.
pub(super) fn record<'a>(records: &'a HashMap<String, Value>, path: &Path) -> &'a Value {
    records.get(&path_key(path)).unwrap_or_else(|| {
        panic!(
            "no record for {}; have {:?}",
            path.display(),
            records.keys().collect::<Vec<_>>()
        )
    })
}

/// `path` was read, and its counts are the oracle's of `data`.
pub(super) fn assert_read(records: &HashMap<String, Value>, path: &Path, data: &[u8]) {
    assert_eq!(
        counts(record(records, path)),
        oracle(data),
        "{}",
        path.display()
    );
}

/// `path` failed as `kind`, with a message that names it.
pub(super) fn assert_failed(records: &HashMap<String, Value>, path: &Path, kind: &str) {
    let r = record(records, path);
    assert_eq!(r["type"], "file", "{r}");
    assert_eq!(r["error"]["kind"], kind, "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&*path.to_string_lossy()),
        "the message names the path: {r}"
    );
}

/// `path` was skipped, for `reason`.
pub(super) fn assert_skipped(records: &HashMap<String, Value>, path: &Path, reason: &str) {
    let r = record(records, path);
    assert_eq!(
        (r["type"].as_str(), r["reason"].as_str()),
        (Some("skipped"), Some(reason)),
        "{r}"
    );
}

/// Nothing panicked in the run.
pub(super) fn assert_no_panic(run: &Run) {
    assert!(!run.stderr.contains("panicked"), "stderr: {}", run.stderr);
}

/// The run ended at its start: status 2, one line on stderr, nothing on stdout.
pub(super) fn assert_one_line_error(run: &Run) {
    assert_eq!(run.code(), Some(2), "stderr: {}", run.stderr);
    assert_no_panic(run);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing on stdout");
}

/// Runs the reader with `args` (and `--progress never`) inside a bash script that `script`
/// makes around its command line — a pipe, a redirection, `echo $?` — and returns the run of
/// the script.
pub(super) fn in_bash(
    reader: &Reader,
    args: &[&OsStr],
    script: impl FnOnce(String) -> String,
) -> Run {
    let mut all: Vec<&OsStr> = vec!["--progress".as_ref(), "never".as_ref()];
    all.extend_from_slice(args);
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script(reader.shell_words(&all))]);
    finish(cmd)
}

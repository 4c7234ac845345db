//! `reader-merge` of the shards of one search for duplicate files (`--duplicates --shard K/N
//! --format json`): their groups put together and written as one search writes them.
//!
//! A search is shared out by size (reader-core's `DuplicateSearch`): each group of copies, and
//! each file with several names, lies in the output of the one shard that owns its size, so
//! the merge only puts the groups together and orders them ([`Duplicates::sort`]). Before
//! anything is written it checks, beyond what `check_shards` checked of the summaries, that:
//!
//! - each group belongs to the shard whose output holds it, by its size
//!   ([`Shard::of_size`]), and each skipped entry by its path (left out for a `--files0-from`
//!   run, as in a plain merge); a failed file may be either shard's — the one that owns its
//!   path when the walk or its `stat` failed, the one that owns its size when it failed while
//!   it was compared — and is not checked;
//! - no name is in two records, within one input or across inputs;
//! - each input's records add up to its own summary (`failed`, `skipped`, `groups`,
//!   `duplicates`, `wasted`, `hard_links`).
//!
//! The summary adds up the shards' (`files` counts each file once: a shard counts those whose
//! path it owns), with the slowest shard's `elapsed_ms` and `shards`, N. Memory grows with the
//! names in groups and the skipped and failed entries, as a search's does.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use reader_core::{Algorithm, Digest, DuplicateGroup, Duplicates, Member, Record, Shard};
use serde::Deserialize;
use serde_json::Value;

use super::{Input, Keys, number, path_value};
use crate::args::Format;
use crate::duplicates::{Closing, Writer};

/// Whether `summary` closes a shard of a search for duplicates (its `shard` object says
/// `duplicates`).
pub(super) fn is_search(summary: &Value) -> bool {
    summary["shard"]["duplicates"].is_object()
}

/// Refuses `summary`, of the input at `path`, when it is a shard of a search for duplicates
/// and `first` of a plain run, or the other way round: the two cannot be merged together.
pub(super) fn same_kind(summary: &Value, path: &Path, first: &Input) -> Result<(), String> {
    if is_search(summary) == is_search(&first.summary) {
        return Ok(());
    }
    let (search, plain) = if is_search(summary) {
        (path, first.path.as_path())
    } else {
        (first.path.as_path(), path)
    };
    Err(format!(
        "{} is a shard of a --duplicates search and {} of a plain run: they cannot be merged together",
        search.display(),
        plain.display()
    ))
}

/// Merges `shards`, checked by `check_shards` to be shards 0..N-1 of one search, in shard
/// order, and writes the result in `format`: status 0, 1 when a file failed, 2 when the
/// inputs are damaged or the output cannot be written (nothing is written then).
pub(super) fn merge(shards: &[Input], format: Format) -> ExitCode {
    let fail = |why: &str| {
        eprintln!("reader-merge: error: {why}");
        ExitCode::from(2)
    };
    let joined = match join(shards) {
        Ok(joined) => joined,
        Err(why) => return fail(&why),
    };
    let mut writer = match Writer::new("reader-merge", format, io::stdout()) {
        Ok(writer) => writer,
        Err(err) => return fail(&err.to_string()),
    };
    for record in &joined.records {
        writer.entry(record);
    }
    writer.groups(&joined.found);
    writer.summary(&Closing {
        strategy: "merge",
        found: &joined.found,
        shard: None,
        shards: shards.first().map(|s| s.shard.count()),
    });
    match writer.finish() {
        // The reader of the output closed it early: a success, as for any run.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => fail(&format!("cannot write output: {err}")),
        Ok(()) if joined.found.failed > 0 => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// The shards of a search put together: their skipped and failed entries, in shard order, and
/// what they found, in a search's order.
struct Joined {
    records: Vec<Record>,
    found: Duplicates,
}

/// What one input's records add up to, to be checked against its summary.
#[derive(Debug, Default)]
struct Tally {
    failed: u64,
    skipped: u64,
    groups: u64,
    duplicates: u64,
    wasted: u64,
    hard_links: u64,
}

/// Reads and checks every input (see the module docs).
fn join(shards: &[Input]) -> Result<Joined, String> {
    let mut joined = Joined {
        records: Vec::new(),
        found: Duplicates::default(),
    };
    let mut seen: HashMap<PathBuf, Shard> = HashMap::new();
    for input in shards {
        let tally = read(input, &mut seen, &mut joined)?;
        super::adds_up(
            input,
            &[
                ("failed", tally.failed),
                ("skipped", tally.skipped),
                ("groups", tally.groups),
                ("duplicates", tally.duplicates),
                ("wasted", tally.wasted),
                ("hard_links", tally.hard_links),
            ],
        )?;
        let found = &mut joined.found;
        let total = |field: &str| input.summary[field].as_u64().unwrap_or(0);
        found.files += total("files");
        found.failed += tally.failed;
        found.skipped += tally.skipped;
        found.bytes_read += total("bytes_read");
        found.bytes_needed += total("bytes_needed");
        let elapsed = Duration::try_from_secs_f64(number(&input.summary, "elapsed_ms") / 1e3)
            .unwrap_or_default();
        found.elapsed = found.elapsed.max(elapsed);
    }
    joined.found.sort();
    Ok(joined)
}

/// Reads one input's records into `joined`, checking each (see the module docs); `seen` holds
/// every name reported so far, with the shard that reported it.
fn read(
    input: &Input,
    seen: &mut HashMap<PathBuf, Shard>,
    joined: &mut Joined,
) -> Result<Tally, String> {
    let at = |line: usize| format!("{}:{line}", input.path.display());
    let file = File::open(&input.path).map_err(|err| format!("{}: {err}", input.path.display()))?;
    let keys = Keys::of(&input.summary);
    let (shard, count) = (input.shard, input.shard.count());
    let mut tally = Tally::default();
    let mut lines = BufReader::new(file).lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let line = line.map_err(|err| format!("{}: {err}", at(n + 1)))?;
        if lines.peek().is_none() {
            // The summary, read already.
            break;
        }
        let at = at(n + 1);
        let value: Value = serde_json::from_str(&line)
            .map_err(|err| format!("{at}: not a JSON record ({err})"))?;
        let mut once = |path: &Path| match seen.insert(path.to_path_buf(), shard) {
            None => Ok(()),
            Some(first) => Err(format!(
                "{at}: {} is reported again, after shard {first} reported it: each name is in one record of one shard{}",
                path.display(),
                if first == shard {
                    "; the file is damaged"
                } else {
                    " (it changed while the shards looked at it? run them again)"
                }
            )),
        };
        match value["type"].as_str() {
            Some("duplicates") => {
                let group = group_of(&value).map_err(|why| format!("{at}: {why}"))?;
                let owner = Shard::of_size(group.size, count);
                if owner != shard.index() {
                    return Err(format!(
                        "{at}: the group of files of {} bytes belongs to shard {owner}, not to shard {shard} whose output holds it",
                        group.size
                    ));
                }
                for member in &group.members {
                    once(&member.path)?;
                    member.links.iter().try_for_each(|link| once(link))?;
                }
                tally.groups += 1;
                tally.duplicates += group.members.len() as u64;
                tally.wasted += group.wasted();
                joined.found.groups.push(group);
            }
            Some("hard_links") => {
                let names = paths_of(&value["paths"])
                    .filter(|names| names.len() > 1)
                    .ok_or_else(|| format!("{at}: a hard_links record without two paths"))?;
                names.iter().try_for_each(|name| once(name))?;
                tally.hard_links += 1;
                joined.found.hard_links.push(names);
            }
            Some("file" | "skipped") => {
                let record = Record::deserialize(&value).map_err(|err| format!("{at}: {err}"))?;
                match &record {
                    Record::File(file) => {
                        if file.outcome.is_ok() {
                            return Err(format!(
                                "{at}: {} is a file read, which a search writes no record of; the file is damaged",
                                file.path.display()
                            ));
                        }
                        once(&file.path)?;
                        tally.failed += 1;
                    }
                    Record::Skipped(skipped) => {
                        if let Some(key) = keys.as_ref().map(|k| k.key(&skipped.path)) {
                            let owner = Shard::of(key.as_os_str().as_encoded_bytes(), count);
                            if owner != shard.index() {
                                return Err(format!(
                                    "{at}: {} belongs to shard {owner}, not to shard {shard} whose output holds it",
                                    skipped.path.display()
                                ));
                            }
                        }
                        once(&skipped.path)?;
                        tally.skipped += 1;
                    }
                }
                joined.records.push(record);
            }
            other => {
                return Err(format!(
                    "{at}: a record of type {other:?}, which a search for duplicates does not write"
                ));
            }
        }
    }
    Ok(tally)
}

/// The paths of a JSON array of paths; `None` if it is not one.
fn paths_of(value: &Value) -> Option<Vec<PathBuf>> {
    value.as_array()?.iter().map(path_value).collect()
}

/// A `duplicates` record back as the group it was written from.
fn group_of(value: &Value) -> Result<DuplicateGroup, String> {
    let size = value["size"]
        .as_u64()
        .ok_or("a duplicates record without a size")?;
    let blake3 = match &value["blake3"] {
        Value::Null => None,
        text => Some(
            text.as_str()
                .and_then(hex_bytes)
                .and_then(|bytes| Digest::from_bytes(Algorithm::Blake3, &bytes))
                .ok_or_else(|| format!("a duplicates record whose blake3 is not one: {text}"))?,
        ),
    };
    let paths = paths_of(&value["paths"])
        .filter(|paths| paths.len() > 1)
        .ok_or("a duplicates record without two paths")?;
    let mut links: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
    if !value["links"].is_null() {
        let sets = value["links"]
            .as_array()
            .ok_or("a duplicates record whose links are not a list")?;
        for set in sets {
            let mut names = paths_of(set)
                .filter(|names| names.len() > 1)
                .ok_or("a duplicates record whose links are not lists of two paths or more")?
                .into_iter();
            let (Some(first), others) = (names.next(), names) else {
                continue;
            };
            if !paths.contains(&first) {
                return Err(format!(
                    "a duplicates record with links of {}, which is not one of its paths",
                    first.display()
                ));
            }
            links.insert(first, others.collect());
        }
    }
    let members = paths
        .into_iter()
        .map(|path| Member {
            links: links.remove(&path).unwrap_or_default(),
            path,
        })
        .collect();
    let group = DuplicateGroup {
        size,
        blake3,
        members,
    };
    if value["wasted"].as_u64() != Some(group.wasted()) {
        return Err(format!(
            "a duplicates record of {} copies of {size} bytes that says {} wasted, not {}; the file is damaged",
            group.members.len(),
            value["wasted"],
            group.wasted()
        ));
    }
    Ok(group)
}

/// The bytes written in hexadecimal as `text`; `None` if it is not.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

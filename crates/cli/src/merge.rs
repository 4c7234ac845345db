//! `reader-merge`: the JSON Lines outputs of the N shards of one run (`--shard K/N --format
//! json`) made into one result, in any `--format`, with a summary of the whole run — after
//! proving that nothing is missing, twice or foreign.
//!
//! Before anything is written, it reads the summary that closes each input (a shard that did
//! not finish has none) and checks that the inputs are shards 0 to N-1 of one run, each once:
//! the same N, PATHs, list, filters and version. Then it streams the records, a line at a
//! time, checking that each belongs to the shard whose output holds it (by the key and hash of
//! [`reader_core::Shard`]; for a `--files0-from` run the key of an entry inside a listed
//! directory cannot be known, and this check is left out) — so that no entry can be in two
//! shards — and that each input's records add up to its own summary. The byte ranges of
//! files split over the shards (`--shard-split`) are held until every range of their file is
//! in, checked to cover it exactly once, and joined into one record of the whole file (see
//! `Joins`): their counts, and, in a run with `--digest blake3`, the subtrees of BLAKE3's
//! tree each part holds, into the file's BLAKE3 digest. Memory does not grow with the number
//! of records, only with the number of split files.
//!
//! The shards of a search for duplicate files (`--duplicates`), shared out by size, are
//! merged by `merge/duplicates.rs` into the groups one search finds; they cannot be merged
//! with the shards of a plain run.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use std::collections::HashMap;

use reader_core::{
    Algorithm, Algorithms, Blake3, Blake3Range, ErrorKind, FileError, FileResult, Finished,
    JoinRanges, Part, RangeCounts, Record, RunError, Shard, Stats, Summary, Worker, names,
};
use serde::Serialize;
use serde_json::Value;

use crate::args::Format;
use crate::report::Report;

mod duplicates;

/// The command line of `reader-merge`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "reader-merge",
    version,
    about = "Merges the JSON Lines outputs of the shards of one run (--shard K/N --format json, with or without --duplicates) into one result, checking that every shard is there once and no entry is twice."
)]
struct MergeArgs {
    /// The shards' outputs, in any order.
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<PathBuf>,

    /// Output: a summary for people, JSON Lines, CSV with one row a file, or a checksum
    /// manifest of the run's --digest; for the shards of a --duplicates search, its groups
    /// for people, as JSON Lines, CSV, or as fdupes writes them.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// With --format sums: lines in the BSD form `SHA256 (NAME) = HEX` (needed when the run
    /// computed several digests).
    #[arg(long)]
    tag: bool,
}

/// Runs `reader-merge`: see the module docs. Exit status as for the readers: 0, 1 when a
/// file failed, 2 when the inputs are not the whole of one run or cannot be read.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed =
        crate::app::matches(MergeArgs::command(), &[], std::env::args_os()).and_then(|matches| {
            MergeArgs::from_arg_matches(&matches)
                .map_err(|err| crate::app::usage_error("reader-merge", &err))
        });
    let args = match parsed {
        Ok(args) => args,
        Err(status) => return status,
    };
    let shards = match check_shards(&args.inputs) {
        Ok(shards) => shards,
        Err(why) => {
            eprintln!("reader-merge: error: {why}");
            return ExitCode::from(2);
        }
    };
    if shards
        .first()
        .is_some_and(|s| duplicates::is_search(&s.summary))
    {
        return duplicates::merge(&shards, args.format);
    }
    // Every shard of one run computed the same digests (`check_shards`).
    let digests: Algorithms = shards
        .first()
        .and_then(|s| s.summary["shard"]["digests"].as_str())
        .and_then(|names| names.parse().ok())
        .unwrap_or_default();
    if args.format == Format::Fdupes {
        eprintln!(
            "reader-merge: error: --format fdupes writes the groups of --duplicates; these are the shards of a plain run"
        );
        return ExitCode::from(2);
    }
    if args.format == Format::Sums
        && (digests.is_empty() || (digests.iter().count() > 1 && !args.tag))
    {
        eprintln!(
            "reader-merge: error: --format sums needs a run with one --digest, or --tag for several (the run computed: {})",
            if digests.is_empty() {
                "none".to_string()
            } else {
                digests.to_string()
            }
        );
        return ExitCode::from(2);
    }
    let mut report = Report::to_writers(
        "reader-merge",
        args.format,
        Box::new(io::BufWriter::with_capacity(64 * 1024, io::stdout())),
        Box::new(io::stderr()),
    )
    .with_digests(digests, args.tag);
    let mut merged = Summary::new("merge");
    let mut joins = Joins::new(digests);
    let mut error = None;
    let mut stopped = false;
    for shard in &shards {
        match stream(shard, &mut report, &mut merged, &mut joins) {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => {
                stopped = true;
                break;
            }
            Err(why) => {
                error = Some(RunError::Model(why.into()));
                break;
            }
        }
    }
    if error.is_none()
        && !stopped
        && let Some(why) = joins.incomplete()
    {
        error = Some(RunError::Model(why.into()));
    }
    merged.elapsed_ms = shards
        .iter()
        .map(|s| number(&s.summary, "elapsed_ms"))
        .fold(0.0, f64::max);
    let stats = MergeStats::of(&shards);
    merged.jobs = stats.jobs();
    report.finish(Finished {
        summary: merged,
        stats: Some(stats),
        error,
        stopped,
    })
}

/// One input: its file, its closing summary, and the shard that summary says it is.
struct Input {
    path: PathBuf,
    summary: Value,
    shard: Shard,
}

/// Reads the summary of every input and checks that together they are shards 0..N-1 of one
/// run, each once; returns them in shard order.
fn check_shards(inputs: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut shards: Vec<Input> = Vec::with_capacity(inputs.len());
    for path in inputs {
        let summary = last_line(path)
            .map_err(|err| format!("{}: {err}", path.display()))
            .and_then(|line| {
                serde_json::from_str::<Value>(&line)
                    .ok()
                    .filter(|v| v["type"] == "summary" && v["shard"].is_object())
                    .ok_or_else(|| {
                        format!(
                            "{}: does not end with a shard's summary (not the --format json output of a --shard run, or a run that did not finish)",
                            path.display()
                        )
                    })
            })?;
        let index = summary["shard"]["index"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok());
        let count = summary["shard"]["count"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok());
        let shard = index
            .zip(count)
            .and_then(|(k, n)| Shard::new(k, n).ok())
            .ok_or_else(|| format!("{}: its summary names no valid shard", path.display()))?;
        if let Some(first) = shards.first() {
            duplicates::same_kind(&summary, path, first)?;
            if run_of(&summary) != run_of(&first.summary) {
                return Err(format!(
                    "{} is shard {shard} of another run than {} ({}): its PATHs, list, filters, shard count or version differ",
                    path.display(),
                    first.path.display(),
                    first.shard
                ));
            }
            if let Some(twin) = shards.iter().find(|s| s.shard == shard) {
                return Err(format!(
                    "shard {shard} is given twice: {} and {}",
                    twin.path.display(),
                    path.display()
                ));
            }
        }
        shards.push(Input {
            path: path.clone(),
            summary,
            shard,
        });
    }
    let count = shards.first().map_or(0, |s| s.shard.count());
    let missing: Vec<String> = (0..count)
        .filter(|k| !shards.iter().any(|s| s.shard.index() == *k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the run has {count} shards and {} missing: {} (each shard's output must be given once)",
            if missing.len() == 1 {
                "this one is"
            } else {
                "these are"
            },
            missing.join(", ")
        ));
    }
    shards.sort_by_key(|s| s.shard.index());
    Ok(shards)
}

/// What makes two shards part of one run: their `shard` object less the index.
fn run_of(summary: &Value) -> Value {
    let mut run = summary["shard"].clone();
    if let Some(map) = run.as_object_mut() {
        map.remove("index");
    }
    run
}

/// The last line of `path`, found from its end.
fn last_line(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut tail = Vec::new();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        tail.clear();
        (&mut file).take(len - start).read_to_end(&mut tail)?; // whole-file read ok: a bounded tail window
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(at) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(String::from_utf8_lossy(&body[at + 1..]).into_owned());
        }
        if start == 0 {
            return Ok(String::from_utf8_lossy(body).into_owned());
        }
        window *= 4;
    }
}

/// Streams one input's records into `report`, checking each belongs to its shard and that
/// they add up to the input's summary.
fn stream(
    input: &Input,
    report: &mut Report,
    merged: &mut Summary,
    joins: &mut Joins,
) -> Result<ControlFlow<()>, String> {
    let at = |line: usize| format!("{}:{line}", input.path.display());
    let file = File::open(&input.path).map_err(|err| format!("{}: {err}", input.path.display()))?;
    let keys = Keys::of(&input.summary);
    let split_above = input.summary["shard"]["split_above"].as_u64();
    let mut own = Summary::new("shard");
    let mut lines = BufReader::new(file).lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let line = line.map_err(|err| format!("{}: {err}", at(n + 1)))?;
        if lines.peek().is_none() {
            // The summary, read already.
            break;
        }
        let record = match serde_json::from_str::<Record>(&line) {
            Ok(record) => record,
            // A listing of that shard alone (--by); the merge makes none.
            Err(_) if is_group(&line) => continue,
            Err(err) => return Err(not_a_record(&at(n + 1), &err)),
        };
        let part = match &record {
            Record::File(file) => file.part,
            Record::Skipped(_) => None,
        };
        if let Some(part) = &part {
            let parts = split_above.map(|unit| input.shard.parts_of(part.file_size, unit));
            if parts != Some(part.parts) {
                return Err(format!(
                    "{}: {} is cut into {} parts, not as this run cuts its files ({}); the file is damaged",
                    at(n + 1),
                    path_of(&record).display(),
                    part.parts,
                    split_above.map_or("it splits none".into(), |unit| format!(
                        "files above {unit} bytes"
                    ))
                ));
            }
        }
        if let Some(key) = keys.as_ref().map(|k| k.key(path_of(&record))) {
            let owner = Shard::owner_of_part(
                key.as_os_str().as_encoded_bytes(),
                part.map_or(0, |p| p.index),
                input.shard.count(),
            );
            if owner != input.shard.index() {
                return Err(format!(
                    "{}: {}{} belongs to shard {owner}, not to shard {} whose output holds it",
                    at(n + 1),
                    path_of(&record).display(),
                    part.map_or(String::new(), |p| format!(
                        " (part {} of {})",
                        p.index, p.parts
                    )),
                    input.shard
                ));
            }
        }
        own.add(&record);
        let whole = match record {
            Record::File(file) if file.part.is_some() => {
                match joins
                    .add(file)
                    .map_err(|why| format!("{}: {why}", at(n + 1)))?
                {
                    Some(joined) => Record::File(joined),
                    None => continue,
                }
            }
            record => record,
        };
        merged.add(&whole);
        if report.record(whole).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    adds_up(
        input,
        &[
            ("files", own.files),
            ("ok", own.ok),
            ("failed", own.failed),
            ("skipped", own.skipped),
            ("bytes", own.bytes),
            ("lines", own.lines),
            ("words", own.words),
        ],
    )?;
    Ok(ControlFlow::Continue(()))
}

/// Whether what the records of `input` add up to, field by field (`counted`), is what its
/// summary says; else why the file is damaged.
fn adds_up(input: &Input, counted: &[(&str, u64)]) -> Result<(), String> {
    for &(field, counted) in counted {
        let said = input.summary[field].as_u64();
        if said != Some(counted) {
            return Err(format!(
                "{}: its records do not add up to its summary ({field}: {counted} in the records, {} in the summary); the file is damaged",
                input.path.display(),
                said.map_or("none".into(), |n| n.to_string())
            ));
        }
    }
    Ok(())
}

fn path_of(record: &Record) -> &Path {
    match record {
        Record::File(file) => &file.path,
        Record::Skipped(skipped) => &skipped.path,
    }
}

/// How a shard finds the key of a record's path: relative to the outermost PATH it is under
/// (the one discovery walked it from), or the path itself. `None` for a list run.
struct Keys {
    roots: Vec<PathBuf>,
}

impl Keys {
    fn of(summary: &Value) -> Option<Keys> {
        let shard = &summary["shard"];
        if !shard["files0_from"].is_null() {
            return None;
        }
        let roots = shard["roots"]
            .as_array()?
            .iter()
            .map(path_value)
            .collect::<Option<_>>()?;
        Some(Keys { roots })
    }

    fn key<'a>(&self, path: &'a Path) -> &'a Path {
        self.roots
            .iter()
            .filter_map(|root| path.strip_prefix(root).ok())
            .filter(|relative| !relative.as_os_str().is_empty())
            // The outermost root leaves the longest relative path.
            .max_by_key(|relative| relative.as_os_str().len())
            .unwrap_or(path)
    }
}

/// A path as the contract writes it: a string, or `{"bytes": "<base64>"}`.
fn path_value(value: &Value) -> Option<PathBuf> {
    match value {
        Value::String(text) => Some(PathBuf::from(text)),
        _ => value["bytes"].as_str().and_then(names::from_base64),
    }
}

/// Whether `line` is a `group` record, of a listing (`--by`).
fn is_group(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|value| value["type"] == "group")
}

/// Why the line at `at` (`FILE:LINE`) is not a record, in one line: where it is not JSON, or
/// at which column it is not a record of the contract, and why.
fn not_a_record(at: &str, err: &serde_json::Error) -> String {
    if !err.is_data() {
        return format!("{at}: not a JSON record ({err})");
    }
    let why = err.to_string();
    // serde_json says where in the line; the column is all that the line number leaves.
    let whereabouts = format!(" at line {} column {}", err.line(), err.column());
    let why = why.strip_suffix(&whereabouts).unwrap_or(&why);
    format!("{at}:{}: {why}", err.column())
}

/// Whether `part` is where the cut of its file puts it ([`Part::new`]): one of its parts,
/// with the range that part is.
fn check_cut(part: &Part) -> Result<(), String> {
    let (index, parts, file_size) = (part.index, part.parts, part.file_size);
    if index >= parts {
        return Err(format!("a part record of part {index} of {parts}"));
    }
    let cut = Part::new(index, parts, file_size);
    if (part.start, part.end) != (cut.start, cut.end) {
        return Err(format!(
            "part {index} of {parts} of a file of {file_size} bytes says it is bytes {}..{}, not {}..{}",
            part.start, part.end, cut.start, cut.end
        ));
    }
    Ok(())
}

/// The parts of split files read so far, by path, until every part of a file is in and it is
/// joined into one record. Each part was checked to be where the cut of its file puts it
/// ([`Part::new`]), so parts that are all in cover their file exactly once; in a run with
/// BLAKE3, each is held with its BLAKE3 range, rebuilt from its subtrees and checked to hold
/// exactly the part's bytes.
struct Joins {
    /// The digests of the run.
    digests: Algorithms,
    waiting: HashMap<PathBuf, Vec<Option<Held>>>,
}

/// A part waiting for the others of its file, with its BLAKE3 range when the run asked for
/// BLAKE3 and the part was read.
type Held = (FileResult, Option<Blake3Range>);

impl Joins {
    /// No split file yet, in a run that computed `digests`.
    fn new(digests: Algorithms) -> Joins {
        Joins {
            digests,
            waiting: HashMap::new(),
        }
    }

    /// Takes one part; returns the whole file's record when it was the last one missing.
    fn add(&mut self, result: FileResult) -> Result<Option<FileResult>, String> {
        let Some(part) = result.part else {
            return Ok(Some(result));
        };
        check_cut(&part)?;
        let blake3 = self.blake3_of(&result, &part)?;
        let slots = self
            .waiting
            .entry(result.path.clone())
            .or_insert_with(|| vec![None; part.parts as usize]);
        let first = slots.iter().flatten().find_map(|(r, _)| r.part);
        if first.is_some_and(|f| (f.parts, f.file_size) != (part.parts, part.file_size)) {
            return Err(format!(
                "{}: its parts disagree on how the file was cut (the shards saw it at different sizes)",
                result.path.display()
            ));
        }
        let slot = &mut slots[part.index as usize];
        if slot.is_some() {
            return Err(format!(
                "{}: part {} of {} is given twice",
                result.path.display(),
                part.index,
                part.parts
            ));
        }
        let path = result.path.clone();
        *slot = Some((result, blake3));
        if slots.iter().any(Option::is_none) {
            return Ok(None);
        }
        let parts = self.waiting.remove(&path).unwrap_or_default();
        let blake3 = self.digests.contains(Algorithm::Blake3);
        Ok(Some(join(path, parts.into_iter().flatten(), blake3)))
    }

    /// The BLAKE3 range of `part`, read as `result`, when the run computed BLAKE3 and the part
    /// was read: rebuilt from the subtrees its record carries, which must be there, be a range
    /// of BLAKE3's tree, and hold exactly the part's bytes. A part in a run whose digests
    /// cannot be joined (SHA-256, XXH3: no reader splits such a file) is damage too.
    fn blake3_of(&self, result: &FileResult, part: &Part) -> Result<Option<Blake3Range>, String> {
        let named = || {
            format!(
                "{}: part {} of {}",
                result.path.display(),
                part.index,
                part.parts
            )
        };
        if !self.digests.joins_ranges() {
            return Err(format!(
                "{}: a part in a run with --digest {}, which cannot be joined from parts (such a file is read whole); the file is damaged",
                named(),
                self.digests
            ));
        }
        let Ok(counts) = &result.outcome else {
            return Ok(None);
        };
        if !self.digests.contains(Algorithm::Blake3) {
            return Ok(None);
        }
        let subtrees = result.blake3_subtrees.as_deref().ok_or_else(|| {
            format!(
                "{}: a part record without blake3_subtrees, which a run with --digest blake3 needs to join the file's digest (written by another version of the readers?)",
                named()
            )
        })?;
        let range = Blake3Range::from_subtrees(subtrees).map_err(|why| {
            format!(
                "{}: its blake3_subtrees are no range: {why}; the file is damaged",
                named()
            )
        })?;
        let held = match (subtrees.first(), subtrees.last()) {
            (Some(first), Some(last)) if first.start == part.start => {
                Some(last.start - first.start + last.len)
            }
            (None, None) => Some(0),
            _ => None,
        };
        if held != Some(counts.bytes) {
            return Err(format!(
                "{}: its blake3_subtrees do not hold its {} bytes from byte {}; the file is damaged",
                named(),
                counts.bytes,
                part.start
            ));
        }
        Ok(Some(range))
    }

    /// What is wrong when split files some of whose parts never came are left: a damaged or
    /// cut input.
    fn incomplete(&self) -> Option<String> {
        let (path, slots) = self.waiting.iter().next()?;
        let missing: Vec<String> = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_none())
            .map(|(index, _)| index.to_string())
            .collect();
        Some(format!(
            "{}: part {} of {} is in no shard's output ({} split file(s) incomplete in all); the inputs are damaged",
            path.display(),
            missing.join(", "),
            slots.len(),
            self.waiting.len()
        ))
    }
}

/// The record of a whole file from all its parts, in order: their counts joined, and their
/// BLAKE3 ranges joined into its digest when `blake3`; or the first failure of a part. A file
/// whose parts, joined, are one subtree of BLAKE3's tree known only by its chaining value (it
/// shrank to within its first part while the shards read it) fails: BLAKE3's root cannot be
/// made from that.
fn join(path: PathBuf, parts: impl Iterator<Item = Held>, blake3: bool) -> FileResult {
    let mut elapsed = Duration::ZERO;
    let mut count = 0;
    let mut joined = Ok((RangeCounts::default(), Blake3Range::default()));
    for (part, range) in parts {
        elapsed += part.elapsed;
        count += 1;
        let Some(cut) = part.part else {
            continue;
        };
        joined = joined.and_then(|(counts, tree)| match part.outcome {
            Ok(read) => Ok((
                counts.join(RangeCounts::new(read, cut.edges)),
                Blake3.join(tree, range.unwrap_or_default()),
            )),
            Err(err) => {
                let message = format!("part {} of {}: {}", cut.index, cut.parts, err.message());
                Err(FileError::new(err.kind(), &path, message))
            }
        });
    }
    let measured = joined.and_then(|(counts, tree)| {
        let counts = counts.counts();
        if !blake3 {
            return Ok((counts, Vec::new()));
        }
        let root = tree.root().ok_or_else(|| {
            let message = format!(
                "its BLAKE3 cannot be joined from its parts: the {} bytes read lie within one subtree of its first part, as when the file shrank while the shards read it; read it again",
                counts.bytes
            );
            FileError::new(ErrorKind::Io, &path, message)
        })?;
        Ok((counts, vec![root]))
    });
    let (outcome, digests) = match measured {
        Ok((counts, digests)) => (Ok(counts), digests),
        Err(err) => (Err(err), Vec::new()),
    };
    FileResult {
        outcome,
        digests,
        output: None,
        path,
        elapsed,
        worker: Worker::Split(count),
        part: None,
        blake3_subtrees: None,
    }
}

fn number(summary: &Value, field: &str) -> f64 {
    summary[field].as_f64().unwrap_or(0.0)
}

/// What the merged summary says of the shards: how many, and each one's bytes, files, time
/// and model, so that the balance of the run shows.
#[derive(Debug, Serialize)]
struct MergeStats {
    shards: usize,
    shard_bytes: Vec<u64>,
    shard_files: Vec<u64>,
    shard_elapsed_ms: Vec<f64>,
    shard_strategies: Vec<String>,
}

impl MergeStats {
    fn of(shards: &[Input]) -> MergeStats {
        MergeStats {
            shards: shards.len(),
            shard_bytes: shards
                .iter()
                .map(|s| s.summary["bytes"].as_u64().unwrap_or(0))
                .collect(),
            shard_files: shards
                .iter()
                .map(|s| s.summary["files"].as_u64().unwrap_or(0))
                .collect(),
            shard_elapsed_ms: shards
                .iter()
                .map(|s| number(&s.summary, "elapsed_ms"))
                .collect(),
            shard_strategies: shards
                .iter()
                .map(|s| s.summary["strategy"].as_str().unwrap_or("?").to_string())
                .collect(),
        }
    }
}

impl Stats for MergeStats {
    fn jobs(&self) -> usize {
        self.shards
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let total: u64 = self.shard_bytes.iter().sum();
        let largest = self.shard_bytes.iter().copied().max().unwrap_or(0);
        let mean = total as f64 / self.shards.max(1) as f64;
        let balance = if mean > 0.0 {
            format!(
                ", the largest {:.2}x the mean by bytes",
                largest as f64 / mean
            )
        } else {
            String::new()
        };
        let slowest = self.shard_elapsed_ms.iter().copied().fold(0.0, f64::max);
        vec![(
            "shards",
            format!(
                "{} merged{balance}; the slowest took {}",
                self.shards,
                reader_core::units::millis(slowest)
            ),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reader_core::{Counts, Digest, FileJob, read_job};
    use serde::Deserialize;

    /// The `part` records the shards write of the file at `path`, cut as one of `size` bytes
    /// into `parts`, each read with `digests` and written as its JSON.
    fn part_records(path: &Path, size: u64, parts: u32, digests: Algorithms) -> Vec<Value> {
        let mut buf = vec![0; 64 * 1024];
        (0..parts)
            .map(|index| {
                let job = FileJob {
                    part: Some(Part::new(index, parts, size)),
                    digests,
                    ..FileJob::new(path, Some(size))
                };
                let result = read_job(job, &mut buf, Worker::Thread(index));
                serde_json::to_value(&result).expect("JSON")
            })
            .collect()
    }

    /// The whole file's record from `records`, read back as reader-merge reads them and added
    /// in reverse order.
    fn joined(records: &[Value], digests: Algorithms) -> Result<FileResult, String> {
        let mut joins = Joins::new(digests);
        let mut whole = None;
        for value in records.iter().rev() {
            let Record::File(file) = Record::deserialize(value).map_err(|err| err.to_string())?
            else {
                return Err("not a file".into());
            };
            whole = joins.add(file)?;
        }
        whole.ok_or_else(|| "incomplete".into())
    }

    fn blake3_of(data: &[u8]) -> Vec<Digest> {
        Digest::from_bytes(Algorithm::Blake3, blake3::hash(data).as_bytes())
            .into_iter()
            .collect()
    }

    #[test]
    fn blake3_parts_join_into_the_digest_of_the_whole_file_at_odd_sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.bin");
        let blake3 = Algorithms::from(Algorithm::Blake3);
        for (size, parts) in [
            ((5 << 20) + 3, 3),
            (1025, 2),
            (3 * 1024, 3),
            ((1 << 20) + 1, 7),
            (64 * 1024 - 1, 5),
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 255) as u8).collect();
            std::fs::write(&path, &data).expect("write");
            let records = part_records(&path, size as u64, parts, blake3);
            assert!(
                records.iter().all(|r| r["blake3_subtrees"].is_array()),
                "{records:?}"
            );
            let whole = joined(&records, blake3).expect("joined");
            assert_eq!(whole.digests, blake3_of(&data), "{size} bytes in {parts}");
            assert_eq!(
                whole.outcome,
                Ok(Counts::of(&data)),
                "{size} bytes in {parts}"
            );
            assert_eq!(whole.worker, Worker::Split(parts));
            assert!(whole.part.is_none() && whole.blake3_subtrees.is_none());
        }
        // Counting alone: parts without subtrees, a record without digests.
        let records = part_records(&path, 64 * 1024 - 1, 3, Algorithms::NONE);
        assert!(records.iter().all(|r| r["blake3_subtrees"].is_null()));
        let whole = joined(&records, Algorithms::NONE).expect("joined");
        assert!(whole.outcome.is_ok() && whole.digests.is_empty());
    }

    #[test]
    fn a_file_that_shrank_within_its_first_subtree_fails_instead_of_a_wrong_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shrunk.bin");
        let blake3 = Algorithms::from(Algorithm::Blake3);
        // Cut as a file of 8 KiB, read once it holds 500 bytes: part 0 holds them all.
        std::fs::write(&path, vec![b'x'; 500]).expect("write");
        let records = part_records(&path, 8192, 2, blake3);
        let whole = joined(&records, blake3).expect("joined");
        let err = whole.outcome.expect_err("no root from a chaining value");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(
            err.to_string()
                .starts_with(&format!("{}: ", path.display()))
                && err.message().contains("BLAKE3"),
            "{err}"
        );
        assert!(whole.digests.is_empty());
        // Shrunk to nothing: BLAKE3 of nothing, which needs no root of a subtree.
        std::fs::write(&path, b"").expect("write");
        let whole = joined(&part_records(&path, 8192, 2, blake3), blake3).expect("joined");
        assert_eq!(whole.digests, blake3_of(b""));
    }

    #[test]
    fn parts_without_their_subtrees_or_with_wrong_ones_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.bin");
        std::fs::write(&path, vec![b'y'; 10_000]).expect("write");
        let blake3 = Algorithms::from(Algorithm::Blake3);
        let records = part_records(&path, 10_000, 2, blake3);
        let name = path.display().to_string();
        let refused = |records: &[Value], digests, says: &str| {
            let err = joined(records, digests).map(|_| ()).expect_err("refused");
            assert!(err.contains(&name) && err.contains(says), "{err}");
        };
        // Not written by this version: no subtrees.
        let mut older = records.clone();
        if let Some(map) = older[1].as_object_mut() {
            map.remove("blake3_subtrees");
        }
        refused(&older, blake3, "without blake3_subtrees");
        // Subtrees of another range, and ones that are no range.
        let mut moved = records.clone();
        moved[1]["blake3_subtrees"] = records[0]["blake3_subtrees"].clone();
        refused(&moved, blake3, "do not hold its");
        let mut gap = records.clone();
        gap[0]["blake3_subtrees"][0][1] = 1024.into();
        refused(&gap, blake3, "does not follow");
        let mut short = records.clone();
        short[0]["blake3_subtrees"][0][2] = "abcd".into();
        let err = Record::deserialize(&short[0]).expect_err("not 32 bytes");
        assert!(err.to_string().contains("blake3_subtrees"), "{err}");
        // A split file in a run whose digests cannot be joined.
        refused(&records, Algorithm::Sha256.into(), "cannot be joined");
    }

    #[test]
    fn parts_join_into_the_whole_files_counts_once_each_or_fail_with_the_part() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("words.txt");
        // Words of every length, so that the cuts fall inside words and between them.
        let data: Vec<u8> = (0..3000)
            .flat_map(|i| format!("{} ", "w".repeat(i % 7 + 1)).into_bytes())
            .chain(*b"\nlast")
            .collect();
        std::fs::write(&path, &data).expect("write");
        let size = data.len() as u64;
        let records = part_records(&path, size, 4, Algorithms::NONE);
        let whole = joined(&records, Algorithms::NONE).expect("joined");
        let want = Counts {
            bytes: size,
            lines: 1,
            words: 3001,
        };
        assert_eq!(whole.outcome.as_ref().ok(), Some(&want));
        assert_eq!((whole.worker, whole.part), (Worker::Split(4), None));

        // A part that failed makes the file fail, naming that part.
        let mut failed = records.clone();
        failed[2]["error"] = serde_json::json!({"kind": "io", "message": "disk on fire"});
        for field in ["size", "lines", "words"] {
            failed[2][field] = Value::Null;
        }
        let whole = joined(&failed, Algorithms::NONE).expect("joined");
        let err = whole.outcome.expect_err("the file fails");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.message().contains("part 2 of 4"), "{}", err.message());

        // A part given twice, or one no input holds, is damage, never a record.
        let mut twice = records.clone();
        twice.push(records[1].clone());
        let err = joined(&twice, Algorithms::NONE).expect_err("twice");
        assert!(err.contains("part 1 of 4 is given twice"), "{err}");
        let mut joins = Joins::new(Algorithms::NONE);
        for value in &records[..3] {
            let Ok(Record::File(file)) = Record::deserialize(value) else {
                panic!("a part: {value}");
            };
            assert!(joins.add(file).expect("a part").is_none());
        }
        let missing = joins.incomplete().expect("incomplete");
        assert!(
            missing.contains("part 3 of 4 is in no shard's output"),
            "{missing}"
        );
    }

    #[test]
    fn a_line_that_is_no_record_is_named_in_one_line() {
        let why = |line: &str| {
            let err = serde_json::from_str::<Record>(line).expect_err(line);
            let why = not_a_record("0.jsonl:7", &err);
            assert_eq!(why.lines().count(), 1, "{why}");
            why
        };
        assert_eq!(
            why(r#"{"type":"file","pa"#),
            "0.jsonl:7: not a JSON record (EOF while parsing a string at line 1 column 18)"
        );
        assert_eq!(
            why(r#"{"type":"file","path":"a","size":"1"}"#),
            r#"0.jsonl:7:36: invalid type: string "1", expected size: a whole number, or null"#
        );
        assert_eq!(
            why(r#"{"type":"skipped","path":"a"}"#),
            "0.jsonl:7:29: a skipped record without a reason"
        );
    }

    #[test]
    fn a_part_that_is_not_where_its_file_is_cut_is_refused_not_joined() {
        let part = |index, start, end| FileResult {
            part: Some(Part {
                start,
                end,
                ..Part::new(index, 2, 4096)
            }),
            ..FileResult::failed(FileError::new(ErrorKind::Io, "big.bin", "gone"))
        };
        let mut joins = Joins::new(Algorithms::NONE);
        let err = joins.add(part(2, 0, 0)).map(|_| ()).expect_err("no part 2");
        assert_eq!(err, "a part record of part 2 of 2");
        let err = joins
            .add(part(1, 1024, 4096))
            .map(|_| ())
            .expect_err("moved");
        assert!(
            err.contains("says it is bytes 1024..4096, not 2048..4096"),
            "{err}"
        );
        assert!(
            joins
                .add(part(1, 2048, 4096))
                .is_ok_and(|whole| whole.is_none())
        );
    }
}

//! `--duplicates`: the files under the PATHs that hold the same bytes, found with the binary's
//! own model (reader-core's [`DuplicateSearch`]) and written as groups, the most wasted space
//! first: for people, as JSON Lines, as CSV, or as fdupes writes them (`--format fdupes`: each
//! group's paths a line each, hard links among them as jdupes lists them, a blank line after
//! each group), so that scripts written for fdupes and jdupes keep working.
//!
//! Nothing is deleted or linked: the report is the product. Entries the walk skips and files
//! that fail are reported as in a plain run (failures on stderr, or as records in JSON and
//! CSV) and are in no group; any failure makes the exit status 1.
//!
//! With `--shard K/N` the search is this shard's share, by size (see reader-core's
//! [`DuplicateSearch`]), and its JSON summary carries the `shard` object of a plain shard run
//! with `"duplicates"` in it, so that `reader-merge` can join the shards' groups; the merge
//! writes them with this module's [`Writer`], as one search would.

use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reader_core::names::{Lossless, escaped, raw_base64};
use reader_core::units::{bytes as human_bytes, grouped};
use reader_core::{DuplicateGroup, DuplicateSearch, Duplicates, Record, Schedule, StartError};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::args::{Args, Format};
use crate::destination::Pending;
use crate::output::{ShardRun, csv_line};

/// Runs `--duplicates` with `schedule` and writes the groups as `args` ask; see the module
/// docs. Status 0, 1 when a file failed, 2 when the run could not start or finish.
pub(crate) fn run<S: Schedule>(program: &str, args: &Args, schedule: &S) -> ExitCode {
    let failed_to_start = |err: &StartError| {
        eprintln!("{program}: error: {err}");
        ExitCode::from(2)
    };
    let (walk, shard) = match args.walk().and_then(|walk| Ok((walk, args.shard()?))) {
        Ok(found) => found,
        Err(err) => return failed_to_start(&err),
    };
    let (pending, out): (Option<Pending>, Box<dyn Write>) = match args.output_file(shard) {
        Ok(Some(target)) => match Pending::create(&target) {
            Ok((pending, file)) => (Some(pending), Box::new(file)),
            Err(err) => return failed_to_start(&err),
        },
        Ok(None) => (None, Box::new(io::stdout())),
        Err(err) => return failed_to_start(&err),
    };
    let mut writer = match Writer::new(program, args.format(), out) {
        Ok(writer) => writer,
        Err(err) => return failed_to_start(&err),
    };
    let search = DuplicateSearch::new().include_empty(args.include_empty);
    let found = match search.run(&walk, schedule, |record: Record| writer.entry(&record)) {
        Ok(found) => found,
        Err(err) => return failed_to_start(&err),
    };
    writer.groups(&found);
    let run = shard.map(|shard| ShardRun::new(shard, args));
    writer.summary(&Closing {
        strategy: schedule.strategy(),
        found: &found,
        shard: run.as_ref(),
        shards: None,
    });
    if let Err(err) = writer.finish() {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("{program}: error: cannot write output: {err}");
        return ExitCode::from(2);
    }
    if let Some(err) = &found.error {
        eprintln!("{program}: error: {err}");
        return ExitCode::from(2);
    }
    if let Some(pending) = pending {
        let target = pending.target().to_path_buf();
        if let Err(err) = pending.commit() {
            eprintln!(
                "{program}: error: cannot write output: {}: {err}",
                target.display()
            );
            return ExitCode::from(2);
        }
    }
    if found.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The formats a search writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Human,
    Json,
    Csv,
    Fdupes,
}

impl Shape {
    /// The shape of `--format`; a checksum manifest has no groups.
    fn of(format: Format) -> Result<Shape, StartError> {
        match format {
            Format::Human => Ok(Shape::Human),
            Format::Json => Ok(Shape::Json),
            Format::Csv => Ok(Shape::Csv),
            Format::Fdupes => Ok(Shape::Fdupes),
            Format::Sums => Err(StartError::Invalid(
                "--format sums writes digests, not groups: --duplicates writes human, json, csv or fdupes".into(),
            )),
        }
    }
}

/// Writes the records, groups and summary of a search in one format: [`Writer::entry`] for
/// each skipped or failed entry, [`Writer::groups`], [`Writer::summary`], then
/// [`Writer::finish`].
pub(crate) struct Writer<'p, W: Write> {
    program: &'p str,
    format: Shape,
    out: BufWriter<W>,
    /// The first write that failed; nothing more is written once one has.
    broken: Option<io::Error>,
}

/// What the summary of a search says besides what it found.
pub(crate) struct Closing<'a> {
    /// The model, or `merge`.
    pub(crate) strategy: &'a str,
    pub(crate) found: &'a Duplicates,
    /// Which shard of which search this is, with `--shard`.
    pub(crate) shard: Option<&'a ShardRun>,
    /// How many shards a merge joined.
    pub(crate) shards: Option<u32>,
}

impl<'p, W: Write> Writer<'p, W> {
    /// A writer of `format` to `out` that has written its header (CSV's); a format that
    /// cannot hold groups (`sums`) fails to start. `program` names the failures on stderr.
    pub(crate) fn new(program: &'p str, format: Format, out: W) -> Result<Self, StartError> {
        let mut writer = Writer {
            program,
            format: Shape::of(format)?,
            out: BufWriter::with_capacity(64 * 1024, out),
            broken: None,
        };
        writer.header();
        Ok(writer)
    }

    /// Flushes the output; the first write that failed, if one did.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if let Err(err) = self.out.flush() {
            self.broken.get_or_insert(err);
        }
        self.broken.map_or(Ok(()), Err)
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.broken.is_none()
            && let Err(err) = self.out.write_all(bytes)
        {
            self.broken = Some(err);
        }
    }

    fn json(&mut self, value: &impl Serialize) {
        match serde_json::to_vec(value) {
            Ok(mut line) => {
                line.push(b'\n');
                self.write(&line);
            }
            Err(err) => {
                self.broken.get_or_insert(io::Error::other(err));
            }
        }
    }

    fn header(&mut self) {
        if self.format == Shape::Csv {
            self.write(b"group,size,blake3,path,path_bytes,link_of\n");
        }
    }

    /// An entry the search reports on its own: skipped by the walk, or failed. JSON writes its
    /// record; the other formats, whose output is the groups, write a failure on stderr.
    pub(crate) fn entry(&mut self, record: &Record) {
        if self.format == Shape::Json {
            self.json(record);
        } else if let Record::File(file) = record
            && let Err(err) = &file.outcome
        {
            eprintln!("{}: {err}", self.program);
        }
    }

    /// The groups, in the order `found` holds them, then the files with several names.
    pub(crate) fn groups(&mut self, found: &Duplicates) {
        for (number, group) in found.groups.iter().enumerate() {
            match self.format {
                Shape::Json => self.json(&GroupJson(group)),
                Shape::Csv => self.csv_group(number + 1, group),
                Shape::Fdupes => {
                    // Every name, hard links too, in byte order, as jdupes lists them.
                    let mut names: Vec<&Path> = (group.members.iter())
                        .flat_map(|m| std::iter::once(&m.path).chain(&m.links))
                        .map(PathBuf::as_path)
                        .collect();
                    names.sort();
                    let mut block = Vec::new();
                    for name in names {
                        block.extend_from_slice(name.as_os_str().as_bytes());
                        block.push(b'\n');
                    }
                    block.push(b'\n');
                    self.write(&block);
                }
                Shape::Human => {
                    let text = human_group(group);
                    self.write(text.as_bytes());
                }
            }
        }
        for names in &found.hard_links {
            match self.format {
                Shape::Json => self.json(&HardLinksJson(names)),
                Shape::Human => {
                    let names: Vec<String> =
                        names.iter().map(|n| escaped(n).into_owned()).collect();
                    let line = format!("one file, {} names: {}\n", names.len(), names.join(" = "));
                    self.write(line.as_bytes());
                }
                Shape::Csv | Shape::Fdupes => {}
            }
        }
    }

    fn csv_group(&mut self, number: usize, group: &DuplicateGroup) {
        let digest = group.blake3.map(|d| d.to_string()).unwrap_or_default();
        let mut rows = String::new();
        let mut row = |path: &Path, link_of: Option<&Path>| {
            rows.push_str(&csv_line(&[
                number.to_string(),
                group.size.to_string(),
                digest.clone(),
                escaped(path).into_owned(),
                raw_base64(path).unwrap_or_default(),
                link_of.map(|p| escaped(p).into_owned()).unwrap_or_default(),
            ]));
        };
        for member in &group.members {
            row(&member.path, None);
            for link in &member.links {
                row(link, Some(&member.path));
            }
        }
        self.write(rows.as_bytes());
    }

    /// The summary: JSON's record, or the closing line for people.
    pub(crate) fn summary(&mut self, closing: &Closing<'_>) {
        match self.format {
            Shape::Json => self.json(&SummaryJson(closing)),
            Shape::Human => {
                let line = human_summary(self.program, closing.found);
                self.write(line.as_bytes());
            }
            Shape::Csv | Shape::Fdupes => {}
        }
    }
}

/// A group for people: what the copies are, then a path a line (with the file's other names).
fn human_group(group: &DuplicateGroup) -> String {
    let digest = group
        .blake3
        .map_or_else(|| "empty".to_string(), |d| format!("blake3 {d}"));
    let mut text = format!(
        "{} copies of {} ({} wasted), {digest}\n",
        group.members.len(),
        human_bytes(group.size as f64),
        human_bytes(group.wasted() as f64),
    );
    for member in &group.members {
        text.push_str("  ");
        text.push_str(&escaped(&member.path));
        for link in &member.links {
            text.push_str(" = ");
            text.push_str(&escaped(link));
        }
        text.push('\n');
    }
    text.push('\n');
    text
}

/// The closing line for people: "12 files in 5 groups are copies, 3.4 MiB wasted; …".
fn human_summary(program: &str, found: &Duplicates) -> String {
    let groups = found.groups.len() as u64;
    let mut line = format!(
        "{program}: {} files in {} {} are copies, {} wasted; read {} ({} needed) of {} files in {:.1} ms",
        grouped(found.duplicates()),
        grouped(groups),
        if groups == 1 { "group" } else { "groups" },
        human_bytes(found.wasted() as f64),
        human_bytes(found.bytes_read as f64),
        human_bytes(found.bytes_needed as f64),
        grouped(found.files),
        found.elapsed.as_secs_f64() * 1e3,
    );
    if found.failed > 0 {
        line.push_str(&format!(", {} failed", grouped(found.failed)));
    }
    if found.skipped > 0 {
        line.push_str(&format!(", {} skipped", grouped(found.skipped)));
    }
    line.push('\n');
    line
}

/// `{"type":"duplicates","size":…,"blake3":…,"paths":[…],"links":[[path, link…]…]}`.
struct GroupJson<'g>(&'g DuplicateGroup);

impl Serialize for GroupJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let group = self.0;
        let linked: Vec<Vec<Lossless<'_>>> = group
            .members
            .iter()
            .filter(|m| !m.links.is_empty())
            .map(|m| {
                std::iter::once(&m.path)
                    .chain(&m.links)
                    .map(|p| Lossless(p))
                    .collect()
            })
            .collect();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", "duplicates")?;
        map.serialize_entry("size", &group.size)?;
        map.serialize_entry("wasted", &group.wasted())?;
        map.serialize_entry("blake3", &group.blake3.map(|d| d.to_string()))?;
        let paths: Vec<Lossless<'_>> = group.members.iter().map(|m| Lossless(&m.path)).collect();
        map.serialize_entry("paths", &paths)?;
        if !linked.is_empty() {
            map.serialize_entry("links", &linked)?;
        }
        map.end()
    }
}

/// `{"type":"hard_links","paths":[…]}`: one file's names, with no copy elsewhere.
struct HardLinksJson<'n>(&'n [PathBuf]);

impl Serialize for HardLinksJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "hard_links")?;
        let paths: Vec<Lossless<'_>> = self.0.iter().map(|p| Lossless(p)).collect();
        map.serialize_entry("paths", &paths)?;
        map.end()
    }
}

/// The summary record of a search.
struct SummaryJson<'c, 'a>(&'c Closing<'a>);

impl Serialize for SummaryJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let found = self.0.found;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", "summary")?;
        map.serialize_entry("strategy", self.0.strategy)?;
        map.serialize_entry("files", &found.files)?;
        map.serialize_entry("failed", &found.failed)?;
        map.serialize_entry("skipped", &found.skipped)?;
        map.serialize_entry("groups", &found.groups.len())?;
        map.serialize_entry("duplicates", &found.duplicates())?;
        map.serialize_entry("wasted", &found.wasted())?;
        map.serialize_entry("hard_links", &found.hard_links.len())?;
        map.serialize_entry("bytes_read", &found.bytes_read)?;
        map.serialize_entry("bytes_needed", &found.bytes_needed)?;
        map.serialize_entry("elapsed_ms", &(found.elapsed.as_secs_f64() * 1e3))?;
        if let Some(shards) = self.0.shards {
            map.serialize_entry("shards", &shards)?;
        }
        if let Some(shard) = self.0.shard {
            map.serialize_entry("shard", shard)?;
        }
        map.end()
    }
}

//! The output formats, one [`Output`] each: a summary for people, JSON Lines, CSV, and a
//! checksum manifest (`--format sums`).
//!
//! A format writes each record as it arrives and the summary at the end; the report around it
//! (see [`crate::Report`]) decides everything else — progress, log lines, what a write error
//! means.

use std::io::{self, Write};

use reader_core::units::{bytes as human_bytes, grouped, millis};
use reader_core::{Algorithms, Counts, Digest, Record, Shard, Summary, names};
use serde::Serialize;

use crate::args::{Args, Format};
use crate::resources::Resources;
use crate::views::{GroupBy, Listing, Row};

/// The last thing a run writes: the totals, what the process used, and the model's own
/// figures (as JSON, to be flattened, and as lines for people).
#[derive(Debug)]
pub(crate) struct SummaryLine<'a> {
    pub(crate) summary: &'a Summary,
    pub(crate) resources: Resources,
    pub(crate) stats: serde_json::Value,
    pub(crate) described: Vec<(&'static str, String)>,
    /// Which shard of which run this is, with `--shard`.
    pub(crate) shard: Option<&'a ShardRun>,
    /// The digest of the whole tree, with `--digest`.
    pub(crate) tree: Tree,
}

/// The digest of the whole tree ([`reader_core::TreeDigest`]) a summary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tree {
    /// No digest was asked for.
    NotAsked,
    /// These digests were asked for, but some file could not be read: the tree has none.
    Incomplete(Algorithms),
    /// The tree's digest for each algorithm asked for.
    Digests(Vec<Digest>),
}

impl Serialize for Tree {
    /// `null` when incomplete, else `{"blake3":"<hex>",…}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Tree::NotAsked | Tree::Incomplete(_) => s.serialize_none(),
            Tree::Digests(digests) => {
                let mut map = s.serialize_map(Some(digests.len()))?;
                for digest in digests {
                    map.serialize_entry(digest.algorithm().name(), &digest.to_string())?;
                }
                map.end()
            }
        }
    }
}

impl Tree {
    fn is_not_asked(&self) -> bool {
        *self == Tree::NotAsked
    }
}

/// What a shard's summary says of the run it belongs to, so that `reader-merge` can tell the
/// shards of one run from those of another: the shard, how many there are, and everything
/// that decides which entries the run has — its PATHs (or list), its filters — and the
/// version that read them; for a search for duplicates (shared out by size, not by path),
/// `"duplicates":{"include_empty":…}`.
#[derive(Debug, Clone)]
pub(crate) struct ShardRun {
    shard: Shard,
    args: Args,
}

impl ShardRun {
    pub(crate) fn new(shard: Shard, args: &Args) -> ShardRun {
        ShardRun {
            shard,
            args: args.clone(),
        }
    }

    pub(crate) fn shard(&self) -> Shard {
        self.shard
    }
}

impl Serialize for ShardRun {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let a = &self.args;
        let roots: Vec<names::Lossless<'_>> = a.paths.iter().map(|p| names::Lossless(p)).collect();
        let filters = serde_json::json!({
            "ext": a.ext,
            "follow": a.follow,
            "gitignore": a.gitignore,
            "no_hidden": a.no_hidden,
            "exclude": a.exclude,
            "max_depth": a.max_depth,
            "min_size": a.min_size,
            "max_size": a.max_size,
            "max_bytes": a.max_bytes,
        });
        let digests = (a.digest.is_some()).then(|| a.digests().to_string());
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("index", &self.shard.index())?;
        map.serialize_entry("count", &self.shard.count())?;
        map.serialize_entry("roots", &roots)?;
        map.serialize_entry(
            "files0_from",
            &a.files0_from.as_deref().map(names::Lossless),
        )?;
        map.serialize_entry("filters", &filters)?;
        map.serialize_entry("split_above", &a.shard_split)?;
        map.serialize_entry("digests", &digests)?;
        if a.duplicates {
            let search = serde_json::json!({ "include_empty": a.include_empty });
            map.serialize_entry("duplicates", &search)?;
        }
        map.serialize_entry("version", env!("CARGO_PKG_VERSION"))?;
        map.end()
    }
}

/// One output format.
pub(crate) trait Output {
    /// Written before anything else, once (the CSV header).
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// Writes one record.
    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()>;

    /// Writes the listing of `--by`, `--sort` and `--top`, before the summary.
    fn listing(&mut self, listing: &Listing, out: &mut dyn Write) -> io::Result<()>;

    /// Writes the summary that closes the run.
    fn summary(&mut self, line: &SummaryLine<'_>, out: &mut dyn Write) -> io::Result<()>;
}

/// The format `format` names, for a run computing `digests` (CSV has a column for each;
/// `--format sums` writes a line for each, `tagged` with `--tag`).
pub(crate) fn for_format(format: Format, digests: Algorithms, tagged: bool) -> Box<dyn Output> {
    match format {
        // fdupes' groups are written by `--duplicates` alone (`Args::walk` refuses it here).
        Format::Human | Format::Fdupes => Box::new(Human),
        Format::Json => Box::new(Json::default()),
        Format::Csv => Box::new(Csv { digests }),
        Format::Sums => Box::new(Sums { tagged }),
    }
}

/// A summary for people; records are not written (failures go to stderr, see the report).
struct Human;

impl Output for Human {
    fn record(&mut self, _: &Record, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn listing(&mut self, listing: &Listing, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(human_table(listing).as_bytes())
    }

    fn summary(&mut self, line: &SummaryLine<'_>, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(human_summary(line).as_bytes())
    }
}

/// JSON Lines: a record for every entry, then the summary. Each line is made in a reused
/// buffer and written at once.
#[derive(Default)]
struct Json {
    line: Vec<u8>,
}

impl Json {
    fn write(&mut self, value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        out.write_all(&self.line)
    }
}

/// The summary as one JSON object: `type`, the totals, the resources and the model's figures.
#[derive(Serialize)]
struct SummaryJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    summary: &'a Summary,
    #[serde(flatten)]
    resources: &'a Resources,
    #[serde(flatten)]
    stats: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a ShardRun>,
    #[serde(skip_serializing_if = "Tree::is_not_asked")]
    tree_digest: &'a Tree,
}

/// A group of `--by`: `{"type":"group","by":"ext","key":"rs","files":…,"bytes":…}`.
#[derive(Serialize)]
struct GroupJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    by: &'static str,
    key: names::Lossless<'a>,
    files: u64,
    bytes: u64,
    lines: u64,
    words: u64,
}

impl Output for Json {
    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        // Nearly every record is a plain file, which reader-core writes by hand.
        if !record.write_plain_json(&mut self.line) {
            serde_json::to_writer(&mut self.line, record)?;
        }
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn listing(&mut self, listing: &Listing, out: &mut dyn Write) -> io::Result<()> {
        for file in &listing.files {
            self.write(file, out)?;
        }
        let by = listing.by.map_or("file", GroupBy::as_str);
        for group in &listing.groups {
            let json = GroupJson {
                kind: "group",
                by,
                key: names::Lossless(&group.key),
                files: group.files,
                bytes: group.counts.bytes,
                lines: group.counts.lines,
                words: group.counts.words,
            };
            self.write(&json, out)?;
        }
        Ok(())
    }

    fn summary(&mut self, line: &SummaryLine<'_>, out: &mut dyn Write) -> io::Result<()> {
        let json = SummaryJson {
            kind: "summary",
            summary: line.summary,
            resources: &line.resources,
            stats: &line.stats,
            shard: line.shard,
            tree_digest: &line.tree,
        };
        self.write(&json, out)
    }
}

/// CSV (RFC 4180): a header, then one row for every entry, then the `group` rows of `--by`
/// (`path` is the group's key, `files` its files); no summary row. A name that is not UTF-8 is
/// shown with `\xHH` escapes in `path` and given exactly, in base64, in `path_bytes` (see
/// `reader_core::names`). With `--digest`, a column for each digest follows, empty where a
/// file was not read.
struct Csv {
    digests: Algorithms,
}

impl Output for Csv {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut header = String::from(
            "type,path,size,lines,words,elapsed_us,worker,error_kind,error_message,path_bytes,files",
        );
        for algorithm in self.digests.iter() {
            header.push(',');
            header.push_str(algorithm.name());
        }
        header.push('\n');
        out.write_all(header.as_bytes())
    }

    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(csv_row(record, self.digests).as_bytes())
    }

    fn listing(&mut self, listing: &Listing, out: &mut dyn Write) -> io::Result<()> {
        for file in &listing.files {
            out.write_all(csv_row(&Record::File(file.clone()), self.digests).as_bytes())?;
        }
        for group in &listing.groups {
            let c = group.counts;
            let mut fields = vec![
                "group".to_string(),
                names::escaped(&group.key).into_owned(),
                c.bytes.to_string(),
                c.lines.to_string(),
                c.words.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                names::raw_base64(&group.key).unwrap_or_default(),
                group.files.to_string(),
            ];
            fields.extend(self.digests.iter().map(|_| String::new()));
            out.write_all(csv_line(&fields).as_bytes())?;
        }
        Ok(())
    }

    fn summary(&mut self, _: &SummaryLine<'_>, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// One CSV row for a record, with a column for each of `digests`.
fn csv_row(record: &Record, digests: Algorithms) -> String {
    let mut fields: Vec<String> = match record {
        Record::File(f) => {
            let counts = f.outcome.as_ref().ok();
            let num =
                |pick: fn(&Counts) -> u64| counts.map(|c| pick(c).to_string()).unwrap_or_default();
            let (kind, message) = match &f.outcome {
                Ok(_) => (String::new(), String::new()),
                Err(e) => (e.kind().as_str().to_string(), e.to_string()),
            };
            vec![
                "file".into(),
                names::escaped(&f.path).into_owned(),
                num(|c| c.bytes),
                num(|c| c.lines),
                num(|c| c.words),
                f.elapsed.as_micros().to_string(),
                f.worker.to_string(),
                kind,
                message,
                names::raw_base64(&f.path).unwrap_or_default(),
                String::new(),
            ]
        }
        Record::Skipped(s) => vec![
            "skipped".into(),
            names::escaped(&s.path).into_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            s.reason.as_str().into(),
            String::new(),
            names::raw_base64(&s.path).unwrap_or_default(),
            String::new(),
        ],
    };
    let of_file = match record {
        Record::File(file) => &file.digests[..],
        Record::Skipped(_) => &[],
    };
    fields.extend(digests.iter().map(|algorithm| {
        of_file
            .iter()
            .find(|digest| digest.algorithm() == algorithm)
            .map(Digest::to_string)
            .unwrap_or_default()
    }));
    csv_line(&fields)
}

/// A checksum manifest (`--format sums`): for every file read, a line for each of its digests
/// as `sha256sum` and `b3sum` write it (see [`crate::sums`]); nothing else. Failed and skipped
/// entries never become lines: failures go to stderr, as in the human format.
struct Sums {
    tagged: bool,
}

impl Sums {
    fn lines(&self, file: &reader_core::FileResult, mut out: &mut dyn Write) -> io::Result<()> {
        if file.outcome.is_err() || file.part.is_some() {
            return Ok(());
        }
        let name = std::os::unix::ffi::OsStrExt::as_bytes(file.path.as_os_str());
        for digest in &file.digests {
            crate::sums::write_line(
                &mut out,
                digest.algorithm(),
                digest.as_bytes(),
                name,
                self.tagged,
            )?;
        }
        Ok(())
    }
}

impl Output for Sums {
    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()> {
        match record {
            Record::File(file) => self.lines(file, out),
            Record::Skipped(_) => Ok(()),
        }
    }

    fn listing(&mut self, listing: &Listing, out: &mut dyn Write) -> io::Result<()> {
        listing
            .files
            .iter()
            .try_for_each(|file| self.lines(file, out))
    }

    fn summary(&mut self, _: &SummaryLine<'_>, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// One CSV line of `fields`, quoted where needed.
pub(crate) fn csv_line(fields: &[String]) -> String {
    let mut row = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    row.push('\n');
    row
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// The summary for people.
fn human_summary(line: &SummaryLine<'_>) -> String {
    let (s, r) = (line.summary, &line.resources);
    let secs = s.elapsed_ms / 1e3;
    let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    let mut text = format!(
        "{}: {} files read, {} failed, {} skipped\n  {} bytes ({}), {} lines, {} words\n  {} ({} files/s, {}/s), cpu {} user + {} sys, peak rss {}, {} threads, jobs {}\n",
        s.strategy,
        grouped(s.ok),
        grouped(s.failed),
        grouped(s.skipped),
        grouped(s.bytes),
        human_bytes(s.bytes as f64),
        grouped(s.lines),
        grouped(s.words),
        millis(s.elapsed_ms),
        per_second(rate(s.files as f64)),
        human_bytes(rate(s.bytes as f64)),
        millis(r.cpu_user_ms),
        millis(r.cpu_sys_ms),
        human_bytes(r.peak_rss_kib as f64 * 1024.0),
        r.threads,
        s.jobs,
    );
    for (label, value) in &line.described {
        text.push_str(&format!("  {label}: {value}\n"));
    }
    if let Some(run) = line.shard {
        text.push_str(&format!("  shard: {}\n", run.shard()));
    }
    match &line.tree {
        Tree::NotAsked => {}
        Tree::Incomplete(digests) => text.push_str(&format!(
            "  digests: {digests}; no digest of the tree: {} files could not be read\n",
            grouped(s.failed)
        )),
        Tree::Digests(digests) => {
            for digest in digests {
                text.push_str(&format!("  tree {}: {digest}\n", digest.algorithm()));
            }
        }
    }
    text
}

/// The listing as a table for people, in `wc`'s column order, with a `total` line of every
/// file read (also those `--top` left out). Names that are not UTF-8 are shown with `\xHH`
/// escapes.
fn human_table(listing: &Listing) -> String {
    let groups = listing.by.is_some();
    let mut rows: Vec<[String; 5]> = Vec::new();
    let row = |r: &Row, name: String| {
        [
            grouped(r.files),
            grouped(r.counts.lines),
            grouped(r.counts.words),
            grouped(r.counts.bytes),
            name,
        ]
    };
    let heading = match listing.by {
        Some(GroupBy::Ext) => "extension",
        Some(GroupBy::Dir(_)) => "directory",
        None => "file",
    };
    rows.push(["files", "lines", "words", "bytes", heading].map(String::from));
    for group in &listing.groups {
        let name = match group.key.as_os_str().is_empty() {
            true if listing.by == Some(GroupBy::Ext) => "(no extension)".to_string(),
            true => ".".to_string(),
            false => names::escaped(&group.key).into_owned(),
        };
        rows.push(row(group, name));
    }
    for file in &listing.files {
        let counts = file.outcome.as_ref().map(|c| *c).unwrap_or_default();
        let one = Row {
            key: file.path.clone(),
            files: 1,
            counts,
        };
        rows.push(row(&one, names::escaped(&file.path).into_owned()));
    }
    if listing.more > 0 {
        let what = match (groups, listing.more) {
            (true, 1) => "group",
            (true, _) => "groups",
            (false, 1) => "file",
            (false, _) => "files",
        };
        rows.push(
            [
                "",
                "",
                "",
                "",
                &format!("… {} more {what}", grouped(listing.more)),
            ]
            .map(String::from),
        );
    }
    rows.push(row(&listing.total, "total".into()));
    let skip_files = !groups;
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in &rows {
        for (c, width) in widths.iter().enumerate() {
            if c == 0 && skip_files {
                continue;
            }
            text.push_str(&format!("{:>width$}  ", r[c]));
        }
        text.push_str(&r[4]);
        text.push('\n');
    }
    text
}

/// A time for people: `12.5 ms`, `27.9 s`, `4 min 12 s`.
pub(crate) fn duration(time: std::time::Duration) -> String {
    millis(time.as_secs_f64() * 1e3)
}

/// A rate for people: whole numbers grouped, small ones with a decimal.
fn per_second(rate: f64) -> String {
    if rate < 100.0 {
        format!("{rate:.1}")
    } else {
        grouped(rate as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\"\nc"), "\"a,\"\"b\"\"\nc\"");
    }

    #[test]
    fn rates_for_people() {
        assert_eq!(per_second(0.25), "0.2");
        assert_eq!(per_second(12345.6), "12,345");
    }
}

//! The three output formats, one [`Output`] each: a summary for people, JSON Lines, CSV.
//!
//! A format writes each record as it arrives and the summary at the end; the report around it
//! (see [`crate::Report`]) decides everything else — progress, log lines, what a write error
//! means.

use std::io::{self, Write};

use reader_core::units::{bytes as human_bytes, grouped};
use reader_core::{Counts, Record, Summary};
use serde::Serialize;

use crate::args::Format;
use crate::resources::Resources;

/// The last thing a run writes: the totals, what the process used, and the model's own
/// figures (as JSON, to be flattened, and as lines for people).
#[derive(Debug)]
pub(crate) struct SummaryLine<'a> {
    pub(crate) summary: &'a Summary,
    pub(crate) resources: Resources,
    pub(crate) stats: serde_json::Value,
    pub(crate) described: Vec<(&'static str, String)>,
}

/// One output format.
pub(crate) trait Output {
    /// Written before anything else, once (the CSV header).
    fn header(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// Writes one record.
    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()>;

    /// Writes the summary that closes the run.
    fn summary(&mut self, line: &SummaryLine<'_>, out: &mut dyn Write) -> io::Result<()>;
}

/// The format `format` names.
pub(crate) fn for_format(format: Format) -> Box<dyn Output> {
    match format {
        Format::Human => Box::new(Human),
        Format::Json => Box::new(Json::default()),
        Format::Csv => Box::new(Csv),
    }
}

/// A summary for people; records are not written (failures go to stderr, see the report).
struct Human;

impl Output for Human {
    fn record(&mut self, _: &Record, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
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
}

impl Output for Json {
    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()> {
        self.write(record, out)
    }

    fn summary(&mut self, line: &SummaryLine<'_>, out: &mut dyn Write) -> io::Result<()> {
        let json = SummaryJson {
            kind: "summary",
            summary: line.summary,
            resources: &line.resources,
            stats: &line.stats,
        };
        self.write(&json, out)
    }
}

/// CSV (RFC 4180): a header, then one row for every entry; no summary row.
struct Csv;

impl Output for Csv {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(b"type,path,size,lines,words,elapsed_us,worker,error_kind,error_message\n")
    }

    fn record(&mut self, record: &Record, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(csv_row(record).as_bytes())
    }

    fn summary(&mut self, _: &SummaryLine<'_>, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// One CSV row for a record.
fn csv_row(record: &Record) -> String {
    let fields: Vec<String> = match record {
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
                f.path.to_string_lossy().into_owned(),
                num(|c| c.bytes),
                num(|c| c.lines),
                num(|c| c.words),
                f.elapsed.as_micros().to_string(),
                f.worker.to_string(),
                kind,
                message,
            ]
        }
        Record::Skipped(s) => vec![
            "skipped".into(),
            s.path.to_string_lossy().into_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            s.reason.as_str().into(),
            String::new(),
        ],
    };
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
        "{}: {} files read, {} failed, {} skipped\n  {} bytes ({}), {} lines, {} words\n  {:.1} ms ({} files/s, {}/s), cpu {:.0} ms user + {:.0} ms sys, peak rss {}, {} threads, jobs {}\n",
        s.strategy,
        grouped(s.ok),
        grouped(s.failed),
        grouped(s.skipped),
        grouped(s.bytes),
        human_bytes(s.bytes as f64),
        grouped(s.lines),
        grouped(s.words),
        s.elapsed_ms,
        per_second(rate(s.files as f64)),
        human_bytes(rate(s.bytes as f64)),
        r.cpu_user_ms,
        r.cpu_sys_ms,
        human_bytes(r.peak_rss_kib as f64 * 1024.0),
        r.threads,
        s.jobs,
    );
    for (label, value) in &line.described {
        text.push_str(&format!("  {label}: {value}\n"));
    }
    text
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

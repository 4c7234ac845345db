//! The benchmark's outputs: the ranked tables for the terminal and for Markdown, and the files
//! of `target/bench/<timestamp>/` (`results.json`, `results.csv`, `report.md`, `report.html`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Results;
use super::host::Host;
use super::reader::Reader;
use super::run::CacheDrop;
use super::stats::{self, Row, Table};
use super::work::{self, Limit};

/// What a report says about how it was made.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When the benchmark started (UTC).
    pub started_at: String,
    /// The command that produced it.
    pub command_line: String,
    /// The machine and tools.
    pub host: Host,
    /// Measured runs per variant.
    pub runs: usize,
    /// How caches were dropped for cold runs (`None`: no cold runs).
    pub cache_drop: Option<CacheDrop>,
    /// Readers that were not run because their binary (or `wc`) was missing.
    pub missing: Vec<String>,
    /// The cargo profile the readers were built with.
    pub build: String,
    /// Peak RSS of `true` run the same way: the floor every reader's figure includes.
    pub rss_floor_kib: u64,
}

/// The Python project's published figures for its 1,000 mixed files (seconds).
pub const PYTHON_FIGURES: &[(&str, f64)] = &[
    ("Hybrid", 2.34),
    ("Async", 3.21),
    ("Threading", 4.12),
    ("Multiprocessing", 5.03),
];

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with precision that suits their size.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A wall time in one unit that suits it: `8.42 ms`, `312 ms`, `6.81 s`, `4 min 12 s`.
pub fn duration(ms_value: f64) -> String {
    if ms_value >= 60_000.0 {
        let secs = (ms_value / 1000.0).round() as u64;
        format!("{} min {} s", secs / 60, secs % 60)
    } else if ms_value >= 1000.0 {
        format!("{:.2} s", ms_value / 1000.0)
    } else {
        format!("{} ms", ms(ms_value))
    }
}

/// A spread, both ends in the unit of the larger: `5.1–7.9 ms`, `0.98–1.21 s`.
pub fn spread(min: f64, max: f64) -> String {
    if (1000.0..60_000.0).contains(&max) {
        format!("{:.2}–{:.2} s", min / 1000.0, max / 1000.0)
    } else if max < 1000.0 {
        format!("{}–{} ms", ms(min), ms(max))
    } else {
        format!("{} – {}", duration(min), duration(max))
    }
}

/// A rate: whole numbers grouped, small ones with a decimal (never a bare `0`).
pub fn rate(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        group(v.round() as u64)
    }
}

/// Bytes as MiB.
pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1048576.0)
}

/// The title line of a table.
pub fn title(table: &Table, meta: &Meta) -> String {
    // The study measures its experiments with different numbers of rounds: say this table's.
    let runs = table
        .rows
        .iter()
        .map(|row| row.runs)
        .max()
        .unwrap_or(meta.runs);
    let work = table
        .work
        .map_or(String::new(), |w| format!(", {}", w.describe()));
    let mut t = format!(
        "{} ({} file{}, {}){work}, {}, {} cores, median of {} run{}",
        table.target,
        group(table.files),
        if table.files == 1 { "" } else { "s" },
        mib(table.bytes as f64),
        table.cache.as_str(),
        meta.host.cores,
        runs,
        if runs == 1 { "" } else { "s" }
    );
    if table.cache == stats::Cache::Cold
        && let Some(method) = meta.cache_drop
    {
        t.push_str(&format!(" (cache dropped with {})", method.describe()));
    }
    t
}

/// The cells of one row, in column order (shared by the terminal and Markdown tables); with
/// `limit`, the "× limit" column too.
fn cells(row: &Row, limit: Option<Limit>) -> Vec<String> {
    let rank = match row.rank {
        Some(r) => format!("{r}."),
        None if row.is(Reader::ReadOnly) => "ref".to_string(),
        None => "-".to_string(),
    };
    let mut cells = vec![rank, row.label.clone()];
    if let Some(problem) = row.verdict.problem() {
        cells.push(format!("{}: {problem}", row.verdict.word()));
        return cells;
    }
    cells.extend([
        duration(row.median_ms),
        spread(row.min_ms, row.max_ms),
        row.speedup.map_or("-".into(), |s| format!("{s:.2}×")),
        row.over_sequential
            .map_or("-".into(), |s| format!("{s:.2}×")),
        row.vs_reference.map_or("-".into(), |s| format!("{s:.2}×")),
    ]);
    if limit.is_some() {
        cells.push(row.vs_limit.map_or("-".into(), |s| format!("{s:.2}×")));
    }
    cells.extend([
        rate(row.files_per_s),
        rate(row.mb_per_s * 1e6 / 1048576.0),
        mib(row.peak_rss_kib as f64 * 1024.0),
        format!("{}+{}", ms(row.user_ms), ms(row.sys_ms)),
        row.jobs_used.map_or("-".into(), |j| j.to_string()),
    ]);
    cells
}

const HEADERS: [&str; 12] = [
    "#",
    "reader",
    "median",
    "spread (min–max)",
    "speedup",
    "vs seq",
    "× ref",
    "files/s",
    "MiB/s",
    "peak RSS",
    "CPU user+sys ms",
    "jobs",
];

/// Where the "× limit" column goes, in a table with a limit: after "× ref".
const LIMIT_COLUMN: usize = 7;

/// The column headers of `table`.
fn headers(table: &Table) -> Vec<&'static str> {
    let mut headers = HEADERS.to_vec();
    if table.limit.is_some() {
        headers.insert(LIMIT_COLUMN, "× limit");
    }
    headers
}

/// The rows of `table` as cells, the limit row (if any) after the reference.
fn table_cells(table: &Table) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| cells(row, table.limit))
        .collect();
    if let Some(limit) = table.limit {
        let reference = table.rows.iter().position(|r| r.is(Reader::ReadOnly));
        let over_reference = reference.map_or("-".into(), |at| {
            format!("{:.2}×", limit.ms / table.rows[at].median_ms)
        });
        let secs = limit.ms / 1e3;
        let row = vec![
            "limit".to_string(),
            "read-only + the work on every core".to_string(),
            duration(limit.ms),
            "-".into(),
            "-".into(),
            "-".into(),
            over_reference,
            "1.00×".into(),
            rate(table.files as f64 / secs),
            rate(table.bytes as f64 / secs / 1048576.0),
            "-".into(),
            "-".into(),
            limit.cores.to_string(),
        ];
        rows.insert(reference.map_or(0, |at| at + 1), row);
    }
    rows
}

/// The line under a table with a limit that says how it was made.
fn limit_line(table: &Table) -> Option<String> {
    let limit = table.limit?;
    Some(format!(
        "limit: the read-only reference + {} ÷ ({} cores × {}, one core's speed for {} on this \
         tree's files, measured here)",
        mib(table.bytes as f64),
        limit.cores,
        work::speed(limit.per_core),
        table.work.unwrap_or_default().describe()
    ))
}

/// The tables and, for a user's tree, the recommendation, for the terminal.
pub fn console(meta: &Meta, results: &Results) -> String {
    let mut out = String::new();
    for table in &results.tables {
        let _ = writeln!(out, "\nPERFORMANCE RESULTS — {}", title(table, meta));
        let headers = headers(table);
        let rows = table_cells(table);
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in rows.iter().filter(|r| r.len() == headers.len()) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(c.chars().count());
                if i <= 1 || cells.len() < headers.len() {
                    s.push_str(&format!("{c}{}  ", " ".repeat(pad)));
                } else {
                    s.push_str(&format!("{}{c}  ", " ".repeat(pad)));
                }
            }
            s.trim_end().to_string()
        };
        let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(out, "{}", line(&header));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        if let Some(limit) = limit_line(table) {
            let _ = writeln!(out, "{limit}");
        }
        let _ = writeln!(
            out,
            "fastest: {}",
            stats::fastest_line(table).unwrap_or_else(|| "none (no correct run)".into())
        );
        for s in stats::scaling(table) {
            let _ = writeln!(out, "scaling {}: {}", s.reader, s.describe());
        }
    }
    if let Some(section) = &results.duplicates {
        out.push_str(&section.console());
    }
    let _ = writeln!(
        out,
        "\npeak RSS includes a floor of {} (what a no-op process measures the same way)",
        mib(meta.rss_floor_kib as f64 * 1024.0)
    );
    if let Some(method) = meta.cache_drop {
        let _ = writeln!(out, "cold runs: {}", method.describe());
    }
    if !meta.missing.is_empty() {
        let _ = writeln!(out, "not run (missing): {}", meta.missing.join(", "));
    }
    if let Some((expected, agreeing)) = &results.consensus {
        let _ = writeln!(
            out,
            "\nreference totals ({agreeing} runs agree): {} files, {} bytes, {} lines, {} words",
            group(expected.files),
            group(expected.bytes),
            group(expected.lines),
            group(expected.words)
        );
    }
    for rec in &results.recommendations {
        let _ = writeln!(
            out,
            "\nrecommendation, {}: {}",
            recommendation_for(rec),
            rec.text
        );
    }
    out
}

/// The report as Markdown: every table, the scaling, the recommendation and how it was made.
pub fn markdown(meta: &Meta, results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark report — {}\n", meta.started_at);
    let _ = writeln!(out, "Command: `{}`  ", meta.command_line);
    let h = &meta.host;
    let _ = writeln!(
        out,
        "Host: {} · {} cores · {:.1} GiB memory · Linux {} · {}  ",
        h.cpu_model,
        h.cores,
        h.memory_kib as f64 / 1048576.0,
        h.kernel,
        h.os
    );
    let _ = writeln!(
        out,
        "Revision: {} · readers built with the `{}` profile  ",
        h.git_revision, meta.build
    );
    let tools: Vec<String> = h.tools.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    let _ = writeln!(out, "Tools: {}  ", tools.join(" · "));
    if let Some(method) = meta.cache_drop {
        let _ = writeln!(out, "Cold runs: {}  ", method.describe());
    }
    if !meta.missing.is_empty() {
        let _ = writeln!(out, "Not run (missing): {}  ", meta.missing.join(", "));
    }
    let _ = writeln!(
        out,
        "\nWall time from spawn to exit of each reader as a child process; peak RSS from its rusage \
         (largest single process, workers included; a no-op process measured the same way shows {}); speedup is over the slowest correct reader, \"vs seq\" over the sequential baseline. \
         Readers whose totals differ from the manifest are marked WRONG and not ranked.\n",
        mib(meta.rss_floor_kib as f64 * 1024.0)
    );
    for table in &results.tables {
        let _ = writeln!(out, "{}", markdown_table(table, meta));
        if table.target == "seed-mixed" {
            let python: Vec<String> = PYTHON_FIGURES
                .iter()
                .map(|(n, s)| format!("{n} {s:.2} s"))
                .collect();
            let _ = writeln!(
                out,
                "The original Python project's published figures for the same workload (its machine): {}.\n",
                python.join(", ")
            );
        }
    }
    if let Some(section) = &results.duplicates {
        out.push_str(&section.markdown());
    }
    out.push_str(&super::original::markdown(&super::original::ratios(
        &results.tables,
    )));
    if !results.recommendations.is_empty() {
        out.push_str("## Recommendation\n\n");
        for rec in &results.recommendations {
            let _ = writeln!(out, "- {}: {}", recommendation_for(rec), rec.text);
        }
        out.push('\n');
    }
    out
}

/// What a recommendation is for: `warm cache`, or `warm cache, counting + sha256`.
pub fn recommendation_for(rec: &stats::Recommendation) -> String {
    match rec.work {
        Some(work) => format!("{} cache, {}", rec.cache.as_str(), work.describe()),
        None => format!("{} cache", rec.cache.as_str()),
    }
}

/// One table as GitHub Markdown, with its title, "fastest", limit and scaling lines.
pub fn markdown_table(table: &Table, meta: &Meta) -> String {
    let mut out = format!("### {}\n\n", title(table, meta));
    let headers = headers(table);
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
    for mut c in table_cells(table) {
        c.resize(headers.len(), String::new());
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    if let Some(limit) = limit_line(table) {
        let _ = writeln!(out, "\n{limit}");
    }
    let _ = writeln!(
        out,
        "\nfastest: **{}**\n",
        stats::fastest_line(table).unwrap_or_else(|| "none".into())
    );
    for s in stats::scaling(table) {
        let _ = writeln!(out, "scaling {}: {}  ", s.reader, s.describe());
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Every run as one CSV row.
pub fn csv(results: &Results) -> String {
    let mut out = String::from(
        "target,cache,label,reader,jobs,threshold,round,wall_ms,user_ms,sys_ms,peak_rss_kib,exit_code,files,failed,skipped,bytes,lines,words,jobs_used,threads,reader_elapsed_ms,verdict,problem,work\n",
    );
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in &results.records {
        let m = &r.measurement;
        let t = m.totals;
        let fields = [
            r.target.clone(),
            r.cache.as_str().into(),
            r.variant.label.clone(),
            r.variant.reader.clone(),
            opt(r.variant.jobs.map(|j| j.to_string())),
            opt(r.variant.threshold.clone()),
            r.round.to_string(),
            format!("{:.3}", m.wall_ms),
            format!("{:.3}", m.user_ms),
            format!("{:.3}", m.sys_ms),
            m.peak_rss_kib.to_string(),
            opt(m.exit_code.map(|c| c.to_string())),
            opt(t.map(|t| t.files.to_string())),
            opt(t.map(|t| t.failed.to_string())),
            opt(t.map(|t| t.skipped.to_string())),
            opt(t.map(|t| t.bytes.to_string())),
            opt(t.map(|t| t.lines.to_string())),
            opt(t.map(|t| t.words.to_string())),
            opt(m.jobs_used.map(|j| j.to_string())),
            opt(m.threads.map(|j| j.to_string())),
            opt(m.reader_elapsed_ms.map(|e| format!("{e:.3}"))),
            r.verdict.word().into(),
            r.verdict.problem().unwrap_or("").into(),
            r.variant.work.name().into(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Everything, for machines.
pub fn json(meta: &Meta, results: &Results) -> Result<String> {
    let value = serde_json::json!({
        "schema": 1,
        "meta": meta,
        "cache_drop": meta.cache_drop.map(CacheDrop::describe),
        "tables": results.tables,
        "scaling": results.tables.iter().map(|t| serde_json::json!({
            "target": t.target, "cache": t.cache, "readers": stats::scaling(t),
        })).collect::<Vec<_>>(),
        "consensus": results.consensus.map(|(e, n)| serde_json::json!({"totals": e, "agreeing_runs": n})),
        "recommendations": results.recommendations,
        "runs": results.records,
        "duplicates": results.duplicates,
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// Writes `results.json`, `results.csv`, `report.md` and `report.html` into `dir`.
pub fn write_all(dir: &Path, meta: &Meta, results: &Results) -> Result<()> {
    let md = markdown(meta, results);
    let files = [
        ("results.json", json(meta, results)?),
        ("results.csv", csv(results)),
        ("report.html", super::html::page(meta, results, &md)),
        ("report.md", md),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(ms(1234.4), "1234");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}

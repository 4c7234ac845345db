//! `cargo xtask bench --duplicates`: every model's `--duplicates --format json` beside
//! `jdupes -r -q` and `fclones group` (where installed), interleaved in rounds on the
//! generated duplicates tree ([`crate::fixtures::duplicates`]), warm and with `--cold` cold.
//!
//! Every run is checked against the tree's manifest as soon as it ends, and only the outcome
//! is kept: a reader's groups (each the set of its names, hard links included) and its files
//! with several names and no copy must be the manifest's, with no failed file; its own
//! `bytes_needed` must be the manifest's, and it must have read at most [`READ_SLACK`] × the
//! bytes needed plus those of the near copies (files of one size that differ only at the end
//! or in the middle, which no finder tells apart without reading them; the issue's bound
//! leaves them out, and a tree without them is held to it). jdupes lists only some names of a file
//! with several (which, depends on the order it meets them) and fclones all: a tool's groups
//! are compared as sets of files, each name standing for the file it is a name of, and a
//! group of names of one file alone is no group. A run that differs is WRONG and fails the
//! command. The table gives each variant's warm and cold medians, its ratio to the faster of
//! jdupes and fclones, and the bytes it read ÷ those needed.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::reader::Reader;
use super::run::{Measurement, Program, Runner, Target, Variant};
use super::stats::{self, Cache, RunRecord, Verdict};
use super::work::Work;
use super::{Plan, report};
use crate::fixtures::duplicates::DuplicatesManifest;

/// The models run with `--duplicates`, in table order.
pub const READERS: &[Reader] = &[
    Reader::Threads,
    Reader::AsyncTokio,
    Reader::AsyncUring,
    Reader::Hybrid,
    Reader::Proc,
];

/// The tools run beside them: name, arguments before the tree, arguments that print the
/// version.
pub const TOOLS: &[(&str, &[&str], &[&str])] = &[
    ("jdupes", &["-r", "-q"], &["-v"]),
    ("fclones", &["group"], &["--version"]),
];

/// A reader may read this many times the bytes needed.
pub const READ_SLACK: f64 = 1.1;

/// Groups of names, each a set of paths relative to the tree.
pub type Groups = BTreeSet<BTreeSet<String>>;

/// Where tools are looked for: `PATH`, then `$CARGO_HOME/bin`, then `~/.cargo/bin` (where
/// `cargo install` puts fclones).
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs
}

/// The first executable file called `name` in `dirs`.
pub fn locate(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter().map(|dir| dir.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The variants: each model that was built and is wanted, then each tool that is installed
/// and wanted (`tools`: a name and its program, from [`locate`]); and what is missing,
/// named once each.
pub fn variants(
    binaries: &[(String, PathBuf)],
    tools: &[(&str, PathBuf)],
    wanted: impl Fn(&str) -> bool,
) -> (Vec<Variant>, Vec<String>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let variant = |name: &str, path: PathBuf, args: Vec<String>| Variant {
        label: name.to_string(),
        reader: name.to_string(),
        work: Work::Count,
        jobs: None,
        threshold: None,
        program: Program::Finder { path, args },
    };
    for reader in READERS.iter().filter(|r| wanted(r.label())) {
        let (name, binary) = (reader.label(), reader.binary());
        let Some((_, path)) = binaries.iter().find(|(b, _)| b == binary) else {
            missing.push(format!("{name} ({binary})"));
            continue;
        };
        let mut args: Vec<String> = reader.fixed_args().iter().map(|a| a.to_string()).collect();
        args.extend(["--duplicates", "--format", "json", "--progress", "never"].map(String::from));
        out.push(variant(name, path.clone(), args));
    }
    for &(name, args, _) in TOOLS.iter().filter(|t| wanted(t.0)) {
        match tools.iter().find(|(t, _)| *t == name) {
            Some((_, path)) => out.push(variant(
                name,
                path.clone(),
                args.iter().map(|a| a.to_string()).collect(),
            )),
            None => missing.push(format!("{name} (not installed)")),
        }
    }
    (out, missing)
}

/// Whether `reader` is one of the tools.
pub fn is_tool(reader: &str) -> bool {
    TOOLS.iter().any(|t| t.0 == reader)
}

/// The manifest's groups, in the forms the checks need.
#[derive(Debug, Clone)]
pub struct Known {
    /// Each group as the set of all its names.
    pub groups: Groups,
    /// Each file with several names and no copy, as its names.
    pub hard_links: Groups,
    /// Each group as its files, each file by its first name.
    pub files: Groups,
    /// The first name of the file each grouped or linked name is a name of.
    first_name: HashMap<String, String>,
    /// Names in the tree.
    pub names: u64,
    /// Bytes a reader must read.
    pub bytes_needed: u64,
    /// Bytes of the near copies, which a reader reads too.
    pub bytes_to_tell_apart: u64,
}

impl Known {
    /// From a duplicates manifest.
    pub fn new(m: &DuplicatesManifest) -> Known {
        let mut first_name = HashMap::new();
        for file in m.groups.iter().flatten().chain(&m.hard_links) {
            if let Some(first) = file.first() {
                for name in file {
                    first_name.insert(name.clone(), first.clone());
                }
            }
        }
        Known {
            groups: m
                .groups
                .iter()
                .map(|g| g.iter().flatten().cloned().collect())
                .collect(),
            hard_links: m
                .hard_links
                .iter()
                .map(|n| n.iter().cloned().collect())
                .collect(),
            files: m
                .groups
                .iter()
                .map(|g| g.iter().filter_map(|f| f.first().cloned()).collect())
                .collect(),
            first_name,
            names: m.files,
            bytes_needed: m.bytes_needed,
            bytes_to_tell_apart: m.bytes_to_tell_apart,
        }
    }

    /// A tool's groups as sets of files (each name as its file's first name), without the
    /// groups that are names of one file alone.
    fn as_files(&self, groups: &Groups) -> Groups {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|name| self.first_name.get(name).unwrap_or(name).clone())
                    .collect::<BTreeSet<String>>()
            })
            .filter(|g| g.len() > 1)
            .collect()
    }
}

/// `path` relative to `tree` (as it is when it is not under it).
fn relative(path: &str, tree: &Path) -> String {
    Path::new(path)
        .strip_prefix(tree)
        .map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
}

/// What a reader's `--duplicates --format json` output says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReaderFound {
    /// Its groups, each with every name (`paths` and `links`).
    pub groups: Groups,
    /// Its files with several names and no copy.
    pub hard_links: Groups,
    /// The summary's `files`, `failed` and `bytes_read`.
    pub files: u64,
    /// Files that failed.
    pub failed: u64,
    /// Bytes it read.
    pub bytes_read: u64,
    /// Bytes it says had to be read.
    pub bytes_needed: u64,
}

/// Reads a reader's JSON Lines output; an error says what in it is not as documented.
pub fn parse_json(output: &[u8], tree: &Path) -> Result<ReaderFound, String> {
    let mut found = ReaderFound::default();
    let mut summary = false;
    let names = |value: &serde_json::Value| -> Result<Vec<String>, String> {
        value
            .as_array()
            .ok_or("paths that are not a list")?
            .iter()
            .map(|p| {
                p.as_str()
                    .map(|p| relative(p, tree))
                    .ok_or_else(|| format!("a path that is not a string: {p}"))
            })
            .collect()
    };
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|err| {
            format!(
                "a line that is not JSON ({err}): {}",
                String::from_utf8_lossy(line)
            )
        })?;
        match value["type"].as_str() {
            Some("duplicates") => {
                let mut group: BTreeSet<String> = names(&value["paths"])?.into_iter().collect();
                if let Some(links) = value["links"].as_array() {
                    for file in links {
                        group.extend(names(file)?);
                    }
                }
                found.groups.insert(group);
            }
            Some("hard_links") => {
                found
                    .hard_links
                    .insert(names(&value["paths"])?.into_iter().collect());
            }
            Some("summary") => {
                let num = |key: &str| {
                    value[key]
                        .as_u64()
                        .ok_or(format!("a summary without {key}"))
                };
                found.files = num("files")?;
                found.failed = num("failed")?;
                found.bytes_read = num("bytes_read")?;
                found.bytes_needed = num("bytes_needed")?;
                summary = true;
            }
            _ => {}
        }
    }
    if !summary {
        return Err("no summary".into());
    }
    Ok(found)
}

/// jdupes' (and fdupes') text: a path a line, a blank line after each group.
pub fn parse_jdupes(output: &str, tree: &Path) -> Groups {
    output
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| relative(l, tree))
                .collect::<BTreeSet<String>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

/// `fclones group`'s default text: `#` lines of its header, then each group as a line of its
/// own (`HASH, SIZE B (…) * COUNT:`) followed by its paths, each indented. An error names the
/// first line that is neither, or a group whose count is not its number of paths.
pub fn parse_fclones(output: &str, tree: &Path) -> Result<Groups, String> {
    let mut groups = Groups::new();
    let mut current: Option<(usize, BTreeSet<String>)> = None;
    let close = |current: Option<(usize, BTreeSet<String>)>, groups: &mut Groups| {
        if let Some((count, group)) = current {
            if group.len() != count {
                return Err(format!(
                    "a group of {count} with {} paths: {group:?}",
                    group.len()
                ));
            }
            groups.insert(group);
        }
        Ok(())
    };
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('#') {
            continue;
        }
        if let Some(path) = line.strip_prefix("    ") {
            let Some((_, group)) = current.as_mut() else {
                return Err(format!("a path before any group: {line}"));
            };
            group.insert(relative(path, tree));
            continue;
        }
        let count = line
            .strip_suffix(':')
            .and_then(|head| head.rsplit_once(" * "))
            .and_then(|(_, n)| n.trim().parse::<usize>().ok())
            .ok_or_else(|| format!("neither a group's header nor a path: {line}"))?;
        close(current.take(), &mut groups)?;
        current = Some((count, BTreeSet::new()));
    }
    close(current, &mut groups)?;
    Ok(groups)
}

/// The first difference between `got` and `want`, if any.
fn difference(got: &Groups, want: &Groups, what: &str) -> Option<String> {
    let show = |g: &BTreeSet<String>| {
        let names: Vec<&str> = g.iter().map(String::as_str).collect();
        format!("{{{}}}", names.join(", "))
    };
    if let Some(extra) = got.difference(want).next() {
        return Some(format!(
            "{} {what} instead of {}; first not expected: {}",
            got.len(),
            want.len(),
            show(extra)
        ));
    }
    want.difference(got).next().map(|lost| {
        format!(
            "{} {what} instead of {}; first missing: {}",
            got.len(),
            want.len(),
            show(lost)
        )
    })
}

/// Checks a reader's findings against the manifest.
pub fn check_reader(found: &ReaderFound, known: &Known) -> Result<(), String> {
    if found.failed > 0 {
        return Err(format!("{} file(s) failed", found.failed));
    }
    if found.files != known.names {
        return Err(format!("{} files found, not {}", found.files, known.names));
    }
    if let Some(problem) = difference(&found.groups, &known.groups, "groups") {
        return Err(problem);
    }
    if let Some(problem) = difference(
        &found.hard_links,
        &known.hard_links,
        "files with several names",
    ) {
        return Err(problem);
    }
    if found.bytes_needed != known.bytes_needed {
        return Err(format!(
            "says {} bytes were needed, not {}",
            found.bytes_needed, known.bytes_needed
        ));
    }
    let most = (known.bytes_needed + known.bytes_to_tell_apart) as f64 * READ_SLACK;
    if found.bytes_read as f64 > most {
        return Err(format!(
            "read {} bytes, more than {READ_SLACK} × the {} needed and {} of near copies",
            found.bytes_read, known.bytes_needed, known.bytes_to_tell_apart
        ));
    }
    Ok(())
}

/// Checks a tool's groups against the manifest, as sets of files.
pub fn check_tool(groups: &Groups, known: &Known) -> Result<(), String> {
    match difference(&known.as_files(groups), &known.files, "groups") {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Judges one run from its output; with the bytes a reader read.
pub fn judge_run(
    reader: &str,
    m: &Measurement,
    output: &[u8],
    tree: &Path,
    known: &Known,
) -> (Verdict, Option<u64>) {
    if let Some(error) = &m.error {
        return (Verdict::Failed(error.clone()), None);
    }
    let text = || String::from_utf8_lossy(output);
    let checked = match reader {
        "jdupes" => check_tool(&parse_jdupes(&text(), tree), known).map(|()| None),
        "fclones" => parse_fclones(&text(), tree)
            .and_then(|groups| check_tool(&groups, known))
            .map(|()| None),
        _ => parse_json(output, tree)
            .and_then(|found| check_reader(&found, known).map(|()| Some(found.bytes_read))),
    };
    match checked {
        Ok(read) => (Verdict::Ok, read),
        Err(problem) => (Verdict::Wrong(problem), None),
    }
}

/// One run, as recorded: the bench's record, and the bytes a reader read.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// What ran, what it measured, its verdict.
    #[serde(flatten)]
    pub record: RunRecord,
    /// The bytes a reader's summary says it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
}

/// Runs every variant on `target`, interleaved round by round (cold runs drop the cache
/// first), and checks each run as it ends. `progress` gets one line a round.
pub fn execute(
    plan: &Plan,
    target: &Target,
    known: &Known,
    variants: &[Variant],
    runner: &mut dyn Runner,
    progress: &mut dyn FnMut(String),
) -> Vec<Run> {
    let mut runs = Vec::new();
    for &cache in &plan.caches {
        let first = usize::from(!(cache == Cache::Warm && plan.warmup));
        for round in first..=plan.runs {
            let mut line = format!(
                "{} · {} · {}:",
                target.name,
                cache.as_str(),
                if round == 0 {
                    "warm-up".to_string()
                } else {
                    format!("run {round}/{}", plan.runs)
                }
            );
            for v in variants {
                let dropped = match cache {
                    Cache::Cold => runner.drop_cache(target),
                    Cache::Warm => Ok(()),
                };
                let mut measurement = match dropped {
                    Ok(()) => runner.run(v, target),
                    Err(err) => Measurement {
                        error: Some(format!("cannot drop the cache: {err:#}")),
                        ..Measurement::default()
                    },
                };
                let output = measurement.output.take().unwrap_or_default();
                let (verdict, bytes_read) =
                    judge_run(&v.reader, &measurement, &output, &target.tree, known);
                let _ = write!(line, " {} {:.0}ms", v.label, measurement.wall_ms);
                if verdict != Verdict::Ok {
                    line.push_str(&format!(" ({})", verdict.word()));
                }
                runs.push(Run {
                    record: RunRecord {
                        target: target.name.clone(),
                        cache,
                        variant: v.clone(),
                        round,
                        measurement,
                        digest_check: None,
                        verdict,
                    },
                    bytes_read,
                });
            }
            progress(line);
        }
    }
    runs
}

/// One variant's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What the table shows.
    pub label: String,
    /// The reader or tool.
    pub reader: String,
    /// The worst of its runs' verdicts.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Median wall time of its warm runs (none when a run was not right).
    pub warm_ms: Option<f64>,
    /// Median wall time of its cold runs.
    pub cold_ms: Option<f64>,
    /// `warm_ms` ÷ that of the faster tool.
    pub warm_vs_tools: Option<f64>,
    /// `cold_ms` ÷ that of the faster tool.
    pub cold_vs_tools: Option<f64>,
    /// The most bytes a run of it read ÷ the bytes needed (readers only).
    pub read_over_needed: Option<f64>,
}

/// The duplicates table, and every run behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// The tree's name.
    pub target: String,
    /// Names in the tree.
    pub files: u64,
    /// Bytes over every name.
    pub bytes: u64,
    /// Groups of copies.
    pub groups: usize,
    /// Bytes a reader must read.
    pub bytes_needed: u64,
    /// Bytes of near copies, which a reader reads too.
    pub bytes_to_tell_apart: u64,
    /// Measured rounds.
    pub runs_per_variant: usize,
    /// One row a variant, in the order they ran.
    pub rows: Vec<Row>,
    /// Every run.
    pub runs: Vec<Run>,
}

/// Builds the table from the runs.
pub fn table(
    m: &DuplicatesManifest,
    target: &str,
    plan: &Plan,
    variants: &[Variant],
    runs: Vec<Run>,
) -> Section {
    let median = |label: &str, cache: Cache| -> Option<f64> {
        let times: Vec<f64> = runs
            .iter()
            .filter(|r| {
                r.record.variant.label == label && r.record.cache == cache && r.record.round > 0
            })
            .map(|r| r.record.measurement.wall_ms)
            .collect();
        (!times.is_empty()).then(|| stats::median(&times))
    };
    let mut rows: Vec<Row> = variants
        .iter()
        .map(|v| {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.record.variant.label == v.label)
                .collect();
            let verdict = mine
                .iter()
                .map(|r| r.record.verdict.clone())
                .find(|verdict| *verdict != Verdict::Ok)
                .unwrap_or(Verdict::Ok);
            let ok = verdict == Verdict::Ok;
            let read = mine.iter().filter_map(|r| r.bytes_read).max();
            Row {
                label: v.label.clone(),
                reader: v.reader.clone(),
                warm_ms: median(&v.label, Cache::Warm).filter(|_| ok),
                cold_ms: median(&v.label, Cache::Cold).filter(|_| ok),
                warm_vs_tools: None,
                cold_vs_tools: None,
                read_over_needed: read
                    .filter(|_| ok && m.bytes_needed > 0)
                    .map(|r| r as f64 / m.bytes_needed as f64),
                verdict,
            }
        })
        .collect();
    let best = |pick: fn(&Row) -> Option<f64>, rows: &[Row]| {
        rows.iter()
            .filter(|r| is_tool(&r.reader))
            .filter_map(pick)
            .min_by(f64::total_cmp)
    };
    let (warm_best, cold_best) = (best(|r| r.warm_ms, &rows), best(|r| r.cold_ms, &rows));
    for row in &mut rows {
        row.warm_vs_tools = row.warm_ms.zip(warm_best).map(|(a, b)| a / b);
        row.cold_vs_tools = row.cold_ms.zip(cold_best).map(|(a, b)| a / b);
    }
    Section {
        target: target.to_string(),
        files: m.files,
        bytes: m.bytes,
        groups: m.groups.len(),
        bytes_needed: m.bytes_needed,
        bytes_to_tell_apart: m.bytes_to_tell_apart,
        runs_per_variant: plan.runs,
        rows,
        runs,
    }
}

impl Section {
    /// Whether any run was cold.
    fn has_cold(&self) -> bool {
        self.runs.iter().any(|r| r.record.cache == Cache::Cold)
    }

    /// The title line.
    pub fn title(&self) -> String {
        format!(
            "DUPLICATES — {} ({} names, {}, {} groups of copies, {} bytes needed, {} of near copies), median of {} run{}",
            self.target,
            report::group(self.files),
            report::mib(self.bytes as f64),
            report::group(self.groups as u64),
            report::group(self.bytes_needed),
            report::group(self.bytes_to_tell_apart),
            self.runs_per_variant,
            if self.runs_per_variant == 1 { "" } else { "s" }
        )
    }

    /// The column headers.
    pub fn headers(&self) -> Vec<&'static str> {
        if self.has_cold() {
            vec![
                "reader",
                "warm",
                "cold",
                "÷ best tool, warm",
                "÷ best tool, cold",
                "read ÷ needed",
            ]
        } else {
            vec!["reader", "warm", "÷ best tool, warm", "read ÷ needed"]
        }
    }

    /// Each row's cells, in the columns of [`Section::headers`]; a row that was not right
    /// says why in its second cell.
    pub fn cells(&self) -> Vec<Vec<String>> {
        let time = |v: Option<f64>| v.map_or("-".into(), report::duration);
        let ratio = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}×"));
        self.rows
            .iter()
            .map(|row| {
                if let Some(problem) = row.verdict.problem() {
                    return vec![
                        row.label.clone(),
                        format!("{}: {problem}", row.verdict.word()),
                    ];
                }
                let mut cells = vec![row.label.clone(), time(row.warm_ms)];
                if self.has_cold() {
                    cells.extend([
                        time(row.cold_ms),
                        ratio(row.warm_vs_tools),
                        ratio(row.cold_vs_tools),
                    ]);
                } else {
                    cells.push(ratio(row.warm_vs_tools));
                }
                cells.push(
                    row.read_over_needed
                        .map_or("-".into(), |v| format!("{v:.3}")),
                );
                cells
            })
            .collect()
    }

    /// What the columns mean.
    pub fn note(&self) -> String {
        format!(
            "÷ best tool: the median ÷ that of the faster of jdupes and fclones (below 1: faster). \
             read ÷ needed: the most bytes a run read ÷ the bytes that must be read (every prefix of {} KiB of a file whose size another has, every byte of the files with copies); a reader may read at most {READ_SLACK} × those and the bytes of the near copies, which no finder tells apart without reading them. \
             Every run's groups are checked against the tree's manifest (a tool's as sets of files: jdupes lists some names of a file with several, fclones all).",
            crate::fixtures::duplicates::PREFIX / 1024
        )
    }

    /// The table for the terminal.
    pub fn console(&self) -> String {
        let headers = self.headers();
        let rows = self.cells();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in rows.iter().filter(|r| r.len() == headers.len()) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                if i == 0 || cells.len() < headers.len() {
                    s.push_str(&format!("{c}{}  ", " ".repeat(pad)));
                } else {
                    s.push_str(&format!("{}{c}  ", " ".repeat(pad)));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = format!("\n{}\n", self.title());
        let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(out, "{}", line(&header));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        let _ = writeln!(out, "{}", self.note());
        out
    }

    /// The table as GitHub Markdown, under a `###` title.
    pub fn markdown(&self) -> String {
        let headers = self.headers();
        let mut out = format!(
            "### {}\n\n| {} |\n|{}\n",
            self.title(),
            headers.join(" | "),
            "---|".repeat(headers.len())
        );
        for mut c in self.cells() {
            c.resize(headers.len(), String::new());
            let _ = writeln!(out, "| {} |", c.join(" | "));
        }
        let _ = writeln!(out, "\n{}\n", self.note());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "/t";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    fn set(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// Two groups (one with a file of two names), a file with two names and no copy.
    fn manifest() -> DuplicatesManifest {
        DuplicatesManifest {
            profile: "test".into(),
            generator: 1,
            seed: 1,
            files: 8,
            bytes: 0,
            bytes_needed: 1000,
            bytes_to_tell_apart: 0,
            groups: vec![
                vec![names(&["a", "a-link"]), names(&["b c/copy of a"])],
                vec![names(&["x"]), names(&["y/x"]), names(&["z/z/x"])],
            ],
            hard_links: vec![names(&["solo", "solo-link"])],
        }
    }

    const JSON: &str = r#"{"type":"duplicates","size":10,"wasted":20,"blake3":"00","paths":["/t/x","/t/y/x","/t/z/z/x"]}
{"type":"duplicates","size":9,"wasted":9,"blake3":"01","paths":["/t/a","/t/b c/copy of a"],"links":[["/t/a","/t/a-link"]]}
{"type":"hard_links","paths":["/t/solo","/t/solo-link"]}
{"type":"summary","strategy":"threads","files":8,"failed":0,"skipped":0,"groups":2,"duplicates":5,"wasted":29,"hard_links":1,"bytes_read":1050,"bytes_needed":1000,"elapsed_ms":1.5}
"#;

    #[test]
    fn a_readers_json_is_read_with_every_name() -> Result<(), String> {
        let found = parse_json(JSON.as_bytes(), Path::new(TREE))?;
        let known = Known::new(&manifest());
        assert_eq!(found.groups, known.groups);
        assert_eq!(found.hard_links, known.hard_links);
        assert_eq!(
            (
                found.files,
                found.failed,
                found.bytes_read,
                found.bytes_needed
            ),
            (8, 0, 1050, 1000)
        );
        check_reader(&found, &known)?;
        let no_summary = JSON.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(parse_json(no_summary.as_bytes(), Path::new(TREE)).is_err());
        assert!(parse_json(b"not json\n", Path::new(TREE)).is_err());
        Ok(())
    }

    #[test]
    fn a_wrong_reader_is_caught() -> Result<(), String> {
        let known = Known::new(&manifest());
        let found = parse_json(JSON.as_bytes(), Path::new(TREE))?;
        let mut lost = found.clone();
        lost.groups = [set(&["a", "a-link", "b c/copy of a"]), set(&["x", "y/x"])].into();
        let why = check_reader(&lost, &known).expect_err("a group short of a copy");
        assert!(why.contains("first not expected: {x, y/x}"), "{why}");
        let mut split = found.clone();
        split.groups.insert(set(&["solo", "solo-link"]));
        assert!(check_reader(&split, &known).is_err(), "links are no copies");
        let greedy = ReaderFound {
            bytes_read: 1101,
            ..found.clone()
        };
        let why = check_reader(&greedy, &known).expect_err("read too much");
        assert!(why.contains("1101"), "{why}");
        let near = Known {
            bytes_to_tell_apart: 100,
            ..known.clone()
        };
        assert_eq!(
            check_reader(&greedy, &near),
            Ok(()),
            "near copies are read too"
        );
        let miscounted = ReaderFound {
            bytes_needed: 999,
            ..found.clone()
        };
        assert!(check_reader(&miscounted, &known).is_err());
        let failed = ReaderFound {
            failed: 1,
            ..found.clone()
        };
        assert!(check_reader(&failed, &known).is_err());
        let no_links = ReaderFound {
            hard_links: Groups::new(),
            ..found
        };
        assert!(check_reader(&no_links, &known).is_err());
        Ok(())
    }

    #[test]
    fn jdupes_groups_are_compared_as_files() {
        let known = Known::new(&manifest());
        // jdupes names one of a file's two names, and a blank line ends each group.
        let text = "/t/a-link\n/t/b c/copy of a\n\n/t/x\n/t/y/x\n/t/z/z/x\n\n";
        let groups = parse_jdupes(text, Path::new(TREE));
        assert_eq!(
            groups,
            [
                set(&["a-link", "b c/copy of a"]),
                set(&["x", "y/x", "z/z/x"])
            ]
            .into()
        );
        assert_eq!(check_tool(&groups, &known), Ok(()));
        // A group of names of one file alone is no group.
        let with_links = format!("{text}/t/solo\n/t/solo-link\n\n");
        assert_eq!(
            check_tool(&parse_jdupes(&with_links, Path::new(TREE)), &known),
            Ok(())
        );
        let wrong = "/t/a\n/t/x\n\n/t/y/x\n/t/z/z/x\n\n";
        assert!(check_tool(&parse_jdupes(wrong, Path::new(TREE)), &known).is_err());
        let short = "/t/a\n/t/b c/copy of a\n\n";
        let why = check_tool(&parse_jdupes(short, Path::new(TREE)), &known).expect_err("one group");
        assert!(why.contains("first missing: {x, y/x, z/z/x}"), "{why}");
    }

    #[test]
    fn fclones_groups_are_read_from_its_report() -> Result<(), String> {
        let known = Known::new(&manifest());
        let text = "# Report by fclones 0.35.0\n# Base dir: /t\n# Total: 39 B (39 B) in 5 files in 2 groups\n\
            e185da0f7e4e2777e1dd41e4597ba41e, 9 B (9 B) * 3:\n    /t/a\n    /t/a-link\n    /t/b c/copy of a\n\
            0a53bbee950a8262122ec1bda1d472e8, 10 B (10 B) * 3:\n    /t/x\n    /t/y/x\n    /t/z/z/x\n";
        let groups = parse_fclones(text, Path::new(TREE))?;
        assert_eq!(groups, known.groups);
        check_tool(&groups, &known)?;
        let miscounted = text.replace("* 3:\n    /t/x", "* 4:\n    /t/x");
        assert!(parse_fclones(&miscounted, Path::new(TREE)).is_err());
        assert!(
            parse_fclones("    /t/a\n", Path::new(TREE)).is_err(),
            "a path first"
        );
        assert!(parse_fclones("garbage\n", Path::new(TREE)).is_err());
        assert_eq!(
            parse_fclones("# nothing\n", Path::new(TREE))?,
            Groups::new()
        );
        let wrong = text.replace("    /t/z/z/x\n", "    /t/solo\n");
        assert!(check_tool(&parse_fclones(&wrong, Path::new(TREE))?, &known).is_err());
        Ok(())
    }

    #[test]
    fn tools_are_found_where_they_are_executable() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("xtask-locate-{}", std::process::id()));
        let (first, second) = (dir.join("one"), dir.join("two"));
        std::fs::create_dir_all(&first)?;
        std::fs::create_dir_all(&second)?;
        std::fs::write(first.join("tool"), "")?;
        std::fs::write(second.join("tool"), "")?;
        std::fs::set_permissions(second.join("tool"), std::fs::Permissions::from_mode(0o755))?;
        let dirs = vec![dir.join("none"), first, second.clone()];
        assert_eq!(locate("tool", &dirs), Some(second.join("tool")));
        assert_eq!(locate("other", &dirs), None);
        std::fs::remove_dir_all(&dir)
    }

    /// Answers each label's run with its scripted output and time.
    struct Scripted(HashMap<String, (&'static str, f64)>);

    impl Runner for Scripted {
        fn run(&mut self, variant: &Variant, _: &Target) -> Measurement {
            let (output, wall_ms) = self.0.get(&variant.label).copied().unwrap_or(("", 0.0));
            Measurement {
                wall_ms,
                exit_code: Some(0),
                output: Some(output.as_bytes().to_vec()),
                ..Measurement::default()
            }
        }
        fn drop_cache(&mut self, _: &Target) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_models_run_in_table_order_with_their_arguments() {
        let binaries = [
            "reader-threads",
            "reader-async",
            "reader-hybrid",
            "reader-proc",
        ]
        .map(|b| (b.to_string(), PathBuf::from(b)));
        let (variants, missing) = variants(&binaries, &[], |r| !is_tool(r));
        assert!(missing.is_empty(), "{missing:?}");
        let run: Vec<String> = variants
            .iter()
            .map(|v| match &v.program {
                Program::Finder { path, args } => {
                    format!("{}: {} {}", v.label, path.display(), args.join(" "))
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let tail = "--duplicates --format json --progress never";
        assert_eq!(
            run,
            [
                format!("threads: reader-threads {tail}"),
                format!("async-tokio: reader-async --runtime tokio {tail}"),
                format!("async-uring: reader-async --runtime io-uring {tail}"),
                format!("hybrid: reader-hybrid {tail}"),
                format!("proc: reader-proc {tail}"),
            ]
        );
    }

    #[test]
    fn every_run_is_checked_and_the_table_compares_with_the_faster_tool() {
        let m = manifest();
        let known = Known::new(&m);
        let tools = [
            ("jdupes", PathBuf::from("jdupes")),
            ("fclones", PathBuf::from("fclones")),
        ];
        let binaries = [
            ("reader-threads".to_string(), PathBuf::from("t")),
            ("reader-hybrid".to_string(), PathBuf::from("h")),
        ];
        let (variants, missing) = variants(&binaries, &tools, |_| true);
        assert_eq!(
            missing,
            [
                "async-tokio (reader-async)",
                "async-uring (reader-async)",
                "proc (reader-proc)"
            ]
        );
        let jdupes = "/t/a\n/t/b c/copy of a\n\n/t/x\n/t/y/x\n/t/z/z/x\n\n";
        let fclones = "/t/a\n/t/x\n\n";
        let mut runner = Scripted(
            [
                ("threads", (JSON, 10.0)),
                ("hybrid", ("{\"type\":\"summary\"}\n", 5.0)),
                ("jdupes", (jdupes, 40.0)),
                ("fclones", (fclones, 20.0)),
            ]
            .map(|(l, o)| (l.to_string(), o))
            .into(),
        );
        let plan = Plan {
            runs: 3,
            warmup: true,
            caches: vec![Cache::Warm, Cache::Cold],
        };
        let target = Target {
            name: "dups".into(),
            tree: TREE.into(),
            file_list: TREE.into(),
            files: Vec::new(),
        };
        let mut lines = 0;
        let runs = execute(&plan, &target, &known, &variants, &mut runner, &mut |_| {
            lines += 1
        });
        assert_eq!(lines, 4 + 3);
        assert_eq!(runs.len(), 7 * 4);
        let section = table(&m, "dups", &plan, &variants, runs);
        let row = |label: &str| section.rows.iter().find(|r| r.label == label).expect(label);
        assert_eq!(row("threads").verdict, Verdict::Ok);
        assert_eq!(
            row("threads").warm_vs_tools,
            Some(0.25),
            "÷ jdupes: fclones was wrong"
        );
        assert_eq!(row("threads").read_over_needed, Some(1.05));
        assert!(matches!(row("hybrid").verdict, Verdict::Wrong(_)));
        assert!(matches!(row("fclones").verdict, Verdict::Wrong(_)));
        assert_eq!(row("fclones").warm_ms, None, "a wrong row is not timed");
        assert_eq!(row("jdupes").cold_vs_tools, Some(1.0));
        let md = section.markdown();
        assert!(
            md.contains("| threads | 10.0 ms | 10.0 ms | 0.25× | 0.25× | 1.050 |"),
            "{md}"
        );
        assert!(md.contains("| fclones | WRONG: "), "{md}");
        assert!(section.console().contains("DUPLICATES — dups"));
    }
}

//! The benchmark's judgement, as pure functions over recorded runs: the check of every run's
//! totals (against the manifest, or against what the readers agree on) and, under a digest
//! work, of its digests, medians and spreads, the ranking and speedups, the limit, the scaling
//! over `--jobs`, and the recommendation for a tree.

use std::collections::BTreeMap;

use serde::Serialize;

use super::digests::DigestCheck;
use super::reader::Reader;
use super::run::{Measurement, Variant};
use super::tools::Tool;
use super::work::{Limit, Work};

/// Warm or cold page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    /// The tree's pages are in memory (after an unmeasured run).
    Warm,
    /// The page cache was dropped before the run.
    Cold,
}

impl Cache {
    /// `warm` or `cold`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cache::Warm => "warm",
            Cache::Cold => "cold",
        }
    }
}

/// What a run's totals must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
    /// Words.
    pub words: u64,
}

/// The outcome of one run, or of all runs of a variant (the worst of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "problem", rename_all = "snake_case")]
pub enum Verdict {
    /// Totals as expected.
    Ok,
    /// Totals differ from what was expected: never ranked.
    Wrong(String),
    /// No totals (crash, timeout, bad exit status): never ranked.
    Failed(String),
}

impl Verdict {
    /// `OK`, `WRONG` or `FAILED`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Wrong(_) => "WRONG",
            Verdict::Failed(_) => "FAILED",
        }
    }

    /// What went wrong, if anything.
    pub fn problem(&self) -> Option<&str> {
        match self {
            Verdict::Ok => None,
            Verdict::Wrong(p) | Verdict::Failed(p) => Some(p),
        }
    }
}

/// How strictly a run is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Exit status 1 (some files unreadable) is accepted: on a user's tree it is the truth.
    pub allow_failed_files: bool,
    /// Words are compared (not for `wc` on a user's tree: it counts non-printable bytes
    /// differently; not for the reference, which counts nothing).
    pub check_words: bool,
    /// Lines are compared (not for the reference).
    pub check_lines: bool,
}

/// Judges one run against what was expected.
pub fn check(m: &Measurement, expected: &Expected, rules: Rules) -> Verdict {
    let Some(t) = m.totals else {
        return Verdict::Failed(m.error.clone().unwrap_or_else(|| "no totals".into()));
    };
    let exit_ok = match m.exit_code {
        Some(0) => true,
        Some(1) => rules.allow_failed_files,
        _ => false,
    };
    if !exit_ok {
        let why = m
            .error
            .clone()
            .unwrap_or_else(|| format!("exit status {:?}", m.exit_code));
        return Verdict::Failed(why);
    }
    let mut diffs = Vec::new();
    let mut compare = |name: &str, got: u64, want: u64| {
        if got != want {
            diffs.push(format!("{name} {got} ≠ {want}"));
        }
    };
    compare("files", t.files, expected.files);
    compare("bytes", t.bytes, expected.bytes);
    if rules.check_lines {
        compare("lines", t.lines, expected.lines);
    }
    if rules.check_words {
        compare("words", t.words, expected.words);
    }
    if diffs.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Wrong(diffs.join(", "))
    }
}

/// A digest tool's run, judged: it must exit with 0 (on a user's tree, with any status, since
/// some files may be unreadable there) and leave output that could be read and compared
/// (`check`); how its digests compared is judged apart ([`with_digests`]).
pub fn check_tool(m: &Measurement, check: Option<&DigestCheck>, rules: Rules) -> Verdict {
    let failed = || Verdict::Failed(m.error.clone().unwrap_or_else(|| "no output".into()));
    match m.exit_code {
        _ if check.is_none() => failed(),
        Some(0) => Verdict::Ok,
        Some(_) if rules.allow_failed_files => Verdict::Ok,
        _ => failed(),
    }
}

/// `verdict`, made WRONG when the run's digests disagree with the digest crates'.
pub fn with_digests(verdict: Verdict, check: Option<&DigestCheck>) -> Verdict {
    match (verdict, check) {
        (Verdict::Ok, Some(DigestCheck::Disagree(problem))) => {
            Verdict::Wrong(format!("digests: {problem}"))
        }
        (verdict, _) => verdict,
    }
}

/// One run as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The tree's name.
    pub target: String,
    /// Warm or cold.
    pub cache: Cache,
    /// What ran.
    #[serde(flatten)]
    pub variant: Variant,
    /// 0 for the unmeasured warm-up round, then 1, 2…
    pub round: usize,
    /// What it measured.
    #[serde(flatten)]
    pub measurement: Measurement,
    /// Under a digest work: how its digests compared with the digest crates'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_check: Option<DigestCheck>,
    /// Whether its totals (and digests) were right.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The totals most reader runs agree on (the sequential baseline breaks ties), and how many
/// runs agreed: the reference for a user's tree, where no manifest exists. `wc` votes only
/// when no reader produced totals.
pub fn consensus(records: &[RunRecord]) -> Option<(Expected, usize)> {
    vote(records, false).or_else(|| vote(records, true))
}

fn vote(records: &[RunRecord], wc: bool) -> Option<(Expected, usize)> {
    let mut votes: BTreeMap<(u64, u64, u64, u64), (usize, bool)> = BTreeMap::new();
    for r in records.iter().filter(|r| {
        r.round > 0 && !r.variant.is(Reader::ReadOnly) && r.variant.is(Reader::Wc) == wc
    }) {
        let Some(t) = r.measurement.totals else {
            continue;
        };
        if !matches!(r.measurement.exit_code, Some(0 | 1)) {
            continue;
        }
        let vote = votes
            .entry((t.files, t.bytes, t.lines, t.words))
            .or_default();
        vote.0 += 1;
        vote.1 |= r.variant.is(Reader::Seq);
    }
    let ((files, bytes, lines, words), (count, _)) = votes
        .into_iter()
        .max_by_key(|&(_, (count, seq))| (count, seq))?;
    Some((
        Expected {
            files,
            bytes,
            lines,
            words,
        },
        count,
    ))
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The measured runs of one variant on one tree, summarized.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What ran.
    pub label: String,
    /// The reader.
    pub reader: String,
    /// `--jobs` asked for.
    pub jobs: Option<usize>,
    /// The concurrency the reader reported (the last run's).
    pub jobs_used: Option<u64>,
    /// The hybrid's threshold, if given.
    pub threshold: Option<String>,
    /// Measured runs.
    pub runs: usize,
    /// Median wall time.
    pub median_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// Slowest run.
    pub max_ms: f64,
    /// Median user CPU.
    pub user_ms: f64,
    /// Median system CPU.
    pub sys_ms: f64,
    /// Largest peak RSS over the runs.
    pub peak_rss_kib: u64,
    /// Largest peak virtual size over the runs, when it was sampled.
    pub peak_vm_kib: Option<u64>,
    /// Peak threads the reader reported.
    pub threads: Option<u64>,
    /// The worst verdict of its runs.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// 1 for the fastest; `None` when not ranked (wrong or failed).
    pub rank: Option<usize>,
    /// Median of the slowest ranked row ÷ this median.
    pub speedup: Option<f64>,
    /// Median of the sequential reader ÷ this median (when it ran and was right).
    pub over_sequential: Option<f64>,
    /// This median ÷ the reference's ([`Reader::ReadOnly`]): 1.0 is the speed of the system calls
    /// alone.
    pub vs_reference: Option<f64>,
    /// This median ÷ the table's limit, when it has one.
    pub vs_limit: Option<f64>,
    /// Files per second at the median.
    pub files_per_s: f64,
    /// Megabytes (10⁶ bytes) per second at the median.
    pub mb_per_s: f64,
}

impl Row {
    /// Whether it is `reader`'s (with whatever settings).
    pub fn is(&self, reader: Reader) -> bool {
        Reader::from_label(&self.reader) == Some(reader)
    }
}

/// What a table says of its winner: `threads`, or `threads, tied with hybrid and proc (their
/// spreads overlap)` when the gap is inside the noise.
pub fn fastest_line(table: &Table) -> Option<String> {
    let fastest = table.fastest.as_ref()?;
    Some(match table.tied.as_slice() {
        [] => fastest.clone(),
        [one] => format!("{fastest}, tied with {one} (their spreads overlap)"),
        [rest @ .., last] => format!(
            "{fastest}, tied with {} and {last} (their spreads overlap)",
            rest.join(", ")
        ),
    })
}

/// One tree, one cache state, one work: rows ranked by median, then the unranked ones.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// The tree's name.
    pub target: String,
    /// Warm or cold.
    pub cache: Cache,
    /// The work, when the bench ran them as an axis (`--work`); `None`: counting, as always.
    pub work: Option<Work>,
    /// The fastest a reader could be here ([`Limit`]), with `--work`.
    pub limit: Option<Limit>,
    /// Files in the tree.
    pub files: u64,
    /// Bytes in the tree.
    pub bytes: u64,
    /// Rows, ranked first.
    pub rows: Vec<Row>,
    /// The fastest ranked row's label.
    pub fastest: Option<String>,
    /// The other ranked rows whose spread (min–max) overlaps the fastest's: within the noise of
    /// this machine, a tie rather than a loss.
    pub tied: Vec<String>,
}

/// Summarizes the measured runs of `target` in `cache` state under `work` (`None`: counting,
/// without the work axis), variant by variant in the order given — the reference in every
/// work's table — then ranks them.
pub fn table(
    target: &str,
    cache: Cache,
    work: Option<Work>,
    expected: &Expected,
    variants: &[Variant],
    records: &[RunRecord],
) -> Table {
    let mut rows: Vec<Row> = variants
        .iter()
        .filter(|v| v.work == work.unwrap_or_default() || v.is(Reader::ReadOnly))
        .filter_map(|v| {
            let runs: Vec<&RunRecord> = records
                .iter()
                .filter(|r| {
                    r.target == target
                        && r.cache == cache
                        && r.round > 0
                        && r.variant.label == v.label
                        && r.variant.work == v.work
                })
                .collect();
            (!runs.is_empty()).then(|| row(v, &runs, expected))
        })
        .collect();
    rank(&mut rows);
    let best = rows.iter().find(|r| r.rank.is_some());
    let fastest = best.map(|r| r.label.clone());
    let tied = best
        .map(|best| {
            rows.iter()
                .filter(|r| r.rank.is_some() && r.label != best.label && r.min_ms <= best.max_ms)
                .map(|r| r.label.clone())
                .collect()
        })
        .unwrap_or_default();
    Table {
        target: target.to_string(),
        cache,
        work,
        limit: None,
        files: expected.files,
        bytes: expected.bytes,
        rows,
        fastest,
        tied,
    }
}

fn row(v: &Variant, runs: &[&RunRecord], expected: &Expected) -> Row {
    let pick = |f: fn(&Measurement) -> f64| -> Vec<f64> {
        runs.iter().map(|r| f(&r.measurement)).collect()
    };
    let wall = pick(|m| m.wall_ms);
    let verdict = runs
        .iter()
        .map(|r| &r.verdict)
        .max_by_key(|v| match v {
            Verdict::Ok => 0,
            Verdict::Wrong(_) => 1,
            Verdict::Failed(_) => 2,
        })
        .cloned()
        .unwrap_or(Verdict::Failed("no runs".into()));
    let median_ms = median(&wall);
    let secs = median_ms / 1e3;
    let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let last = runs.last().map(|r| &r.measurement);
    Row {
        label: v.label.clone(),
        reader: v.reader.clone(),
        jobs: v.jobs,
        jobs_used: last.and_then(|m| m.jobs_used),
        threshold: v.threshold.clone(),
        runs: runs.len(),
        median_ms,
        min_ms: wall.iter().copied().fold(f64::INFINITY, f64::min),
        max_ms: wall.iter().copied().fold(0.0, f64::max),
        user_ms: median(&pick(|m| m.user_ms)),
        sys_ms: median(&pick(|m| m.sys_ms)),
        peak_rss_kib: runs
            .iter()
            .map(|r| r.measurement.peak_rss_kib)
            .max()
            .unwrap_or(0),
        peak_vm_kib: runs.iter().filter_map(|r| r.measurement.peak_vm_kib).max(),
        threads: runs.iter().filter_map(|r| r.measurement.threads).max(),
        verdict,
        rank: None,
        speedup: None,
        over_sequential: None,
        vs_reference: None,
        vs_limit: None,
        files_per_s: per_s(expected.files),
        mb_per_s: per_s(expected.bytes) / 1e6,
    }
}

/// Orders rows: the reference first (unranked), the OK ones by median (ranked 1, 2…, with
/// their speedup over the slowest of them, over the sequential reader, and their ratio to the
/// reference), then the wrong and failed ones, unranked.
pub fn rank(rows: &mut [Row]) {
    let class = |r: &Row| match (r.is(Reader::ReadOnly), r.verdict == Verdict::Ok) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    };
    rows.sort_by(|a, b| {
        class(a)
            .cmp(&class(b))
            .then(a.median_ms.total_cmp(&b.median_ms))
    });
    let ranked = |r: &Row| class(r) == 1;
    let slowest = rows
        .iter()
        .filter(|r| ranked(r))
        .map(|r| r.median_ms)
        .fold(0.0, f64::max);
    let sequential = rows
        .iter()
        .find(|r| ranked(r) && r.is(Reader::Seq))
        .map(|r| r.median_ms);
    let reference = rows
        .iter()
        .find(|r| r.is(Reader::ReadOnly) && r.verdict == Verdict::Ok && r.median_ms > 0.0)
        .map(|r| r.median_ms);
    let mut place = 0;
    for r in rows.iter_mut() {
        let ok = r.verdict == Verdict::Ok && r.median_ms > 0.0;
        r.vs_reference = reference.filter(|_| ok).map(|limit| r.median_ms / limit);
        if !ranked(r) {
            continue;
        }
        place += 1;
        r.rank = Some(place);
        r.speedup = ok.then(|| slowest / r.median_ms);
        r.over_sequential = sequential.filter(|_| ok).map(|seq| seq / r.median_ms);
    }
}

/// Gives `table` its limit: its reference's median plus its bytes spread over `cores` at
/// `per_core` bytes a second each; and each correct row its ratio to that limit. Nothing
/// without a correct reference run.
pub fn set_limit(table: &mut Table, cores: usize, per_core: f64) {
    let reference = table
        .rows
        .iter()
        .find(|r| r.is(Reader::ReadOnly) && r.verdict == Verdict::Ok)
        .map(|r| r.median_ms);
    table.limit = reference.and_then(|ms| Limit::new(ms, table.bytes, cores, per_core));
    let Some(limit) = table.limit else {
        return;
    };
    for r in &mut table.rows {
        r.vs_limit =
            (r.verdict == Verdict::Ok && r.median_ms > 0.0).then(|| r.median_ms / limit.ms);
    }
}

/// Whether `reader` is a baseline — `wc`, a digest tool, or one of the original's Python
/// readers — rather than one of ours: ranked beside them, never recommended.
pub fn is_baseline(reader: &str) -> bool {
    Reader::from_label(reader) == Some(Reader::Wc)
        || Tool::named(reader).is_some()
        || super::original::is_python(reader)
}

/// How one reader's median changes with `--jobs`.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// The reader (with its threshold, for the hybrid).
    pub reader: String,
    /// `(jobs, median ms, MB/s, speedup over the fewest jobs)`, by jobs.
    pub points: Vec<(usize, f64, f64, f64)>,
}

impl Scaling {
    /// The points for people: `-j 1: 12.3 ms (1.00×), -j 2: 7.1 ms (1.73×)`.
    pub fn describe(&self) -> String {
        self.points
            .iter()
            .map(|(j, m, _, x)| format!("-j {j}: {} ms ({x:.2}×)", super::report::ms(*m)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The scaling of every reader that ran with two or more explicit `--jobs` values (OK rows only).
pub fn scaling(table: &Table) -> Vec<Scaling> {
    let mut by_reader: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in table
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Ok && r.jobs.is_some() && r.threshold.is_none())
    {
        by_reader.entry(r.reader.clone()).or_default().push(r);
    }
    by_reader
        .into_iter()
        .filter(|(_, rows)| rows.len() > 1)
        .map(|(reader, mut rows)| {
            rows.sort_by_key(|r| r.jobs);
            let base = rows[0].median_ms;
            let points = rows
                .iter()
                .map(|r| {
                    let speedup = if r.median_ms > 0.0 {
                        base / r.median_ms
                    } else {
                        0.0
                    };
                    (r.jobs.unwrap_or(0), r.median_ms, r.mb_per_s, speedup)
                })
                .collect();
            Scaling { reader, points }
        })
        .collect()
}

/// What to use on a tree, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The cache state it is for: a tree read again soon is warm, one read once is cold.
    pub cache: Cache,
    /// The work it is for, with `--work`.
    pub work: Option<Work>,
    /// The winning row's label.
    pub label: String,
    /// The command line to use (without the PATH).
    pub command: String,
    /// Its median.
    pub median_ms: f64,
    /// How many times faster than the sequential baseline, if that ran.
    pub over_sequential: Option<f64>,
    /// Other rows whose median is within 10% of the winner's.
    pub within_noise: Vec<String>,
    /// The recommendation in a sentence or two.
    pub text: String,
}

/// Rows whose median is within this fraction of the winner's are named as just as good.
const CLOSE: f64 = 0.10;

/// A winner whose slowest run took this many times its fastest was measured on a busy machine.
const NOISY: f64 = 1.5;

/// Picks the fastest correct reader (never `wc`) and says which `--jobs` and threshold; but
/// when `reader-hybrid` with its defaults is within noise ([`CLOSE`]) of the fastest, picks
/// that, and says so: it needs no flags, and it adapts to a tree cached or not.
pub fn recommend(table: &Table) -> Option<Recommendation> {
    let candidates: Vec<&Row> = table
        .rows
        .iter()
        .filter(|r| r.rank.is_some() && !is_baseline(&r.reader))
        .collect();
    let fastest = *candidates.first()?;
    let defaults = candidates.iter().copied().find(|r| {
        r.is(Reader::Hybrid)
            && r.jobs.is_none()
            && r.threshold.is_none()
            && r.median_ms <= fastest.median_ms * (1.0 + CLOSE)
    });
    let best = defaults.unwrap_or(fastest);
    let mut command = Reader::from_label(&best.reader)?.command();
    if let Some(algorithm) = table.work.and_then(Work::algorithm) {
        command.push_str(&format!(" --digest {algorithm}"));
    }
    let jobs = best.jobs.map(|j| j as u64).or(best.jobs_used);
    // The defaults are recommended as they are: what they chose here may differ elsewhere.
    if let Some(jobs) = jobs.filter(|_| defaults.is_none()) {
        command.push_str(&format!(" --jobs {jobs}"));
    }
    if let Some(threshold) = &best.threshold {
        command.push_str(&format!(" --threshold {threshold}"));
    }
    let over_sequential = candidates
        .iter()
        .find(|r| r.is(Reader::Seq))
        .filter(|_| best.median_ms > 0.0)
        .map(|seq| seq.median_ms / best.median_ms);
    let within_noise: Vec<String> = candidates
        .iter()
        .filter(|&&r| !std::ptr::eq(r, best) && r.median_ms <= best.median_ms * (1.0 + CLOSE))
        .map(|r| r.label.clone())
        .collect();
    let mut text = format!("Use `{command}` on this tree");
    if best.is(Reader::Hybrid) && best.threshold.is_none() {
        text.push_str(if best.jobs.is_none() {
            " (its defaults)"
        } else {
            " (its default threshold)"
        });
    }
    text.push_str(&format!(": median {:.0} ms", best.median_ms));
    if !std::ptr::eq(best, fastest) {
        text.push_str(&format!(
            ", within {:.0}% of the fastest here, `{}` at {:.0} ms: that is within noise, and \
             the defaults need no tuning and adapt to a tree cached or not",
            (best.median_ms / fastest.median_ms - 1.0) * 100.0,
            fastest.label,
            fastest.median_ms
        ));
    }
    if let Some(x) = over_sequential {
        text.push_str(&format!(", {x:.2}× the sequential baseline"));
    }
    text.push('.');
    if !within_noise.is_empty() {
        text.push_str(&format!(
            " Within {:.0}% of it: {}; any of them will do.",
            CLOSE * 100.0,
            within_noise.join(", ")
        ));
    }
    if best.min_ms > 0.0 && best.max_ms / best.min_ms > NOISY {
        text.push_str(&format!(
            " Its runs ranged {:.0}–{:.0} ms: the machine was busy; more --runs would sharpen this.",
            best.min_ms, best.max_ms
        ));
    }
    if let Some(wc) = table
        .rows
        .iter()
        .find(|r| r.is(Reader::Wc) && r.median_ms > 0.0)
    {
        text.push_str(&format!(" For scale: wc took {:.0} ms.", wc.median_ms));
    }
    Some(Recommendation {
        cache: table.cache,
        work: table.work,
        label: best.label.clone(),
        command,
        median_ms: best.median_ms,
        over_sequential,
        within_noise,
        text,
    })
}

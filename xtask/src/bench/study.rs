//! `cargo xtask bench --study`: the original Python project's claims, each put to a
//! measurement on this machine, with a verdict, and guidelines drawn from the same figures.
//!
//! Its experiments, each an ordinary interleaved benchmark ([`super::execute`]), among them:
//!
//! * **file size** — trees of one size each (256 B to 256 MiB, [`SIZE_TREES`]), every model,
//!   warm and cold: which model wins at which size, and where threads overtake async (the
//!   original routes at 10 KB);
//! * **concurrency** — every concurrent model at `--jobs` 1, 4, 16, 64 and 256 on the 4 KiB
//!   tree, warm: peak memory against concurrency (the original's "8 KB a coroutine, 8 MB a
//!   thread, 10 MB+ a process") and time against `--jobs` (its "semaphore of 2–4× the cores,
//!   threads = cores + 1");
//! * **the headline** — the original's own workload, 1,000 mixed files (`seed-mixed`), every
//!   model, beside its published table (hybrid 2.34 s, async 3.21, threading 4.12,
//!   multiprocessing 5.03);
//! * **other mixes** — two more mixed trees ([`MIX_TREES`]), every model, warm and cold: most
//!   files small and most bytes in a few large ones, and most files large; which model wins
//!   each, and whether the hybrid is the fastest on mixed trees, as the original says.
//!
//! The file-size experiment is also the CPU axis: every reader runs each of its trees with
//! work of rising CPU cost a byte (counting, then counting and xxh3, blake3, sha256: see
//! [`super::Work`]) in the same rounds, each table with its limit, so that the claims about
//! CPU-intensive work ("use multiprocessing", "threads for mixed I/O and CPU", "async is
//! limited by single-thread CPU", "IPC is the process model's bottleneck") get a verdict too.
//!
//! The judgement is pure functions over the experiments' tables, unit-tested with a fake
//! runner: [`claims`], [`guidelines`] and [`mix_findings`].

use serde::Serialize;

use super::reader::Reader;
use super::report;
use super::stats::{Cache, Row, Table};
use super::work::Work;
use reader_core::Algorithm;

/// The study's trees of one file size each, smallest first: fixture profile and file size.
pub const SIZE_TREES: &[(&str, u64)] = &[
    ("size-256B", 256),
    ("size-4KiB", 4 << 10),
    ("size-64KiB", 64 << 10),
    ("size-1MiB", 1 << 20),
    ("size-16MiB", 16 << 20),
    ("size-256MiB", 256 << 20),
];

/// The trees of the growth experiment by count: 10² to 10⁵ files of 1 KiB.
pub const COUNT_TREES: &[(&str, u64)] = &[
    ("files-100", 100),
    ("files-1000", 1_000),
    ("files-10000", 10_000),
    ("files-100000", 100_000),
];

/// The files of the growth experiment by bytes: one sparse file each (holes read as zeros,
/// from memory: what grows is the reading, not the disk).
pub const BYTE_FILES: &[(&str, u64)] = &[
    ("bytes-1MiB", 1 << 20),
    ("bytes-16MiB", 16 << 20),
    ("bytes-256MiB", 256 << 20),
    ("bytes-4GiB", 4 << 30),
];

/// The study's other mixed trees, nested like `seed-mixed`: fixture profile, and what it holds.
pub const MIX_TREES: &[(&str, &str)] = &[
    (
        "mix-many-small",
        "90 % of the files under 4 KiB holding 10 % of the bytes, the rest 128–352 KiB",
    ),
    (
        "mix-many-large",
        "90 % of the files of 128 KiB – 1 MiB, 10 % under 4 KiB",
    ),
];

/// The profiles of [`MIX_TREES`], for the bench's options.
pub fn mix_profiles() -> Vec<String> {
    MIX_TREES.iter().map(|m| m.0.to_string()).collect()
}

/// The tree the concurrency experiment runs on.
pub const CONCURRENCY_TREE: &str = "size-4KiB";

/// The `--jobs` the concurrency experiment sweeps.
pub const JOBS: &[usize] = &[1, 4, 16, 64, 256];

/// The readers of each model the claims speak of, by the original's names.
const ASYNC: &[Reader] = &[Reader::AsyncTokio, Reader::AsyncStd, Reader::AsyncUring];
const THREADS: &[Reader] = &[Reader::Threads];
const HYBRID: &[Reader] = &[Reader::Hybrid];
const PROCESSES: &[Reader] = &[Reader::Proc];

/// The original's headline table: model, its readers here, seconds published.
const HEADLINE: &[(&str, &[Reader], f64)] = &[
    ("hybrid", HYBRID, 2.34),
    ("async", ASYNC, 3.21),
    ("threading", THREADS, 4.12),
    ("multiprocessing", PROCESSES, 5.03),
];

/// How a claim fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The measurements agree with it.
    Holds,
    /// They contradict it.
    DoesNotHold,
    /// It holds in some of the conditions measured and not in others (the text says which).
    Depends,
    /// Nothing measured could say (a tree or reader did not run).
    NotMeasured,
}

impl Finding {
    /// [`Finding::Holds`] if the measurements agree, else [`Finding::DoesNotHold`].
    fn holds_if(agree: bool) -> Finding {
        if agree {
            Finding::Holds
        } else {
            Finding::DoesNotHold
        }
    }

    /// The verdict for people.
    pub fn word(&self) -> &'static str {
        match self {
            Finding::Holds => "holds",
            Finding::DoesNotHold => "does not hold",
            Finding::Depends => "depends",
            Finding::NotMeasured => "not measured",
        }
    }
}

/// One claim of the original, what was measured here, and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// The claim, as the original makes it.
    pub claim: String,
    /// What this machine measured.
    pub measured: String,
    /// The verdict.
    pub finding: Finding,
}

/// The tables of the three experiments.
#[derive(Debug, Clone, Default)]
pub struct Experiments {
    /// One table per size tree and cache state, counting.
    pub sizes: Vec<Table>,
    /// The CPU axis: one table per size tree, cache state and work (counting too), each with
    /// its limit.
    pub works: Vec<Table>,
    /// The concurrency sweep, warm (rows `reader -j N`): memory and time.
    pub concurrency: Option<Table>,
    /// The same sweep with a cold cache: time.
    pub concurrency_cold: Option<Table>,
    /// The same sweep once more, warm, with the peak virtual size sampled (which costs a
    /// little time, so these rows are not timed).
    pub virtual_memory: Option<Table>,
    /// Growth by count: one table per [`COUNT_TREES`] tree and cache state.
    pub files: Vec<Table>,
    /// Growth by bytes: one warm table per [`BYTE_FILES`] file.
    pub bytes: Vec<Table>,
    /// The headline workload (warm, and cold when measured).
    pub headline: Vec<Table>,
    /// The other mixes ([`MIX_TREES`]): one table per tree and cache state.
    pub mixes: Vec<Table>,
}

fn table<'a>(tables: &'a [Table], target: &str, cache: Cache) -> Option<&'a Table> {
    tables
        .iter()
        .find(|t| t.target == target && t.cache == cache)
}

/// The best (lowest median) ranked row of `readers` in `table`.
fn best_of<'a>(table: &'a Table, readers: &[Reader]) -> Option<&'a Row> {
    table
        .rows
        .iter()
        .filter(|r| r.rank.is_some() && readers.iter().any(|&x| r.is(x)))
        .min_by(|a, b| a.median_ms.total_cmp(&b.median_ms))
}

/// How one model did on one table: fastest beyond the noise, among the fastest within it, or
/// beaten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Won,
    Tied,
    Lost,
}

fn place(table: &Table, readers: &[Reader]) -> Place {
    let model = |label: &String| {
        table
            .rows
            .iter()
            .any(|r| &r.label == label && readers.iter().any(|&x| r.is(x)))
    };
    let fastest_is_model = table.fastest.as_ref().is_some_and(model);
    let all_tied_are_model = table.tied.iter().all(model);
    match (fastest_is_model, all_tied_are_model) {
        // Only this model at the top.
        (true, true) => Place::Won,
        _ if table.fastest.iter().chain(&table.tied).any(model) => Place::Tied,
        _ => Place::Lost,
    }
}

/// The finding of a claim that a model is best, from its places: holds where it won
/// everywhere; does not hold where it was beaten everywhere; depends otherwise (ties within
/// the noise count as neither).
fn best_finding(places: &[Place]) -> Finding {
    let count = |p: Place| places.iter().filter(|&&q| q == p).count();
    match (count(Place::Won), count(Place::Tied), count(Place::Lost)) {
        (0, 0, 0) => Finding::NotMeasured,
        (_, 0, 0) => Finding::Holds,
        (0, 0, _) => Finding::DoesNotHold,
        _ => Finding::Depends,
    }
}

/// `won 2, tied within the noise 3, beaten 1 (of 6)`.
fn places_text(places: &[Place]) -> String {
    let count = |p: Place| places.iter().filter(|&&q| q == p).count();
    format!(
        "won {}, tied within the noise {}, beaten {} (of {})",
        count(Place::Won),
        count(Place::Tied),
        count(Place::Lost),
        places.len()
    )
}

/// The winner of a table, short: `threads`, or `threads (2 others within the noise)`.
fn winner_short(table: &Table) -> String {
    match (&table.fastest, table.tied.len()) {
        (None, _) => "nobody".into(),
        (Some(f), 0) => f.clone(),
        (Some(f), 1) => format!("{f} (or {}, within the noise)", table.tied[0]),
        (Some(f), n) => format!("{f} ({n} others within the noise)"),
    }
}

/// The winner of a table in words: `threads` or `threads (tied with hybrid)`.
fn winner(table: &Table) -> String {
    match (&table.fastest, table.tied.as_slice()) {
        (None, _) => "nobody".into(),
        (Some(f), []) => f.clone(),
        (Some(f), tied) => format!("{f} (tied with {})", tied.join(", ")),
    }
}

/// A claim that one model wins on some size trees: holds where it wins in every cache state
/// measured, depends where it wins in some.
fn wins_on(experiments: &Experiments, claim: &str, sizes: &[&str], readers: &[Reader]) -> Claim {
    let mut places = Vec::new();
    let mut measured = Vec::new();
    for &size in sizes {
        for cache in [Cache::Warm, Cache::Cold] {
            if let Some(t) = table(&experiments.sizes, size, cache) {
                places.push(place(t, readers));
                measured.push(format!("{size} {}: {}", cache.as_str(), winner(t)));
            }
        }
    }
    Claim {
        claim: claim.into(),
        measured: format!(
            "{}; fastest — {}",
            places_text(&places),
            measured.join("; ")
        ),
        finding: best_finding(&places),
    }
}

/// Where threads overtake async, from the size trees in `cache` state: the first pair of
/// neighbouring sizes between which the best async reader goes from faster to slower than
/// threads. `Some((below, above))`, or `None` when it never changes sides (or did not run).
pub fn crossover(experiments: &Experiments, cache: Cache) -> Option<(u64, u64)> {
    let faster: Vec<(u64, bool)> = SIZE_TREES
        .iter()
        .filter_map(|&(name, size)| {
            let t = table(&experiments.sizes, name, cache)?;
            let a = best_of(t, ASYNC)?;
            let th = best_of(t, THREADS)?;
            Some((size, a.median_ms < th.median_ms))
        })
        .collect();
    faster
        .windows(2)
        .find(|w| w[0].1 && !w[1].1)
        .map(|w| (w[0].0, w[1].0))
}

/// 10 KB, the original's threshold between async and threads.
const ORIGINAL_THRESHOLD: u64 = 10_000;

fn threshold_claim(experiments: &Experiments) -> Claim {
    let mut measured = Vec::new();
    let mut findings = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        if !experiments.sizes.iter().any(|t| t.cache == cache) {
            continue;
        }
        match crossover(experiments, cache) {
            Some((below, above)) => {
                measured.push(format!(
                    "{}: threads overtake async between {} and {}",
                    cache.as_str(),
                    size_name(below),
                    size_name(above)
                ));
                findings.push((below..=above).contains(&ORIGINAL_THRESHOLD));
            }
            None => {
                measured.push(format!(
                    "{}: async and threads never change places across 256 B – 256 MiB",
                    cache.as_str()
                ));
                findings.push(false);
            }
        }
    }
    Claim {
        claim: "10 KB is where threads become more efficient than async (the hybrid's routing threshold)".into(),
        measured: measured.join("; "),
        finding: verdict_of(&findings),
    }
}

fn verdict_of(findings: &[bool]) -> Finding {
    match (findings.iter().filter(|&&f| f).count(), findings.len()) {
        (_, 0) => Finding::NotMeasured,
        (0, _) => Finding::DoesNotHold,
        (h, n) if h == n => Finding::Holds,
        _ => Finding::Depends,
    }
}

/// A size for people: `256 B`, `4 KiB`, `16 MiB`.
pub fn size_name(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// The least-squares slope of peak RSS (KiB) against `--jobs`, per reader of the sweep:
/// what one more job costs in memory. `None` with fewer than two points.
pub fn memory_slope(table: &Table, reader: Reader) -> Option<f64> {
    slope(table, reader, |r| Some(r.peak_rss_kib as f64))
}

/// [`memory_slope`] of the peak virtual size (address space reserved, e.g. thread stacks).
pub fn virtual_slope(table: &Table, reader: Reader) -> Option<f64> {
    slope(table, reader, |r| r.peak_vm_kib.map(|v| v as f64))
}

fn slope(table: &Table, reader: Reader, figure: fn(&Row) -> Option<f64>) -> Option<f64> {
    let points: Vec<(f64, f64)> = table
        .rows
        .iter()
        .filter(|r| r.is(reader) && r.rank.is_some())
        .filter_map(|r| Some((r.jobs? as f64, figure(r)?)))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// A claim about memory a job: holds when the measured cost is within a factor of 2 of the
/// original's figure (in KiB).
fn memory_claim(table: Option<&Table>, claim: &str, readers: &[Reader], claimed_kib: f64) -> Claim {
    let slopes: Vec<(String, f64)> = table
        .into_iter()
        .flat_map(|t| {
            readers
                .iter()
                .filter_map(move |&r| memory_slope(t, r).map(|s| (r.to_string(), s)))
        })
        .collect();
    if slopes.is_empty() {
        return Claim {
            claim: claim.into(),
            measured: "no --jobs sweep ran".into(),
            finding: Finding::NotMeasured,
        };
    }
    let findings: Vec<bool> = slopes
        .iter()
        .map(|(_, s)| (claimed_kib / 2.0..=claimed_kib * 2.0).contains(s))
        .collect();
    let measured = slopes
        .iter()
        .map(|(r, s)| format!("{r}: {} of resident memory per job", kib(*s)))
        .collect::<Vec<_>>()
        .join("; ");
    Claim {
        claim: claim.into(),
        measured,
        finding: verdict_of(&findings),
    }
}

/// The thread claim is about the stack each thread reserves: judged by the virtual size a
/// thread adds, with the resident memory it adds beside it.
fn thread_claim(experiments: &Experiments) -> Claim {
    let claim = "about 8 MB of memory per thread";
    let resident = experiments
        .concurrency
        .as_ref()
        .and_then(|t| memory_slope(t, Reader::Threads));
    let Some(reserved) = experiments
        .virtual_memory
        .as_ref()
        .and_then(|t| virtual_slope(t, Reader::Threads))
    else {
        return memory_claim(experiments.concurrency.as_ref(), claim, THREADS, 8192.0);
    };
    let finding = Finding::holds_if((4096.0..=16384.0).contains(&reserved));
    Claim {
        claim: claim.into(),
        measured: format!(
            "threads: {} of address space reserved per thread (its stack){}",
            kib(reserved),
            resident.map_or(String::new(), |r| format!(", {} of it resident", kib(r)))
        ),
        finding,
    }
}

/// The process claim is about each process, not the slope: the largest process of a
/// `reader-proc` run is one worker (or the parent), whatever `--jobs`.
fn process_claim(table: Option<&Table>) -> Claim {
    let claim = "about 10 MB or more of memory per process";
    let rows: Vec<&Row> = table
        .into_iter()
        .flat_map(|t| t.rows.iter())
        .filter(|r| r.is(Reader::Proc) && r.rank.is_some())
        .collect();
    let Some(largest) = rows.iter().map(|r| r.peak_rss_kib).max() else {
        return Claim {
            claim: claim.into(),
            measured: "no --jobs sweep of proc ran".into(),
            finding: Finding::NotMeasured,
        };
    };
    let smallest = rows.iter().map(|r| r.peak_rss_kib).min().unwrap_or(largest);
    // 10 MB, in KiB; like the other memory claims, it holds within a factor of 2.
    let claimed_kib = 10_000_000.0 / 1024.0;
    let finding = Finding::holds_if(largest as f64 >= claimed_kib / 2.0);
    Claim {
        claim: claim.into(),
        measured: format!(
            "the largest process of a run (a worker or the parent) peaked at {}–{} resident over -j {}",
            kib(smallest as f64),
            kib(largest as f64),
            jobs_list()
        ),
        finding,
    }
}

fn jobs_list() -> String {
    JOBS.iter()
        .map(|j| j.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// KiB for people: `12 KiB`, `8.0 MiB`; negative slopes (noise) as they are.
fn kib(v: f64) -> String {
    if v.abs() >= 1024.0 {
        format!("{:.1} MiB", v / 1024.0)
    } else {
        format!("{v:.0} KiB")
    }
}

/// The `--jobs` at which `reader` was fastest in the sweep, and those within its spread.
pub fn best_jobs(table: &Table, reader: Reader) -> Option<(usize, Vec<usize>)> {
    let rows: Vec<&Row> = table
        .rows
        .iter()
        .filter(|r| r.is(reader) && r.rank.is_some() && r.jobs.is_some())
        .collect();
    let best = rows
        .iter()
        .min_by(|a, b| a.median_ms.total_cmp(&b.median_ms))?;
    let mut close: Vec<usize> = rows
        .iter()
        .filter(|r| r.min_ms <= best.max_ms)
        .filter_map(|r| r.jobs)
        .collect();
    close.sort_unstable();
    Some((best.jobs?, close))
}

fn concurrency_claim(
    experiments: &Experiments,
    claim: &str,
    readers: &[Reader],
    good: impl Fn(usize) -> bool,
) -> Claim {
    let mut measured = Vec::new();
    let mut findings = Vec::new();
    let sweeps = experiments
        .concurrency
        .iter()
        .chain(&experiments.concurrency_cold);
    for t in sweeps {
        for &reader in readers {
            if let Some((best, close)) = best_jobs(t, reader) {
                measured.push(format!(
                    "{reader} {}: fastest at -j {best} (as fast within the noise: -j {})",
                    t.cache.as_str(),
                    close
                        .iter()
                        .map(|j| j.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                // Holds when a setting in the claimed range is as fast as the best one.
                findings.push(close.iter().any(|&j| good(j)));
            }
        }
    }
    if measured.is_empty() {
        measured.push("no --jobs sweep ran".into());
    }
    Claim {
        claim: claim.into(),
        measured: format!("on {CONCURRENCY_TREE}: {}", measured.join("; ")),
        finding: verdict_of(&findings),
    }
}

fn headline_claims(experiments: &Experiments) -> Vec<Claim> {
    let mut out = Vec::new();
    for t in &experiments.headline {
        let here: Vec<(&str, Option<&Row>, f64)> = HEADLINE
            .iter()
            .map(|&(model, readers, published)| (model, best_of(t, readers), published))
            .collect();
        let mut measured: Vec<(&str, f64)> = here
            .iter()
            .filter_map(|(m, r, _)| r.map(|r| (*m, r.median_ms)))
            .collect();
        measured.sort_by(|a, b| a.1.total_cmp(&b.1));
        let order: Vec<&str> = measured.iter().map(|m| m.0).collect();
        let published: Vec<&str> = HEADLINE.iter().map(|h| h.0).collect();
        let finding = if measured.len() < HEADLINE.len() {
            Finding::NotMeasured
        } else if order == published {
            Finding::Holds
        } else if order.first() == published.first() {
            Finding::Depends
        } else {
            Finding::DoesNotHold
        };
        let side_by_side = here
            .iter()
            .map(|(m, r, p)| match r {
                Some(r) => format!("{m} {:.1} ms (published {p:.2} s)", r.median_ms),
                None => format!("{m} not run (published {p:.2} s)"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Claim {
            claim: format!(
                "on 1,000 mixed files the order is hybrid, async, threading, multiprocessing ({})",
                t.cache.as_str()
            ),
            measured: format!("order here: {}; {side_by_side}", order.join(", ")),
            finding,
        });
    }
    out
}

fn hybrid_claim(experiments: &Experiments) -> Claim {
    let digests = experiments
        .works
        .iter()
        .filter(|t| t.work.is_some_and(|w| w != Work::Count));
    let all: Vec<&Table> = experiments
        .sizes
        .iter()
        .chain(digests)
        .chain(&experiments.headline)
        .chain(&experiments.mixes)
        .collect();
    let places: Vec<Place> = all.iter().map(|t| place(t, HYBRID)).collect();
    Claim {
        claim: "hybrid has the highest overall throughput".into(),
        measured: format!(
            "over the {} trees, cache states and works measured, hybrid {}",
            all.len(),
            places_text(&places)
        ),
        finding: best_finding(&places),
    }
}

/// Every claim of the original, judged from the experiments.
pub fn claims(experiments: &Experiments, cores: usize) -> Vec<Claim> {
    let sweep = experiments.concurrency.as_ref();
    let mut out = vec![
        wins_on(
            experiments,
            "async is best for small files (< 1 KB)",
            &["size-256B"],
            ASYNC,
        ),
        wins_on(
            experiments,
            "threads are best for medium files (1–100 KB)",
            &["size-4KiB", "size-64KiB"],
            THREADS,
        ),
        wins_on(
            experiments,
            "multiprocessing is best for large files",
            &["size-16MiB", "size-256MiB"],
            PROCESSES,
        ),
        hybrid_claim(experiments),
        threshold_claim(experiments),
        memory_claim(sweep, "about 8 KB of memory per coroutine", ASYNC, 8.0),
        thread_claim(experiments),
        process_claim(sweep),
        concurrency_claim(
            experiments,
            "a semaphore of 2–4× the cores is best for async",
            ASYNC,
            |j| (2 * cores..=4 * cores).contains(&j),
        ),
        concurrency_claim(experiments, "threads = cores + 1 is best", THREADS, |j| {
            j == cores + 1 || j == cores
        }),
        wins_on_trees(
            &experiments.files,
            "async's sweet spot is 1,000–10,000 small files",
            &["files-1000", "files-10000"],
            ASYNC,
        ),
        growth_claim(
            &experiments.files,
            COUNT_TREES,
            "the time grows linearly with the number of files",
            "files",
        ),
        growth_claim(
            &experiments.bytes,
            BYTE_FILES,
            "the time grows linearly with the bytes of a file",
            "bytes",
        ),
    ];
    out.extend(headline_claims(experiments));
    out.extend([
        mixed_trees_claim(experiments),
        cpu_claim(experiments),
        mixed_claim(experiments),
        async_cpu_claim(experiments),
        ipc_claim(experiments),
    ]);
    out
}

/// Every mixed tree measured: the headline's, then the other mixes.
fn mixed_tables(experiments: &Experiments) -> Vec<&Table> {
    experiments
        .headline
        .iter()
        .chain(&experiments.mixes)
        .collect()
}

/// The original's headline claim, that its hybrid is the fastest on mixed trees, put to every
/// mixed tree and cache state measured, with the study's noise rule ([`best_finding`]).
fn mixed_trees_claim(experiments: &Experiments) -> Claim {
    let tables = mixed_tables(experiments);
    let places: Vec<Place> = tables.iter().map(|t| place(t, HYBRID)).collect();
    let measured = if tables.is_empty() {
        "not run".into()
    } else {
        format!(
            "over {} mixed trees and cache states, hybrid {}; fastest — {}",
            tables.len(),
            places_text(&places),
            winners_text(&tables)
        )
    };
    Claim {
        claim: "on mixed trees, hybrid has the highest overall throughput".into(),
        measured,
        finding: best_finding(&places),
    }
}

/// Which of the original's four models won `table`, under the study's noise rule: `threading
/// wins: threads`, or the models within the noise of each other, with the readers behind them.
pub fn model_result(table: &Table) -> String {
    let places: Vec<(&str, Place)> = HEADLINE
        .iter()
        .map(|&(model, readers, _)| (model, place(table, readers)))
        .collect();
    if let Some((model, _)) = places.iter().find(|p| p.1 == Place::Won) {
        return format!("{model} wins: {}", winner(table));
    }
    let tied: Vec<&str> = places
        .iter()
        .filter(|p| p.1 == Place::Tied)
        .map(|p| p.0)
        .collect();
    match tied.as_slice() {
        [] => format!("none of the four models: {}", winner(table)),
        [one] => format!("{one} leads within the noise: {}", winner(table)),
        [rest @ .., last] => format!(
            "{} and {last} within the noise of each other: {}",
            rest.join(", "),
            winner(table)
        ),
    }
}

/// One line per mixed tree: which model wins it in each cache state measured.
pub fn mix_findings(experiments: &Experiments) -> Vec<String> {
    let mut trees: Vec<&str> = Vec::new();
    for t in mixed_tables(experiments) {
        if !trees.contains(&t.target.as_str()) {
            trees.push(&t.target);
        }
    }
    trees
        .into_iter()
        .map(|tree| {
            let results: Vec<String> = mixed_tables(experiments)
                .into_iter()
                .filter(|t| t.target == tree)
                .map(|t| format!("{} — {}", t.cache.as_str(), model_result(t)))
                .collect();
            format!("{tree} ({}): {}", mix_kind(tree), results.join("; "))
        })
        .collect()
}

/// What a mixed tree holds, for people.
fn mix_kind(tree: &str) -> &'static str {
    match MIX_TREES.iter().find(|m| m.0 == tree) {
        Some(m) => m.1,
        None if tree == "seed-mixed" => "the original's 1,000 mixed files",
        None => "a mixed tree",
    }
}

/// A mixed tree's table as Markdown: every ranked reader with its median, spread and ratio to
/// the fastest, and where it stands under the noise rule.
fn mix_table(table: &Table) -> String {
    let fastest = table
        .rows
        .iter()
        .find(|r| r.rank == Some(1))
        .map(|r| r.median_ms);
    let mut out = format!(
        "### {} ({} files, {}), {} cache\n\n| reader | median | spread | × fastest | place |\n|---|---|---|---|---|\n",
        table.target,
        report::group(table.files),
        report::mib(table.bytes as f64),
        table.cache.as_str()
    );
    for r in &table.rows {
        let standing = if r.is(Reader::ReadOnly) {
            "reference".to_string()
        } else if r.rank.is_none() {
            r.verdict.word().to_string()
        } else if table.fastest.as_ref() == Some(&r.label) {
            "fastest".to_string()
        } else if table.tied.contains(&r.label) {
            "within the noise".to_string()
        } else {
            String::new()
        };
        let ratio = match fastest {
            Some(f) if f > 0.0 && r.median_ms > 0.0 => format!("{:.2}", r.median_ms / f),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {ratio} | {standing} |\n",
            r.label,
            report::duration(r.median_ms),
            report::spread(r.min_ms, r.max_ms)
        ));
    }
    out.push('\n');
    out
}

/// The costliest work of the CPU axis, where CPU-intensive claims are judged.
const COSTLIEST: Work = Work::Digest(Algorithm::Sha256);

/// The CPU axis's tables of `work`.
fn of_work(experiments: &Experiments, work: Work) -> Vec<&Table> {
    experiments
        .works
        .iter()
        .filter(|t| t.work == Some(work))
        .collect()
}

/// `size-4KiB warm: threads; …` for the tables given.
fn winners_text(tables: &[&Table]) -> String {
    tables
        .iter()
        .map(|t| format!("{} {}: {}", t.target, t.cache.as_str(), winner(t)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "Use multiprocessing when CPU-intensive processing is required": judged as a claim that
/// proc is best, on every size tree and cache state, under the costliest work.
fn cpu_claim(experiments: &Experiments) -> Claim {
    let tables = of_work(experiments, COSTLIEST);
    let places: Vec<Place> = tables.iter().map(|t| place(t, PROCESSES)).collect();
    Claim {
        claim: "use multiprocessing when CPU-intensive processing is required".into(),
        measured: format!(
            "under {}, proc {}; fastest — {}",
            COSTLIEST.describe(),
            places_text(&places),
            winners_text(&tables)
        ),
        finding: best_finding(&places),
    }
}

/// "Threading is good for mixed I/O and CPU workloads": good is fastest or within the noise
/// of it; judged under every digest work (I/O and CPU both), on every size tree and cache.
fn mixed_claim(experiments: &Experiments) -> Claim {
    let tables: Vec<&Table> = experiments
        .works
        .iter()
        .filter(|t| t.work.is_some_and(|w| w != Work::Count))
        .collect();
    let places: Vec<Place> = tables.iter().map(|t| place(t, THREADS)).collect();
    let good = places.iter().filter(|&&p| p != Place::Lost).count();
    let finding = match (good, places.len()) {
        (_, 0) => Finding::NotMeasured,
        (g, n) if g == n => Finding::Holds,
        (0, _) => Finding::DoesNotHold,
        _ => Finding::Depends,
    };
    Claim {
        claim: "threading is good for mixed I/O and CPU workloads".into(),
        measured: format!(
            "under counting and a digest (xxh3, blake3, sha256), threads {}",
            places_text(&places)
        ),
        finding,
    }
}

/// A reader that keeps more than this many cores busy on average is not held to one.
const ONE_CORE: f64 = 1.25;

/// The cores a row kept busy on average: its CPU time ÷ its wall time.
pub fn cores_busy(row: &Row) -> Option<f64> {
    (row.median_ms > 0.0).then(|| (row.user_ms + row.sys_ms) / row.median_ms)
}

/// "Async is limited by single-thread CPU processing": judged where the CPU is what limits,
/// warm under the costliest work, by the cores the best async reader keeps busy: holds where
/// it keeps about one ([`ONE_CORE`]), does not where it keeps more.
fn async_cpu_claim(experiments: &Experiments) -> Claim {
    let mut measured = Vec::new();
    let mut findings = Vec::new();
    for t in of_work(experiments, COSTLIEST)
        .into_iter()
        .filter(|t| t.cache == Cache::Warm)
    {
        let Some(row) = best_of(t, ASYNC) else {
            continue;
        };
        let Some(busy) = cores_busy(row) else {
            continue;
        };
        let limit = row
            .vs_limit
            .map_or(String::new(), |x| format!(", {x:.2}× the limit"));
        measured.push(format!(
            "{} {}: {busy:.2} cores busy{limit}",
            t.target, row.label
        ));
        findings.push(busy <= ONE_CORE);
    }
    if measured.is_empty() {
        measured.push("not run".into());
    }
    Claim {
        claim: "async is limited by single-thread CPU processing".into(),
        measured: format!(
            "the best async reader, warm, under {}: {}",
            COSTLIEST.describe(),
            measured.join("; ")
        ),
        finding: verdict_of(&findings),
    }
}

/// proc's best median ÷ threads', and whether proc is slower beyond the noise (its fastest
/// run slower than threads' slowest).
fn proc_against_threads(table: &Table) -> Option<(f64, bool)> {
    let proc = best_of(table, PROCESSES)?;
    let threads = best_of(table, THREADS)?;
    (threads.median_ms > 0.0).then(|| {
        (
            proc.median_ms / threads.median_ms,
            proc.min_ms > threads.max_ms,
        )
    })
}

/// "IPC serialization is the process model's bottleneck": if it is, proc falls behind
/// threads where it sends the most messages a byte (counting 256 B files) and not where it
/// sends the fewest and computes the most (the costliest work on the 16 and 256 MiB trees).
/// Holds where that is so in every cache state; does not hold where proc keeps up on the
/// small files (IPC is no visible cost).
fn ipc_claim(experiments: &Experiments) -> Claim {
    let mut measured = Vec::new();
    let mut findings = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        let small = experiments
            .works
            .iter()
            .find(|t| t.target == "size-256B" && t.cache == cache && t.work == Some(Work::Count))
            .and_then(|t| proc_against_threads(t).map(|p| (t, p)));
        let large: Vec<(&Table, (f64, bool))> = of_work(experiments, COSTLIEST)
            .into_iter()
            .filter(|t| t.cache == cache && ["size-16MiB", "size-256MiB"].contains(&&*t.target))
            .filter_map(|t| proc_against_threads(t).map(|p| (t, p)))
            .collect();
        let Some((t, (ratio, behind))) = small else {
            continue;
        };
        let mut parts = vec![format!("{} counting {ratio:.2}×", t.target)];
        parts.extend(
            large
                .iter()
                .map(|(t, (r, _))| format!("{} {} {r:.2}×", t.target, COSTLIEST)),
        );
        measured.push(format!("{}: {}", cache.as_str(), parts.join(", ")));
        let keeps_up_on_large = large.iter().all(|(_, (_, behind))| !behind);
        findings.push(match (behind, keeps_up_on_large) {
            (true, true) => Some(true),
            (false, _) => Some(false),
            (true, false) => None,
        });
    }
    let finding = if findings.is_empty() {
        Finding::NotMeasured
    } else if findings.iter().all(|f| *f == Some(true)) {
        Finding::Holds
    } else if findings.iter().all(|f| *f == Some(false)) {
        Finding::DoesNotHold
    } else {
        Finding::Depends
    };
    if measured.is_empty() {
        measured.push("not run".into());
    }
    Claim {
        claim: "IPC serialization is the process model's bottleneck".into(),
        measured: format!("proc ÷ threads — {}", measured.join("; ")),
        finding,
    }
}

/// [`wins_on`] over any list of tables.
fn wins_on_trees(tables: &[Table], claim: &str, trees: &[&str], readers: &[Reader]) -> Claim {
    wins_on(
        &Experiments {
            sizes: tables.to_vec(),
            ..Experiments::default()
        },
        claim,
        trees,
        readers,
    )
}

/// How a reader's time grows with the work over `trees` (name, amount of work) in `cache`:
/// the exponent of a power law through the two largest amounts (the smallest are dominated by
/// start-up costs): 1 is linear. `None` unless both ran.
pub fn growth(tables: &[Table], trees: &[(&str, u64)], reader: &str, cache: Cache) -> Option<f64> {
    let point = |&(name, amount): &(&str, u64)| {
        let t = table(tables, name, cache)?;
        let row = t
            .rows
            .iter()
            .find(|r| r.reader == reader && r.rank.is_some())?;
        (row.median_ms > 0.0).then_some((amount as f64, row.median_ms))
    };
    let [.., a, b] = trees else {
        return None;
    };
    let ((x0, y0), (x1, y1)) = (point(a)?, point(b)?);
    Some((y1 / y0).ln() / (x1 / x0).ln())
}

/// A growth exponent within this of 1 is linear.
const LINEAR: f64 = 0.15;

fn growth_claim(tables: &[Table], trees: &[(&str, u64)], claim: &str, what: &str) -> Claim {
    let mut readers: Vec<&str> = Vec::new();
    for t in tables {
        for r in t.rows.iter().filter(|r| r.rank.is_some()) {
            if !readers.contains(&r.reader.as_str()) {
                readers.push(&r.reader);
            }
        }
    }
    let mut measured = Vec::new();
    let mut findings = Vec::new();
    for cache in [Cache::Warm, Cache::Cold] {
        for &reader in &readers {
            if let Some(k) = growth(tables, trees, reader, cache) {
                measured.push(format!("{reader} {}: time ∝ {what}^{k:.2}", cache.as_str()));
                findings.push((k - 1.0).abs() <= LINEAR);
            }
        }
    }
    if measured.is_empty() {
        measured.push("not run".into());
    }
    let (a, b) = match trees {
        [.., a, b] => (a.0, b.0),
        _ => ("", ""),
    };
    Claim {
        claim: claim.into(),
        measured: format!("from {a} to {b}: {}", measured.join("; ")),
        finding: verdict_of(&findings),
    }
}

/// The winners of `tables` ([`winner_short`]), each once, in the tables' order.
fn distinct_winners<'a>(tables: impl Iterator<Item = &'a Table>) -> Vec<String> {
    let mut winners: Vec<String> = Vec::new();
    for t in tables {
        let w = winner_short(t);
        if !winners.contains(&w) {
            winners.push(w);
        }
    }
    winners
}

/// What to use, from the same measurements: one line per kind of tree.
pub fn guidelines(experiments: &Experiments) -> Vec<String> {
    let mut out = Vec::new();
    let kinds = [
        ("small files (≤ 4 KiB)", &["size-256B", "size-4KiB"][..]),
        (
            "medium files (64 KiB – 1 MiB)",
            &["size-64KiB", "size-1MiB"][..],
        ),
        (
            "large files (16 MiB and up)",
            &["size-16MiB", "size-256MiB"][..],
        ),
    ];
    for (kind, trees) in kinds {
        for cache in [Cache::Warm, Cache::Cold] {
            let winners = distinct_winners(
                trees
                    .iter()
                    .filter_map(|name| table(&experiments.sizes, name, cache)),
            );
            if !winners.is_empty() {
                out.push(format!(
                    "{kind}, {} cache: {}",
                    cache.as_str(),
                    winners.join(" / ")
                ));
            }
        }
    }
    for work in Work::ALL.into_iter().filter(|w| *w != Work::Count) {
        for (kind, trees) in kinds {
            for cache in [Cache::Warm, Cache::Cold] {
                let winners = distinct_winners(experiments.works.iter().filter(|t| {
                    t.work == Some(work) && t.cache == cache && trees.contains(&&*t.target)
                }));
                if !winners.is_empty() {
                    out.push(format!(
                        "{work} over {kind}, {} cache: {}",
                        cache.as_str(),
                        winners.join(" / ")
                    ));
                }
            }
        }
    }
    for t in &experiments.headline {
        out.push(format!(
            "a mixed tree like the original's, {} cache: {}",
            t.cache.as_str(),
            winner_short(t)
        ));
    }
    for t in &experiments.mixes {
        out.push(format!(
            "a mixed tree of {}, {} cache: {}",
            mix_kind(&t.target),
            t.cache.as_str(),
            winner_short(t)
        ));
    }
    if let Some(sweep) = &experiments.concurrency {
        let settings: Vec<String> = [
            Reader::Threads,
            Reader::AsyncTokio,
            Reader::Hybrid,
            Reader::Proc,
        ]
        .into_iter()
        .filter_map(|r| best_jobs(sweep, r).map(|(j, _)| format!("{r} -j {j}")))
        .collect();
        if !settings.is_empty() {
            out.push(format!(
                "--jobs, from the sweep on {CONCURRENCY_TREE} (warm): {}",
                settings.join(", ")
            ));
        }
    }
    out.push(
        "a file that may crash or hang its reader (a FUSE or network mount), or readers that must be isolated: proc with --timeout — it is the only model that can abandon a read stuck in the kernel".into(),
    );
    out
}

/// The study as Markdown: the claims table, the guidelines, then the mixed trees' tables with
/// which model won each.
pub fn markdown(claims: &[Claim], guidelines: &[String], experiments: &Experiments) -> String {
    let mut text = String::from(
        "## The original's claims, measured\n\n| claim | measured here | verdict |\n|---|---|---|\n",
    );
    for c in claims {
        text.push_str(&format!(
            "| {} | {} | **{}** |\n",
            c.claim,
            c.measured.replace('|', "\\|"),
            c.finding.word()
        ));
    }
    text.push_str("\n## Guidelines for this machine\n\n");
    for g in guidelines {
        text.push_str(&format!("- {g}\n"));
    }
    let tables = mixed_tables(experiments);
    if !tables.is_empty() {
        text.push_str("\n## Mixed trees\n\nWhich model wins each mixed tree (a model wins when its readers alone are the fastest or within the noise of it: their spreads overlap):\n\n");
        for line in mix_findings(experiments) {
            text.push_str(&format!("- {line}\n"));
        }
        text.push('\n');
        for t in tables {
            text.push_str(&mix_table(t));
        }
    }
    text
}

/// The short form the default run prints after its tables: the original's headline claim on
/// its own workload (`seed-mixed`), which model won each profile, and where the whole study is;
/// with the study's other mixes (`--profile mix-many-small,mix-many-large`), their winners and
/// the claim that the hybrid is the fastest on mixed trees too. Empty when no table of these
/// profiles is there (`--dir`, `--quick`).
pub fn short_form(tables: &[Table]) -> String {
    let of = |names: &[&str]| -> Vec<Table> {
        tables
            .iter()
            .filter(|t| names.contains(&t.target.as_str()))
            .cloned()
            .collect()
    };
    let mixes: Vec<&str> = MIX_TREES.iter().map(|m| m.0).collect();
    let experiments = Experiments {
        headline: of(&["seed-mixed"]),
        mixes: of(&mixes),
        ..Experiments::default()
    };
    let mut kinds = vec![
        ("seed-mixed", "a mixed tree like the original's".to_string()),
        ("small", "small files (256 B – 2 KiB)".into()),
        ("medium", "medium files (16 – 256 KiB)".into()),
        ("large", "large files (256 MiB)".into()),
    ];
    kinds.extend(
        MIX_TREES
            .iter()
            .map(|&(name, holds)| (name, format!("a mixed tree of {holds}"))),
    );
    let mut lines: Vec<String> = Vec::new();
    for (profile, kind) in kinds {
        for t in tables.iter().filter(|t| t.target == profile) {
            lines.push(format!(
                "{kind}, {} cache: {}",
                t.cache.as_str(),
                winner_short(t)
            ));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut text = String::from(
        "\nthe original's claims, in short (the whole study: cargo xtask bench --study):\n",
    );
    let mut claims = headline_claims(&experiments);
    if !experiments.mixes.is_empty() {
        claims.push(mixed_trees_claim(&experiments));
    }
    for claim in claims {
        text.push_str(&format!(
            "  {} — {}: {}\n",
            claim.claim,
            claim.finding.word(),
            claim.measured
        ));
    }
    text.push_str("guidelines from this run:\n");
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

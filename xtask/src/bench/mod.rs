//! `cargo xtask bench`: builds the readers, prepares the trees, runs every variant
//! interleaved (A B C … A B C …) through a [`Runner`], judges and ranks the runs, prints the
//! tables and writes the report. With `--work`, every reader runs with each work asked for
//! (counting, or counting and a digest), beside the digest tools people use, and each table
//! gets the limit of its work ([`work`]). With `--original`, the original project's four Python
//! readers run in the same rounds, checked under their own counting rule, and each of our
//! models is compared with its Python counterpart ([`original`]). With `--duplicates`, every
//! model's `--duplicates` runs beside jdupes and fclones on a generated tree with known groups
//! of copies, each run checked against them, in a table of its own ([`duplicates`]).

mod digests;
mod duplicates;
mod host;
mod html;
pub mod measure;
mod original;
mod reader;
mod report;
mod run;
mod stats;
mod study;
#[cfg(test)]
mod tests;
mod tools;
mod work;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::build::{self, BuildProfile};
use crate::fixtures;
use digests::{DigestCheck, FileDigests};
use reader::Reader;
use reader_core::Algorithm;
pub use run::{CacheDrop, Measurement, ProcessRunner, Program, Runner, Target, Variant};
use stats::{Cache, Expected, Rules, RunRecord, Table, Verdict};
use tools::Tool;
pub use work::Work;

/// Every name `--readers` takes: the readers, `wc`, the digest tools, and the original's
/// Python readers.
pub fn reader_names() -> Vec<&'static str> {
    Reader::ALL
        .map(Reader::label)
        .into_iter()
        .chain(Tool::ALL.map(Tool::name))
        .chain(original::READERS.map(|r| r.0))
        .chain(duplicates::TOOLS.iter().map(|t| t.0))
        .collect()
}

/// Whether `--readers` asks for `name` (no `--readers`: every reader is).
fn wanted(opts: &Options, name: &str) -> bool {
    opts.readers.is_empty() || opts.readers.iter().any(|r| r == name)
}

/// Hybrid thresholds tried on a user's tree (`--dir`), beside the default.
pub const DIR_THRESHOLDS: &[&str] = &["4KiB", "64KiB", "1MiB", "auto"];

/// Everything `bench` was asked to do, resolved.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fixture profiles to run (ignored with `dir`).
    pub profiles: Vec<String>,
    /// A user's tree instead of fixtures.
    pub dir: Option<PathBuf>,
    /// Measured runs per variant and cache state.
    pub runs: usize,
    /// Also run with a cold page cache.
    pub cold: bool,
    /// Run with a warm page cache (false with `--cold-only`).
    pub warm: bool,
    /// One unmeasured round before the warm ones (not with `--quick`).
    pub warmup: bool,
    /// Readers to run (empty: all that exist).
    pub readers: Vec<String>,
    /// `--jobs` values to sweep (empty: each reader's default).
    pub jobs: Vec<usize>,
    /// Hybrid thresholds to try (beside the default).
    pub thresholds: Vec<String>,
    /// Build with the dev profile (for `--quick`).
    pub dev_build: bool,
    /// Do not build; use the binaries already there.
    pub no_build: bool,
    /// A run taking longer is killed.
    pub timeout: Duration,
    /// Where `<timestamp>/` goes (default `target/bench`).
    pub out: Option<PathBuf>,
    /// The command line, for the report.
    pub command_line: String,
    /// Run the study of the original's claims instead of the profiles (see [`study`]).
    pub study: bool,
    /// `--work`, when given: the works every reader runs with, each in tables of its own with
    /// a limit row. `None`: counting alone, with the tables as they always were.
    pub works: Option<Vec<Work>>,
    /// `--original`: run the original project's Python readers beside ours.
    pub original: bool,
    /// `--duplicates`: the duplicates tree to run every model's `--duplicates` on, beside
    /// jdupes and fclones, instead of the profiles (see [`duplicates`]).
    pub duplicates: Option<String>,
}

/// A tree with what its totals must be (`None`: decided by the readers' consensus).
#[derive(Debug, Clone)]
pub struct Workload {
    /// The tree.
    pub target: Target,
    /// The manifest's totals, for fixtures.
    pub expected: Option<Expected>,
    /// Under digest works: each file's digest as the digest crates compute it, for each
    /// algorithm: what every run's digests must be.
    pub digests: BTreeMap<Algorithm, FileDigests>,
    /// With `--work`: one core's speed for each work on this tree's files, which gives each
    /// of its tables the limit row.
    pub speeds: Option<work::Speeds>,
    /// With `--original`: the totals the original's Python readers must report, under their
    /// own counting rule ([`original::expected`]).
    pub original: Option<Expected>,
}

/// Runs the whole benchmark; fails (after writing the report) if any run was wrong or failed.
pub fn bench(opts: &Options) -> Result<()> {
    if let Some(dir) = &opts.dir
        && !dir.is_dir()
    {
        bail!("--dir {}: not a folder", dir.display());
    }
    for name in &opts.profiles {
        fixtures::profile(name)?;
    }
    let ws = build::workspace()?;
    let (started_at, folder) = host::timestamp();
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| ws.target.join("bench"))
        .join(&folder);
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("{}: cannot create", out_dir.display()))?;
    let profile = if opts.dev_build {
        BuildProfile::Dev
    } else {
        BuildProfile::Release
    };
    let binaries = if opts.no_build {
        build::existing(&ws, profile)
    } else {
        build::build(&ws, profile)?
    };
    if let Some(name) = &opts.duplicates {
        return run_duplicates(opts, name, &out_dir, started_at, &binaries, profile);
    }
    let has_wc = host::has_wc(&ws.root);
    let algorithms: Vec<Algorithm> = opts
        .works
        .iter()
        .flatten()
        .filter_map(|w| w.algorithm())
        .collect();
    let (tools, missing_tools) = tools::find(&algorithms, |program, args| {
        host::output(program, args, &ws.root)
    });
    let (mut variants, mut missing) = variants(opts, &binaries, has_wc, &tools);
    missing.extend(missing_tools);
    let python = match opts
        .original
        .then(|| original::prepare(&ws.root, &ws.target))
    {
        Some(Ok(python)) => {
            eprintln!("bench: the original's readers: {}", python.versions);
            let works = opts.works.clone().unwrap_or_else(|| vec![Work::Count]);
            if works.iter().any(|w| !original::can_do(*w)) {
                eprintln!(
                    "bench: the original's readers have no xxh3 (neither hashlib nor blake3 does it): not run under it"
                );
            }
            variants.extend(original::variants(&python, &works, |name| {
                wanted(opts, name)
            }));
            Some(python)
        }
        Some(Err(why)) => {
            missing.push(format!("the original's Python readers ({why})"));
            None
        }
        None => None,
    };
    if variants.is_empty() {
        bail!("no reader binary to run (missing: {})", missing.join(", "));
    }
    if !missing.is_empty() {
        eprintln!("bench: not run (missing): {}", missing.join(", "));
    }
    let (mut runner, cache_drop) = process_runner(opts, &out_dir)?;
    let floor = floor(&mut runner, &out_dir);
    if opts.study {
        let floor_kib = floor.peak_rss_kib;
        return run_study(opts, &out_dir, &binaries, has_wc, &mut runner, floor_kib);
    }
    let mut workloads = workloads(opts, &ws.target, &out_dir)?;
    if let Some(works) = &opts.works {
        prepare_works(&mut workloads, works);
    }
    if python.is_some() {
        for w in &mut workloads {
            w.original = Some(original::expected(&w.target.files)?);
        }
    }
    let plan = Plan::asked(opts);
    let records = execute(&plan, &workloads, &variants, &mut runner, &mut |line| {
        eprintln!("{line}")
    });
    let results = judge(&workloads, &variants, records);
    let mut host = host::describe(&ws.root);
    if let Some(python) = &python {
        host.tools
            .push(("original/ (Python readers)".into(), python.versions.clone()));
    }
    let meta = report::Meta {
        started_at,
        command_line: opts.command_line.clone(),
        host,
        runs: opts.runs,
        cache_drop,
        missing,
        build: profile.dir().to_string(),
        rss_floor_kib: floor.peak_rss_kib,
    };
    let text = report::console(&meta, &results);
    let counting: Vec<Table> = results
        .tables
        .iter()
        .filter(|t| t.work.unwrap_or_default() == Work::Count)
        .cloned()
        .collect();
    println!(
        "{text}{}{}",
        original::console(&original::ratios(&results.tables)),
        study::short_form(&counting)
    );
    report::write_all(&out_dir, &meta, &results)?;
    let _ = std::fs::remove_file(&runner.report);
    let _ = std::fs::remove_file(&runner.tool_output);
    for w in &workloads {
        let _ = std::fs::remove_file(&w.target.file_list);
    }
    println!("report: {}", out_dir.join("report.html").display());
    let bad: Vec<String> = results
        .records
        .iter()
        .filter(|r| r.verdict != Verdict::Ok)
        // On a user's tree wc and the digest tools may fail where the readers report
        // (unreadable files): their rows say so, but only the readers' disagreements fail the
        // bench.
        .filter(|r| opts.dir.is_none() || !stats::is_baseline(&r.variant.reader))
        .map(|r| {
            format!(
                "{} on {} ({}): {}",
                r.variant.label,
                r.target,
                r.verdict.word(),
                r.verdict.problem().unwrap_or("")
            )
        })
        .collect();
    if !bad.is_empty() {
        bail!("{} run(s) were not correct, first: {}", bad.len(), bad[0]);
    }
    Ok(())
}

/// The runner of every run (through the measuring helper), with the cache drop `--cold`
/// asks for, which it says on stderr.
fn process_runner(opts: &Options, out_dir: &Path) -> Result<(ProcessRunner, Option<CacheDrop>)> {
    let cache_drop = opts.cold.then(run::choose_cache_drop);
    if let Some(method) = cache_drop {
        eprintln!("bench: cold runs drop the cache with {}", method.describe());
    }
    let helper = std::env::current_exe().context("cannot find the xtask binary")?;
    let runner = ProcessRunner {
        helper: vec![helper.into_os_string(), measure::HELPER_ARG.into()],
        report: out_dir.join("usage.tmp"),
        timeout: opts.timeout,
        cache_drop: cache_drop.unwrap_or(CacheDrop::Fadvise),
        sample_vm: false,
        tool_output: out_dir.join("tool-output.tmp"),
    };
    Ok((runner, cache_drop))
}

/// What `true` measures run the same way: the floor of every peak RSS.
fn floor(runner: &mut ProcessRunner, out_dir: &Path) -> Measurement {
    // `true` ignores its tree: the floor needs none of the workloads.
    let nowhere = Target {
        name: "floor".into(),
        tree: out_dir.to_path_buf(),
        file_list: out_dir.to_path_buf(),
        files: Vec::new(),
    };
    runner.run(
        &Variant {
            label: "true".into(),
            reader: "true".into(),
            work: Work::Count,
            jobs: None,
            threshold: None,
            program: Program::Reader {
                path: "true".into(),
                args: vec![],
            },
        },
        &nowhere,
    )
}

/// `--duplicates`: every model's `--duplicates` beside jdupes and fclones (where installed)
/// on the duplicates tree `name`, each run checked against its manifest ([`duplicates`]);
/// prints the table and writes the report; fails if a run was not right.
fn run_duplicates(
    opts: &Options,
    name: &str,
    out_dir: &Path,
    started_at: String,
    binaries: &[(String, PathBuf)],
    build_profile: BuildProfile,
) -> Result<()> {
    let ws = build::workspace()?;
    let profile = fixtures::duplicates::profile(name)?;
    let fixture =
        fixtures::duplicates::ensure(profile, &ws.target.join("fixtures").join(profile.name))?;
    let mut host = host::describe(&ws.root);
    let dirs = duplicates::search_dirs();
    let mut tools = Vec::new();
    for &(tool, _, version_args) in duplicates::TOOLS {
        if let Some(path) = duplicates::locate(tool, &dirs) {
            let version = host::first_line(&path.to_string_lossy(), version_args, &ws.root)
                .unwrap_or_else(|| "version unknown".into());
            host.tools
                .push((tool.to_string(), format!("{version} ({})", path.display())));
            tools.push((tool, path));
        }
    }
    let (variants, missing) = duplicates::variants(binaries, &tools, |n| wanted(opts, n));
    if variants.is_empty() {
        bail!("nothing to run (missing: {})", missing.join(", "));
    }
    if !missing.is_empty() {
        eprintln!("bench: not run (missing): {}", missing.join(", "));
    }
    let (mut runner, cache_drop) = process_runner(opts, out_dir)?;
    let floor = floor(&mut runner, out_dir);
    let target = target_for(profile.name, fixture.tree.clone(), out_dir)?;
    let known = duplicates::Known::new(&fixture.manifest);
    let plan = Plan::asked(opts);
    let runs = duplicates::execute(&plan, &target, &known, &variants, &mut runner, &mut |l| {
        eprintln!("{l}")
    });
    let section = duplicates::table(&fixture.manifest, profile.name, &plan, &variants, runs);
    let bad: Vec<String> = section
        .rows
        .iter()
        .filter_map(|r| Some(format!("{}: {}", r.label, r.verdict.problem()?)))
        .collect();
    let meta = report::Meta {
        started_at,
        command_line: opts.command_line.clone(),
        host,
        runs: opts.runs,
        cache_drop,
        missing,
        build: build_profile.dir().to_string(),
        rss_floor_kib: floor.peak_rss_kib,
    };
    let results = Results {
        records: Vec::new(),
        tables: Vec::new(),
        recommendations: Vec::new(),
        consensus: None,
        duplicates: Some(section),
    };
    println!("{}", report::console(&meta, &results));
    report::write_all(out_dir, &meta, &results)?;
    let _ = std::fs::remove_file(&runner.report);
    let _ = std::fs::remove_file(&target.file_list);
    println!("report: {}", out_dir.join("report.html").display());
    if !bad.is_empty() {
        bail!(
            "{} duplicate finder(s) were not correct, first: {}",
            bad.len(),
            bad[0]
        );
    }
    Ok(())
}

/// The study (`--study`): the experiments of [`study`], each interleaved on its own trees,
/// then the claims and guidelines; the report holds every table, `study.md` and `study.html`.
fn run_study(
    opts: &Options,
    out_dir: &Path,
    binaries: &[(String, PathBuf)],
    has_wc: bool,
    runner: &mut ProcessRunner,
    rss_floor_kib: u64,
) -> Result<()> {
    let ws = build::workspace()?;
    let models: Vec<String> = Reader::ALL
        .into_iter()
        .filter(|r| r.sweeps())
        .map(|r| r.label().to_string())
        .collect();
    let with = |readers: &[String], jobs: &[usize], profiles: Vec<String>| Options {
        readers: readers.to_vec(),
        jobs: jobs.to_vec(),
        profiles,
        thresholds: Vec::new(),
        works: None,
        ..opts.clone()
    };
    let names = |trees: &[(&str, u64)]| -> Vec<String> {
        trees.iter().map(|(n, _)| n.to_string()).collect()
    };
    let every_reader: Vec<String> = Reader::ALL
        .into_iter()
        .filter(|&r| r != Reader::Wc)
        .map(|r| r.label().to_string())
        .collect();
    let (warm, both) = (vec![Cache::Warm], vec![Cache::Warm, Cache::Cold]);
    // Name, what runs, measured rounds, cache states.
    let experiments = [
        // The CPU axis too: each reader with each work, in the same rounds.
        (
            "file size",
            Options {
                works: Some(Work::ALL.to_vec()),
                ..with(&every_reader, &[], names(study::SIZE_TREES))
            },
            3,
            &both,
        ),
        (
            "concurrency",
            with(&models, study::JOBS, vec![study::CONCURRENCY_TREE.into()]),
            3,
            &both,
        ),
        (
            "virtual memory",
            with(&models, study::JOBS, vec![study::CONCURRENCY_TREE.into()]),
            1,
            &warm,
        ),
        (
            "growth by count",
            with(&every_reader, &[], names(study::COUNT_TREES)),
            3,
            &both,
        ),
        (
            "growth by bytes",
            with(&every_reader, &[], Vec::new()),
            3,
            &warm,
        ),
        (
            "headline",
            with(&[], &[], vec!["seed-mixed".into()]),
            5,
            &both,
        ),
        (
            "other mixes",
            with(&every_reader, &[], study::mix_profiles()),
            5,
            &both,
        ),
    ];
    let mut all = Results {
        records: Vec::new(),
        tables: Vec::new(),
        recommendations: Vec::new(),
        consensus: None,
        duplicates: None,
    };
    let mut found = study::Experiments::default();
    for (name, experiment, runs, caches) in experiments {
        eprintln!("bench: study — {name}");
        // Sampling costs a little CPU: only the runs that measure nothing else pay it.
        runner.sample_vm = name == "virtual memory";
        let (variants, _) = variants(&experiment, binaries, has_wc, &[]);
        let mut workloads = match name {
            "growth by bytes" => sparse_workloads(&ws.target, out_dir)?,
            _ => workloads(&experiment, &ws.target, out_dir)?,
        };
        if let Some(works) = &experiment.works {
            prepare_works(&mut workloads, works);
        }
        let plan = Plan {
            runs: opts.runs.min(runs),
            warmup: true,
            caches: caches.clone(),
        };
        let records = execute(&plan, &workloads, &variants, runner, &mut |line| {
            eprintln!("{line}")
        });
        let results = judge(&workloads, &variants, records);
        let cache = |c: Cache| results.tables.iter().find(|t| t.cache == c).cloned();
        match name {
            "file size" => {
                found.sizes = results
                    .tables
                    .iter()
                    .filter(|t| t.work == Some(Work::Count))
                    .cloned()
                    .collect();
                found.works = results.tables.clone();
            }
            "concurrency" => {
                found.concurrency = cache(Cache::Warm);
                found.concurrency_cold = cache(Cache::Cold);
            }
            "virtual memory" => found.virtual_memory = cache(Cache::Warm),
            "growth by count" => found.files = results.tables.clone(),
            "growth by bytes" => found.bytes = results.tables.clone(),
            "other mixes" => found.mixes = results.tables.clone(),
            _ => found.headline = results.tables.clone(),
        }
        all.records.extend(results.records);
        all.tables.extend(results.tables);
        for w in &workloads {
            let _ = std::fs::remove_file(&w.target.file_list);
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let claims = study::claims(&found, cores);
    let guidelines = study::guidelines(&found);
    let text = study::markdown(&claims, &guidelines, &found);
    println!("{text}");
    std::fs::write(out_dir.join("study.md"), &text)
        .with_context(|| format!("{}: cannot write", out_dir.display()))?;
    let (started_at, _) = host::timestamp();
    let meta = report::Meta {
        started_at,
        command_line: opts.command_line.clone(),
        host: host::describe(&ws.root),
        runs: opts.runs,
        cache_drop: Some(runner.cache_drop),
        missing: Vec::new(),
        build: BuildProfile::Release.dir().to_string(),
        rss_floor_kib,
    };
    report::write_all(out_dir, &meta, &all)?;
    let page = html::study_page(&meta, &claims, &guidelines, &found);
    std::fs::write(out_dir.join("study.html"), page)
        .with_context(|| format!("{}: cannot write", out_dir.display()))?;
    let _ = std::fs::remove_file(&runner.report);
    println!("report: {}", out_dir.join("study.html").display());
    let bad = all
        .records
        .iter()
        .filter(|r| r.verdict != Verdict::Ok)
        .count();
    if bad > 0 {
        bail!("{bad} run(s) of the study were not correct; see the report");
    }
    Ok(())
}

/// The growth-by-bytes trees: one sparse file each (`set_len`, no data written), made once
/// under `target/fixtures/study-sparse/`. A sparse file is all NUL bytes, which are not
/// whitespace: no lines, one word.
fn sparse_workloads(target_dir: &Path, out_dir: &Path) -> Result<Vec<Workload>> {
    study::BYTE_FILES
        .iter()
        .map(|&(name, size)| {
            let tree = target_dir.join("fixtures/study-sparse").join(name);
            let file = tree.join("sparse.bin");
            std::fs::create_dir_all(&tree)
                .with_context(|| format!("{}: cannot create", tree.display()))?;
            let sized = std::fs::metadata(&file).is_ok_and(|m| m.len() == size);
            if !sized {
                std::fs::File::create(&file)
                    .and_then(|f| f.set_len(size))
                    .with_context(|| format!("{}: cannot make a sparse file", file.display()))?;
            }
            Ok(Workload {
                target: target_for(name, tree, out_dir)?,
                expected: Some(Expected {
                    files: 1,
                    bytes: size,
                    lines: 0,
                    words: u64::from(size > 0),
                }),
                digests: BTreeMap::new(),
                speeds: None,
                original: None,
            })
        })
        .collect()
}

/// The variants to run, and the readers that were asked for (or expected) but are missing.
/// With `--work`, each reader runs with each work, and each of `tools` (a tool, and the digest
/// it computes) beside them under its digest's work; the reference only reads, once, and `wc`
/// only counts.
pub fn variants(
    opts: &Options,
    binaries: &[(String, PathBuf)],
    has_wc: bool,
    tools: &[(Tool, Algorithm)],
) -> (Vec<Variant>, Vec<String>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let wanted = |name: &str| wanted(opts, name);
    let works = opts.works.clone().unwrap_or_else(|| vec![Work::Count]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (i, &asked) in works.iter().enumerate() {
        for reader in Reader::ALL.into_iter().filter(|r| wanted(r.label())) {
            let (name, binary) = (reader.label(), reader.binary());
            let work = if reader == Reader::ReadOnly {
                Work::Count
            } else {
                asked
            };
            let ran_already = reader == Reader::ReadOnly && i > 0;
            if ran_already || reader == Reader::Wc && work != Work::Count {
                continue;
            }
            let program = |extra: Vec<String>| -> Option<Program> {
                if reader == Reader::Wc {
                    return has_wc.then_some(Program::Wc);
                }
                let path = binaries.iter().find(|(b, _)| b == binary)?.1.clone();
                let mut args: Vec<String> =
                    reader.fixed_args().iter().map(|s| s.to_string()).collect();
                args.extend(work.reader_args());
                args.extend(extra);
                Some(Program::Reader { path, args })
            };
            let variant = |label: String,
                           jobs: Option<usize>,
                           threshold: Option<String>,
                           program: Program| Variant {
                label,
                reader: name.to_string(),
                work,
                jobs,
                threshold,
                program,
            };
            let Some(base) = program(Vec::new()) else {
                let why = if reader == Reader::Wc {
                    "wc (not installed)".to_string()
                } else {
                    format!("{name} ({binary})")
                };
                if !missing.contains(&why) {
                    missing.push(why);
                }
                continue;
            };
            let sweeps = !opts.jobs.is_empty() && reader.sweeps();
            // On a user's tree the hybrid's defaults always run: they are recommended whenever
            // they are within noise of the best (`stats::recommend`).
            if !sweeps || (reader == Reader::Hybrid && opts.dir.is_some()) {
                out.push(variant(name.to_string(), None, None, base));
            }
            if sweeps {
                for &j in &opts.jobs {
                    if let Some(p) = program(vec!["--jobs".into(), j.to_string()]) {
                        out.push(variant(format!("{name} -j {j}"), Some(j), None, p));
                    }
                }
            }
            if reader == Reader::Hybrid {
                for t in &opts.thresholds {
                    if let Some(p) = program(vec!["--threshold".into(), t.clone()]) {
                        out.push(variant(
                            format!("{name} --threshold {t}"),
                            None,
                            Some(t.clone()),
                            p,
                        ));
                    }
                }
            }
        }
        for &(tool, algorithm) in tools
            .iter()
            .filter(|(t, a)| Work::Digest(*a) == asked && wanted(t.name()))
        {
            out.push(Variant {
                label: tool.name().to_string(),
                reader: tool.name().to_string(),
                work: asked,
                jobs: None,
                threshold: None,
                program: Program::Tool {
                    tool,
                    algorithm,
                    jobs: cores,
                },
            });
        }
    }
    (out, missing)
}

/// For `--work`: measures one core's speed for each work on each tree's own files, and has
/// the digest crates compute every file's digest for each digest work, which every run's
/// digests are then checked against.
fn prepare_works(workloads: &mut [Workload], works: &[Work]) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let algorithms: Vec<Algorithm> = works.iter().filter_map(|w| w.algorithm()).collect();
    for w in workloads {
        let sized: Vec<(PathBuf, u64)> = w
            .target
            .files
            .iter()
            .map(|p| (p.clone(), std::fs::metadata(p).map_or(0, |m| m.len())))
            .collect();
        let sample = work::sample(&sized);
        let per_core: BTreeMap<Work, f64> = works
            .iter()
            .map(|&work| (work, work::one_core_speed(work, &sample)))
            .collect();
        let said: Vec<String> = works
            .iter()
            .filter_map(|work| {
                let speed = per_core.get(work)?;
                Some(format!("{} {}", work.describe(), work::speed(*speed)))
            })
            .collect();
        eprintln!(
            "bench: one core's speed on {}'s files: {}",
            w.target.name,
            said.join(", ")
        );
        w.speeds = Some(work::Speeds { cores, per_core });
        if !algorithms.is_empty() {
            w.digests = digests::compute(&w.target.tree, &w.target.files, &algorithms);
        }
    }
}

fn workloads(opts: &Options, target_dir: &Path, out_dir: &Path) -> Result<Vec<Workload>> {
    if let Some(dir) = &opts.dir {
        let tree = dir
            .canonicalize()
            .with_context(|| format!("{}: no such folder", dir.display()))?;
        if !tree.is_dir() {
            bail!("{}: not a folder", dir.display());
        }
        let name = tree
            .file_name()
            .map_or_else(|| "dir".into(), |n| n.to_string_lossy().into_owned());
        return Ok(vec![Workload {
            target: target_for(&name, tree, out_dir)?,
            expected: None,
            digests: BTreeMap::new(),
            speeds: None,
            original: None,
        }]);
    }
    opts.profiles
        .iter()
        .map(|name| {
            let profile = fixtures::profile(name)?;
            let fixture = fixtures::ensure(
                profile,
                &fixtures::default_dir(target_dir, profile),
                fixtures::Owner::Workspace,
            )?;
            let m = &fixture.manifest;
            let expected = Expected {
                files: m.files,
                bytes: m.totals.bytes,
                lines: m.totals.lines,
                words: m.totals.words,
            };
            Ok(Workload {
                target: target_for(name, fixture.tree, out_dir)?,
                expected: Some(expected),
                digests: BTreeMap::new(),
                speeds: None,
                original: None,
            })
        })
        .collect()
}

/// The tree's file list, written NUL-separated for `xargs -0`.
fn target_for(name: &str, tree: PathBuf, out_dir: &Path) -> Result<Target> {
    use std::os::unix::ffi::OsStrExt;
    let files: Vec<PathBuf> = fixtures::list_files(&tree)?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let mut list = Vec::new();
    for f in &files {
        list.extend_from_slice(f.as_os_str().as_bytes());
        list.push(0);
    }
    let file_list = out_dir.join(format!("{name}.files0"));
    std::fs::write(&file_list, list)
        .with_context(|| format!("{}: cannot write", file_list.display()))?;
    Ok(Target {
        name: name.to_string(),
        tree,
        file_list,
        files,
    })
}

/// The shape of a benchmark: runs per variant, whether a warm-up round comes first, the caches.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Measured rounds.
    pub runs: usize,
    /// An unmeasured round first (warm only).
    pub warmup: bool,
    /// Warm, cold or both.
    pub caches: Vec<Cache>,
}

impl Plan {
    /// The plan the options ask for: their runs and warm-up, warm and (`--cold`) cold.
    pub fn asked(opts: &Options) -> Plan {
        Plan {
            runs: opts.runs,
            warmup: opts.warmup,
            caches: [(opts.warm, Cache::Warm), (opts.cold, Cache::Cold)]
                .into_iter()
                .filter_map(|(on, cache)| on.then_some(cache))
                .collect(),
        }
    }
}

/// Runs every variant on every workload, interleaved round by round; cold runs drop the cache
/// first. Judging comes later: this only records, but a run's per-file digests are compared
/// with the workload's at once and only the outcome kept (a few MB a run, hundreds of runs).
/// `progress` gets one line per round.
pub fn execute(
    plan: &Plan,
    workloads: &[Workload],
    variants: &[Variant],
    runner: &mut dyn Runner,
    progress: &mut dyn FnMut(String),
) -> Vec<RunRecord> {
    let mut records = Vec::new();
    for w in workloads {
        for &cache in &plan.caches {
            let first = if cache == Cache::Warm && plan.warmup {
                0
            } else {
                1
            };
            for round in first..=plan.runs {
                let mut line = format!(
                    "{} · {} · {}:",
                    w.target.name,
                    cache.as_str(),
                    if round == 0 {
                        "warm-up".to_string()
                    } else {
                        format!("run {round}/{}", plan.runs)
                    }
                );
                for v in variants {
                    let dropped = match cache {
                        Cache::Cold => runner.drop_cache(&w.target),
                        Cache::Warm => Ok(()),
                    };
                    let measurement = match dropped {
                        Ok(()) => runner.run(v, &w.target),
                        Err(err) => Measurement {
                            error: Some(format!("cannot drop the cache: {err:#}")),
                            ..Measurement::default()
                        },
                    };
                    let mut measurement = measurement;
                    let digest_check = measurement.digests.take().map(|got| {
                        match v.work.algorithm().and_then(|a| w.digests.get(&a)) {
                            Some(want) => digests::compare(&got, want),
                            None => DigestCheck::Disagree("no digests to compare with".into()),
                        }
                    });
                    let work = match v.work {
                        Work::Count => String::new(),
                        work => format!("+{work}"),
                    };
                    line.push_str(&format!(" {}{work} {:.0}ms", v.label, measurement.wall_ms));
                    records.push(RunRecord {
                        target: w.target.name.clone(),
                        cache,
                        variant: v.clone(),
                        round,
                        measurement,
                        digest_check,
                        verdict: Verdict::Ok,
                    });
                }
                progress(line);
            }
        }
    }
    records
}

/// Every run judged, and the tables.
#[derive(Debug, Clone)]
pub struct Results {
    /// Every run, with its verdict.
    pub records: Vec<RunRecord>,
    /// One table per workload and cache state.
    pub tables: Vec<Table>,
    /// For a user's tree: what to use there, one for each cache state measured.
    pub recommendations: Vec<stats::Recommendation>,
    /// For a user's tree: the totals the readers agreed on, and how many runs agreed.
    pub consensus: Option<(Expected, usize)>,
    /// With `--duplicates`: its table and runs.
    pub duplicates: Option<duplicates::Section>,
}

/// Checks every run against its manifest (or, on a user's tree, the readers' consensus),
/// then builds the tables and, for a user's tree, the recommendation.
pub fn judge(workloads: &[Workload], variants: &[Variant], mut records: Vec<RunRecord>) -> Results {
    let mut tables = Vec::new();
    let mut recommendations = Vec::new();
    let mut consensus = None;
    for w in workloads {
        let mine = |r: &RunRecord| r.target == w.target.name;
        let expected = match w.expected {
            Some(e) => Some(e),
            None => {
                let measured: Vec<RunRecord> =
                    records.iter().filter(|r| mine(r)).cloned().collect();
                consensus = stats::consensus(&measured);
                consensus.map(|c| c.0)
            }
        };
        let user_tree = w.expected.is_none();
        for r in records.iter_mut().filter(|r| mine(r)) {
            let reference = r.variant.is(Reader::ReadOnly);
            let rules = Rules {
                allow_failed_files: user_tree,
                check_words: !(reference || user_tree && r.variant.is(Reader::Wc)),
                check_lines: !reference,
            };
            let python = original::is_python(&r.variant.reader);
            let verdict = match (&expected, r.variant.tool()) {
                (_, Some(_)) => stats::check_tool(&r.measurement, r.digest_check.as_ref(), rules),
                // The original counts under its own rule: its totals are checked against those.
                _ if python => match &w.original {
                    Some(e) => stats::check(&r.measurement, e, rules),
                    None => Verdict::Failed("no totals under the original's rule".into()),
                },
                (Some(e), None) => stats::check(&r.measurement, e, rules),
                (None, None) => Verdict::Failed("no reader produced totals".into()),
            };
            r.verdict = stats::with_digests(verdict, r.digest_check.as_ref());
        }
        let caches: Vec<Cache> = {
            let mut c: Vec<Cache> = records
                .iter()
                .filter(|r| mine(r))
                .map(|r| r.cache)
                .collect();
            c.sort();
            c.dedup();
            c
        };
        let fallback = Expected {
            files: 0,
            bytes: 0,
            lines: 0,
            words: 0,
        };
        // Without `--work` one table a cache state, as always; with it, one a work too.
        let works: Vec<Option<Work>> = match &w.speeds {
            None => vec![None],
            Some(_) => {
                let mut works = Vec::new();
                for v in variants.iter().filter(|v| !v.is(Reader::ReadOnly)) {
                    if !works.contains(&Some(v.work)) {
                        works.push(Some(v.work));
                    }
                }
                works
            }
        };
        for cache in caches {
            for &work in &works {
                let mut table = stats::table(
                    &w.target.name,
                    cache,
                    work,
                    &expected.unwrap_or(fallback),
                    variants,
                    &records,
                );
                if let (Some(speeds), Some(work)) = (&w.speeds, work)
                    && let Some(&per_core) = speeds.per_core.get(&work)
                {
                    stats::set_limit(&mut table, speeds.cores, per_core);
                }
                if user_tree {
                    recommendations.extend(stats::recommend(&table));
                }
                tables.push(table);
            }
        }
    }
    Results {
        records,
        tables,
        recommendations,
        consensus,
        duplicates: None,
    }
}

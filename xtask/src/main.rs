//! `cargo xtask`: the project's automation — `fixtures` writes the seeded test trees with their
//! manifests, `bench` builds every reader and runs them side by side with `wc`, then writes a
//! report with charts under `target/bench/<timestamp>/`, and `dist` lays out what an
//! installation needs under `target/dist/`.
// The doc comments of the commands are their `--help`, where `<profile>` and `<timestamp>` are
// placeholders people read, not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod bench;
mod build;
mod dist;
mod fixtures;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

/// Project automation for the Concurrent File Reader.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Writes deterministic (seeded) trees of text files, each with a manifest of expected
    /// totals, under target/fixtures/<profile>/ (skipped when the manifest already matches).
    ///
    /// Profiles: seed-mixed (1,000 files: 60% 100 B–1 KiB, 30% 1–100 KiB, 10% 100 KiB–1 MiB),
    /// small (20,000 × 256 B–2 KiB), medium (2,000 × 16–256 KiB), large (4 × 256 MiB),
    /// tiny (300 files up to 1 MiB, for --quick); and the study's trees, among them two other
    /// mixes, nested like seed-mixed: mix-many-small (3,000 files, 90% under 4 KiB holding 10%
    /// of the bytes, the rest 128–352 KiB) and mix-many-large (200 files, 90% of 128 KiB–1 MiB).
    Fixtures {
        /// Profiles to write (repeat or comma-separate; default: seed-mixed, small, medium, large).
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        profile: Vec<String>,
        /// Write the (single) profile here instead: <DIR>/tree/ and <DIR>/manifest.json.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Builds the release readers and runs them side by side with `wc` on the same trees.
    ///
    /// With no arguments: builds, writes the four fixture profiles if missing (about 1.1 GiB),
    /// and on each runs every reader that exists — reader-seq, reader-threads, reader-async
    /// (tokio, async-std and io-uring), reader-hybrid, reader-proc — plus `LC_ALL=C xargs -0 wc -lwc`,
    /// interleaved (A B C … A B C …): one unmeasured warm-up round, then 5 measured rounds
    /// with a warm page cache. Every run's totals are checked against the manifest; a run
    /// that differs is WRONG, never ranked, and makes the command fail. Under 10 minutes on
    /// a 2-core machine, build included.
    ///
    /// --cold adds cold runs (cache dropped before every run: /proc/sys/vm/drop_caches as
    /// root, else posix_fadvise(DONTNEED) on every file). --quick: the tiny profile, one run,
    /// a dev build; for CI. --dir PATH: your own tree (3 runs; --jobs swept over
    /// cores, 4×cores, 16×cores; hybrid thresholds 4KiB, 64KiB, 1MiB, auto), totals checked for
    /// agreement between readers, ending with a recommendation.
    ///
    /// --work count,xxh3,blake3,sha256 runs every reader with each work (count: no --digest;
    /// a digest: --digest ALGO) in the same rounds, beside the digest tools that are installed
    /// (b3sum, rhash, hashdeep, sha256sum, xxhsum); every file's digest is checked against the
    /// digest crates', and each table (a tree and a work) gets a limit row: the read-only
    /// reference plus bytes ÷ (cores × one core's speed for the work, measured here).
    ///
    /// --original runs the original project's four Python readers (original/) beside them, and
    /// says how each of our models compares with its Python counterpart.
    ///
    /// --duplicates runs every model's --duplicates beside jdupes and fclones (where installed)
    /// on a generated tree with known groups of copies instead, each run checked against them.
    ///
    /// --study tests the original project's claims instead (file size, memory and time against
    /// --jobs, its headline table and two other mixed trees, warm and cold, and, running its
    /// file-size trees with each work of rising CPU cost a byte, its claims about CPU-intensive
    /// work), each with a verdict, and ends with guidelines.
    ///
    /// Results: target/bench/<timestamp>/{results.json, results.csv, report.md, report.html}.
    Bench {
        /// Fixture profiles to run (repeat or comma-separate; default: seed-mixed, small, medium,
        /// large; the study's other mixes: mix-many-small, mix-many-large).
        #[arg(
            long,
            value_name = "NAME",
            value_delimiter = ',',
            conflicts_with = "dir"
        )]
        profile: Vec<String>,
        /// Benchmark your own tree instead of fixtures, and get a recommendation.
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Measured runs per reader (default: 5; 3 with --dir; 1 with --quick).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: Option<u32>,
        /// Also run with a cold page cache.
        #[arg(long)]
        cold: bool,
        /// Only cold runs (implies --cold).
        #[arg(long)]
        cold_only: bool,
        /// Only these readers: seq, threads, async-tokio, async-std, async-uring, hybrid, proc, wc,
        /// and, under a digest work, the tools b3sum, rhash, hashdeep, sha256sum, xxhsum.
        #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
        readers: Vec<String>,
        /// What every reader does of each file, each work in tables of its own with a limit
        /// row: count (alone, the default), xxh3, blake3, sha256 (counting and that digest).
        #[arg(long, value_name = "WORK,...", value_delimiter = ',', value_parser = clap::value_parser!(bench::Work), conflicts_with = "study")]
        work: Vec<bench::Work>,
        /// Sweep concurrency: run each concurrent reader with each of these --jobs values.
        #[arg(long, value_name = "N,...", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=4096))]
        jobs: Vec<u32>,
        /// Hybrid thresholds to try beside its default (default with --dir: 4KiB,64KiB,1MiB,auto).
        #[arg(long, value_name = "SIZE,...", value_delimiter = ',')]
        threshold: Vec<String>,
        /// CI mode: the tiny profile, one run, readers built with the dev profile.
        #[arg(long, conflicts_with_all = ["dir", "profile"])]
        quick: bool,
        /// Do not build; run the binaries already in the target folder.
        #[arg(long)]
        no_build: bool,
        /// Kill a run that takes longer than this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
        /// Write the report under this folder instead of target/bench.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Test the original project's claims (file size, memory against concurrency, --jobs,
        /// its headline table and two other mixed trees, CPU-intensive work: the file-size trees
        /// run with counting, xxh3, blake3 and sha256) on generated trees, with a verdict for
        /// each and guidelines; target/bench/<timestamp>/study.md. Its file-size trees run once
        /// a work, so it takes several times as long as a default run.
        #[arg(long, conflicts_with_all = ["dir", "profile", "quick", "jobs", "readers"])]
        study: bool,
        /// Also run the original project's four Python readers (original/: asyncio with
        /// aiofiles, a ThreadPoolExecutor, the hybrid at 10 KB, a multiprocessing pool) in the
        /// same rounds, check their totals under their own counting rule, and give the ratio
        /// of each of our models to its Python counterpart. Makes a virtual environment under
        /// target/original/ with aiofiles and blake3 from PyPI; skipped, with one line, where
        /// python3 or the registry is missing.
        #[arg(long, conflicts_with_all = ["dir", "study"])]
        original: bool,
        /// Instead of the profiles: every model's --duplicates --format json (threads,
        /// async-tokio, async-uring, hybrid, proc) beside `jdupes -r -q` and `fclones group`
        /// where installed (on PATH, in $CARGO_HOME/bin or ~/.cargo/bin), on a generated tree
        /// with known groups of copies (target/fixtures/duplicates; duplicates-quick with
        /// --quick). Every run's groups are checked against the tree's manifest, and a reader
        /// may read at most 1.1 × the bytes needed; the table gives warm (and with --cold,
        /// cold) medians, the ratio to the faster tool, and bytes read ÷ needed.
        #[arg(long, conflicts_with_all = ["dir", "profile", "study", "original", "work", "jobs", "threshold"])]
        duplicates: bool,
    },
    /// Writes what an installation needs into target/dist/, laid out as a prefix: the release
    /// binaries in bin/, a man page for each command in share/man/man1/, and its completions
    /// for bash, zsh, fish, elvish and PowerShell under share/ (see README, "Install").
    ///
    /// Fails if a release binary is 6 MB or more (debug information crept back in).
    Dist {
        /// Build with the dev profile: quicker, for tests; not what users get.
        #[arg(long)]
        dev: bool,
        /// Write into this folder instead (absent or empty) of target/dist.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == bench::measure::HELPER_ARG) {
        // The measuring helper: kept ahead of everything else so that it stays small.
        return bench::measure::helper_main(&args[2..]);
    }
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.task {
        Task::Fixtures { profile, out } => {
            let names = if profile.is_empty() {
                default_profiles()
            } else {
                profile
            };
            if out.is_some() && names.len() != 1 {
                bail!("--out takes exactly one --profile");
            }
            let ws = build::workspace()?;
            for name in names {
                let p = fixtures::profile(&name)?;
                let (dir, owner) = match &out {
                    Some(dir) => (dir.clone(), fixtures::Owner::User),
                    None => (
                        fixtures::default_dir(&ws.target, p),
                        fixtures::Owner::Workspace,
                    ),
                };
                let f = fixtures::ensure(p, &dir, owner)?;
                let t = f.manifest.totals;
                println!(
                    "{name} ({}): {} files, {} bytes, {} lines, {} words — {}",
                    p.about,
                    f.manifest.files,
                    t.bytes,
                    t.lines,
                    t.words,
                    f.tree.display()
                );
            }
            Ok(())
        }
        Task::Bench {
            profile,
            dir,
            runs,
            cold,
            cold_only,
            readers,
            jobs,
            threshold,
            quick,
            no_build,
            timeout,
            out,
            study,
            work,
            original,
            duplicates,
        } => {
            let known = bench::reader_names();
            if let Some(r) = readers.iter().find(|r| !known.contains(&r.as_str())) {
                bail!(
                    "--readers: unknown reader '{r}' (known: {})",
                    known.join(", ")
                );
            }
            let mut works: Vec<bench::Work> = Vec::new();
            for w in work {
                if !works.contains(&w) {
                    works.push(w);
                }
            }
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut jobs: Vec<usize> = jobs.into_iter().map(|j| j as usize).collect();
            let mut thresholds = threshold;
            if dir.is_some() {
                if jobs.is_empty() {
                    jobs = vec![cores, 4 * cores, 16 * cores];
                }
                if thresholds.is_empty() {
                    thresholds = bench::DIR_THRESHOLDS
                        .iter()
                        .map(|t| t.to_string())
                        .collect();
                }
            }
            jobs.dedup();
            let default_runs = if quick {
                1
            } else if dir.is_some() {
                3
            } else {
                5
            };
            let opts = bench::Options {
                profiles: if quick {
                    vec!["tiny".into()]
                } else if profile.is_empty() {
                    default_profiles()
                } else {
                    profile
                },
                dir,
                runs: runs.map_or(default_runs, |r| r as usize),
                cold: cold || cold_only || study,
                warm: !cold_only,
                warmup: !quick,
                readers,
                jobs,
                thresholds,
                dev_build: quick,
                no_build,
                timeout: Duration::from_secs(timeout.max(1)),
                out,
                command_line: std::iter::once("cargo xtask".to_string())
                    .chain(std::env::args().skip(1))
                    .collect::<Vec<_>>()
                    .join(" "),
                study,
                works: (!works.is_empty()).then_some(works),
                original,
                duplicates: duplicates.then(|| {
                    if quick {
                        "duplicates-quick".to_string()
                    } else {
                        "duplicates".to_string()
                    }
                }),
            };
            bench::bench(&opts)
        }
        Task::Dist { dev, out } => dist::dist(&dist::Options { dev, out }),
    }
}

fn default_profiles() -> Vec<String> {
    fixtures::DEFAULT_PROFILES
        .iter()
        .map(|p| p.to_string())
        .collect()
}

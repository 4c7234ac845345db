//! The benchmark's own logic with a fake runner (no processes, no real timings): interleaving
//! and warm-up, medians and spreads, ranking and speedups, the manifest check that marks a run
//! WRONG, the consensus on a user's tree, the recommendation, and the report files.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::digests::FileDigests;
use super::run::Totals;
use super::stats::{self, Cache, Expected, Verdict};
use super::tools::Tool;
use super::*;
use reader_core::Algorithm;

const RIGHT: Totals = Totals {
    files: 10,
    failed: 0,
    skipped: 0,
    bytes: 1000,
    lines: 50,
    words: 200,
};
const EXPECTED: Expected = Expected {
    files: 10,
    bytes: 1000,
    lines: 50,
    words: 200,
};

/// Returns scripted wall times (and totals) per label, in order; records every call.
#[derive(Default)]
struct FakeRunner {
    times: HashMap<String, Vec<f64>>,
    /// A fixed time for a label on one tree (before `times`).
    on_tree: HashMap<(String, String), f64>,
    /// A fixed time for a label on one tree under one work (before `on_tree`).
    on_work: HashMap<(String, String, Work), f64>,
    rss: HashMap<String, u64>,
    vm: HashMap<String, u64>,
    totals: HashMap<String, Totals>,
    exit: HashMap<String, i32>,
    /// Under a digest work: the digests a label reports (default: none).
    digests: HashMap<String, FileDigests>,
    calls: Vec<String>,
}

impl FakeRunner {
    fn script(mut self, label: &str, times: &[f64]) -> Self {
        self.times.insert(label.into(), times.to_vec());
        self
    }
    fn on(mut self, tree: &str, label: &str, ms: f64) -> Self {
        self.on_tree.insert((tree.into(), label.into()), ms);
        self
    }
    fn on_work(mut self, tree: &str, label: &str, work: Work, ms: f64) -> Self {
        self.on_work.insert((tree.into(), label.into(), work), ms);
        self
    }
    fn vm(mut self, label: &str, kib: u64) -> Self {
        self.vm.insert(label.into(), kib);
        self
    }
    fn rss(mut self, label: &str, kib: u64) -> Self {
        self.rss.insert(label.into(), kib);
        self
    }
    fn totals(mut self, label: &str, totals: Totals) -> Self {
        self.totals.insert(label.into(), totals);
        self
    }
    fn exit(mut self, label: &str, code: i32) -> Self {
        self.exit.insert(label.into(), code);
        self
    }
    fn digests(mut self, label: &str, digests: &FileDigests) -> Self {
        self.digests.insert(label.into(), digests.clone());
        self
    }
}

impl Runner for FakeRunner {
    fn run(&mut self, variant: &Variant, target: &Target) -> Measurement {
        self.calls.push(variant.label.clone());
        let fixed = self
            .on_work
            .get(&(target.name.clone(), variant.label.clone(), variant.work))
            .or_else(|| {
                self.on_tree
                    .get(&(target.name.clone(), variant.label.clone()))
            })
            .copied();
        let queue = self.times.entry(variant.label.clone()).or_default();
        let wall_ms = match fixed {
            Some(ms) => ms,
            None if queue.is_empty() => 1.0,
            None => queue.remove(0),
        };
        let code = self.exit.get(&variant.label).copied().unwrap_or(0);
        Measurement {
            wall_ms,
            user_ms: wall_ms / 2.0,
            peak_rss_kib: self.rss.get(&variant.label).copied().unwrap_or(2048),
            peak_vm_kib: self.vm.get(&variant.label).copied(),
            exit_code: Some(code),
            totals: (code != 2).then(|| self.totals.get(&variant.label).copied().unwrap_or(RIGHT)),
            jobs_used: variant.jobs.map(|j| j as u64).or(Some(3)),
            error: (code == 2).then(|| "reader-x: error: bad".to_string()),
            digests: (variant.work != Work::Count).then(|| {
                self.digests
                    .get(&variant.label)
                    .cloned()
                    .unwrap_or_default()
            }),
            ..Measurement::default()
        }
    }

    fn drop_cache(&mut self, _target: &Target) -> anyhow::Result<()> {
        self.calls.push("drop".into());
        Ok(())
    }
}

fn variant(reader: &str, jobs: Option<usize>, threshold: Option<&str>) -> Variant {
    let mut label = reader.to_string();
    if let Some(j) = jobs {
        label.push_str(&format!(" -j {j}"));
    }
    if let Some(t) = threshold {
        label = format!("{reader} --threshold {t}");
    }
    Variant {
        label,
        reader: reader.into(),
        work: Work::Count,
        jobs,
        threshold: threshold.map(String::from),
        program: Program::Reader {
            path: PathBuf::from(format!("reader-{reader}")),
            args: vec![],
        },
    }
}

fn workload(name: &str, expected: Option<Expected>) -> Workload {
    Workload {
        target: Target {
            name: name.into(),
            tree: name.into(),
            file_list: "list".into(),
            files: vec![],
        },
        expected,
        digests: BTreeMap::new(),
        speeds: None,
        original: None,
    }
}

fn plan(runs: usize, caches: &[Cache]) -> Plan {
    Plan {
        runs,
        warmup: true,
        caches: caches.to_vec(),
    }
}

fn run_all(
    runner: &mut FakeRunner,
    plan: &Plan,
    workloads: &[Workload],
    variants: &[Variant],
) -> Results {
    let records = execute(plan, workloads, variants, runner, &mut |_| {});
    judge(workloads, variants, records)
}

#[test]
fn rounds_are_interleaved_after_one_warm_up_and_cold_runs_drop_the_cache_first() {
    let vs = [
        variant("seq", None, None),
        variant("threads", None, None),
        variant("proc", None, None),
    ];
    let mut runner = FakeRunner::default();
    run_all(
        &mut runner,
        &plan(2, &[Cache::Warm, Cache::Cold]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let warm = ["seq", "threads", "proc"].repeat(3);
    let cold = ["drop", "seq", "drop", "threads", "drop", "proc"].repeat(2);
    assert_eq!(runner.calls, [warm, cold].concat());
}

#[test]
fn median_spread_rank_and_speedup() {
    let vs = [variant("seq", None, None), variant("threads", None, None)];
    // The first value of each is the warm-up round: huge, and never counted.
    let mut runner = FakeRunner::default()
        .script("seq", &[999.0, 30.0, 10.0, 20.0])
        .script("threads", &[999.0, 7.0, 5.0, 6.0]);
    let results = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let table = &results.tables[0];
    assert_eq!(table.fastest.as_deref(), Some("threads"));
    assert!(table.tied.is_empty(), "5–7 ms against 10–30 ms is no tie");
    assert_eq!(stats::fastest_line(table).as_deref(), Some("threads"));
    let threads = &table.rows[0];
    assert_eq!(
        (threads.label.as_str(), threads.rank, threads.median_ms),
        ("threads", Some(1), 6.0)
    );
    assert_eq!((threads.min_ms, threads.max_ms), (5.0, 7.0));
    assert_eq!(threads.speedup, Some(20.0 / 6.0));
    assert_eq!(
        threads.over_sequential,
        Some(20.0 / 6.0),
        "seq is also the slowest here"
    );
    assert!((threads.files_per_s - 10.0 / 0.006).abs() < 1e-6);
    assert!((threads.mb_per_s - 1000.0 / 0.006 / 1e6).abs() < 1e-9);
    let seq = &table.rows[1];
    assert_eq!(
        (seq.rank, seq.median_ms, seq.speedup),
        (Some(2), 20.0, Some(1.0))
    );
    assert_eq!(seq.runs, 3);
    assert_eq!(stats::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(stats::median(&[]), 0.0);
}

/// What the reference reports: it counts nothing, so its lines and words are 0, and that is not
/// WRONG.
const READ_ONLY: Totals = Totals {
    lines: 0,
    words: 0,
    ..RIGHT
};

#[test]
fn the_reference_is_shown_first_with_every_ratio_to_it_and_never_ranked_or_recommended() {
    let vs = [
        variant(Reader::ReadOnly.label(), None, None),
        variant("seq", None, None),
        variant("threads", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script(Reader::ReadOnly.label(), &[999.0, 4.0, 4.0, 4.0])
        .script("seq", &[999.0, 20.0, 20.0, 20.0])
        .script("threads", &[999.0, 5.0, 5.0, 5.0])
        .totals(Reader::ReadOnly.label(), READ_ONLY);
    let fixture = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let table = &fixture.tables[0];
    let labels: Vec<&str> = table.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, [Reader::ReadOnly.label(), "threads", "seq"]);
    let reference = &table.rows[0];
    assert_eq!(reference.verdict, Verdict::Ok, "no lines or words to check");
    assert_eq!((reference.rank, reference.speedup), (None, None));
    assert_eq!(reference.vs_reference, Some(1.0));
    assert_eq!(table.fastest.as_deref(), Some("threads"));
    let ranks: Vec<Option<usize>> = table.rows.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, [None, Some(1), Some(2)]);
    assert_eq!(table.rows[1].vs_reference, Some(1.25));
    assert_eq!(
        table.rows[1].speedup,
        Some(4.0),
        "over seq, not over the reference"
    );
    let text = report::console(&meta(), &fixture);
    assert!(text.contains("ref  read-only"), "{text}");
    assert!(text.contains("1.25×"), "{text}");
    // On a user's tree the reference neither votes in the consensus nor is recommended.
    let mut runner = FakeRunner::default()
        .script(Reader::ReadOnly.label(), &[999.0, 1.0, 1.0, 1.0])
        .totals(Reader::ReadOnly.label(), READ_ONLY);
    let user = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("mine", None)],
        &vs,
    );
    assert_eq!(user.consensus.map(|c| c.0), Some(EXPECTED));
    let text = user
        .recommendations
        .first()
        .map(|r| r.text.clone())
        .unwrap_or_default();
    assert!(
        text.starts_with("Use `reader-seq") || text.starts_with("Use `reader-threads"),
        "{text}"
    );
}

#[test]
fn a_gap_inside_the_spreads_is_called_a_tie() {
    let vs = [
        variant("seq", None, None),
        variant("threads", None, None),
        variant("hybrid", None, None),
        variant("proc", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script("threads", &[999.0, 10.0, 11.0, 12.0])
        .script("hybrid", &[999.0, 11.5, 12.5, 13.0])
        .script("proc", &[999.0, 12.0, 12.5, 14.0])
        .script("seq", &[999.0, 30.0, 31.0, 32.0]);
    let results = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let table = &results.tables[0];
    assert_eq!(table.fastest.as_deref(), Some("threads"));
    assert_eq!(
        table.tied,
        ["hybrid", "proc"],
        "seq is slower than all of threads' runs"
    );
    assert_eq!(
        stats::fastest_line(table).as_deref(),
        Some("threads, tied with hybrid and proc (their spreads overlap)")
    );
    let text = report::console(&meta(), &results);
    assert!(
        text.contains("fastest: threads, tied with hybrid and proc"),
        "{text}"
    );
}

#[test]
fn a_wrong_reader_is_never_ranked_even_when_fastest_and_the_bench_says_so() {
    let vs = [
        variant("seq", None, None),
        variant("proc", None, None),
        variant("async-tokio", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script("seq", &[50.0, 50.0])
        .script("proc", &[1.0, 1.0])
        .totals(
            "proc",
            Totals {
                words: 199,
                ..RIGHT
            },
        )
        .exit("async-tokio", 2);
    let results = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload("tiny", Some(EXPECTED))],
        &vs,
    );
    let table = &results.tables[0];
    assert_eq!(table.fastest.as_deref(), Some("seq"));
    let proc = table
        .rows
        .iter()
        .find(|r| r.reader == "proc")
        .expect("proc row");
    assert_eq!(proc.verdict, Verdict::Wrong("words 199 ≠ 200".into()));
    assert_eq!((proc.rank, proc.speedup), (None, None));
    let tokio = table
        .rows
        .iter()
        .find(|r| r.reader == "async-tokio")
        .expect("tokio row");
    assert!(
        matches!(&tokio.verdict, Verdict::Failed(p) if p.contains("bad")),
        "{:?}",
        tokio.verdict
    );
    assert_eq!(table.rows[0].reader, "seq", "ranked rows first");
    assert_eq!(proc.over_sequential, None);
    let meta = meta();
    let text = report::console(&meta, &results);
    assert!(text.contains("WRONG: words 199 ≠ 200"), "{text}");
    assert!(text.contains("fastest: seq"), "{text}");
}

#[test]
fn exit_status_one_is_a_failure_on_fixtures_but_accepted_on_a_users_tree() {
    let m = Measurement {
        exit_code: Some(1),
        totals: Some(RIGHT),
        ..Measurement::default()
    };
    let strict = stats::Rules {
        allow_failed_files: false,
        check_words: true,
        check_lines: true,
    };
    let lenient = stats::Rules {
        allow_failed_files: true,
        check_words: true,
        check_lines: true,
    };
    assert!(matches!(
        stats::check(&m, &EXPECTED, strict),
        Verdict::Failed(_)
    ));
    assert_eq!(stats::check(&m, &EXPECTED, lenient), Verdict::Ok);
    let wc_words = Measurement {
        exit_code: Some(0),
        totals: Some(Totals { words: 7, ..RIGHT }),
        ..m
    };
    let no_words = stats::Rules {
        allow_failed_files: true,
        check_words: false,
        check_lines: true,
    };
    assert_eq!(stats::check(&wc_words, &EXPECTED, no_words), Verdict::Ok);
}

#[test]
fn the_hybrids_defaults_are_recommended_when_within_noise_of_the_fastest() {
    let vs = [
        variant("threads", Some(8), None),
        variant("hybrid", None, None),
        variant("hybrid", Some(32), None),
    ];
    let scripted = |hybrid: f64| {
        FakeRunner::default()
            .script("threads -j 8", &[0.0, 50.0, 50.0, 50.0])
            .script("hybrid", &[0.0, hybrid, hybrid, hybrid])
            .script("hybrid -j 32", &[0.0, 80.0, 80.0, 80.0])
    };
    let recommended = |hybrid: f64| {
        let results = run_all(
            &mut scripted(hybrid),
            &plan(3, &[Cache::Warm]),
            &[workload("src", None)],
            &vs,
        );
        results.recommendations[0].clone()
    };
    let close = recommended(53.0);
    assert_eq!(close.command, "reader-hybrid", "no flags: {}", close.text);
    assert!(
        close.text.contains("(its defaults)") && close.text.contains("`threads -j 8` at 50 ms"),
        "{}",
        close.text
    );
    assert_eq!(close.within_noise, ["threads -j 8"]);
    let far = recommended(60.0);
    assert_eq!(far.command, "reader-threads --jobs 8", "{}", far.text);
}

#[test]
fn a_users_tree_is_checked_by_consensus_and_gets_a_recommendation() {
    let vs = [
        variant("seq", None, None),
        variant("threads", Some(2), None),
        variant("threads", Some(8), None),
        variant("hybrid", Some(2), None),
        variant("hybrid", None, Some("64KiB")),
        variant("proc", Some(2), None),
        variant("wc", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script("seq", &[0.0, 100.0, 100.0, 100.0])
        .script("threads -j 2", &[0.0, 60.0, 62.0, 61.0])
        .script("threads -j 8", &[0.0, 48.0, 50.0, 49.0])
        .script("hybrid -j 2", &[0.0, 70.0, 70.0, 70.0])
        .script("hybrid --threshold 64KiB", &[0.0, 40.0, 45.0, 50.0])
        .script("proc -j 2", &[0.0, 10.0, 10.0, 10.0])
        .totals(
            "proc -j 2",
            Totals {
                bytes: 999,
                ..RIGHT
            },
        )
        .script("wc", &[0.0, 30.0, 30.0, 30.0])
        .totals("wc", Totals { words: 1, ..RIGHT });
    let results = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("src", None)],
        &vs,
    );
    let (agreed, votes) = results.consensus.expect("consensus");
    assert_eq!(
        (agreed, votes),
        (EXPECTED, 15),
        "5 agreeing readers × 3 runs (wc never votes)"
    );
    let table = &results.tables[0];
    let proc = table
        .rows
        .iter()
        .find(|r| r.reader == "proc")
        .expect("proc");
    assert!(matches!(&proc.verdict, Verdict::Wrong(p) if p.contains("bytes 999")));
    let wc = table.rows.iter().find(|r| r.reader == "wc").expect("wc");
    assert_eq!(
        wc.verdict,
        Verdict::Ok,
        "wc's words are not compared on a user's tree"
    );
    let [rec] = results.recommendations.as_slice() else {
        panic!(
            "one recommendation, for the warm cache: {:?}",
            results.recommendations
        )
    };
    let rec = rec.clone();
    assert_eq!(
        rec.label, "hybrid --threshold 64KiB",
        "wc is never recommended"
    );
    assert_eq!(rec.command, "reader-hybrid --jobs 3 --threshold 64KiB");
    assert_eq!(rec.over_sequential, Some(100.0 / 45.0));
    assert_eq!(
        rec.within_noise,
        ["threads -j 8"],
        "its 50–52 overlaps 40–50"
    );
    assert!(rec.text.contains("wc took 30 ms"), "{}", rec.text);
    let scaling = stats::scaling(table);
    assert_eq!(
        scaling.len(),
        1,
        "only threads ran with two --jobs values: {scaling:?}"
    );
    assert_eq!(scaling[0].reader, "threads");
    assert_eq!(
        scaling[0].points.iter().map(|p| p.0).collect::<Vec<_>>(),
        [2, 8]
    );
    assert!((scaling[0].points[1].3 - 61.0 / 49.0).abs() < 1e-9);
}

#[test]
fn missing_readers_are_named_and_sweeps_skip_seq_wc_and_the_reference() {
    let binaries = vec![
        (
            "reader-read-only".to_string(),
            PathBuf::from("/b/reader-read-only"),
        ),
        ("reader-seq".to_string(), PathBuf::from("/b/reader-seq")),
        (
            "reader-threads".to_string(),
            PathBuf::from("/b/reader-threads"),
        ),
        (
            "reader-hybrid".to_string(),
            PathBuf::from("/b/reader-hybrid"),
        ),
    ];
    let opts = Options {
        profiles: vec![],
        dir: None,
        runs: 1,
        cold: false,
        warm: true,
        warmup: true,
        readers: vec![],
        jobs: vec![1, 4],
        thresholds: vec!["1MiB".into()],
        dev_build: false,
        no_build: true,
        timeout: std::time::Duration::from_secs(1),
        out: None,
        command_line: String::new(),
        study: false,
        works: None,
        original: false,
        duplicates: None,
    };
    let (vs, missing) = variants(&opts, &binaries, false, &[]);
    let labels: Vec<&str> = vs.iter().map(|v| v.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            Reader::ReadOnly.label(),
            "seq",
            "threads -j 1",
            "threads -j 4",
            "hybrid -j 1",
            "hybrid -j 4",
            "hybrid --threshold 1MiB"
        ]
    );
    assert_eq!(
        missing,
        [
            "async-tokio (reader-async)",
            "async-std (reader-async)",
            "async-uring (reader-async)",
            "proc (reader-proc)",
            "wc (not installed)"
        ]
    );
    let Program::Reader { args, .. } = &vs[5].program else {
        panic!("a reader")
    };
    assert_eq!(args, &["--jobs", "4"]);
    let on_a_tree = Options {
        dir: Some(std::path::PathBuf::from("tree")),
        ..opts.clone()
    };
    let (vs, _) = variants(&on_a_tree, &binaries, false, &[]);
    assert!(
        vs.iter()
            .any(|v| v.label == "hybrid" && v.jobs.is_none() && v.threshold.is_none()),
        "a user's tree always runs the hybrid's defaults, to recommend them when close"
    );
    let only = Options {
        readers: vec!["threads".into()],
        jobs: vec![],
        ..opts
    };
    let (vs, missing) = variants(&only, &binaries, true, &[]);
    assert_eq!((vs.len(), missing.len()), (1, 0));
}

fn meta() -> report::Meta {
    report::Meta {
        started_at: "2026-01-01T00:00:00Z".into(),
        command_line: "cargo xtask bench".into(),
        host: host::describe(std::path::Path::new(".")),
        runs: 1,
        cache_drop: Some(CacheDrop::Fadvise),
        missing: vec!["proc (reader-proc)".into()],
        build: "release".into(),
        rss_floor_kib: 1000,
    }
}

#[test]
fn charts_show_time_against_the_reference_with_whiskers_and_files_per_second_for_small_files() {
    let vs = [
        variant(Reader::ReadOnly.label(), None, None),
        variant("threads", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script(Reader::ReadOnly.label(), &[999.0, 4.0, 5.0, 6.0])
        .script("threads", &[999.0, 8.0, 10.0, 12.0])
        .totals(Reader::ReadOnly.label(), READ_ONLY);
    // 10 files of 100 bytes: a tree of small files.
    let results = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let charts = html::charts(&results);
    let wall = charts
        .iter()
        .find(|c| c.contains("Wall time ÷ the reference"))
        .expect("a wall-time chart");
    // Per bar a whisker and its two caps: three lines for each of the two readers.
    assert_eq!(wall.matches(r##"stroke="#282828""##).count(), 6, "{wall}");
    assert!(
        charts.iter().any(|c| c.contains("Files per second")),
        "small files get files/s"
    );
}

#[test]
fn the_original_is_checked_under_its_own_rule_and_each_model_compared_with_its_counterpart() {
    // The original counts a lone CR as a line end: two more lines than the manifest here.
    let under_its_rule = Expected {
        lines: EXPECTED.lines + 2,
        ..EXPECTED
    };
    let python_right = Totals {
        lines: RIGHT.lines + 2,
        ..RIGHT
    };
    let vs = [
        variant("threads", None, None),
        variant("hybrid", None, None),
        variant("py-threads", None, None),
        variant("py-hybrid", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script("threads", &[99.0, 10.0])
        .script("py-threads", &[99.0, 400.0])
        .script("hybrid", &[99.0, 8.0])
        .totals("py-threads", python_right);
    let mut tree = workload("seed-mixed", Some(EXPECTED));
    tree.original = Some(under_its_rule);
    let results = run_all(&mut runner, &plan(1, &[Cache::Warm]), &[tree], &vs);
    let verdict = |label: &str| {
        results.tables[0]
            .rows
            .iter()
            .find(|r| r.label == label)
            .map(|r| r.verdict.clone())
    };
    assert_eq!(verdict("py-threads"), Some(Verdict::Ok));
    // The manifest's totals are not the original's: a Python run that reports them is WRONG.
    assert_eq!(
        verdict("py-hybrid"),
        Some(Verdict::Wrong("lines 50 ≠ 52".into()))
    );
    let ratios = original::ratios(&results.tables);
    assert_eq!(
        ratios.len(),
        1,
        "only the pair with both runs right: {ratios:?}"
    );
    assert_eq!(
        (ratios[0].ours, ratios[0].python, ratios[0].ratio),
        (Reader::Threads, "py-threads", 0.025)
    );
    let text = original::console(&ratios);
    assert!(
        text.contains("threads ÷ py-threads")
            && text.contains("seed-mixed · warm · counting")
            && text.contains("0.025×")
            && text.contains("hybrid ÷ py-hybrid"),
        "{text}"
    );
    // A Python reader is never recommended, even where it would win.
    assert!(stats::is_baseline("py-proc"));
    let md = report::markdown(&meta(), &results);
    assert!(
        md.contains("## Our models ÷ the original's Python readers"),
        "{md}"
    );
    let page = html::page(&meta(), &results, &md);
    assert!(
        page.contains("Python readers, warm cache (log scale)"),
        "{page}"
    );
    assert_eq!(original::console(&[]), "");
}

/// The heights of the filled bars of an SVG chart (the white background left out).
fn bar_heights(svg: &str) -> Vec<f64> {
    svg.split("<rect")
        .skip(1)
        .filter(|r| !r.contains(r##"fill="#FFFFFF""##))
        // The legend's swatches are in the right margin.
        .filter(|r| !r.contains(r#"width="10" height="10""#))
        .filter_map(|r| {
            let at = r.find("height=\"")? + "height=\"".len();
            r[at..].split('"').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn on_the_log_axis_a_reader_at_1_2x_stays_readable_beside_wc_at_80x() {
    let vs = [
        variant(Reader::ReadOnly.label(), None, None),
        variant("threads", None, None),
        variant("wc", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script(Reader::ReadOnly.label(), &[99.0, 10.0])
        .script("threads", &[99.0, 12.0])
        .script("wc", &[99.0, 800.0])
        .totals(Reader::ReadOnly.label(), READ_ONLY);
    let results = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let charts = html::charts(&results);
    let wall = charts
        .iter()
        .find(|c| c.contains("Wall time ÷ the reference"))
        .expect("a wall-time chart");
    assert!(wall.contains("log scale"), "{wall}");
    let heights = bar_heights(wall);
    assert_eq!(heights.len(), 3, "{wall}");
    // The reference (1×), threads (1.2×), wc (80×). On a linear axis the first two would be
    // 1/80 of wc's bar and a pixel apart; on the log axis they are a tenth of it, and the
    // 20% between them is plain to see.
    let [reference, threads, wc] = heights[..] else {
        panic!("{heights:?}");
    };
    assert!(
        reference > wc / 12.0 && threads - reference >= 8.0,
        "{heights:?}"
    );
    assert_eq!(
        html::log_range(&[("x".into(), vec![Some(html::Bar::of(2.0)), None])]),
        Some((1.25, 3.2))
    );
    assert_eq!(
        html::log_range(&[("x".into(), vec![Some(html::Bar::of(0.0))])]),
        None
    );
    // Its ticks: 1, 2, 5 a decade; every digit within one decade; powers of ten over many.
    assert_eq!(
        html::log_ticks(0.6, 130.0),
        [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    );
    let names = |ticks: Vec<f64>| -> Vec<String> { ticks.iter().map(html::log_tick).collect() };
    assert_eq!(
        names(html::log_ticks(0.013, 0.045)),
        ["0.02", "0.03", "0.04"]
    );
    assert_eq!(names(html::log_ticks(0.5, 2e5)).len(), 6);
    assert!(html::log_ticks(0.0, 1.0).is_empty());
    // The ticks are drawn, with their labels.
    assert!(
        wall.contains(">\n1\n<") && wall.contains(">\n50\n<"),
        "{wall}"
    );
}

#[test]
fn the_report_files_hold_every_run_tables_and_charts() -> anyhow::Result<()> {
    let vs = [
        variant("seq", None, None),
        variant("threads", Some(1), None),
        variant("threads", Some(2), None),
    ];
    let mut runner = FakeRunner::default();
    let results = run_all(
        &mut runner,
        &plan(2, &[Cache::Warm, Cache::Cold]),
        &[
            workload("seed-mixed", Some(EXPECTED)),
            workload("small", Some(EXPECTED)),
        ],
        &vs,
    );
    let dir = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    report::write_all(&dir, &meta(), &results)?;
    let csv = std::fs::read_to_string(dir.join("results.csv"))?;
    // 2 trees × (warm: warm-up + 2, cold: 2) rounds × 3 variants, plus the header.
    assert_eq!(csv.lines().count(), 1 + 2 * 5 * 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json"))?)?;
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(30));
    assert_eq!(json["tables"].as_array().map(Vec::len), Some(4));
    assert!(json["meta"]["host"]["cores"].as_u64().is_some());
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    assert!(
        md.contains("| 1. |") && md.contains("Hybrid 2.34 s"),
        "{md}"
    );
    // Each table says how many runs it has, whatever the command's default (1 in `meta`).
    assert!(
        md.contains("median of 2 runs") && !md.contains("median of 1 run"),
        "{md}"
    );
    let cells = |l: &str| l.matches(" | ").count();
    let header = md.lines().find(|l| l.starts_with("| # |")).map_or(0, cells);
    let rows = md.lines().filter(|l| l.starts_with("| "));
    assert!(
        header > 5 && rows.clone().all(|l| cells(l) == header),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    assert!(
        html.matches("<svg").count() >= 8,
        "3 bar charts and 2 scaling charts per cache state"
    );
    assert!(
        !html.contains("<script") && !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The study's experiments on scripted runs: `fast` names who is fastest (1 ms) on each size
/// tree; everyone else takes 10 ms.
fn study_sizes(fast: &[(&str, &str)], caches: &[Cache]) -> Vec<stats::Table> {
    let readers = ["threads", "async-tokio", "async-std", "hybrid", "proc"];
    let vs: Vec<Variant> = readers.iter().map(|r| variant(r, None, None)).collect();
    let mut runner = FakeRunner::default();
    for (tree, _) in study::SIZE_TREES {
        for r in readers {
            let ms = if fast.contains(&(tree, r)) { 1.0 } else { 10.0 };
            runner = runner.on(tree, r, ms);
        }
    }
    let workloads: Vec<Workload> = study::SIZE_TREES
        .iter()
        .map(|(tree, _)| workload(tree, Some(EXPECTED)))
        .collect();
    run_all(&mut runner, &plan(3, caches), &workloads, &vs).tables
}

fn finding(claims: &[study::Claim], starts: &str) -> study::Finding {
    claims
        .iter()
        .find(|c| c.claim.starts_with(starts))
        .unwrap_or_else(|| panic!("no claim '{starts}'"))
        .finding
        .clone()
}

#[test]
fn size_claims_and_the_crossover_follow_who_wins_where() {
    use study::Finding::*;
    // async wins up to 4 KiB, threads from 64 KiB on, proc never: the crossover brackets 10 KB.
    let fast = [
        ("size-256B", "async-tokio"),
        ("size-4KiB", "async-std"),
        ("size-64KiB", "threads"),
        ("size-1MiB", "threads"),
        ("size-16MiB", "hybrid"),
        ("size-256MiB", "hybrid"),
    ];
    let experiments = study::Experiments {
        sizes: study_sizes(&fast, &[Cache::Warm, Cache::Cold]),
        ..Default::default()
    };
    assert_eq!(
        study::crossover(&experiments, Cache::Warm),
        Some((4096, 65536))
    );
    let claims = study::claims(&experiments, 2);
    assert_eq!(finding(&claims, "async is best"), Holds);
    assert_eq!(finding(&claims, "threads are best"), Depends, "lost 4 KiB");
    assert_eq!(finding(&claims, "multiprocessing is best"), DoesNotHold);
    assert_eq!(finding(&claims, "hybrid has"), Depends);
    assert_eq!(finding(&claims, "10 KB"), Holds);
    assert_eq!(finding(&claims, "about 8 KB"), NotMeasured, "no sweep ran");
    // Threads already win at 4 KiB: they overtake async below 10 KB, not at it.
    let early = [("size-256B", "async-tokio"), ("size-4KiB", "threads")];
    let experiments = study::Experiments {
        sizes: study_sizes(&early, &[Cache::Warm]),
        ..Default::default()
    };
    assert_eq!(
        study::crossover(&experiments, Cache::Warm),
        Some((256, 4096))
    );
    assert_eq!(
        finding(&study::claims(&experiments, 2), "10 KB"),
        DoesNotHold
    );
    let lines = study::guidelines(&experiments);
    assert!(
        lines[0].contains("small files") && lines[0].contains("async-tokio / threads"),
        "{lines:?}"
    );
}

#[test]
fn a_tie_within_the_noise_is_neither_a_win_nor_a_loss() {
    // Spreads that overlap: async 4–6 ms, threads 5–7 ms on the 256 B tree.
    let vs = [
        variant("async-tokio", None, None),
        variant("threads", None, None),
    ];
    let mut runner = FakeRunner::default()
        .script("async-tokio", &[9.0, 4.0, 5.0, 6.0])
        .script("threads", &[9.0, 5.0, 6.0, 7.0]);
    let tables = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload("size-256B", Some(EXPECTED))],
        &vs,
    )
    .tables;
    assert_eq!(tables[0].tied, ["threads"]);
    let experiments = study::Experiments {
        sizes: tables,
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    assert_eq!(finding(&claims, "async is best"), study::Finding::Depends);
    let measured = &claims[0].measured;
    assert!(
        measured.contains("won 0, tied within the noise 1, beaten 0"),
        "{measured}"
    );
}

#[test]
fn memory_and_jobs_claims_come_from_the_sweep() {
    use study::Finding::*;
    let mut vs = Vec::new();
    let mut runner = FakeRunner::default();
    for &j in study::JOBS {
        for (reader, per_job, base) in [
            ("async-tokio", 8, 3000),
            ("threads", 100, 2000),
            ("proc", 0, 3500),
        ] {
            let v = variant(reader, Some(j), None);
            runner = runner
                .rss(&v.label, base + per_job * j as u64)
                // Fastest at -j 4 for async, -j 1 for threads, in the noise nowhere else.
                .on(
                    study::CONCURRENCY_TREE,
                    &v.label,
                    match (reader, j) {
                        ("async-tokio", 4) | ("threads", 1) => 1.0,
                        _ => 10.0 + j as f64,
                    },
                );
            vs.push(v);
        }
    }
    let tables = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[workload(study::CONCURRENCY_TREE, Some(EXPECTED))],
        &vs,
    )
    .tables;
    let sweep = &tables[0];
    let slope = study::memory_slope(sweep, Reader::Threads).expect("a slope");
    assert!((slope - 100.0).abs() < 1e-6, "{slope}");
    assert_eq!(
        study::best_jobs(sweep, Reader::AsyncTokio),
        Some((4, vec![4]))
    );
    let experiments = study::Experiments {
        concurrency: Some(sweep.clone()),
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    assert_eq!(finding(&claims, "about 8 KB"), Holds);
    assert_eq!(finding(&claims, "about 8 MB"), DoesNotHold);
    assert_eq!(
        finding(&claims, "about 10 MB"),
        DoesNotHold,
        "3.5 MiB a process"
    );
    assert_eq!(
        finding(&claims, "a semaphore of 2–4×"),
        Holds,
        "-j 4 on 2 cores"
    );
    assert_eq!(
        finding(&claims, "threads = cores + 1"),
        DoesNotHold,
        "-j 1 won"
    );
}

#[test]
fn the_headline_is_judged_by_its_order() {
    let readers = ["hybrid", "async-tokio", "threads", "proc"];
    let vs: Vec<Variant> = readers.iter().map(|r| variant(r, None, None)).collect();
    let mut runner = FakeRunner::default();
    // The published order, then threads first.
    for (i, r) in readers.iter().enumerate() {
        runner = runner.on("seed-mixed", r, 10.0 * (i + 1) as f64);
        runner = runner.on("other", r, if *r == "threads" { 1.0 } else { 50.0 });
    }
    let tables = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[
            workload("seed-mixed", Some(EXPECTED)),
            workload("other", Some(EXPECTED)),
        ],
        &vs,
    )
    .tables;
    let mut experiments = study::Experiments {
        headline: vec![tables[0].clone()],
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    assert_eq!(
        finding(&claims, "on 1,000 mixed files"),
        study::Finding::Holds
    );
    experiments.headline = vec![tables[1].clone()];
    let claims = study::claims(&experiments, 2);
    assert_eq!(
        finding(&claims, "on 1,000 mixed files"),
        study::Finding::DoesNotHold
    );
    let text = study::markdown(&claims, &study::guidelines(&experiments), &experiments);
    assert!(
        text.contains("| **does not hold** |") || text.contains("**does not hold**"),
        "{text}"
    );
    assert!(text.contains("published 2.34 s"), "{text}");
}

/// The mixed trees on scripted runs, warm and cold: on each tree, the readers given take
/// 1 ms and everyone else 10 ms.
fn study_mixes(fast: &[(&str, &[&str])]) -> Vec<stats::Table> {
    let readers = [
        "seq",
        "threads",
        "async-tokio",
        "async-std",
        "hybrid",
        "proc",
    ];
    let vs: Vec<Variant> = readers.iter().map(|r| variant(r, None, None)).collect();
    let mut runner = FakeRunner::default();
    for &(tree, winners) in fast {
        for r in readers {
            runner = runner.on(tree, r, if winners.contains(&r) { 1.0 } else { 10.0 });
        }
    }
    let workloads: Vec<Workload> = fast
        .iter()
        .map(|(tree, _)| workload(tree, Some(EXPECTED)))
        .collect();
    run_all(
        &mut runner,
        &plan(3, &[Cache::Warm, Cache::Cold]),
        &workloads,
        &vs,
    )
    .tables
}

#[test]
fn the_mixed_trees_say_which_model_wins_each_and_judge_the_hybrid_on_them() {
    use study::Finding::*;
    let tables = study_mixes(&[
        ("seed-mixed", &["hybrid"]),
        ("mix-many-small", &["threads"]),
        ("mix-many-large", &["hybrid", "async-std"]),
    ]);
    let (headline, mixes): (Vec<_>, Vec<_>) =
        tables.into_iter().partition(|t| t.target == "seed-mixed");
    let experiments = study::Experiments {
        headline,
        mixes,
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    let mixed = claims
        .iter()
        .find(|c| c.claim.starts_with("on mixed trees"))
        .expect("the claim on mixed trees");
    assert_eq!(mixed.finding, Depends);
    assert!(
        mixed
            .measured
            .contains("won 2, tied within the noise 2, beaten 2 (of 6)"),
        "{}",
        mixed.measured
    );
    assert_eq!(finding(&claims, "hybrid has the highest"), Depends);
    assert!(
        claims
            .iter()
            .any(|c| c.measured.starts_with("over the 6 trees")),
        "the mixes count toward the overall claim too"
    );
    let lines = study::mix_findings(&experiments);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "seed-mixed (the original's 1,000 mixed files): warm — hybrid wins: hybrid"
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("90 % of the files under 4 KiB")
            && lines[1].contains("warm — threading wins: threads")
            && lines[1].contains("cold — threading wins: threads"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains(
            "hybrid and async within the noise of each other: async-std (tied with hybrid)"
        ),
        "{lines:?}"
    );
    let guidelines = study::guidelines(&experiments);
    assert!(
        guidelines.iter().any(|g| g
            .starts_with("a mixed tree of 90 % of the files under 4 KiB holding 10 % of the bytes, the rest 128–352 KiB, cold cache: threads")),
        "{guidelines:?}"
    );
    let text = study::markdown(&claims, &guidelines, &experiments);
    assert!(text.contains("## Mixed trees"), "{text}");
    assert!(text.contains(&format!("- {}", lines[1])), "{text}");
    assert!(
        text.contains("### mix-many-small (10 files, 0.0 MiB), cold cache"),
        "{text}"
    );
    assert!(
        text.contains("| threads | 1.00 ms | 1.00–1.00 ms | 1.00 | fastest |"),
        "{text}"
    );
    assert!(
        text.contains("| hybrid | 10.0 ms | 10.0–10.0 ms | 10.00 |  |"),
        "{text}"
    );
    // The hybrid fastest on every mixed tree: the claim holds; no mixed tree: not measured.
    let everywhere = study::Experiments {
        mixes: study_mixes(&[
            ("mix-many-small", &["hybrid"]),
            ("mix-many-large", &["hybrid"]),
        ]),
        ..Default::default()
    };
    let claims = study::claims(&everywhere, 2);
    assert_eq!(finding(&claims, "on mixed trees"), Holds);
    let claims = study::claims(&study::Experiments::default(), 2);
    assert_eq!(finding(&claims, "on mixed trees"), NotMeasured);
    assert!(!study::markdown(&claims, &[], &study::Experiments::default()).contains("Mixed trees"));
}

#[test]
fn a_mixed_tree_won_by_no_model_or_by_one_beside_seq_says_so() {
    let tables = study_mixes(&[
        ("mix-many-small", &["seq"]),
        ("mix-many-large", &["seq", "threads"]),
    ]);
    assert_eq!(
        study::model_result(&tables[0]),
        "none of the four models: seq"
    );
    assert!(
        study::model_result(&tables[2]).starts_with("threading leads within the noise"),
        "{}",
        study::model_result(&tables[2])
    );
}

#[test]
fn a_run_of_the_mixes_ends_with_their_winners_and_the_claim_on_mixed_trees() {
    let tables = study_mixes(&[
        ("seed-mixed", &["threads"]),
        ("mix-many-large", &["hybrid"]),
    ]);
    let text = study::short_form(&tables);
    assert!(
        text.contains("on mixed trees, hybrid has the highest overall throughput — depends"),
        "{text}"
    );
    assert!(
        text.contains("a mixed tree of 90 % of the files of 128 KiB – 1 MiB, 10 % under 4 KiB, cold cache: hybrid"),
        "{text}"
    );
    let default_run = study::short_form(&study_mixes(&[("seed-mixed", &["threads"])]));
    assert!(!default_run.contains("on mixed trees"), "{default_run}");
}

#[test]
fn the_study_page_has_the_claims_and_a_chart_for_each_experiment() {
    let fast = [("size-256B", "async-tokio"), ("size-4KiB", "threads")];
    let mut experiments = study::Experiments {
        sizes: study_sizes(&fast, &[Cache::Warm]),
        ..Default::default()
    };
    let mut runner = FakeRunner::default();
    let vs: Vec<Variant> = study::JOBS
        .iter()
        .map(|&j| variant("threads", Some(j), None))
        .collect();
    for v in &vs {
        runner = runner.rss(&v.label, 2000 + 10 * v.jobs.unwrap_or(0) as u64);
    }
    experiments.concurrency = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload(study::CONCURRENCY_TREE, Some(EXPECTED))],
        &vs,
    )
    .tables
    .first()
    .cloned();
    let claims = study::claims(&experiments, 2);
    let page = html::study_page(
        &meta(),
        &claims,
        &study::guidelines(&experiments),
        &experiments,
    );
    assert!(
        page.contains("async is best for small files"),
        "the claims table"
    );
    assert!(page.contains("class=\"holds\""), "verdicts are marked");
    // Throughput and files/s against size, memory and time against --jobs.
    assert_eq!(page.matches("<svg").count(), 4, "{page}");
    assert!(page.contains("against file size, warm cache"));
    assert!(page.contains("against --jobs"));
}

#[test]
fn with_cold_runs_a_users_tree_gets_a_recommendation_for_each_cache_state() {
    let vs = [
        variant("threads", None, None),
        variant("async-tokio", None, None),
    ];
    // threads win warm, async wins cold.
    let mut runner = FakeRunner::default()
        .script("threads", &[0.0, 10.0, 10.0, 10.0, 90.0, 90.0, 90.0])
        .script("async-tokio", &[0.0, 20.0, 20.0, 20.0, 50.0, 50.0, 50.0]);
    let results = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm, Cache::Cold]),
        &[workload("mine", None)],
        &vs,
    );
    let picks: Vec<(Cache, &str)> = results
        .recommendations
        .iter()
        .map(|r| (r.cache, r.label.as_str()))
        .collect();
    assert_eq!(
        picks,
        [(Cache::Warm, "threads"), (Cache::Cold, "async-tokio")]
    );
    let text = report::console(&meta(), &results);
    assert!(
        text.contains("recommendation, cold cache: Use `reader-async"),
        "{text}"
    );
}

#[test]
fn times_and_rates_are_written_in_one_unit_that_suits_them() {
    assert_eq!(report::duration(8.423), "8.42 ms");
    assert_eq!(report::duration(312.4), "312 ms");
    assert_eq!(report::duration(11_131.0), "11.13 s");
    assert_eq!(report::duration(252_000.0), "4 min 12 s");
    assert_eq!(report::spread(5.1, 7.9), "5.10–7.90 ms");
    assert_eq!(report::spread(980.0, 1210.0), "0.98–1.21 s");
    assert_eq!(report::rate(0.4), "0.4");
    assert_eq!(report::rate(12_345.6), "12,346");
}

#[test]
fn growth_is_the_exponent_through_the_two_largest_amounts() {
    // seq grows linearly with the files; proc's start-up hides it at first, then it grows
    // as the square.
    let vs = [variant("seq", None, None), variant("proc", None, None)];
    let mut runner = FakeRunner::default();
    for &(tree, files) in study::COUNT_TREES {
        let n = files as f64;
        runner = runner
            .on(tree, "seq", n / 100.0)
            .on(tree, "proc", 50.0 + (n / 1000.0).powi(2));
    }
    let workloads: Vec<Workload> = study::COUNT_TREES
        .iter()
        .map(|(tree, _)| workload(tree, Some(EXPECTED)))
        .collect();
    let tables = run_all(&mut runner, &plan(1, &[Cache::Warm]), &workloads, &vs).tables;
    let seq = study::growth(&tables, study::COUNT_TREES, "seq", Cache::Warm).expect("seq");
    assert!((seq - 1.0).abs() < 1e-9, "{seq}");
    let proc = study::growth(&tables, study::COUNT_TREES, "proc", Cache::Warm).expect("proc");
    assert!(proc > 1.5, "{proc}");
    assert_eq!(
        study::growth(&tables, study::COUNT_TREES, "seq", Cache::Cold),
        None
    );
    let experiments = study::Experiments {
        files: tables,
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    assert_eq!(
        finding(&claims, "the time grows linearly with the number"),
        study::Finding::Depends
    );
    assert_eq!(
        finding(&claims, "the time grows linearly with the bytes"),
        study::Finding::NotMeasured
    );
}

#[test]
fn the_thread_claim_is_judged_by_the_address_space_a_thread_reserves() {
    let vs: Vec<Variant> = study::JOBS
        .iter()
        .map(|&j| variant("threads", Some(j), None))
        .collect();
    let mut runner = FakeRunner::default();
    for v in &vs {
        let j = v.jobs.unwrap_or(0) as u64;
        // 2 MiB of stack reserved a thread, 32 KiB of it touched.
        runner = runner
            .vm(&v.label, 10_000 + 2048 * j)
            .rss(&v.label, 3000 + 32 * j);
    }
    let tables = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload(study::CONCURRENCY_TREE, Some(EXPECTED))],
        &vs,
    )
    .tables;
    let experiments = study::Experiments {
        concurrency: tables.first().cloned(),
        virtual_memory: tables.first().cloned(),
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    let thread = claims
        .iter()
        .find(|c| c.claim.starts_with("about 8 MB"))
        .expect("the thread claim");
    assert_eq!(thread.finding, study::Finding::DoesNotHold);
    assert!(
        thread.measured.contains("2.0 MiB of address space")
            && thread.measured.contains("32 KiB of it resident"),
        "{}",
        thread.measured
    );
}

#[test]
fn the_default_run_ends_with_the_short_form_of_the_study() {
    let readers = ["hybrid", "async-tokio", "threads", "proc"];
    let vs: Vec<Variant> = readers.iter().map(|r| variant(r, None, None)).collect();
    let mut runner = FakeRunner::default();
    for (i, r) in readers.iter().enumerate() {
        runner = runner.on("seed-mixed", r, 10.0 * (i + 1) as f64).on(
            "small",
            r,
            if *r == "threads" { 1.0 } else { 9.0 },
        );
    }
    let tables = run_all(
        &mut runner,
        &plan(3, &[Cache::Warm]),
        &[
            workload("seed-mixed", Some(EXPECTED)),
            workload("small", Some(EXPECTED)),
        ],
        &vs,
    )
    .tables;
    let text = study::short_form(&tables);
    assert!(
        text.contains("hybrid, async, threading, multiprocessing (warm) — holds"),
        "{text}"
    );
    assert!(
        text.contains("small files (256 B – 2 KiB), warm cache: threads"),
        "{text}"
    );
    assert!(text.contains("--study"), "{text}");
    assert_eq!(study::short_form(&[]), "");
}

/// `variant` under `work`.
fn working(reader: &str, work: Work) -> Variant {
    Variant {
        work,
        ..variant(reader, None, None)
    }
}

/// A digest tool's variant.
fn tool(tool: tools::Tool, algorithm: Algorithm) -> Variant {
    Variant {
        label: tool.name().into(),
        reader: tool.name().into(),
        work: Work::Digest(algorithm),
        jobs: None,
        threshold: None,
        program: Program::Tool {
            tool,
            algorithm,
            jobs: 2,
        },
    }
}

#[test]
fn under_a_digest_work_every_file_is_checked_and_each_table_has_its_limit() {
    let sha = Work::Digest(Algorithm::Sha256);
    let right = FileDigests::from([
        (PathBuf::from("a"), "aa".to_string()),
        (PathBuf::from("b"), "bb".to_string()),
    ]);
    let mut other = right.clone();
    other.insert("b".into(), "b0".into());
    let mut small = workload("small", Some(EXPECTED));
    small.digests = BTreeMap::from([(Algorithm::Sha256, right.clone())]);
    small.speeds = Some(work::Speeds {
        cores: 2,
        per_core: BTreeMap::from([(Work::Count, 1e9), (sha, 1e6)]),
    });
    let vs = [
        working(Reader::ReadOnly.label(), Work::Count),
        working("threads", Work::Count),
        working("threads", sha),
        working("proc", sha),
        tool(tools::Tool::Sha256sum, Algorithm::Sha256),
        tool(tools::Tool::Rhash, Algorithm::Sha256),
    ];
    let mut runner = FakeRunner::default()
        .script(Reader::ReadOnly.label(), &[10.0, 10.0])
        .script("threads", &[11.0, 21.0, 11.0, 21.0])
        .digests("threads", &right)
        .digests("proc", &other)
        .digests("rhash", &right);
    let results = run_all(&mut runner, &plan(1, &[Cache::Warm]), &[small], &vs);
    let works: Vec<Option<Work>> = results.tables.iter().map(|t| t.work).collect();
    assert_eq!(works, [Some(Work::Count), Some(sha)]);
    let [count, digest] = &results.tables[..] else {
        panic!("two tables")
    };
    let row = |t: &stats::Table, reader: &str| {
        t.rows
            .iter()
            .find(|r| r.reader == reader)
            .cloned()
            .expect("a row")
    };
    // The reference reads once a round and stands in both tables.
    assert_eq!(row(count, Reader::ReadOnly.label()).median_ms, 10.0);
    assert_eq!(row(digest, Reader::ReadOnly.label()).median_ms, 10.0);
    assert!(count.rows.iter().all(|r| Tool::named(&r.reader).is_none()));
    // 1,000 bytes over 2 cores at 1 MB/s each: 0.5 ms more than the reference.
    assert_eq!(digest.limit.map(|l| l.ms), Some(10.5));
    assert_eq!(row(digest, "threads").vs_limit, Some(21.0 / 10.5));
    assert_eq!(row(digest, "threads").verdict, Verdict::Ok);
    assert_eq!(row(digest, "rhash").verdict, Verdict::Ok);
    assert_eq!(
        row(digest, "proc").verdict,
        Verdict::Wrong("digests: 1 file with another digest (first: b)".into())
    );
    assert_eq!(
        row(digest, "sha256sum").verdict,
        Verdict::Wrong("digests: 2 files without a digest (first: a)".into())
    );
    assert_eq!(row(digest, "proc").rank, None);
    let text = report::console(&meta(), &results);
    assert!(
        text.contains("small (10 files, 0.0 MiB), counting + sha256, warm"),
        "{text}"
    );
    assert!(text.contains("× limit"), "{text}");
    assert!(
        text.contains("limit  read-only + the work on every core  10.5 ms"),
        "{text}"
    );
    assert!(
        text.contains("2 cores × 1 MiB/s, one core's speed for counting + sha256"),
        "{text}"
    );
    let md = report::markdown(&meta(), &results);
    assert!(
        md.contains("### small (10 files, 0.0 MiB), counting, warm"),
        "{md}"
    );
    let html = html::page(&meta(), &results, &md);
    assert!(
        html.contains("<h3>small (10 files, 0.0 MiB), counting + sha256, warm"),
        "{html}"
    );
}

#[test]
fn without_the_work_axis_tables_are_as_they_were() {
    let vs = [
        working(Reader::ReadOnly.label(), Work::Count),
        working("threads", Work::Count),
    ];
    let mut runner = FakeRunner::default();
    let results = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    assert_eq!(results.tables.len(), 1);
    assert_eq!(
        (results.tables[0].work, results.tables[0].limit),
        (None, None)
    );
    let text = report::console(&meta(), &results);
    assert!(text.contains("small (10 files, 0.0 MiB), warm"), "{text}");
    assert!(!text.contains("limit"), "{text}");
}

#[test]
fn each_reader_runs_with_each_work_the_reference_once_wc_counting_and_tools_their_digest() {
    let binaries = vec![
        (
            "reader-read-only".to_string(),
            PathBuf::from("/b/reader-read-only"),
        ),
        (
            "reader-threads".to_string(),
            PathBuf::from("/b/reader-threads"),
        ),
    ];
    let opts = Options {
        profiles: vec![],
        dir: None,
        runs: 1,
        cold: false,
        warm: true,
        warmup: true,
        readers: vec![],
        jobs: vec![],
        thresholds: vec![],
        dev_build: false,
        no_build: true,
        timeout: std::time::Duration::from_secs(1),
        out: None,
        command_line: String::new(),
        study: false,
        works: Some(vec![Work::Digest(Algorithm::Blake3), Work::Count]),
        original: false,
        duplicates: None,
    };
    let found = [
        (tools::Tool::B3sum, Algorithm::Blake3),
        (tools::Tool::Sha256sum, Algorithm::Sha256),
    ];
    let (vs, missing) = variants(&opts, &binaries, true, &found);
    let runs: Vec<(&str, Work)> = vs.iter().map(|v| (v.label.as_str(), v.work)).collect();
    let blake3 = Work::Digest(Algorithm::Blake3);
    assert_eq!(
        runs,
        [
            (Reader::ReadOnly.label(), Work::Count),
            ("threads", blake3),
            ("b3sum", blake3),
            ("threads", Work::Count),
            ("wc", Work::Count),
        ]
    );
    assert_eq!(missing.iter().filter(|m| m.starts_with("seq")).count(), 1);
    let Program::Reader { args, .. } = &vs[1].program else {
        panic!("a reader")
    };
    assert_eq!(args, &["--digest", "blake3"]);
    let Program::Reader { args, .. } = &vs[0].program else {
        panic!("a reader")
    };
    assert!(args.is_empty(), "the reference only reads");
    let only = Options {
        readers: vec!["threads".into()],
        ..opts
    };
    let (vs, _) = variants(&only, &binaries, true, &found);
    assert!(vs.iter().all(|v| v.reader == "threads"));
}

#[test]
fn a_digest_run_on_a_users_tree_is_recommended_from_its_own_table_never_from_counting() {
    let sha = Work::Digest(Algorithm::Sha256);
    let mut tree = workload("src", None);
    tree.digests = BTreeMap::from([(Algorithm::Sha256, FileDigests::new())]);
    tree.speeds = Some(work::Speeds {
        cores: 2,
        per_core: BTreeMap::from([(Work::Count, 1e9), (sha, 1e6)]),
    });
    let both = |reader: &str, jobs: Option<usize>| {
        [Work::Count, sha].map(|work| Variant {
            work,
            ..variant(reader, jobs, None)
        })
    };
    let mut vs: Vec<Variant> = Vec::new();
    for (reader, jobs) in [
        ("threads", Some(2)),
        ("hybrid", Some(2)),
        ("hybrid", None),
        ("proc", Some(2)),
    ] {
        vs.extend(both(reader, jobs));
    }
    vs.push(tool(tools::Tool::Sha256sum, Algorithm::Sha256));
    // Each label's runs in order: warm-up counting, warm-up sha256, counting, sha256. Threads
    // win the counting; the hybrid -j 2 the digest run (the tool, a baseline, is faster yet).
    let mut runner = FakeRunner::default()
        .script("threads -j 2", &[1.0, 1.0, 10.0, 100.0])
        .script("hybrid -j 2", &[1.0, 1.0, 50.0, 40.0])
        .script("hybrid", &[1.0, 1.0, 60.0, 80.0])
        .script("proc -j 2", &[1.0, 1.0, 70.0, 60.0])
        .script("sha256sum", &[1.0, 20.0]);
    let results = run_all(&mut runner, &plan(1, &[Cache::Warm]), &[tree], &vs);
    let recs: Vec<(Option<Work>, String, String)> = results
        .recommendations
        .iter()
        .map(|r| (r.work, r.label.clone(), r.command.clone()))
        .collect();
    assert_eq!(
        recs,
        [
            (
                Some(Work::Count),
                "threads -j 2".into(),
                "reader-threads --jobs 2".into()
            ),
            (
                Some(sha),
                "hybrid -j 2".into(),
                "reader-hybrid --digest sha256 --jobs 2".into()
            ),
        ]
    );
    let text = report::console(&meta(), &results);
    assert!(
        text.contains("recommendation, warm cache, counting + sha256: Use `reader-hybrid --digest sha256 --jobs 2`"),
        "{text}"
    );
}

/// The study's CPU axis on scripted runs: every reader takes 10 ms on every size tree under
/// every work, but where `fast` says 1 ms (tree, reader, work); warm and cold.
fn study_works(fast: &[(&str, &str, Work)]) -> Vec<stats::Table> {
    let readers = ["threads", "async-tokio", "hybrid", "proc"];
    let vs: Vec<Variant> = Work::ALL
        .iter()
        .flat_map(|&w| readers.map(|r| working(r, w)))
        .collect();
    let mut runner = FakeRunner::default();
    for &(tree, _) in study::SIZE_TREES {
        for reader in readers {
            runner = runner.on(tree, reader, 10.0);
        }
    }
    for &(tree, reader, work) in fast {
        runner = runner.on_work(tree, reader, work, 1.0);
    }
    for v in vs.iter().filter(|v| v.work != Work::Count) {
        runner = runner.digests(&v.label, &FileDigests::new());
    }
    let workloads: Vec<Workload> = study::SIZE_TREES
        .iter()
        .map(|(tree, _)| {
            let mut w = workload(tree, Some(EXPECTED));
            w.digests = Algorithm::ALL
                .into_iter()
                .map(|a| (a, FileDigests::new()))
                .collect();
            w.speeds = Some(work::Speeds {
                cores: 2,
                per_core: Work::ALL.into_iter().zip([1e10, 4e9, 2e9, 5e8]).collect(),
            });
            w
        })
        .collect();
    let mut tables = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm, Cache::Cold]),
        &workloads,
        &vs,
    )
    .tables;
    // The reference did not run: a limit of 5 ms, to chart against.
    for t in &mut tables {
        let per_core = match t.work {
            Some(w) => Work::ALL
                .into_iter()
                .zip([1e10, 4e9, 2e9, 5e8])
                .find(|p| p.0 == w)
                .map_or(1e9, |p| p.1),
            None => 1e9,
        };
        t.limit = work::Limit::new(5.0, t.bytes, 2, per_core);
        for r in &mut t.rows {
            r.vs_limit = t.limit.map(|l| r.median_ms / l.ms);
        }
    }
    tables
}

#[test]
fn the_cpu_claims_follow_who_wins_under_costly_work_and_how_many_cores_async_keeps_busy() {
    let sha = Work::Digest(Algorithm::Sha256);
    let mut fast: Vec<(&str, &str, Work)> = Vec::new();
    for &(tree, _) in study::SIZE_TREES {
        for work in Work::ALL {
            // proc wins the costliest work on the large trees, threads everything else.
            let large = ["size-16MiB", "size-256MiB"].contains(&tree);
            let reader = if work == sha && large {
                "proc"
            } else {
                "threads"
            };
            fast.push((tree, reader, work));
        }
    }
    let works = study_works(&fast);
    let experiments = study::Experiments {
        sizes: works
            .iter()
            .filter(|t| t.work == Some(Work::Count))
            .cloned()
            .collect(),
        works: works.clone(),
        ..Default::default()
    };
    let claims = study::claims(&experiments, 2);
    // proc wins 4 of the 12 sha256 tables: the claim depends on the file size.
    assert_eq!(
        finding(&claims, "use multiprocessing"),
        study::Finding::Depends
    );
    assert_eq!(
        finding(&claims, "threading is good"),
        study::Finding::Depends
    );
    // The fake runs use half a core: async is held to one.
    assert_eq!(finding(&claims, "async is limited"), study::Finding::Holds);
    // proc is 10× threads counting 256 B files, and keeps up under sha256 on large files.
    assert_eq!(finding(&claims, "IPC serialization"), study::Finding::Holds);
    let hybrid = claims
        .iter()
        .find(|c| c.claim.starts_with("hybrid has"))
        .map(|c| c.measured.clone())
        .unwrap_or_default();
    // 12 counting tables and 36 of digests.
    assert!(hybrid.contains("over the 48 trees"), "{hybrid}");
    let guidelines = study::guidelines(&experiments);
    assert!(
        guidelines.contains(&"sha256 over large files (16 MiB and up), warm cache: proc".into()),
        "{guidelines:?}"
    );
    assert!(
        guidelines.contains(&"xxh3 over small files (≤ 4 KiB), cold cache: threads".into()),
        "{guidelines:?}"
    );
    // A chart a model and cache state, a line a size tree.
    let charts = html::cpu_axis_charts(&works);
    assert_eq!(charts.len(), 8);
    assert!(
        charts[0].contains("threads: time ÷ limit against CPU cost a byte, warm cache"),
        "{}",
        charts[0]
    );
    assert!(charts.iter().all(|c| c.contains("size-256MiB")));

    // Where threads win everything, the mixed claim holds and the CPU one does not; where
    // async keeps 3 cores busy it is not limited to one; where proc keeps up on small files,
    // IPC is no bottleneck.
    let threads_everywhere: Vec<(&str, &str, Work)> = fast
        .iter()
        .map(|&(tree, _, work)| (tree, "threads", work))
        .collect();
    let mut works = study_works(&threads_everywhere);
    for t in &mut works {
        for r in t.rows.iter_mut().filter(|r| r.reader == "async-tokio") {
            r.user_ms = 3.0 * r.median_ms;
        }
        if t.target == "size-256B" {
            for r in t.rows.iter_mut().filter(|r| r.reader == "proc") {
                (r.median_ms, r.min_ms, r.max_ms) = (1.0, 1.0, 1.0);
            }
        }
    }
    let claims = study::claims(
        &study::Experiments {
            works,
            ..Default::default()
        },
        2,
    );
    assert_eq!(finding(&claims, "threading is good"), study::Finding::Holds);
    assert_eq!(
        finding(&claims, "use multiprocessing"),
        study::Finding::DoesNotHold
    );
    assert_eq!(
        finding(&claims, "async is limited"),
        study::Finding::DoesNotHold
    );
    assert_eq!(
        finding(&claims, "IPC serialization"),
        study::Finding::DoesNotHold
    );
}

#[test]
fn a_report_without_charts_has_no_charts_heading() {
    let mut runner = FakeRunner::default();
    let empty = run_all(&mut runner, &plan(1, &[Cache::Warm]), &[], &[]);
    let md = report::markdown(&meta(), &empty);
    let page = html::page(&meta(), &empty, &md);
    assert!(!page.contains("<h2>Charts</h2>"), "{page}");
    assert!(page.contains("<h2>Tables</h2>"), "{page}");
    let vs = [variant("seq", None, None), variant("threads", None, None)];
    let results = run_all(
        &mut runner,
        &plan(1, &[Cache::Warm]),
        &[workload("small", Some(EXPECTED))],
        &vs,
    );
    let md = report::markdown(&meta(), &results);
    assert!(html::page(&meta(), &results, &md).contains("<h2>Charts</h2>"));
}

//! The output side of a run: each record goes to the chosen format on stdout as it arrives,
//! the progress bar and `-v` log lines to stderr, and the summary closes the run and decides
//! the exit status.
//!
//! A write that fails stops the run (the [`Sink`] says so): a closed stdout (`| head`) is the
//! reader of our output saying it has seen enough, and ends the run quietly with status 0;
//! any other write error is one line on stderr and status 2.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reader_core::units::bytes as human_bytes;
use reader_core::{Algorithms, FileResult, Finished, Record, Sink, StartError, Stats, TreeDigest};

use crate::args::{Args, Format, ProgressMode};
use crate::destination::Pending;
use crate::output::{self, Output, ShardRun, SummaryLine, Tree};
use crate::resources;
use crate::views::View;

/// How often `--progress always` writes a line when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How often the number of threads is sampled, in records.
const THREAD_SAMPLE_EVERY: u64 = 256;

/// Writes the records of one run and its summary. See the module docs.
pub struct Report {
    program: String,
    format: Format,
    output: Box<dyn Output>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    /// The format's header is written.
    begun: bool,
    progress: Option<ProgressBar>,
    /// Draw a progress bar from the first record on.
    show_progress: bool,
    /// `--progress always` on a stderr that is not a terminal: a plain line every
    /// [`PLAIN_PROGRESS_EVERY`], from when the run started, and when the last was written.
    plain_progress: Option<(Instant, Instant)>,
    /// What the process had used before the run (the CPU time of a `cargo run` that exec'd
    /// this binary stays in its counters), taken off the summary's figures.
    baseline: resources::Resources,
    verbose: bool,
    records: u64,
    /// Files not read because a part of the model stopped or failed (human output: one line at
    /// the end says how many and why, instead of one a file).
    unread: u64,
    unread_why: Option<String>,
    bytes: u64,
    peak_threads: u64,
    /// The write that failed and stopped the run.
    broken: Option<io::Error>,
    /// The listing of `--by`, `--sort` and `--top`, if asked for.
    view: Option<View>,
    /// The `--output` file, until the run is complete.
    pending: Option<Pending>,
    /// The shard this run is, for the summary.
    shard: Option<ShardRun>,
    /// The digests of every file read so far, for the digest of the tree (`--digest`).
    tree: Option<TreeDigest>,
    digests: Algorithms,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("format", &self.format)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Report {
    /// A report to stdout (or the `--output` file) and stderr as `args` ask, for the binary
    /// `program`; fails when the `--output` file cannot be created, or `--shard auto` finds
    /// no launcher.
    pub fn new(program: &str, args: &Args) -> Result<Report, StartError> {
        let shard = args.shard()?;
        let (pending, out): (Option<Pending>, Box<dyn Write>) = match args.output_file(shard)? {
            Some(target) => {
                let (pending, file) = Pending::create(&target)?;
                (
                    Some(pending),
                    Box::new(BufWriter::with_capacity(64 * 1024, file)),
                )
            }
            None => (
                None,
                Box::new(BufWriter::with_capacity(64 * 1024, io::stdout())),
            ),
        };
        let terminal = io::stderr().is_terminal();
        let show_progress = match args.progress {
            ProgressMode::Always | ProgressMode::Auto => terminal,
            ProgressMode::Never => false,
        };
        if args.verbose {
            let colour = terminal && std::env::var_os("NO_COLOR").is_none();
            let _ = tracing_subscriber::fmt()
                .with_writer(io::stderr)
                .with_ansi(colour)
                .with_max_level(tracing::Level::DEBUG)
                .with_target(false)
                .try_init();
        }
        let mut report = Report::to_writers(program, args.format(), out, Box::new(io::stderr()))
            .with_digests(args.digests(), args.tag);
        report.pending = pending;
        report.shard = shard.map(|shard| ShardRun::new(shard, args));
        report.verbose = args.verbose;
        report.show_progress = show_progress;
        if args.progress == ProgressMode::Always && !terminal {
            let now = Instant::now();
            report.plain_progress = Some((now, now));
        }
        report.view = args.view();
        Ok(report)
    }

    /// A report to the given writers, without progress bar or log lines (for tests and embedding).
    pub fn to_writers(
        program: &str,
        format: Format,
        out: Box<dyn Write>,
        err: Box<dyn Write>,
    ) -> Report {
        Report {
            program: program.to_string(),
            format,
            output: output::for_format(format, Algorithms::NONE, false),
            out,
            err,
            begun: false,
            progress: None,
            show_progress: false,
            plain_progress: None,
            baseline: resources::usage(),
            verbose: false,
            records: 0,
            unread: 0,
            unread_why: None,
            bytes: 0,
            peak_threads: 0,
            broken: None,
            view: None,
            pending: None,
            shard: None,
            tree: None,
            digests: Algorithms::NONE,
        }
    }

    /// The report of a run that computes `digests` (`--digest`): a column for each in CSV,
    /// a line for each in `--format sums` (`tagged`: `--tag`), and the digest of the tree in
    /// the summary.
    pub fn with_digests(mut self, digests: Algorithms, tagged: bool) -> Report {
        self.output = output::for_format(self.format, digests, tagged);
        self.tree = (!digests.is_empty()).then(|| TreeDigest::new(digests));
        self.digests = digests;
        self
    }

    /// Takes one record: writes it, logs it, shows it on the progress bar. Stops the run if
    /// the output cannot be written.
    pub fn record(&mut self, record: Record) -> ControlFlow<()> {
        self.records += 1;
        if self.show_progress && self.progress.is_none() {
            self.progress = Some(progress_bar());
        }
        match &record {
            Record::File(file) => {
                if let Err(err) = &file.outcome
                    && matches!(self.format, Format::Human | Format::Sums)
                {
                    if err.is_not_read() {
                        self.unread += 1;
                        self.unread_why
                            .get_or_insert_with(|| err.message().to_string());
                    } else {
                        let line = format!("{}: {err}\n", self.program);
                        self.write_err(&line);
                    }
                }
                if self.verbose {
                    log(file);
                }
                if let (Some(tree), Ok(_), None) = (&mut self.tree, &file.outcome, &file.part) {
                    tree.add(file.path.as_os_str().as_bytes(), &file.digests);
                }
                self.bytes += file.outcome.as_ref().map_or(0, |c| c.bytes);
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                    bar.set_message(format!("{} · ", human_bytes(self.bytes as f64)));
                }
            }
            Record::Skipped(skipped) => {
                if self.verbose {
                    tracing::debug!(path = %skipped.path.display(), reason = skipped.reason.as_str(), "skipped");
                }
            }
        }
        if self.records % THREAD_SAMPLE_EVERY == 1 {
            self.sample_threads();
        }
        self.plain_progress_line();
        if let (Some(view), Record::File(file)) = (&mut self.view, &record)
            && let Ok(counts) = file.outcome
        {
            view.add(file, counts);
            if view.holds_files() {
                // Written at the end, ranked.
                return ControlFlow::Continue(());
            }
        }
        let written = self
            .begin()
            .and_then(|()| self.output.record(&record, &mut self.out));
        self.check(written)
    }

    /// Closes the run: writes the summary (unless the output is gone) and returns the exit
    /// status — 0 when every file was read, 1 when any failed, 2 when the output could not be
    /// written or the model could not finish (then with one line on stderr).
    pub fn finish<S: Stats>(mut self, finished: Finished<S>) -> ExitCode {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        if self.broken.is_none() && !finished.stopped {
            self.sample_threads();
            let mut resources = resources::usage().since(&self.baseline);
            resources.threads = self.peak_threads;
            let stats = finished.stats.as_ref();
            let figures = match stats.map(serde_json::to_value) {
                None => serde_json::Value::Null,
                Some(Ok(figures)) if figures.is_object() => figures,
                Some(Ok(_)) => {
                    self.write_err(&format!(
                        "{}: error: the model's figures are not a map; left out of the summary\n",
                        self.program
                    ));
                    serde_json::Value::Null
                }
                Some(Err(err)) => {
                    self.write_err(&format!(
                        "{}: error: the model's figures cannot be written ({err}); left out of the summary\n",
                        self.program
                    ));
                    serde_json::Value::Null
                }
            };
            let shard = self.shard.take();
            let tree = match self.tree.take() {
                None => Tree::NotAsked,
                Some(_) if finished.summary.failed > 0 => Tree::Incomplete(self.digests),
                Some(tree) => Tree::Digests(tree.finish()),
            };
            let line = SummaryLine {
                summary: &finished.summary,
                resources,
                stats: figures,
                described: stats.map(Stats::describe).unwrap_or_default(),
                shard: shard.as_ref(),
                tree,
            };
            let listing = self.view.take().map(View::finish);
            let written = self
                .begin()
                .and_then(|()| match &listing {
                    Some(listing) => self.output.listing(listing, &mut self.out),
                    None => Ok(()),
                })
                .and_then(|()| self.output.summary(&line, &mut self.out))
                .and_then(|()| self.out.flush());
            let _ = self.check(written);
        }
        if let Some(err) = self.broken.take() {
            if err.kind() == io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            let line = format!("{}: error: cannot write output: {err}\n", self.program);
            self.write_err(&line);
            return ExitCode::from(2);
        }
        // "12 files not read: the process pool stopped"
        let unread = self.unread_why.take().map(|why| {
            let files = if self.unread == 1 { "file" } else { "files" };
            format!("{} {files} {why}", reader_core::units::grouped(self.unread))
        });
        if let Some(err) = &finished.error {
            let line = match &unread {
                Some(unread) => format!("{}: error: {err} ({unread})\n", self.program),
                None => format!("{}: error: {err}\n", self.program),
            };
            self.write_err(&line);
            return ExitCode::from(2);
        }
        if let Some(pending) = self.pending.take() {
            let target = pending.target().to_path_buf();
            if let Err(err) = pending.commit() {
                let line = format!(
                    "{}: error: cannot write output: {}: {err}\n",
                    self.program,
                    target.display()
                );
                self.write_err(&line);
                return ExitCode::from(2);
            }
        }
        if let Some(unread) = unread {
            let line = format!("{}: {unread}\n", self.program);
            self.write_err(&line);
        }
        if finished.summary.failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn begin(&mut self) -> io::Result<()> {
        if !self.begun {
            self.begun = true;
            self.output.header(&mut self.out)?;
        }
        Ok(())
    }

    fn check(&mut self, written: io::Result<()>) -> ControlFlow<()> {
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                self.broken.get_or_insert(err);
                ControlFlow::Break(())
            }
        }
    }

    /// `--progress always` without a terminal: one plain line at most every
    /// [`PLAIN_PROGRESS_EVERY`].
    fn plain_progress_line(&mut self) {
        let Some((started, last)) = self.plain_progress else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(last) < PLAIN_PROGRESS_EVERY {
            return;
        }
        self.plain_progress = Some((started, now));
        let line = format!(
            "{}: {} records, {} read, {}\n",
            self.program,
            reader_core::units::grouped(self.records),
            human_bytes(self.bytes as f64),
            crate::output::duration(now.duration_since(started)),
        );
        self.write_err(&line);
    }

    fn sample_threads(&mut self) {
        let now = reader_core::defaults::running_threads() as u64;
        self.peak_threads = self.peak_threads.max(now);
    }

    fn write_err(&mut self, line: &str) {
        let err = &mut self.err;
        match &self.progress {
            Some(bar) => bar.suspend(|| {
                let _ = err.write_all(line.as_bytes());
            }),
            None => {
                let _ = err.write_all(line.as_bytes());
            }
        }
    }
}

impl Sink for &mut Report {
    fn record(&mut self, record: Record) -> ControlFlow<()> {
        Report::record(self, record)
    }
}

fn log(file: &FileResult) {
    match &file.outcome {
        Ok(c) => tracing::debug!(
            path = %file.path.display(),
            bytes = c.bytes,
            lines = c.lines,
            words = c.words,
            elapsed_us = file.elapsed.as_micros() as u64,
            worker = %file.worker,
            "read"
        ),
        Err(e) => tracing::warn!(
            path = %file.path.display(),
            kind = e.kind().as_str(),
            worker = %file.worker,
            "{}", e.message()
        ),
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template("{spinner} {pos} files read · {msg}{elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use reader_core::{
        Concurrency, Counts, ErrorKind, FileError, RunError, SkipReason, Skipped, Summary, Worker,
    };
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().map(|v| v.clone()).unwrap_or_default())
                .into_owned()
        }
    }

    /// A writer that fails every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    fn records() -> Vec<Record> {
        vec![
            Record::File(FileResult {
                digests: Vec::new(),
                output: None,
                path: "a,\"b\"\nc.txt".into(),
                outcome: Ok(Counts {
                    bytes: 10,
                    lines: 2,
                    words: 3,
                }),
                elapsed: Duration::from_micros(5),
                worker: Worker::Thread(1),
                part: None,
                blake3_subtrees: None,
            }),
            Record::File(FileResult {
                digests: Vec::new(),
                output: None,
                path: "gone".into(),
                outcome: Err(FileError::new(ErrorKind::NotFound, "gone", "vanished")),
                elapsed: Duration::ZERO,
                worker: Worker::Thread(0),
                part: None,
                blake3_subtrees: None,
            }),
            Record::Skipped(Skipped {
                path: "pipe".into(),
                reason: SkipReason::Fifo,
            }),
        ]
    }

    /// How `read` ends: with the model's stats, or with its error and none.
    fn finished(summary: Summary, error: Option<RunError>) -> Finished<Concurrency> {
        Finished {
            summary,
            stats: error.is_none().then_some(Concurrency(3)),
            error,
            stopped: false,
        }
    }

    /// Feeds the records through a report as a run would; returns stdout, stderr and status.
    fn run(format: Format, error: Option<RunError>) -> (String, String, ExitCode) {
        let (out, err) = (Shared::default(), Shared::default());
        let mut report = Report::to_writers(
            "reader-x",
            format,
            Box::new(out.clone()),
            Box::new(err.clone()),
        );
        let mut summary = Summary::new("threads");
        summary.jobs = 3;
        for r in records() {
            summary.add(&r);
            assert!(report.record(r).is_continue());
        }
        let code = report.finish(finished(summary, error));
        (out.text(), err.text(), code)
    }

    #[test]
    fn json_lines_end_with_a_consistent_summary() {
        let (out, _, code) = run(Format::Json, None);
        assert_eq!(code, ExitCode::from(1));
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 4);
        let s = &lines[3];
        assert_eq!(s["type"], "summary");
        assert_eq!(
            (s["files"].as_u64(), s["ok"].as_u64(), s["failed"].as_u64()),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(
            (
                s["skipped"].as_u64(),
                s["bytes"].as_u64(),
                s["jobs"].as_u64()
            ),
            (Some(1), Some(10), Some(3))
        );
        assert!(s["peak_rss_kib"].as_u64().is_some_and(|k| k > 0));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let (out, _, _) = run(Format::Csv, None);
        let mut lines = out.split('\n');
        assert_eq!(
            lines.next(),
            Some(
                "type,path,size,lines,words,elapsed_us,worker,error_kind,error_message,path_bytes,files"
            )
        );
        assert!(
            out.contains("file,\"a,\"\"b\"\"\nc.txt\",10,2,3,5,thread-1,,,,\n"),
            "{out}"
        );
        assert!(
            out.contains("file,gone,,,,0,thread-0,not_found,gone: vanished,,\n"),
            "{out}"
        );
        assert!(out.contains("skipped,pipe,,,,,,fifo,,,\n"), "{out}");
    }

    #[test]
    fn human_summary_and_failures_on_stderr() {
        let (out, err, _) = run(Format::Human, None);
        assert!(
            out.starts_with("threads: 1 files read, 1 failed, 1 skipped\n"),
            "{out}"
        );
        assert!(out.contains("10 bytes (10 B), 2 lines, 3 words"), "{out}");
        assert_eq!(err, "reader-x: gone: vanished\n");
    }

    #[test]
    fn a_model_that_could_not_finish_still_writes_the_summary_and_exits_2() {
        let error = RunError::Model("the runtime did not start".into());
        let (out, err, code) = run(Format::Json, Some(error));
        assert_eq!(code, ExitCode::from(2));
        assert!(
            out.lines()
                .last()
                .is_some_and(|l| l.contains("\"type\":\"summary\"")),
            "{out}"
        );
        assert_eq!(err, "reader-x: error: the runtime did not start\n");
    }

    #[test]
    fn a_closed_pipe_stops_quietly_and_other_write_errors_are_one_line() {
        for (kind, status, message) in [
            (io::ErrorKind::BrokenPipe, ExitCode::SUCCESS, ""),
            (
                io::ErrorKind::StorageFull,
                ExitCode::from(2),
                "reader-x: error: cannot write output: ",
            ),
        ] {
            let err = Shared::default();
            let mut report = Report::to_writers(
                "reader-x",
                Format::Json,
                Box::new(Failing(kind)),
                Box::new(err.clone()),
            );
            let mut summary = Summary::new("threads");
            let first = records().remove(0);
            summary.add(&first);
            assert!(report.record(first).is_break(), "{kind:?} stops the run");
            let mut finished = finished(summary, None);
            finished.stopped = true;
            assert_eq!(report.finish(finished), status, "{kind:?}");
            let text = err.text();
            assert!(
                text.starts_with(message) && text.lines().count() <= 1,
                "{text}"
            );
        }
    }
}

//! The output side of a run: records go to the chosen sink (human summary, JSON Lines or CSV)
//! as they arrive, the progress bar and `-v` log lines to stderr, and the totals to the
//! [`Summary`] that closes the run and decides the exit status.
//!
//! A closed stdout (`| head`) is not an error: the run stops at once with status 0.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Args, Format, ProgressMode};
use crate::count::Counts;
use crate::record::{FileResult, Record, Summary};
use crate::resources;

/// How often the number of threads is sampled, in records.
const THREAD_SAMPLE_EVERY: u64 = 256;

/// Collects the records of one run and writes them out. See the module docs.
pub struct Report {
    program: String,
    format: Format,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    progress: Option<ProgressBar>,
    verbose: bool,
    started: Instant,
    summary: Summary,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("format", &self.format)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Report {
    /// A report to stdout and stderr as `args` ask, for the binary `program` running `strategy`.
    pub fn new(program: &str, strategy: &str, args: &Args) -> Report {
        let show_progress = match args.progress {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => io::stderr().is_terminal(),
        };
        if args.verbose {
            let _ = tracing_subscriber::fmt()
                .with_writer(io::stderr)
                .with_max_level(tracing::Level::DEBUG)
                .with_target(false)
                .try_init();
        }
        let mut report = Report::to_writers(
            program,
            strategy,
            args.format,
            Box::new(BufWriter::with_capacity(64 * 1024, io::stdout())),
            Box::new(io::stderr()),
        );
        report.verbose = args.verbose;
        if show_progress {
            report.progress = Some(progress_bar());
        }
        report
    }

    /// A report to the given writers, without progress bar or log lines (for tests and embedding).
    pub fn to_writers(
        program: &str,
        strategy: &str,
        format: Format,
        out: Box<dyn Write>,
        err: Box<dyn Write>,
    ) -> Report {
        let mut report = Report {
            program: program.to_string(),
            format,
            out,
            err,
            progress: None,
            verbose: false,
            started: Instant::now(),
            summary: Summary {
                kind: "summary",
                strategy: strategy.to_string(),
                ..Summary::default()
            },
        };
        if format == Format::Csv {
            let header = "type,path,size,lines,words,elapsed_us,worker,error_kind,error_message\n";
            report.write_out(header.as_bytes());
        }
        report
    }

    /// Takes one record: counts it, writes it, logs it.
    pub fn record(&mut self, record: Record) {
        match &record {
            Record::File(file) => {
                match &file.outcome {
                    Ok(counts) => {
                        self.summary.ok += 1;
                        self.summary.bytes += counts.bytes;
                        self.summary.lines += counts.lines;
                        self.summary.words += counts.words;
                    }
                    Err(err) => {
                        self.summary.failed += 1;
                        if self.format == Format::Human {
                            let line = format!("{}: {err}\n", self.program);
                            self.write_err(&line);
                        }
                    }
                }
                self.summary.files += 1;
                if self.verbose {
                    log(file);
                }
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                    bar.set_message(format!("{} · ", human_bytes(self.summary.bytes as f64)));
                }
            }
            Record::Skipped(skipped) => {
                self.summary.skipped += 1;
                if self.verbose {
                    tracing::debug!(path = %skipped.path.display(), reason = skipped.reason.as_str(), "skipped");
                }
            }
        }
        if (self.summary.files + self.summary.skipped) % THREAD_SAMPLE_EVERY == 1 {
            self.sample_threads();
        }
        match self.format {
            Format::Human => {}
            Format::Json => {
                let mut line = serde_json::to_vec(&record).unwrap_or_default();
                line.push(b'\n');
                self.write_out(&line);
            }
            Format::Csv => {
                let row = csv_row(&record);
                self.write_out(row.as_bytes());
            }
        }
    }

    /// The totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Closes the run: writes the summary and returns the exit status (0 when every file was
    /// read, 1 when any failed). `jobs` is the concurrency used; `extra` holds model-specific
    /// figures that join the summary.
    pub fn finish(
        mut self,
        jobs: usize,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> ExitCode {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        self.sample_threads();
        let threads = self.summary.resources.threads;
        self.summary.resources = resources::usage();
        self.summary.resources.threads = threads;
        self.summary.jobs = jobs;
        self.summary.extra = extra;
        self.summary.elapsed_ms = self.started.elapsed().as_secs_f64() * 1e3;
        match self.format {
            Format::Human => {
                let text = human_summary(&self.summary);
                self.write_out(text.as_bytes());
            }
            Format::Json => {
                let mut line = serde_json::to_vec(&self.summary).unwrap_or_default();
                line.push(b'\n');
                self.write_out(&line);
            }
            Format::Csv => {}
        }
        if let Err(err) = self.out.flush() {
            self.output_failed(&err);
        }
        if self.summary.failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn sample_threads(&mut self) {
        let now = resources::current_threads();
        let peak = &mut self.summary.resources.threads;
        *peak = (*peak).max(now);
    }

    fn write_out(&mut self, bytes: &[u8]) {
        if let Err(err) = self.out.write_all(bytes) {
            self.output_failed(&err);
        }
    }

    fn write_err(&mut self, line: &str) {
        match &self.progress {
            Some(bar) => bar.suspend(|| {
                let _ = self.err.write_all(line.as_bytes());
            }),
            None => {
                let _ = self.err.write_all(line.as_bytes());
            }
        }
    }

    /// Stdout is gone. A closed pipe is the reader of our output saying it has seen enough:
    /// stop quietly with success. Anything else is an error worth one line.
    fn output_failed(&mut self, err: &io::Error) -> ! {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        if err.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            self.err,
            "{}: error: cannot write output: {err}",
            self.program
        );
        std::process::exit(2);
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

/// One CSV row (RFC 4180 quoting) for a record.
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
fn human_summary(s: &Summary) -> String {
    let secs = s.elapsed_ms / 1e3;
    let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    let mut text = format!(
        "{}: {} files read, {} failed, {} skipped\n  {} bytes ({}), {} lines, {} words\n  {:.1} ms ({} files/s, {}/s), cpu {:.0} ms user + {:.0} ms sys, peak rss {}, {} threads, jobs {}\n",
        s.strategy,
        group(s.ok),
        group(s.failed),
        group(s.skipped),
        group(s.bytes),
        human_bytes(s.bytes as f64),
        group(s.lines),
        group(s.words),
        s.elapsed_ms,
        per_second(rate(s.files as f64)),
        human_bytes(rate(s.bytes as f64)),
        s.resources.cpu_user_ms,
        s.resources.cpu_sys_ms,
        human_bytes(s.resources.peak_rss_kib as f64 * 1024.0),
        s.resources.threads,
        s.jobs,
    );
    for (key, value) in &s.extra {
        text.push_str(&format!("  {key}: {value}\n"));
    }
    text
}

/// A rate for people: whole numbers grouped, small ones with a decimal.
fn per_second(rate: f64) -> String {
    if rate < 100.0 {
        format!("{rate:.1}")
    } else {
        group(rate as u64)
    }
}

/// `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1536.0` → `1.5 KiB`.
fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, FileError};
    use crate::record::{SkipReason, Skipped, Worker};
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

    fn records() -> Vec<Record> {
        vec![
            Record::File(FileResult {
                path: "a,\"b\"\nc.txt".into(),
                outcome: Ok(Counts {
                    bytes: 10,
                    lines: 2,
                    words: 3,
                }),
                elapsed: Duration::from_micros(5),
                worker: Worker::Thread(1),
            }),
            Record::File(FileResult {
                path: "gone".into(),
                outcome: Err(FileError::new(ErrorKind::NotFound, "gone", "vanished")),
                elapsed: Duration::ZERO,
                worker: Worker::Thread(0),
            }),
            Record::Skipped(Skipped {
                path: "pipe".into(),
                reason: SkipReason::Fifo,
            }),
        ]
    }

    fn run(format: Format) -> (String, String, ExitCode) {
        let (out, err) = (Shared::default(), Shared::default());
        let mut report = Report::to_writers(
            "reader-x",
            "threads",
            format,
            Box::new(out.clone()),
            Box::new(err.clone()),
        );
        for r in records() {
            report.record(r);
        }
        let code = report.finish(3, serde_json::Map::new());
        (out.text(), err.text(), code)
    }

    #[test]
    fn json_lines_end_with_a_consistent_summary() {
        let (out, _, code) = run(Format::Json);
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
        let (out, _, _) = run(Format::Csv);
        let mut lines = out.split('\n');
        assert_eq!(
            lines.next(),
            Some("type,path,size,lines,words,elapsed_us,worker,error_kind,error_message")
        );
        assert!(
            out.contains("file,\"a,\"\"b\"\"\nc.txt\",10,2,3,5,thread-1,,\n"),
            "{out}"
        );
        assert!(
            out.contains("file,gone,,,,0,thread-0,not_found,gone: vanished\n"),
            "{out}"
        );
        assert!(out.contains("skipped,pipe,,,,,,fifo,\n"), "{out}");
    }

    #[test]
    fn human_summary_and_failures_on_stderr() {
        let (out, err, _) = run(Format::Human);
        assert!(
            out.starts_with("threads: 1 files read, 1 failed, 1 skipped\n"),
            "{out}"
        );
        assert!(out.contains("10 bytes (10 B), 2 lines, 3 words"), "{out}");
        assert_eq!(err, "reader-x: gone: vanished\n");
    }

    #[test]
    fn number_formatting() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(100), "100");
        assert_eq!(per_second(0.25), "0.2");
        assert_eq!(per_second(12345.6), "12,345");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}

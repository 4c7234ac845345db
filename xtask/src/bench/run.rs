//! Running one benchmark variant once: the [`Runner`] seam (a real one that spawns the child
//! and collects its rusage with `wait4`, and fakes in the tests), the variants themselves, and
//! dropping the page cache for cold runs. Under a digest work a run's per-file digests are
//! read back too: from a reader's JSON records, or from a digest tool's output. A duplicate
//! finder's whole output is kept, for [`super::duplicates`] to check.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::digests::{self, FileDigests};
use super::measure::Usage;
use super::reader::Reader;
use super::tools::Tool;
use super::work::Work;
use reader_core::Algorithm;

/// What a variant runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A reader binary with extra arguments; the bench adds `--format json --progress never`
    /// and the tree.
    Reader {
        /// The binary.
        path: PathBuf,
        /// Its extra arguments (`--runtime tokio`, `--jobs 4`…).
        args: Vec<String>,
    },
    /// `LC_ALL=C xargs -0 wc -lwc`, fed the tree's file list.
    Wc,
    /// A digest tool computing `algorithm` with `jobs` at once ([`Tool::invocation`]).
    Tool {
        /// The tool.
        tool: Tool,
        /// The digest it computes.
        algorithm: Algorithm,
        /// Processes or threads at once.
        jobs: usize,
    },
    /// A duplicate finder on the tree (a reader with `--duplicates --format json`,
    /// `jdupes -r -q`, `fclones group`): `path` with `args`, then the tree. Its whole standard
    /// output is kept ([`Measurement::output`]).
    Finder {
        /// The program.
        path: PathBuf,
        /// Its arguments before the tree.
        args: Vec<String>,
    },
}

/// One thing to time on a tree: a reader with its settings and work, `wc`, or a digest tool.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// What the tables show: `threads`, `async-tokio -j 4`, `hybrid --threshold 64KiB`.
    pub label: String,
    /// The reader: one of [`Reader::ALL`] by its [`Reader::label`], or a digest tool's name
    /// ([`Tool::name`]), a duplicate finder's or a Python reader's of the original.
    pub reader: String,
    /// What it computes of each file.
    pub work: Work,
    /// The `--jobs` asked for (`None`: the reader's default).
    pub jobs: Option<usize>,
    /// The hybrid's `--threshold`, when one was given.
    pub threshold: Option<String>,
    /// What to run.
    #[serde(skip)]
    pub program: Program,
}

impl Variant {
    /// Whether it runs `reader` (with whatever settings and work).
    pub fn is(&self, reader: Reader) -> bool {
        Reader::from_label(&self.reader) == Some(reader)
    }

    /// The digest tool it runs, if it is one.
    pub fn tool(&self) -> Option<Tool> {
        match self.program {
            Program::Tool { tool, .. } => Some(tool),
            Program::Reader { .. } | Program::Wc | Program::Finder { .. } => None,
        }
    }
}

/// Totals a run reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Files attempted (`ok + failed`).
    pub files: u64,
    /// Files that could not be read.
    pub failed: u64,
    /// Entries not read (FIFOs, sockets…).
    pub skipped: u64,
    /// Bytes.
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
    /// Words.
    pub words: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measurement {
    /// Wall time from spawn to reaping, in milliseconds.
    pub wall_ms: f64,
    /// User CPU of the child and its reaped descendants.
    pub user_ms: f64,
    /// System CPU of the child and its reaped descendants.
    pub sys_ms: f64,
    /// Peak resident memory of the largest process of the run (the kernel's `ru_maxrss`).
    pub peak_rss_kib: u64,
    /// Peak virtual size of the largest process, when sampled.
    pub peak_vm_kib: Option<u64>,
    /// The exit status (`None` when killed by a signal or never started).
    pub exit_code: Option<i32>,
    /// Totals from the reader's JSON summary, or from `wc`'s output.
    pub totals: Option<Totals>,
    /// The concurrency the reader said it used.
    pub jobs_used: Option<u64>,
    /// Peak threads the reader said it ran.
    pub threads: Option<u64>,
    /// The reader's own elapsed time.
    pub reader_elapsed_ms: Option<f64>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Under a digest work: every file's digest, by path inside the tree. The bench compares
    /// them as soon as the run ends and keeps only the outcome.
    #[serde(skip)]
    pub digests: Option<FileDigests>,
    /// A duplicate finder's whole standard output, checked as soon as the run ends.
    #[serde(skip)]
    pub output: Option<Vec<u8>>,
}

/// A tree to run on.
#[derive(Debug, Clone)]
pub struct Target {
    /// A name for tables (`small`, or the folder's name).
    pub name: String,
    /// The folder handed to the readers.
    pub tree: PathBuf,
    /// NUL-separated list of its regular files, for `wc` through `xargs -0`.
    pub file_list: PathBuf,
    /// Its regular files (for `posix_fadvise`).
    pub files: Vec<PathBuf>,
}

/// How the page cache is dropped before a cold run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheDrop {
    /// `sync; echo 3 > /proc/sys/vm/drop_caches` (needs root): the whole page cache.
    DropCaches,
    /// `posix_fadvise(POSIX_FADV_DONTNEED)` on every file of the tree (best effort: pages
    /// another process holds or that are dirty may stay).
    Fadvise,
}

impl CacheDrop {
    /// A description for tables.
    pub fn describe(self) -> &'static str {
        match self {
            CacheDrop::DropCaches => "drop_caches (sync; echo 3 > /proc/sys/vm/drop_caches)",
            CacheDrop::Fadvise => "posix_fadvise(DONTNEED) on every file (not root)",
        }
    }
}

/// Runs variants; the real one spawns processes, the tests' one returns scripted figures.
pub trait Runner {
    /// Runs `variant` on `target` once.
    fn run(&mut self, variant: &Variant, target: &Target) -> Measurement;
    /// Empties the page cache of `target` before a cold run.
    fn drop_cache(&mut self, target: &Target) -> Result<()>;
}

/// The runner that spawns real processes, each through the measuring helper.
#[derive(Debug)]
pub struct ProcessRunner {
    /// The helper command (`xtask __measure`): it gets REPORT, PROGRAM and ARGs appended.
    pub helper: Vec<OsString>,
    /// Where the helper writes its one-line report.
    pub report: PathBuf,
    /// A run taking longer is killed (with its process group) and reported as failed.
    pub timeout: Duration,
    /// How caches are dropped for cold runs.
    pub cache_drop: CacheDrop,
    /// Sample the peak virtual size of every run (the helper's `--vm`).
    pub sample_vm: bool,
    /// Where a digest tool writes its output (a file, so that the lines of the processes it
    /// runs at once never interleave).
    pub tool_output: PathBuf,
}

impl Runner for ProcessRunner {
    fn run(&mut self, variant: &Variant, target: &Target) -> Measurement {
        match self.spawn_and_wait(variant, target) {
            Ok(m) => m,
            Err(err) => Measurement {
                error: Some(format!("{err:#}")),
                ..Measurement::default()
            },
        }
    }

    fn drop_cache(&mut self, target: &Target) -> Result<()> {
        match self.cache_drop {
            CacheDrop::DropCaches => drop_caches(),
            CacheDrop::Fadvise => {
                for file in &target.files {
                    fadvise_dontneed(file)?;
                }
                Ok(())
            }
        }
    }
}

/// Picks how to drop caches: `drop_caches` when this process may write it, else `fadvise`.
pub fn choose_cache_drop() -> CacheDrop {
    if drop_caches().is_ok() {
        CacheDrop::DropCaches
    } else {
        CacheDrop::Fadvise
    }
}

fn drop_caches() -> Result<()> {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3\n")
        .context("cannot write /proc/sys/vm/drop_caches")
}

fn fadvise_dontneed(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    // SAFETY: the descriptor is open for the whole call.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        anyhow::bail!(
            "{}: posix_fadvise: {}",
            path.display(),
            io::Error::from_raw_os_error(rc)
        );
    }
    Ok(())
}

impl ProcessRunner {
    fn spawn_and_wait(&self, variant: &Variant, target: &Target) -> Result<Measurement> {
        let (program, helper) = self.helper.split_first().context("no measuring helper")?;
        let mut command = Command::new(program);
        command.args(helper);
        if self.sample_vm {
            command.arg(super::measure::VM_ARG);
        }
        command.arg(&self.report);
        let _ = std::fs::remove_file(&self.report);
        let mut tool_run = None;
        match &variant.program {
            Program::Reader { path, args } => {
                command
                    .arg(path)
                    .args(args)
                    .args(["--format", "json", "--progress", "never"])
                    .arg(&target.tree)
                    .stdin(Stdio::null());
            }
            Program::Finder { path, args } => {
                command
                    .arg(path)
                    .args(args)
                    .arg(&target.tree)
                    .stdin(Stdio::null());
            }
            Program::Wc => {
                let list = File::open(&target.file_list)
                    .with_context(|| format!("{}: cannot open", target.file_list.display()))?;
                command
                    .arg(Reader::Wc.binary())
                    .args(Reader::Wc.fixed_args())
                    .env("LC_ALL", "C")
                    .stdin(list);
            }
            Program::Tool {
                tool,
                algorithm,
                jobs,
            } => {
                let invocation = tool.invocation(*algorithm, target, *jobs);
                command.arg(&invocation.program).args(&invocation.args);
                if invocation.reads_list {
                    let list = File::open(&target.file_list)
                        .with_context(|| format!("{}: cannot open", target.file_list.display()))?;
                    command.stdin(list);
                } else {
                    command.stdin(Stdio::null());
                }
                // Appended to: each write lands whole, whichever process makes it.
                let _ = std::fs::remove_file(&self.tool_output);
                let out = File::options()
                    .create(true)
                    .append(true)
                    .open(&self.tool_output)
                    .with_context(|| format!("{}: cannot write", self.tool_output.display()))?;
                command.stdout(out);
                tool_run = Some((*tool, *jobs));
            }
        }
        if tool_run.is_none() {
            command.stdout(Stdio::piped());
        }
        command.stderr(Stdio::piped()).process_group(0);
        let mut child = command
            .spawn()
            .with_context(|| format!("{}: cannot start", variant.label))?;
        let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().context("no stderr")?;
        let is_wc = variant.program == Program::Wc;
        let finder = matches!(variant.program, Program::Finder { .. });
        // Under a digest work a reader's every record is kept, to be read once it has ended.
        let whole = is_wc || finder || variant.work != Work::Count;
        let out = std::thread::spawn(move || match stdout {
            None => Ok(Vec::new()),
            Some(stdout) if whole => read_all(stdout),
            Some(stdout) => last_line(stdout),
        });
        let err = std::thread::spawn(move || read_head(stderr, 4096));
        let (done, watchdog) = mpsc::channel::<()>();
        let timeout = self.timeout;
        let killer = std::thread::spawn(move || {
            if watchdog.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                // SAFETY: kill has no memory-safety preconditions; the group is the child's.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                true
            } else {
                false
            }
        });
        let waited = child.wait();
        let _ = done.send(());
        let timed_out = killer.join().unwrap_or(false);
        waited.context("wait")?;
        let out = out
            .join()
            .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
        let err_text = err
            .join()
            .map_err(|_| anyhow::anyhow!("stderr reader panicked"))??;
        let stderr_line = String::from_utf8_lossy(&err_text)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        if timed_out {
            anyhow::bail!("killed after the {} s timeout", timeout.as_secs());
        }
        let report = std::fs::read_to_string(&self.report).unwrap_or_default(); // whole-file read ok: one line
        let usage = Usage::parse(&report)
            .with_context(|| format!("no usage report from the helper {stderr_line}"))?;
        let status = usage.status;
        let mut m = Measurement {
            wall_ms: usage.wall_ms,
            user_ms: usage.user_ms,
            sys_ms: usage.sys_ms,
            peak_rss_kib: usage.peak_rss_kib,
            peak_vm_kib: self.sample_vm.then_some(usage.peak_vm_kib),
            exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            ..Measurement::default()
        };
        if let Some((tool, jobs)) = tool_run {
            let text = std::fs::read(&self.tool_output) // whole-file read ok: one line a file of the tree
                .with_context(|| format!("{}: cannot read", self.tool_output.display()))?;
            m.jobs_used = u64::try_from(jobs).ok();
            match tool.parse(&String::from_utf8_lossy(&text), &target.tree) {
                Ok(found) => m.digests = Some(found),
                Err(problem) => m.error = Some(format!("{}: {problem}", tool.name())),
            }
        } else if is_wc {
            m.totals = parse_wc(&String::from_utf8_lossy(&out));
        } else if finder {
            m.output = Some(out);
        } else {
            let summary = last_line(out.as_slice())?;
            parse_summary(&summary, &mut m);
            if let Some(algorithm) = variant.work.algorithm() {
                m.digests = Some(digests::from_records(&out, algorithm, &target.tree));
            }
        }
        if libc::WIFSIGNALED(status) {
            m.error = Some(format!("killed by signal {}", libc::WTERMSIG(status)));
        } else if tool_run.is_some() || finder {
            if m.exit_code != Some(0) && m.error.is_none() {
                m.error = Some(
                    format!("failed (exit {:?}) {stderr_line}", m.exit_code)
                        .trim()
                        .to_string(),
                );
            }
        } else if m.exit_code != Some(0) || m.totals.is_none() {
            let what = if m.totals.is_none() {
                "no totals"
            } else {
                "failed"
            };
            m.error = Some(
                format!("{what} (exit {:?}) {stderr_line}", m.exit_code)
                    .trim()
                    .to_string(),
            );
        }
        Ok(m)
    }
}

fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

/// The first `limit` bytes of `r`, reading (and dropping) the rest so the child never blocks.
fn read_head(mut r: impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(head);
        }
        let room = limit.saturating_sub(head.len()).min(n);
        head.extend_from_slice(&buf[..room]);
    }
}

/// The last non-empty line of `r`, draining all of it.
pub fn last_line(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut last = Vec::new();
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..pos]);
            if !line.is_empty() {
                std::mem::swap(&mut last, &mut line);
            }
            line.clear();
            chunk = &chunk[pos + 1..];
        }
        line.extend_from_slice(chunk);
    }
    if !line.is_empty() {
        last = line;
    }
    Ok(last)
}

/// Reads the JSON summary line into `m` (totals, jobs, threads, the reader's elapsed time).
pub fn parse_summary(line: &[u8], m: &mut Measurement) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
        return;
    };
    if value["type"] != "summary" {
        return;
    }
    let num = |key: &str| value[key].as_u64();
    if let (Some(files), Some(bytes), Some(lines), Some(words)) =
        (num("files"), num("bytes"), num("lines"), num("words"))
    {
        m.totals = Some(Totals {
            files,
            failed: num("failed").unwrap_or(0),
            skipped: num("skipped").unwrap_or(0),
            bytes,
            lines,
            words,
        });
    }
    m.jobs_used = num("jobs");
    m.threads = num("threads");
    m.reader_elapsed_ms = value["elapsed_ms"].as_f64();
}

/// Totals from `wc -lwc` output, over every `xargs` batch: per-file lines are summed, and a
/// batch's `total` line replaces the files it sums (a batch of one file has none).
pub fn parse_wc(output: &str) -> Option<Totals> {
    let mut totals = Totals::default();
    let mut pending = Totals::default();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let mut next = || fields.next().and_then(|f| f.parse::<u64>().ok());
        let (lines, words, bytes) = (next()?, next()?, next()?);
        let name = line.split_whitespace().nth(3).unwrap_or("");
        if name == "total" && pending.files > 1 {
            totals.files += pending.files;
            totals.lines += lines;
            totals.words += words;
            totals.bytes += bytes;
            pending = Totals::default();
        } else {
            pending.files += 1;
            pending.lines += lines;
            pending.words += words;
            pending.bytes += bytes;
        }
    }
    totals.files += pending.files;
    totals.lines += pending.lines;
    totals.words += pending.words;
    totals.bytes += pending.bytes;
    Some(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_survives_any_chunking() {
        let mut text = String::new();
        for i in 0..50_000 {
            text.push_str(&format!("{{\"type\":\"file\",\"n\":{i}}}\n"));
        }
        text.push_str("{\"type\":\"summary\"}\n\n");
        assert_eq!(
            last_line(text.as_bytes()).ok(),
            Some(b"{\"type\":\"summary\"}".to_vec())
        );
        assert_eq!(
            last_line(&b"no newline"[..]).ok(),
            Some(b"no newline".to_vec())
        );
    }

    #[test]
    fn summaries_are_read() {
        let mut m = Measurement::default();
        parse_summary(
            br#"{"type":"summary","strategy":"threads","jobs":3,"files":3,"ok":2,"failed":1,"skipped":1,"bytes":1234,"lines":40,"words":210,"elapsed_ms":12.5,"threads":4}"#,
            &mut m,
        );
        assert_eq!(
            m.totals,
            Some(Totals {
                files: 3,
                failed: 1,
                skipped: 1,
                bytes: 1234,
                lines: 40,
                words: 210
            })
        );
        assert_eq!(
            (m.jobs_used, m.threads, m.reader_elapsed_ms),
            (Some(3), Some(4), Some(12.5))
        );
        let mut none = Measurement::default();
        parse_summary(br#"{"type":"file","path":"a"}"#, &mut none);
        parse_summary(b"garbage", &mut none);
        assert_eq!(none, Measurement::default());
    }

    #[test]
    fn wc_batches_are_summed_once() {
        // Two xargs batches (with totals) and a last batch of one file (without).
        let out = "  1  2  3 a\n  4  5  6 b\n  5  7  9 total\n 10 10 10 c\n 10 10 10 d\n 20 20 20 total\n  1  1  1 e\n";
        assert_eq!(
            parse_wc(out),
            Some(Totals {
                files: 5,
                failed: 0,
                skipped: 0,
                bytes: 30,
                lines: 26,
                words: 28
            })
        );
        assert_eq!(parse_wc("wc: x: No such file\n"), None);
    }

    #[test]
    fn a_hung_run_is_killed_with_its_group_and_a_missing_report_is_a_failure() {
        let dir = std::env::temp_dir().join(format!("xtask-run-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let target = Target {
            name: "t".into(),
            tree: dir.clone(),
            file_list: dir.join("list"),
            files: vec![],
        };
        // A stand-in helper that runs PROGRAM without writing a report.
        let helper = ["sh", "-c", "shift; exec \"$@\"", "helper"]
            .map(OsString::from)
            .to_vec();
        let mut runner = ProcessRunner {
            helper,
            report: dir.join("report"),
            timeout: Duration::from_millis(300),
            cache_drop: CacheDrop::Fadvise,
            sample_vm: false,
            tool_output: dir.join("tool"),
        };
        let sleeper = Variant {
            label: "sleep".into(),
            reader: "sleep".into(),
            work: Work::Count,
            jobs: None,
            threshold: None,
            program: Program::Reader {
                path: "sh".into(),
                args: vec!["-c".into(), "sleep 30".into()],
            },
        };
        let started = std::time::Instant::now();
        let m = runner.run(&sleeper, &target);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            m.error.as_deref().is_some_and(|e| e.contains("timeout")),
            "{m:?}"
        );
        runner.timeout = Duration::from_secs(30);
        let quick = Variant {
            program: Program::Reader {
                path: "sh".into(),
                args: vec!["-c".into(), "echo hi".into()],
            },
            ..sleeper
        };
        let m = runner.run(&quick, &target);
        assert!(
            m.error
                .as_deref()
                .is_some_and(|e| e.contains("no usage report")),
            "{m:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

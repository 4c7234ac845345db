//! The records a run produces — one per discovered entry — and the summary that closes it.
//!
//! Each type serialises to the JSON Lines shape of the contract (docs/CONTRACT.md); a path that
//! is not UTF-8 is written losslessly (see [`crate::record::names`]). The field names are a contract.

mod error;
pub mod names;

pub use error::{ErrorKind, FileError, ModelError, RunError, StartError, panic_message};

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::record::names::Lossless;
use crate::walk::FileJob;
use crate::walk::Part;
use crate::work::Counts;
use crate::work::Output;
use crate::work::{Blake3Range, Blake3Subtree, Digest};
use crate::work::{Measured, MeasuredRange};

/// Who read a file: shown as `thread-2`, `task-7`, `pid-4242`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Worker {
    /// The caller's own thread (the sequential reader).
    Main,
    /// An OS thread of a pool, by index.
    Thread(u32),
    /// An async task slot, by index.
    Task(u32),
    /// A worker process, by pid.
    Process(u32),
    /// Several threads reading byte ranges of one file.
    Split(u32),
}

impl fmt::Display for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Worker::Main => f.write_str("main"),
            Worker::Thread(i) => write!(f, "thread-{i}"),
            Worker::Task(i) => write!(f, "task-{i}"),
            Worker::Process(pid) => write!(f, "pid-{pid}"),
            Worker::Split(n) => write!(f, "split-{n}"),
        }
    }
}

impl std::str::FromStr for Worker {
    type Err = String;

    /// The inverse of `Display`: `main`, `thread-2`, `task-7`, `pid-4242`, `split-4`.
    fn from_str(text: &str) -> Result<Worker, String> {
        if text == "main" {
            return Ok(Worker::Main);
        }
        let invalid =
            || format!("'{text}' is not a worker (main, thread-N, task-N, pid-N, split-N)");
        let (kind, number) = text.rsplit_once('-').ok_or_else(invalid)?;
        let number: u32 = number.parse().map_err(|_| invalid())?;
        match kind {
            "thread" => Ok(Worker::Thread(number)),
            "task" => Ok(Worker::Task(number)),
            "pid" => Ok(Worker::Process(number)),
            "split" => Ok(Worker::Split(number)),
            _ => Err(invalid()),
        }
    }
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileResult {
    /// The path as discovered.
    pub path: PathBuf,
    /// Its counts, or why it could not be read.
    pub outcome: Result<Counts, FileError>,
    /// Its digests ([`FileJob::digests`]), in the order of [`Algorithm::ALL`](crate::Algorithm::ALL);
    /// none when it was not read, or when none were asked for.
    pub digests: Vec<Digest>,
    /// What the walk's own work made of it ([`Walk::work`](crate::Walk::work)), if it has one
    /// and the file was read.
    pub output: Option<Output>,
    /// Time spent reading it.
    pub elapsed: Duration,
    /// Who read it.
    pub worker: Worker,
    /// The byte range of the file this result is for, when the file is split over shards
    /// ([`FileJob::part`]), with what the read found at its edges; `None`: the whole file.
    pub part: Option<Part>,
    /// The subtrees of BLAKE3's tree that this part holds, in order, each by its chaining
    /// value ([`Blake3Range::subtrees`](crate::Blake3Range::subtrees)): what `reader-merge`
    /// joins into the whole file's BLAKE3. Only for a part read with BLAKE3 asked for (and
    /// empty when its range held no byte); `None` otherwise.
    pub blake3_subtrees: Option<Vec<Blake3Subtree>>,
}

impl FileResult {
    /// The result of reading `job`: its path (moved, not copied) and part, with `outcome`.
    pub fn of(
        job: FileJob,
        outcome: Result<Counts, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        FileResult {
            path: job.path,
            outcome,
            digests: Vec::new(),
            output: None,
            elapsed,
            worker,
            part: job.part,
            blake3_subtrees: None,
        }
    }

    /// The result of reading `job` with [`Measure`](crate::Measure): its counts and its
    /// digests.
    pub fn measured(
        job: FileJob,
        outcome: Result<Measured, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        match outcome {
            Ok(Measured {
                counts,
                digests,
                output,
            }) => FileResult {
                digests,
                output,
                ..FileResult::of(job, Ok(counts), elapsed, worker)
            },
            Err(err) => FileResult::of(job, Err(err), elapsed, worker),
        }
    }

    /// The result of reading the byte range of `job` ([`FileJob::part`]) with
    /// [`MeasureRanges`](crate::MeasureRanges): the range's counts, what joining it to its
    /// neighbours needs (its edges, in the part), and its BLAKE3 subtrees when BLAKE3 was
    /// asked for ([`FileResult::blake3_subtrees`]).
    pub fn measured_range(
        job: FileJob,
        outcome: Result<MeasuredRange, FileError>,
        elapsed: Duration,
        worker: Worker,
    ) -> FileResult {
        let mut part = job.part;
        let (outcome, blake3_subtrees) = match outcome {
            Ok(range) => {
                if let Some(part) = &mut part {
                    part.edges = range.counts.edges();
                }
                let subtrees = range.blake3().map(Blake3Range::subtrees);
                (Ok(range.counts.counts()), subtrees)
            }
            Err(err) => (Err(err), None),
        };
        FileResult {
            part,
            blake3_subtrees,
            ..FileResult::of(job, outcome, elapsed, worker)
        }
    }

    /// The record of an entry that failed before any reader got to it (discovery could not
    /// look at it): no time spent, no worker.
    pub fn failed(err: FileError) -> FileResult {
        FileResult {
            path: err.path().to_path_buf(),
            outcome: Err(err),
            digests: Vec::new(),
            output: None,
            elapsed: Duration::ZERO,
            worker: Worker::Main,
            part: None,
            blake3_subtrees: None,
        }
    }

    /// The record of a file that no reader is left to read: `worker_crashed`, with the
    /// message `not read: {why}`.
    pub fn abandoned(job: FileJob, why: &str) -> FileResult {
        let part = job.part;
        FileResult {
            digests: Vec::new(),
            output: None,
            part,
            ..FileResult::failed(FileError::not_read(job.path, why))
        }
    }
}

/// Why an entry was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A named pipe: opening one can block forever.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A block device.
    BlockDevice,
    /// A character device (`/dev/zero` never ends).
    CharDevice,
    /// A symbolic link, not followed without `--follow`.
    Symlink,
    /// A regular file smaller than the walk's minimum size (`--min-size`).
    TooSmall,
    /// A regular file larger than the walk's maximum size (`--max-size`).
    TooLarge,
}

impl SkipReason {
    /// The stable name used in JSON and CSV output.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::BlockDevice => "block_device",
            SkipReason::CharDevice => "char_device",
            SkipReason::Symlink => "symlink",
            SkipReason::TooSmall => "too_small",
            SkipReason::TooLarge => "too_large",
        }
    }
}

/// An entry that was discovered but deliberately not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path as discovered.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: SkipReason,
}

/// One line of output: every discovered entry yields exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A file that was read, or failed.
    File(FileResult),
    /// An entry that was not read.
    Skipped(Skipped),
}

/// The JSON of one file. `reader-cli` writes the common case (a whole file read, under a UTF-8
/// path) by hand, in `output.rs`, whose property test holds it to this, byte for byte: a change
/// of fields here shows there as a failing test.
impl Serialize for FileResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let counts = self.outcome.as_ref().ok();
        let fields = if self.part.is_some() { 15 } else { 8 }
            + self.digests.len()
            + usize::from(self.part.is_some() && self.blake3_subtrees.is_some());
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("type", if self.part.is_some() { "part" } else { "file" })?;
        map.serialize_entry("path", &Lossless(&self.path))?;
        map.serialize_entry("size", &counts.map(|c| c.bytes))?;
        map.serialize_entry("lines", &counts.map(|c| c.lines))?;
        map.serialize_entry("words", &counts.map(|c| c.words))?;
        for digest in &self.digests {
            map.serialize_entry(digest.algorithm().name(), &Shown(digest))?;
        }
        map.serialize_entry("elapsed_us", &duration_us(self.elapsed))?;
        map.serialize_entry("worker", &Shown(&self.worker))?;
        match &self.outcome {
            Ok(_) => map.serialize_entry("error", &())?,
            Err(err) => map.serialize_entry(
                "error",
                &ErrorJson {
                    kind: err.kind().as_str(),
                    message: err.to_string(),
                },
            )?,
        }
        if let Some(part) = &self.part {
            map.serialize_entry("part", &part.index)?;
            map.serialize_entry("parts", &part.parts)?;
            map.serialize_entry("start", &part.start)?;
            map.serialize_entry("end", &part.end)?;
            map.serialize_entry("file_size", &part.file_size)?;
            map.serialize_entry("starts_in_word", &part.edges.starts_in_word)?;
            map.serialize_entry("ends_in_word", &part.edges.ends_in_word)?;
            if let Some(subtrees) = &self.blake3_subtrees {
                map.serialize_entry("blake3_subtrees", &SubtreesJson(subtrees))?;
            }
        }
        map.end()
    }
}

/// A part's BLAKE3 subtrees as the contract writes them: `[[start, len, "<hex>"], …]`.
struct SubtreesJson<'a>(&'a [Blake3Subtree]);

impl Serialize for SubtreesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for subtree in self.0 {
            let chaining_value = Hex(&subtree.chaining_value);
            seq.serialize_element(&(subtree.start, subtree.len, Shown(&chaining_value)))?;
        }
        seq.end()
    }
}

/// Bytes shown in lower-case hexadecimal.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// A value serialized as the text its `Display` writes, without a `String` in between (one
/// record a file is serialized).
struct Shown<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Shown<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

#[derive(Serialize)]
struct ErrorJson {
    kind: &'static str,
    message: String,
}

impl Serialize for Skipped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("type", "skipped")?;
        map.serialize_entry("path", &Lossless(&self.path))?;
        map.serialize_entry("reason", self.reason.as_str())?;
        map.end()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::File(file) => file.serialize(s),
            Record::Skipped(skipped) => skipped.serialize(s),
        }
    }
}

/// The totals of a run, as its records reached the sink: what the summary line reports.
///
/// `files = ok + failed`; `skipped` counts the entries not read; `bytes`, `lines` and `words`
/// sum the files read. The byte ranges of files split over shards count as files, and
/// `parts` says how many of them are such ranges (only `reader-merge` can total their words
/// exactly, by joining them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The concurrency model: `sequential`, `threads`, `async`, `hybrid`, `proc`.
    pub strategy: &'static str,
    /// Threads, processes or files in flight ([`Stats::jobs`](crate::Stats::jobs)).
    pub jobs: usize,
    /// Files attempted: `ok + failed`.
    pub files: u64,
    /// Files read.
    pub ok: u64,
    /// Files that failed.
    pub failed: u64,
    /// Entries not read.
    pub skipped: u64,
    /// Bytes read, over every file read.
    pub bytes: u64,
    /// Lines, over every file read.
    pub lines: u64,
    /// Words, over every file read.
    pub words: u64,
    /// Wall time of the whole run, in milliseconds.
    pub elapsed_ms: f64,
    /// Reads given up on after the per-file timeout that had not ended when the run did
    /// ([`stuck_reads`](crate::stuck_reads)): each holds a thread in the kernel, and the
    /// process cannot be reaped before they end. Not written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub stuck_reads: u64,
    /// Directory listings given up on after the time limit, or made ahead of the walk, that had
    /// not ended a moment after the run did ([`stuck_listings`](crate::stuck_listings)): each
    /// holds a thread in the kernel, and the process cannot be reaped before they end. Not
    /// written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub stuck_listings: u64,
    /// How many of `files` are byte ranges of files split over shards (`--shard-split`). Not
    /// written when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub parts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    /// A summary of nothing yet, for a run of `strategy`.
    pub fn new(strategy: &'static str) -> Summary {
        Summary {
            strategy,
            ..Summary::default()
        }
    }

    /// Counts one record.
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::File(file) => {
                self.files += 1;
                self.parts += u64::from(file.part.is_some());
                match &file.outcome {
                    Ok(counts) => {
                        self.ok += 1;
                        self.bytes += counts.bytes;
                        self.lines += counts.lines;
                        self.words += counts.words;
                    }
                    Err(_) => self.failed += 1,
                }
            }
            Record::Skipped(_) => self.skipped += 1,
        }
    }

    /// The totals of the files read.
    pub fn counts(&self) -> Counts {
        Counts {
            bytes: self.bytes,
            lines: self.lines,
            words: self.words,
        }
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::error::ErrorKind;

    #[test]
    fn file_json_has_the_contract_fields_in_order() {
        let ok = FileResult {
            digests: Vec::new(),
            output: None,
            path: "docs/a.txt".into(),
            outcome: Ok(Counts {
                bytes: 1234,
                lines: 40,
                words: 210,
            }),
            elapsed: Duration::from_micros(35),
            worker: Worker::Thread(2),
            part: None,
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap_or_default(),
            r#"{"type":"file","path":"docs/a.txt","size":1234,"lines":40,"words":210,"elapsed_us":35,"worker":"thread-2","error":null}"#
        );
        let failed = FileResult {
            digests: Vec::new(),
            output: None,
            path: "docs/gone.txt".into(),
            outcome: Err(FileError::new(
                ErrorKind::NotFound,
                "docs/gone.txt",
                "No such file or directory (os error 2)",
            )),
            elapsed: Duration::from_micros(3),
            worker: Worker::Process(4242),
            part: None,
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap_or_default(),
            r#"{"type":"file","path":"docs/gone.txt","size":null,"lines":null,"words":null,"elapsed_us":3,"worker":"pid-4242","error":{"kind":"not_found","message":"docs/gone.txt: No such file or directory (os error 2)"}}"#
        );
    }

    #[test]
    fn a_part_of_a_split_file_says_which_range_and_its_edges() {
        let mut part = Part::new(1, 3, 1 << 20);
        part.edges.starts_in_word = true;
        let result = FileResult {
            digests: Vec::new(),
            output: None,
            path: "big.log".into(),
            outcome: Ok(Counts {
                bytes: 349_184,
                lines: 2,
                words: 9,
            }),
            elapsed: Duration::from_micros(5),
            worker: Worker::Thread(0),
            part: Some(part),
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&result).unwrap_or_default(),
            r#"{"type":"part","path":"big.log","size":349184,"lines":2,"words":9,"elapsed_us":5,"worker":"thread-0","error":null,"part":1,"parts":3,"start":349184,"end":698368,"file_size":1048576,"starts_in_word":true,"ends_in_word":false}"#
        );
        let mut summary = Summary::new("threads");
        summary.add(&Record::File(result.clone()));
        assert_eq!((summary.files, summary.ok, summary.parts), (1, 1, 1));
        // With BLAKE3: the subtrees it holds, last.
        let mut chaining_value = [0; 32];
        chaining_value[0] = 0xab;
        chaining_value[31] = 0x01;
        let hashed = FileResult {
            blake3_subtrees: Some(vec![
                Blake3Subtree {
                    start: 349_184,
                    len: 1024,
                    chaining_value,
                },
                Blake3Subtree {
                    start: 350_208,
                    len: 348_160,
                    chaining_value: [0xff; 32],
                },
            ]),
            ..result
        };
        let json = serde_json::to_string(&hashed).unwrap_or_default();
        let tail = format!(
            r#""ends_in_word":false,"blake3_subtrees":[[349184,1024,"ab{}01"],[350208,348160,"{}"]]}}"#,
            "00".repeat(30),
            "ff".repeat(32)
        );
        assert!(json.ends_with(&tail), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(parsed.as_object().map(|o| o.len()), Some(16), "{json}");
    }

    #[test]
    fn workers_read_back_as_they_are_shown() {
        for worker in [
            Worker::Main,
            Worker::Thread(2),
            Worker::Task(0),
            Worker::Process(4242),
            Worker::Split(4),
        ] {
            assert_eq!(worker.to_string().parse::<Worker>(), Ok(worker));
        }
        for bad in ["", "thread", "thread-", "thread-x", "fiber-1", "main-1"] {
            assert!(bad.parse::<Worker>().is_err(), "{bad}");
        }
    }

    #[test]
    fn skipped_json() {
        let s = Record::Skipped(Skipped {
            path: "docs/pipe.txt".into(),
            reason: SkipReason::Fifo,
        });
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            r#"{"type":"skipped","path":"docs/pipe.txt","reason":"fifo"}"#
        );
    }

    #[test]
    fn non_utf8_paths_are_written_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::OsStr::from_bytes(b"bad\xffname").into();
        let s = Skipped {
            path,
            reason: SkipReason::Socket,
        };
        let json = serde_json::to_string(&s).unwrap_or_default();
        // base64 of b"bad\xffname"
        assert!(
            json.contains(r#""path":{"bytes":"YmFk/25hbWU="}"#),
            "{json}"
        );
    }
}

//! `reader-read-only`: the benchmark's reference, not a reader. It reads every byte of every
//! file the same walk finds, with two threads (or `--jobs`) and 64 KiB buffers, and counts
//! nothing: its time is what the system calls and copies alone cost, the limit a reader's time
//! is measured against. Its records and summary have `bytes` right and `lines` and `words` 0.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use reader_cli::{Binary, NoFlags};
use reader_core::defaults::{BUFFER_SIZE, FILES_PER_TAKE};
use reader_core::{
    Concurrency, Counts, Emitter, FileResult, Jobs, RunError, Schedule, StartError, Worker,
    read_file,
};

const BINARY: Binary = Binary {
    name: "reader-read-only",
    about: "Reads every byte of every file and counts nothing: the benchmark's reference for what the system calls cost (lines and words are reported as 0).",
    uses: &[],
};

/// The reference's threads, as the issue that asked for it measured: one per core of the
/// benchmark machine.
const THREADS: usize = 2;

/// A pool of threads that read and count nothing.
#[derive(Debug, Clone, Copy)]
struct ReadOnly {
    threads: usize,
}

impl ReadOnly {
    fn work(self, index: usize, jobs: &Jobs, mut out: Emitter) {
        let worker = Worker::Thread(u32::try_from(index).unwrap_or(u32::MAX));
        let mut buf = vec![0; BUFFER_SIZE];
        loop {
            // As reader-threads takes them: a share of what waits.
            let batch = jobs.next_guided(self.threads, FILES_PER_TAKE, &mut out);
            if batch.is_empty() {
                return;
            }
            for job in batch {
                let started = Instant::now();
                let outcome =
                    read_file(&job.path, &mut buf, &reader_core::ReadOnly).map(|bytes| Counts {
                        bytes,
                        ..Counts::default()
                    });
                let elapsed = started.elapsed();
                out.emit(FileResult::of(job, outcome, elapsed, worker));
            }
        }
    }
}

impl Schedule for ReadOnly {
    type Stats = Concurrency;

    fn strategy(&self) -> &'static str {
        "read-only"
    }

    fn schedule(&self, jobs: &Jobs, out: Emitter) -> Result<Concurrency, RunError> {
        let threads = reader_core::pool(self.threads, jobs, out, |index, jobs, out| {
            self.work(index, jobs, out)
        });
        Ok(Concurrency(threads))
    }
}

fn main() -> ExitCode {
    reader_cli::main(BINARY, |args, _: &NoFlags| {
        if args.timeout.is_some() {
            return Err(StartError::Invalid(
                "the reference has no --timeout: it is timed against the readers without one"
                    .into(),
            ));
        }
        if args.max_bytes.is_some() {
            return Err(StartError::Invalid(
                "the reference reads every byte: it has no --max-bytes".into(),
            ));
        }
        if args.digest.is_some() {
            return Err(StartError::Invalid(
                "the reference reads every byte and makes nothing of it: it has no --digest".into(),
            ));
        }
        if args.shard_split.is_some() {
            return Err(StartError::Invalid(
                "the reference reads whole files: it has no --shard-split".into(),
            ));
        }
        Ok(ReadOnly {
            threads: reader_core::defaults::clamp_readers(args.jobs.unwrap_or(THREADS)),
        })
    })
}

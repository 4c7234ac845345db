//! Where a worker sends its records: an [`Emitter`] gathers them in a small batch that goes to
//! the run's caller when it is full, when the reads of its files have taken a while (or a
//! record without a read has waited a while), when the worker is about to wait for work, or
//! when the emitter is dropped (even by a panic). A [`Tally`] counts what one part of a
//! schedule reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use crate::record::{FileResult, Record};

/// Records a worker gathers before sending them on.
const EMIT_BATCH: usize = 64;
/// A batch whose files took this long to read goes at once (a worker busy on one long file
/// sends what it has once that file is done). Their reads were timed already, so a batch of
/// read files costs no clock read of its own; one that holds a record without a read (a
/// skipped entry, a failure of discovery) is timed from that record on, and goes with the
/// first record that joins it this long after.
const EMIT_DELAY: Duration = Duration::from_millis(50);

/// Where a worker sends its records. Clone one per worker; records reach the caller in order
/// per emitter, and every emitter's records reach it before the run ends.
pub struct Emitter {
    tx: SyncSender<Vec<Record>>,
    batch: Vec<Record>,
    /// How long the reads of the batch's files took, together.
    read_for: Duration,
    /// When the batch's first record without a read joined it.
    unread_since: Option<Instant>,
    tally: Option<Tally>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("pending", &self.batch.len())
            .field("tally", &self.tally)
            .finish()
    }
}

impl Clone for Emitter {
    fn clone(&self) -> Self {
        let mut clone = Emitter::new(self.tx.clone());
        clone.tally = self.tally.clone();
        clone
    }
}

impl Emitter {
    pub(super) fn new(tx: SyncSender<Vec<Record>>) -> Emitter {
        Emitter {
            tx,
            batch: Vec::with_capacity(EMIT_BATCH),
            read_for: Duration::ZERO,
            unread_since: None,
            tally: None,
        }
    }

    /// This emitter, counting every file it sends in `tally` (and so do its clones).
    #[must_use]
    pub fn counting(mut self, tally: &Tally) -> Emitter {
        self.tally = Some(tally.clone());
        self
    }

    /// Sends one file's result on its way.
    pub fn emit(&mut self, result: FileResult) {
        self.record(Record::File(result));
    }

    /// Sends one record on its way.
    pub fn record(&mut self, record: Record) {
        let read_for = match &record {
            Record::File(file) => {
                if let Some(tally) = &self.tally {
                    tally.add(file);
                }
                file.elapsed
            }
            Record::Skipped(_) => Duration::ZERO,
        };
        self.read_for += read_for;
        if read_for.is_zero() {
            self.unread_since.get_or_insert_with(Instant::now);
        }
        self.batch.push(record);
        let waited = || {
            self.read_for >= EMIT_DELAY
                || self
                    .unread_since
                    .is_some_and(|since| since.elapsed() >= EMIT_DELAY)
        };
        if self.batch.len() >= EMIT_BATCH || waited() {
            self.flush();
        }
    }

    /// Sends what is pending now.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.read_for = Duration::ZERO;
            self.unread_since = None;
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(EMIT_BATCH));
            // The receiver lives until every emitter is gone; an error means the caller is
            // unwinding, and then there is nobody left to tell.
            let _ = self.tx.send(batch);
        }
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Files and bytes that went through the emitters counting in it ([`Emitter::counting`]):
/// how a schedule made of parts tells what each part did. Clones count into the same tally.
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<TallyCounts>);

#[derive(Debug, Default)]
struct TallyCounts {
    files: AtomicU64,
    bytes: AtomicU64,
}

impl Tally {
    /// A tally of nothing yet.
    pub fn new() -> Tally {
        Tally::default()
    }

    fn add(&self, file: &FileResult) {
        self.0.files.fetch_add(1, Ordering::Relaxed);
        if let Ok(counts) = &file.outcome {
            self.0.bytes.fetch_add(counts.bytes, Ordering::Relaxed);
        }
    }

    /// Files reported, read or failed.
    pub fn files(&self) -> u64 {
        self.0.files.load(Ordering::Relaxed)
    }

    /// Bytes of the files read.
    pub fn bytes(&self) -> u64 {
        self.0.bytes.load(Ordering::Relaxed)
    }
}

/// An emitter whose records a test collects.
#[cfg(test)]
pub(super) fn channel() -> (Emitter, Received) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1 << 16);
    (Emitter::new(tx), Received(rx))
}

/// What the emitters of [`channel`] sent.
#[cfg(test)]
pub(super) struct Received(std::sync::mpsc::Receiver<Vec<Record>>);

#[cfg(test)]
impl Received {
    /// Every record, once every emitter is gone.
    pub(super) fn collect(self) -> Vec<Record> {
        self.0.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Worker;
    use crate::record::{ErrorKind, FileError};
    use crate::work::Counts;

    fn file(bytes: u64, ok: bool) -> FileResult {
        FileResult {
            digests: Vec::new(),
            output: None,
            path: "f".into(),
            outcome: if ok {
                Ok(Counts {
                    bytes,
                    ..Counts::default()
                })
            } else {
                Err(FileError::new(ErrorKind::Io, "f", "failed"))
            },
            elapsed: Duration::ZERO,
            worker: Worker::Main,
            part: None,
            blake3_subtrees: None,
        }
    }

    #[test]
    fn records_arrive_when_the_emitters_are_gone_and_tallies_count_them() {
        let (out, received) = channel();
        let tally = Tally::new();
        let mut counted = out.clone().counting(&tally);
        let mut clone = counted.clone();
        counted.emit(file(10, true));
        clone.emit(file(5, true));
        clone.emit(file(0, false));
        let mut plain = out;
        plain.emit(file(99, true));
        drop((counted, clone, plain));
        assert_eq!(received.collect().len(), 4);
        assert_eq!((tally.files(), tally.bytes()), (3, 15));
    }

    #[test]
    fn a_batch_goes_when_full_or_when_its_reads_took_long_and_not_before() {
        let (mut out, received) = channel();
        let waiting =
            |received: &Received| received.0.try_iter().map(|b| b.len()).collect::<Vec<_>>();
        for _ in 0..EMIT_BATCH - 1 {
            out.emit(file(1, true));
        }
        assert_eq!(
            waiting(&received),
            [0; 0],
            "a batch short of full, read quickly, waits"
        );
        out.emit(file(1, true));
        assert_eq!(waiting(&received), [EMIT_BATCH]);
        out.emit(file(1, true));
        let slow = FileResult {
            digests: Vec::new(),
            output: None,
            elapsed: EMIT_DELAY / 2,
            ..file(1, true)
        };
        out.emit(slow.clone());
        assert_eq!(waiting(&received), [0; 0], "half the delay is not enough");
        out.emit(slow);
        assert_eq!(waiting(&received), [3], "two slow reads make up the delay");
        out.emit(file(1, true));
        assert_eq!(
            waiting(&received),
            [0; 0],
            "the count of time starts afresh"
        );
        let skipped = || {
            Record::Skipped(crate::record::Skipped {
                path: "fifo".into(),
                reason: crate::record::SkipReason::Fifo,
            })
        };
        out.record(skipped());
        assert_eq!(
            waiting(&received),
            [0; 0],
            "a record without a read waits a while"
        );
        std::thread::sleep(EMIT_DELAY);
        out.record(skipped());
        assert_eq!(
            waiting(&received),
            [3],
            "and goes with the next one after the delay"
        );
        drop(out);
        assert_eq!(received.collect().len(), 0);
    }
}

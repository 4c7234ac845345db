//! Where a worker sends its records: an [`Emitter`] gathers them in a small batch that goes to
//! the run's caller when it is full, when the reads of its files have taken a while, when the
//! worker is about to wait for work, or when the emitter is dropped (even by a panic). A
//! [`Tally`] counts what one part of a schedule reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use crate::record::{FileResult, Record};

/// Records a worker gathers before sending them on.
const EMIT_BATCH: usize = 64;
/// A batch whose files took this long to read goes at once (a worker busy on one long file
/// sends what it has once that file is done). Their reads were timed already: the batch's age
/// costs no clock read of its own.
const EMIT_DELAY: Duration = Duration::from_millis(50);

/// Where a worker sends its records. Clone one per worker; records reach the caller in order
/// per emitter, and every emitter's records reach it before the run ends.
pub struct Emitter {
    tx: SyncSender<Vec<Record>>,
    batch: Vec<Record>,
    /// How long the reads of the batch's files took, together.
    read_for: Duration,
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
    pub(crate) fn new(tx: SyncSender<Vec<Record>>) -> Emitter {
        Emitter {
            tx,
            batch: Vec::with_capacity(EMIT_BATCH),
            read_for: Duration::ZERO,
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
        if let Record::File(file) = &record {
            if let Some(tally) = &self.tally {
                tally.add(file);
            }
            self.read_for += file.elapsed;
        }
        self.batch.push(record);
        if self.batch.len() >= EMIT_BATCH || self.read_for >= EMIT_DELAY {
            self.flush();
        }
    }

    /// Sends what is pending now.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.read_for = Duration::ZERO;
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
pub(crate) fn channel() -> (Emitter, Received) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1 << 16);
    (Emitter::new(tx), Received(rx))
}

/// What the emitters of [`channel`] sent.
#[cfg(test)]
pub(crate) struct Received(std::sync::mpsc::Receiver<Vec<Record>>);

#[cfg(test)]
impl Received {
    /// Every record, once every emitter is gone.
    pub(crate) fn collect(self) -> Vec<Record> {
        self.0.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::Counts;
    use crate::error::{ErrorKind, FileError};
    use crate::record::Worker;

    fn file(bytes: u64, ok: bool) -> FileResult {
        FileResult {
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
        drop(out);
        assert_eq!(received.collect().len(), 1);
    }
}

//! What every reader binary makes of a file: its counts and the digests the run asks for
//! ([`Measure`]), from one read. Each chunk goes to the counter and then to every hash in
//! turn, while it is still in the CPU's cache: one read, several consumers.
//!
//! A file may be read as byte ranges at once (the hybrid's splitter, or shards with
//! `--shard-split`) only when every digest asked for joins ranges ([`Measure::ranges`]):
//! counting and BLAKE3 do, SHA-256 and XXH3 do not. Your own work ([`CustomWork`]) rides
//! along in the same pass, and joins ranges (in the splitter) when it was given as
//! [`CustomWork::joinable`].

use crate::walk::FileJob;
use crate::work::count::{Counter, Counts, RangeCounts};
use crate::work::custom::{CustomFile, CustomRange, CustomWork, Output, RangeOutput};
use crate::work::digest::{
    Algorithm, Algorithms, Blake3, Blake3File, Blake3Range, Blake3RangeFile, Digest, Sha256,
    Sha256File, Xxh3, Xxh3File,
};
use crate::work::{Count, CountRange, FileWork, JoinRanges, Work};

/// How much of a chunk each consumer takes before the next one does: small enough to stay in
/// a core's L2 cache, so that the second consumer of a large mapped window reads it from
/// there, not from memory again; large enough for BLAKE3 to hash 16 chunks at once.
const PIECE: usize = 64 << 10;

/// The smallest chunk whose BLAKE3 is hashed on a thread beside the other digests
/// ([`MeasureFile::blake3_beside`]): the windows of a mapped file, never a read's buffer.
const BESIDE_FROM: usize = 1 << 20;

/// Counting, and the digests in a set, in one pass over each file.
///
/// ```
/// use reader_core::{Algorithm, Algorithms, Counts, Measure, read_file};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "abc")?;
/// let work = Measure::new(Algorithms::from(Algorithm::Sha256));
/// let measured = read_file(&path, &mut vec![0; 4096], &work)?;
/// assert_eq!(measured.counts, Counts { bytes: 3, lines: 0, words: 1 });
/// assert_eq!(
///     measured.digests[0].to_string(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measure {
    digests: Algorithms,
    custom: Option<CustomWork>,
}

impl Measure {
    /// Counting and the digests of `digests` (none: counting alone).
    pub fn new(digests: Algorithms) -> Measure {
        Measure {
            digests,
            custom: None,
        }
    }

    /// What `job` asks for: its digests ([`FileJob::digests`]) and its own work
    /// ([`FileJob::work`]).
    pub fn of(job: &FileJob) -> Measure {
        Measure {
            digests: job.digests,
            custom: job.work.clone(),
        }
    }

    /// The digests it computes.
    pub fn digests(&self) -> Algorithms {
        self.digests
    }

    /// The same work as one whose byte ranges join, when every digest of it joins ranges
    /// ([`Algorithms::joins_ranges`]) and so does its own work, if any; `None` when one cannot
    /// (SHA-256, XXH3, a [`CustomWork::new`]), and a file must then be read front to back on
    /// one thread.
    pub fn ranges(self) -> Option<MeasureRanges> {
        let custom_joins = self.custom.as_ref().is_none_or(CustomWork::joins_ranges);
        (self.digests.joins_ranges() && custom_joins).then(|| MeasureRanges {
            blake3: self.digests.contains(Algorithm::Blake3),
            custom: self.custom,
        })
    }
}

/// What [`Measure`] makes of a file: its counts, and its digests in the order of
/// [`Algorithm::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Measured {
    /// Its bytes, lines and words.
    pub counts: Counts,
    /// One digest for each algorithm asked for.
    pub digests: Vec<Digest>,
    /// What its own work made of it, if it had one.
    pub output: Option<Output>,
}

/// [`Measure`]'s state of one file: a counter, a hasher for each digest asked for (boxed
/// together, so that counting alone moves no hasher's room around and a file costs one
/// allocation for all its hashers), and its own work's state.
#[derive(Debug)]
pub struct MeasureFile {
    counter: Counter,
    hashers: Option<Box<Hashers>>,
    custom: Option<CustomFile>,
}

/// The hashers of one file.
#[derive(Debug)]
struct Hashers {
    blake3: Option<Blake3File>,
    sha256: Option<Sha256File>,
    xxh3: Option<Xxh3File>,
}

impl Work for Measure {
    type Output = Measured;
    type File = MeasureFile;

    fn start(&self) -> MeasureFile {
        let wanted = |algorithm| self.digests.contains(algorithm);
        let hashers = (!self.digests.is_empty()).then(|| {
            Box::new(Hashers {
                blake3: wanted(Algorithm::Blake3).then(|| Blake3.start()),
                sha256: wanted(Algorithm::Sha256).then(|| Sha256.start()),
                xxh3: wanted(Algorithm::Xxh3).then(|| Xxh3.start()),
            })
        });
        MeasureFile {
            counter: Counter::new(),
            hashers,
            custom: self.custom.as_ref().map(CustomWork::start),
        }
    }
}

impl FileWork for MeasureFile {
    type Output = Measured;

    fn update(&mut self, chunk: &[u8]) {
        if self.hashers.is_none() && self.custom.is_none() {
            return self.counter.update(chunk);
        }
        if chunk.len() >= BESIDE_FROM && self.blake3_beside(chunk) {
            return;
        }
        for piece in chunk.chunks(PIECE) {
            self.update_piece(piece);
        }
    }

    fn finish(self) -> Measured {
        self.finish_all()
    }
}

impl MeasureFile {
    /// Gives a large `chunk` to BLAKE3 on a thread of its own while this one gives it to the
    /// other consumers, when BLAKE3 has company (SHA-256 or XXH3 asked for too: a file that is
    /// then read front to back, not split): the second core hashes instead of waiting.
    /// Returns whether it did; `false` (nothing given) when BLAKE3 is alone or no thread can
    /// be had.
    fn blake3_beside(&mut self, chunk: &[u8]) -> bool {
        let Some(hashers) = self.hashers.as_deref_mut() else {
            return false;
        };
        let Hashers {
            blake3: Some(blake3),
            sha256,
            xxh3,
        } = hashers
        else {
            return false;
        };
        if sha256.is_none() && xxh3.is_none() && self.custom.is_none() {
            return false;
        }
        let (counter, custom) = (&mut self.counter, &mut self.custom);
        std::thread::scope(|scope| {
            let beside = std::thread::Builder::new()
                .name("reader-blake3".into())
                .spawn_scoped(scope, || {
                    chunk.chunks(PIECE).for_each(|piece| blake3.update(piece));
                });
            let Ok(beside) = beside else {
                return false;
            };
            for piece in chunk.chunks(PIECE) {
                counter.update(piece);
                if let Some(sha256) = sha256.as_mut() {
                    sha256.update(piece);
                }
                if let Some(xxh3) = xxh3.as_mut() {
                    xxh3.update(piece);
                }
                if let Some(custom) = custom.as_mut() {
                    custom.update(piece);
                }
            }
            if let Err(panic) = beside.join() {
                std::panic::resume_unwind(panic);
            }
            true
        })
    }

    /// Gives `piece` to every consumer in turn.
    fn update_piece(&mut self, chunk: &[u8]) {
        self.counter.update(chunk);
        if let Some(hashers) = &mut self.hashers {
            if let Some(blake3) = &mut hashers.blake3 {
                blake3.update(chunk);
            }
            if let Some(sha256) = &mut hashers.sha256 {
                sha256.update(chunk);
            }
            if let Some(xxh3) = &mut hashers.xxh3 {
                xxh3.update(chunk);
            }
        }
        if let Some(custom) = &mut self.custom {
            custom.update(chunk);
        }
    }

    fn finish_all(self) -> Measured {
        let digests = match self.hashers {
            None => Vec::new(),
            Some(hashers) => {
                let Hashers {
                    blake3,
                    sha256,
                    xxh3,
                } = *hashers;
                let digests = [
                    blake3.map(FileWork::finish),
                    sha256.map(FileWork::finish),
                    xxh3.map(FileWork::finish),
                ];
                digests.into_iter().flatten().collect()
            }
        };
        Measured {
            counts: self.counter.counts(),
            digests,
            output: self.custom.map(CustomFile::finish),
        }
    }
}

/// A [`Measure`] whose byte ranges join: counting, with BLAKE3 or without, and a joinable
/// work of your own or none ([`Measure::ranges`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureRanges {
    blake3: bool,
    custom: Option<CustomWork>,
}

impl MeasureRanges {
    fn measure(&self) -> Measure {
        let digests = if self.blake3 {
            Algorithms::from(Algorithm::Blake3)
        } else {
            Algorithms::NONE
        };
        Measure {
            digests,
            custom: self.custom.clone(),
        }
    }
}

/// What [`MeasureRanges`] makes of a byte range of a file, or of several joined.
#[derive(Debug, Default)]
pub struct MeasuredRange {
    /// The range's counts, with what joining them needs.
    pub counts: RangeCounts,
    blake3: Option<Blake3Range>,
    custom: Option<RangeOutput>,
}

impl MeasuredRange {
    /// Its BLAKE3 state, when BLAKE3 was asked for: what a part of a file split over shards
    /// carries to the merge as [`Blake3Range::subtrees`].
    ///
    /// ```
    /// use reader_core::{Algorithm, FileWork, JoinRanges, Measure};
    /// let work = Measure::new(Algorithm::Blake3.into()).ranges().expect("BLAKE3 joins");
    /// let mut range = work.start_range(1024, 4096);
    /// range.update(&[b'x'; 3072]);
    /// let subtrees = range.finish().blake3().map(|b| b.subtrees()).unwrap_or_default();
    /// // 1 KiB at 1 KiB, then the 2 KiB subtree at 2 KiB.
    /// assert_eq!(subtrees.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(1024, 1024), (2048, 2048)]);
    /// ```
    pub fn blake3(&self) -> Option<&Blake3Range> {
        self.blake3.as_ref()
    }
}

/// [`MeasureRanges`]'s state of a byte range.
#[derive(Debug)]
pub struct MeasureRangeFile {
    counter: CountRange,
    blake3: Option<Blake3RangeFile>,
    custom: Option<CustomRange>,
}

impl Work for MeasureRanges {
    type Output = Measured;
    type File = MeasureFile;

    fn start(&self) -> MeasureFile {
        self.measure().start()
    }
}

impl JoinRanges for MeasureRanges {
    type Range = MeasuredRange;
    type RangeWork = MeasureRangeFile;
    const RANGE_ALIGN: u64 = Blake3::RANGE_ALIGN;

    fn start_range(&self, start: u64, end: u64) -> MeasureRangeFile {
        MeasureRangeFile {
            counter: Count.start_range(start, end),
            blake3: self.blake3.then(|| Blake3.start_range(start, end)),
            custom: (self.custom.as_ref()).and_then(|custom| custom.start_range(start, end)),
        }
    }

    fn join(&self, left: MeasuredRange, right: MeasuredRange) -> MeasuredRange {
        let blake3 = match (left.blake3, right.blake3) {
            (Some(left), Some(right)) => Some(Blake3.join(left, right)),
            (left, right) => left.or(right),
        };
        let custom = match (&self.custom, left.custom, right.custom) {
            (Some(work), Some(left), Some(right)) => Some(work.join(left, right)),
            (_, left, right) => left.or(right),
        };
        MeasuredRange {
            counts: Count.join(left.counts, right.counts),
            blake3,
            custom,
        }
    }

    fn finish_joined(&self, whole: MeasuredRange) -> Measured {
        Measured {
            counts: Count.finish_joined(whole.counts),
            digests: whole
                .blake3
                .map(|ranges| Blake3.finish_joined(ranges))
                .into_iter()
                .collect(),
            output: match (&self.custom, whole.custom) {
                (Some(work), Some(whole)) => Some(work.finish_joined(whole)),
                _ => None,
            },
        }
    }
}

impl FileWork for MeasureRangeFile {
    type Output = MeasuredRange;

    fn update(&mut self, chunk: &[u8]) {
        for piece in chunk.chunks(PIECE) {
            self.counter.update(piece);
            if let Some(blake3) = &mut self.blake3 {
                blake3.update(piece);
            }
            if let Some(custom) = &mut self.custom {
                custom.update(piece);
            }
        }
    }

    fn finish(self) -> MeasuredRange {
        MeasuredRange {
            counts: self.counter.finish(),
            blake3: self.blake3.map(FileWork::finish),
            custom: self.custom.map(CustomRange::finish),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(work: &Measure, data: &[u8], chunk: usize) -> Measured {
        let mut state = work.start();
        data.chunks(chunk).for_each(|c| state.update(c));
        state.finish()
    }

    #[test]
    fn every_digest_asked_for_comes_from_the_one_pass_in_order() {
        let data = b"one two\nthree".repeat(300);
        let all = Measure::new(Algorithm::ALL.into_iter().collect());
        let got = measured(&all, &data, 777);
        assert_eq!(got.counts, Counts::of(&data));
        let alone: Vec<Digest> = Algorithm::ALL
            .into_iter()
            .map(|a| measured(&Measure::new(a.into()), &data, 4096).digests[0])
            .collect();
        assert_eq!(got.digests, alone);
        assert_eq!(
            alone[0].to_string(),
            blake3::hash(&data).to_hex().to_string()
        );
        assert!(measured(&Measure::default(), &data, 64).digests.is_empty());
    }

    #[test]
    fn blake3_hashed_beside_the_other_digests_is_the_same() {
        let data: Vec<u8> = (0..(3 * BESIDE_FROM + 777) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let both = Measure::new("blake3,sha256".parse().expect("names"));
        // Large chunks (a mapping's) take the thread beside; small ones do not.
        let beside = measured(&both, &data, BESIDE_FROM + 1);
        let inline = measured(&both, &data, 4096);
        assert_eq!(beside, inline);
        assert_eq!(
            beside.digests[0].to_string(),
            blake3::hash(&data).to_hex().to_string()
        );
    }

    #[test]
    fn ranges_join_only_when_every_digest_does_and_then_match_the_whole() {
        assert!(Measure::new(Algorithm::Sha256.into()).ranges().is_none());
        assert!(
            Measure::new("blake3,xxh3".parse().expect("names"))
                .ranges()
                .is_none()
        );
        let data: Vec<u8> = (0..5000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for digests in [Algorithms::NONE, Algorithm::Blake3.into()] {
            let measure = Measure::new(digests);
            let ranges = measure.clone().ranges().expect("joins");
            let cuts = [0, 1024, 3072, 3 * 4096, data.len()];
            let parts = cuts
                .windows(2)
                .map(|w| {
                    let end = if w[1] == data.len() {
                        u64::MAX
                    } else {
                        w[1] as u64
                    };
                    let mut range = ranges.start_range(w[0] as u64, end);
                    range.update(&data[w[0]..w[1]]);
                    range.finish()
                })
                .collect();
            let joined = ranges.join_all(parts).map(|r| ranges.finish_joined(r));
            assert_eq!(joined, Some(measured(&measure, &data, 1000)), "{digests}");
        }
    }
}

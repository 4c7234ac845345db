//! The work done on the bytes of each file, kept apart from how they are got: the read path
//! (`read/`: `mod.rs`, `mapped.rs`, and each model's own way of waiting for the device) opens a file,
//! decides where it ends and hands its bytes over in order; a [`Work`] says what is made of
//! them. Counting ([`Count`]) is one work; reading every byte and making nothing of them
//! ([`ReadOnly`], the benchmark's reference) is another.
//!
//! A work starts a fresh state for each file ([`Work::start`]), which takes the file's chunks
//! in order ([`FileWork::update`]) and ends in the work's output ([`FileWork::finish`]). A work
//! whose states of consecutive byte ranges can be joined ([`JoinRanges`]) lets one file be
//! read by several threads, or several machines, at once.
//!
//! ```
//! use reader_core::{FileWork, Work, read_file};
//!
//! /// How many times a byte occurs in a file.
//! struct Occurrences(u8);
//! struct Seen(u8, u64);
//! impl Work for Occurrences {
//!     type Output = u64;
//!     type File = Seen;
//!     fn start(&self) -> Seen {
//!         Seen(self.0, 0)
//!     }
//! }
//! impl FileWork for Seen {
//!     type Output = u64;
//!     fn update(&mut self, chunk: &[u8]) {
//!         self.1 += memchr::memchr_iter(self.0, chunk).count() as u64;
//!     }
//!     fn finish(self) -> u64 {
//!         self.1
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("a.txt");
//! std::fs::write(&path, "a banana")?;
//! assert_eq!(read_file(&path, &mut vec![0; 4], &Occurrences(b'a'))?, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod count;
mod custom;
mod digest;
mod measure;

pub use count::{Counter, Counts, Edges, Kernel, RangeCounts, is_space};
pub use custom::{CustomWork, Output};
pub use digest::{
    Algorithm, Algorithms, Blake3, Blake3File, Blake3Range, Blake3RangeFile, Blake3Subtree, Digest,
    Sha256, Sha256File, TreeDigest, Xxh3, Xxh3File,
};
pub use measure::{Measure, MeasureFile, MeasureRangeFile, MeasureRanges, Measured, MeasuredRange};

/// What a run makes of the bytes of each file: a fresh [`FileWork`] for every file.
pub trait Work: Send + Sync {
    /// What the work makes of one file.
    type Output: Send + 'static;
    /// The state of the work on one file.
    type File: FileWork<Output = Self::Output>;

    /// A state that has seen nothing of its file yet.
    fn start(&self) -> Self::File;
}

/// The state of a [`Work`] on one file (or one byte range of it): fed the bytes in order,
/// whatever chunks they come in, then finished.
pub trait FileWork: Send {
    /// What the state makes of everything it was fed.
    type Output;

    /// Takes the next bytes, in order. Chunks may be of any length, empty ones included.
    fn update(&mut self, chunk: &[u8]);

    /// What the bytes fed so far make.
    fn finish(self) -> Self::Output;
}

/// A [`Work`] whose states of consecutive byte ranges of a file can be joined into what one
/// pass over the whole file gives, so that one file can be read by several threads or shards
/// at once (the hybrid's splitter, `--shard-split`).
///
/// Ranges are joined with their right-hand neighbours in the order of a binary tree whose left
/// subtrees hold a power of two of ranges ([`JoinRanges::join_all`]), which any associative
/// join accepts and which a tree hash (BLAKE3) needs.
pub trait JoinRanges: Work {
    /// What the work makes of one byte range.
    type Range: Send + 'static;
    /// The state of the work on one byte range.
    type RangeWork: FileWork<Output = Self::Range>;
    /// What every range's start (and so every end but the file's) must be a multiple of.
    const RANGE_ALIGN: u64 = 1;

    /// A state for the range of the file from byte `start` to byte `end` (`u64::MAX`: to the
    /// end of the file, wherever that is).
    fn start_range(&self, start: u64, end: u64) -> Self::RangeWork;

    /// `left` joined with the range that follows it, `right`.
    fn join(&self, left: Self::Range, right: Self::Range) -> Self::Range;

    /// The output of a file whose ranges, joined, make `whole`.
    fn finish_joined(&self, whole: Self::Range) -> Self::Output;

    /// Joins consecutive `ranges` of one file, in order; `None` for no range.
    fn join_all(&self, mut ranges: Vec<Self::Range>) -> Option<Self::Range> {
        match ranges.len() {
            0 => None,
            1 => ranges.pop(),
            n => {
                let half = n.div_ceil(2).next_power_of_two();
                let right = ranges.split_off(half.min(n - 1));
                let left = self.join_all(ranges)?;
                let right = self.join_all(right)?;
                Some(self.join(left, right))
            }
        }
    }
}

/// Counting bytes, lines and words by the rule of docs/CONTRACT.md: the work of every reader
/// binary.
///
/// ```
/// use reader_core::{Count, Counts, read_file};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\n")?;
/// let counts = read_file(&path, &mut vec![0; 4], &Count)?;
/// assert_eq!(counts, Counts { bytes: 8, lines: 1, words: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl Work for Count {
    type Output = Counts;
    type File = Counter;

    fn start(&self) -> Counter {
        Counter::new()
    }
}

impl FileWork for Counter {
    type Output = Counts;

    fn update(&mut self, chunk: &[u8]) {
        Counter::update(self, chunk);
    }

    fn finish(self) -> Counts {
        self.counts()
    }
}

impl JoinRanges for Count {
    type Range = RangeCounts;
    type RangeWork = CountRange;

    fn start_range(&self, _start: u64, _end: u64) -> CountRange {
        CountRange(Counter::new())
    }

    fn join(&self, left: RangeCounts, right: RangeCounts) -> RangeCounts {
        left.join(right)
    }

    fn finish_joined(&self, whole: RangeCounts) -> Counts {
        whole.counts()
    }
}

/// [`Count`]'s state of a byte range: a [`Counter`] that also tells whether the range starts
/// and ends inside a word, so that it joins with its neighbours.
#[derive(Debug, Clone, Default)]
pub struct CountRange(Counter);

impl FileWork for CountRange {
    type Output = RangeCounts;

    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self) -> RangeCounts {
        self.0.range()
    }
}

/// Reading every byte and making nothing of them but how many there were: what the system
/// calls alone cost, the benchmark's read-only reference. It loads one byte of every cache
/// line it is given, so that a file read through a mapping is brought into the processor as
/// a reader's work brings it: a mapping whose bytes nobody loads costs only its page faults,
/// and would make the reference of a large file a few system calls. A chunk `read` into a
/// buffer is in the cache already, and its loads cost next to nothing.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "two words\n")?;
/// let bytes = reader_core::read_file(&path, &mut vec![0; 4], &reader_core::ReadOnly)?;
/// assert_eq!(bytes, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnly;

/// [`ReadOnly`]'s state: the bytes it was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Length(u64);

impl Work for ReadOnly {
    type Output = u64;
    type File = Length;

    fn start(&self) -> Length {
        Length(0)
    }
}

impl FileWork for Length {
    type Output = u64;

    fn update(&mut self, chunk: &[u8]) {
        let touched = chunk
            .iter()
            .step_by(LINE)
            .fold(0u8, |seen, &byte| seen ^ byte);
        std::hint::black_box(touched);
        self.0 += chunk.len() as u64;
    }

    fn finish(self) -> u64 {
        self.0
    }
}

/// The stride at which [`ReadOnly`] loads what it is given: a cache line.
const LINE: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges named by their start; a join writes down the tree it made.
    struct Shape;
    struct Named(String);

    impl FileWork for Named {
        type Output = String;
        fn update(&mut self, _chunk: &[u8]) {}
        fn finish(self) -> String {
            self.0
        }
    }

    impl Work for Shape {
        type Output = String;
        type File = Named;
        fn start(&self) -> Named {
            Named(String::new())
        }
    }

    impl JoinRanges for Shape {
        type Range = String;
        type RangeWork = Named;
        fn start_range(&self, start: u64, _end: u64) -> Named {
            Named(start.to_string())
        }
        fn join(&self, left: String, right: String) -> String {
            format!("({left} {right})")
        }
        fn finish_joined(&self, whole: String) -> String {
            whole
        }
    }

    fn joined(n: u64) -> Option<String> {
        let ranges = (0..n)
            .map(|i| Shape.start_range(i, i + 1).finish())
            .collect();
        Shape.join_all(ranges)
    }

    #[test]
    fn ranges_join_as_a_tree_whose_left_subtrees_hold_a_power_of_two() {
        assert_eq!(joined(0), None);
        assert_eq!(joined(1).as_deref(), Some("0"));
        assert_eq!(joined(2).as_deref(), Some("(0 1)"));
        assert_eq!(joined(3).as_deref(), Some("((0 1) 2)"));
        assert_eq!(joined(4).as_deref(), Some("((0 1) (2 3))"));
        assert_eq!(joined(5).as_deref(), Some("(((0 1) (2 3)) 4)"));
        assert_eq!(joined(6).as_deref(), Some("(((0 1) (2 3)) (4 5))"));
    }

    #[test]
    fn counted_ranges_join_to_the_counts_of_the_whole() {
        let data = b"one two\nthree  four five\tsix\n";
        for cut in [0, 1, 3, 4, 9, 17, data.len()] {
            let mut parts = Vec::new();
            for (start, part) in [(0, &data[..cut]), (cut, &data[cut..])] {
                let mut range = Count.start_range(start as u64, u64::MAX);
                range.update(part);
                parts.push(range.finish());
            }
            let whole = Count.join_all(parts).map(|r| Count.finish_joined(r));
            assert_eq!(whole, Some(Counts::of(data)), "cut at {cut}");
        }
    }
}

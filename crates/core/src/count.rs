//! The streaming counter: bytes, lines and words, exactly as DESIGN.md defines them.
//!
//! * `bytes` — every byte seen;
//! * `lines` — the number of `\n` bytes;
//! * `words` — maximal runs of bytes that are none of the six ASCII whitespace bytes
//!   (space, `\t`, `\n`, `\v`, `\f`, `\r`), which equals Python's `len(data.split())`.
//!
//! Words are counted as *word starts*: a non-whitespace byte whose predecessor is whitespace
//! (or the start of the input). That form has no branches, so the compiler vectorises it; the
//! kernel below runs over fixed blocks with byte-wide accumulators, and on x86-64 a copy of
//! the same kernel compiled for AVX2 is chosen at run time when the CPU has it.
//!
//! [`Counter`] carries the one bit of state a chunk boundary needs (whether the previous chunk
//! ended inside a word), so a word or a CRLF split across two chunks counts once. [`RangeCounts`]
//! is the same idea for byte ranges counted independently (in parallel) and joined afterwards.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// What was found in a file or a part of one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    /// Bytes read.
    pub bytes: u64,
    /// `\n` bytes.
    pub lines: u64,
    /// Maximal runs of non-whitespace bytes.
    pub words: u64,
}

impl Counts {
    /// Counts a whole in-memory buffer in one pass.
    ///
    /// ```
    /// use reader_core::Counts;
    /// let c = Counts::of(b"hello  world\r\nbye");
    /// assert_eq!((c.bytes, c.lines, c.words), (17, 1, 3));
    /// ```
    pub fn of(data: &[u8]) -> Counts {
        let mut counter = Counter::new();
        counter.update(data);
        counter.counts()
    }
}

impl Add for Counts {
    type Output = Counts;
    fn add(self, rhs: Counts) -> Counts {
        Counts {
            bytes: self.bytes + rhs.bytes,
            lines: self.lines + rhs.lines,
            words: self.words + rhs.words,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, rhs: Counts) {
        *self = *self + rhs;
    }
}

/// Is `b` one of the six ASCII whitespace bytes of the counting rule?
#[inline(always)]
pub const fn is_space(b: u8) -> bool {
    // `\t`, `\n`, `\v`, `\f`, `\r` are 9..=13.
    b == b' ' || b.wrapping_sub(b'\t') < 5
}

/// A streaming counter: feed it chunks in order, read the counts at the end.
///
/// ```
/// use reader_core::Counter;
/// let mut counter = Counter::new();
/// counter.update(b"a split wo");
/// counter.update(b"rd\r");
/// counter.update(b"\n");
/// let c = counter.counts();
/// assert_eq!((c.bytes, c.lines, c.words), (14, 1, 3));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counter {
    counts: Counts,
    /// The first byte seen was not whitespace (meaningful once `counts.bytes > 0`).
    starts_in_word: bool,
    /// The last byte seen was not whitespace.
    in_word: bool,
}

impl Counter {
    /// A counter that has seen nothing.
    pub fn new() -> Counter {
        Counter::default()
    }

    /// Counts the next chunk of the input.
    pub fn update(&mut self, chunk: &[u8]) {
        let (Some(&first), Some(&last)) = (chunk.first(), chunk.last()) else {
            return;
        };
        if self.counts.bytes == 0 {
            self.starts_in_word = !is_space(first);
        }
        let (lines, starts) = kernel(self.in_word, chunk);
        self.counts.bytes += chunk.len() as u64;
        self.counts.lines += lines;
        self.counts.words += starts;
        self.in_word = !is_space(last);
    }

    /// The counts of everything seen so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The counts so far as a [`RangeCounts`], ready to be joined with its neighbours.
    pub fn range(&self) -> RangeCounts {
        RangeCounts {
            counts: self.counts,
            starts_in_word: self.counts.bytes > 0 && self.starts_in_word,
            ends_in_word: self.in_word,
        }
    }
}

/// The counts of one byte range of a larger input, counted on its own, plus what is needed to
/// join it exactly with the ranges beside it: whether it starts and ends inside a word.
///
/// Joining is associative, so ranges counted in parallel can be joined in order, in any
/// grouping, and give what one pass over the whole input gives.
///
/// ```
/// use reader_core::{Counts, RangeCounts};
/// let data = b"one two three";
/// let (a, b) = data.split_at(5); // "one t" | "wo three"
/// let joined = RangeCounts::of(a).join(RangeCounts::of(b));
/// assert_eq!(joined.counts(), Counts::of(data));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeCounts {
    counts: Counts,
    starts_in_word: bool,
    ends_in_word: bool,
}

impl RangeCounts {
    /// Counts one in-memory range.
    pub fn of(data: &[u8]) -> RangeCounts {
        let mut counter = Counter::new();
        counter.update(data);
        counter.range()
    }

    /// The range that follows `self` joined onto it.
    #[must_use]
    pub fn join(self, next: RangeCounts) -> RangeCounts {
        if self.counts.bytes == 0 {
            return next;
        }
        if next.counts.bytes == 0 {
            return self;
        }
        let mut counts = self.counts + next.counts;
        if self.ends_in_word && next.starts_in_word {
            // One word runs across the boundary: both sides counted its start.
            counts.words -= 1;
        }
        RangeCounts {
            counts,
            starts_in_word: self.starts_in_word,
            ends_in_word: next.ends_in_word,
        }
    }

    /// The counts of the joined ranges: what one pass over them gives.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

/// Counts `\n` bytes and word starts in `data` (non-empty), given whether the byte before it
/// was inside a word.
#[inline]
fn kernel(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { kernel_avx2(prev_in_word, data) };
        }
    }
    kernel_portable(prev_in_word, data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kernel_avx2(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
    kernel_portable(prev_in_word, data)
}

/// Bytes per block: each block sums into byte-wide lanes, so it must stay below 256.
const BLOCK: usize = 192;

#[inline(always)]
fn kernel_portable(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
    let Some(&first) = data.first() else {
        return (0, 0);
    };
    let mut lines = u64::from(first == b'\n');
    let mut starts = u64::from(!prev_in_word && !is_space(first));
    // Pairs (data[i], data[i + 1]): a word starts at i + 1 when data[i] is whitespace and
    // data[i + 1] is not; a line ends at i + 1 when data[i + 1] is `\n`.
    let (prev, next) = (&data[..data.len() - 1], &data[1..]);
    let mut prev_blocks = prev.chunks_exact(BLOCK);
    let mut next_blocks = next.chunks_exact(BLOCK);
    for (p, n) in (&mut prev_blocks).zip(&mut next_blocks) {
        let (l, s) = block_sums(p, n);
        lines += u64::from(l);
        starts += u64::from(s);
    }
    let (l, s) = block_sums(prev_blocks.remainder(), next_blocks.remainder());
    lines += u64::from(l);
    starts += u64::from(s);
    (lines, starts)
}

/// Newlines in `next` and word starts over the pairs `(prev[i], next[i])`; both at most
/// [`BLOCK`] long, so the byte-wide sums cannot overflow.
#[inline(always)]
fn block_sums(prev: &[u8], next: &[u8]) -> (u8, u8) {
    let mut lines = 0u8;
    let mut starts = 0u8;
    for (&p, &n) in prev.iter().zip(next) {
        lines += u8::from(n == b'\n');
        starts += u8::from(is_space(p) & !is_space(n));
    }
    (lines, starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The counting rule written the plainest way (reader-testkit's oracle), as [`Counts`].
    fn naive(data: &[u8]) -> Counts {
        let (bytes, lines, words) = reader_testkit::oracle(data);
        Counts {
            bytes,
            lines,
            words,
        }
    }

    /// Bytes biased towards the interesting ones: every whitespace byte, NUL, high bytes.
    fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            Just(b' '),
            Just(b'\t'),
            Just(b'\n'),
            Just(0x0b),
            Just(0x0c),
            Just(b'\r'),
            Just(0u8),
            b'a'..=b'z',
            any::<u8>(),
        ];
        prop::collection::vec(byte, 0..2000)
    }

    #[test]
    fn whitespace_is_exactly_the_six_bytes() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&b| is_space(b)).collect();
        assert_eq!(spaces, vec![b'\t', b'\n', 0x0b, 0x0c, b'\r', b' ']);
    }

    #[test]
    fn known_inputs() {
        type Case = (&'static [u8], (u64, u64, u64));
        let cases: &[Case] = &[
            (b"", (0, 0, 0)),
            (b"\n", (1, 1, 0)),
            (b"word", (4, 0, 1)),
            (b"  two\twords  \n", (14, 1, 2)),
            (b"crlf\r\nline\r\n", (12, 2, 2)),
            (b"a\x0bb\x0cc", (5, 0, 3)),
            (b"nul\0is\0not\0space", (16, 0, 1)),
            ("caf\u{e9} na\u{ef}ve".as_bytes(), (12, 0, 2)),
        ];
        for (data, (bytes, lines, words)) in cases {
            let c = Counts::of(data);
            assert_eq!(
                (c.bytes, c.lines, c.words),
                (*bytes, *lines, *words),
                "{data:?}"
            );
        }
    }

    #[test]
    fn long_inputs_cross_many_blocks() {
        let data: Vec<u8> = b"ab cd\n"
            .iter()
            .copied()
            .cycle()
            .take(6 * 10_000)
            .collect();
        assert_eq!(Counts::of(&data), naive(&data));
        assert_eq!(Counts::of(&data).words, 20_000);
    }

    #[test]
    fn portable_and_dispatched_kernels_agree() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for in_word in [false, true] {
            assert_eq!(kernel(in_word, &data), kernel_portable(in_word, &data));
        }
    }

    proptest! {
        #[test]
        fn one_pass_matches_the_oracle(data in interesting_bytes()) {
            prop_assert_eq!(Counts::of(&data), naive(&data));
        }

        #[test]
        fn any_chunking_matches_the_oracle(
            data in interesting_bytes(),
            cuts in prop::collection::vec(0usize..2000, 0..12),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut counter = Counter::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                counter.update(&data[at..cut]);
                at = cut;
            }
            prop_assert_eq!(counter.counts(), naive(&data));
        }

        #[test]
        fn any_split_into_ranges_joins_exactly(
            data in interesting_bytes(),
            cuts in prop::collection::vec(0usize..2000, 0..12),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let bounds: Vec<usize> = [0].into_iter().chain(cuts).chain([data.len()]).collect();
            let ranges: Vec<RangeCounts> =
                bounds.windows(2).map(|w| RangeCounts::of(&data[w[0]..w[1]])).collect();
            let left = ranges.iter().fold(RangeCounts::default(), |acc, r| acc.join(*r));
            let right = ranges.iter().rev().fold(RangeCounts::default(), |acc, r| r.join(acc));
            prop_assert_eq!(left.counts(), naive(&data));
            prop_assert_eq!(right.counts(), naive(&data));
        }
    }
}

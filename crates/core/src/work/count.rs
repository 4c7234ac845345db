//! The streaming counter: bytes, lines and words, exactly as docs/CONTRACT.md defines them.
//!
//! * `bytes` — every byte seen;
//! * `lines` — the number of `\n` bytes;
//! * `words` — maximal runs of bytes that are none of the six ASCII whitespace bytes
//!   (space, `\t`, `\n`, `\v`, `\f`, `\r`), which equals Python's `len(data.split())`.
//!
//! Words are counted as *word starts*: a non-whitespace byte whose predecessor is whitespace
//! (or the start of the input). That form has no branches, and this file owns the kernels
//! that count it together with the newlines in one pass:
//!
//! * `portable`, for every CPU: plain Rust over fixed blocks with byte-wide sums, which the
//!   compiler vectorises for whatever the target has;
//! * `avx2` (x86-64): the portable kernel's pairs of neighbouring bytes, 64 at a time in
//!   32-byte vectors; a `pshufb` table lookup marks the whitespace and a compare the
//!   newlines, and the compare results (0 or -1 per byte) are subtracted into byte-wide
//!   counters, summed with `psadbw` before they can overflow;
//! * `avx512` (x86-64 with AVX-512BW): 128 bytes a step in two 64-byte vectors, whose
//!   compares give 64-bit masks directly; word starts are `!ws & (ws << 1 | carry)`, the
//!   carry being the previous block's last byte, counted with `popcnt`, newlines by masked
//!   adds into byte-wide counters, and the last partial blocks are read with masked loads.
//!
//! The kernel is chosen once, on the first update: the fastest one the CPU has by run-time
//! feature detection, kept in a `OnceLock`. The tests run every kernel the CPU has against the
//! oracle, not only the chosen one.
//!
//! [`Counter`] carries the one bit of state a chunk boundary needs (whether the previous chunk
//! ended inside a word), so a word or a CRLF split across two chunks counts once. [`RangeCounts`]
//! is the same idea for byte ranges counted independently (in parallel) and joined afterwards.
#![allow(unsafe_code)]

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

pub use kernel::Kernel;

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
        self.update_with(Kernel::best(), chunk);
    }

    /// [`Counter::update`] with the given kernel instead of the fastest one, to compare the
    /// kernels (`cargo bench -p reader-core` does); every kernel gives the same counts.
    ///
    /// ```
    /// use reader_core::{Counter, Kernel};
    /// for kernel in Kernel::available() {
    ///     let mut counter = Counter::new();
    ///     counter.update_with(kernel, b"one two\nthree");
    ///     assert_eq!(counter.counts().words, 3, "{kernel:?}");
    /// }
    /// ```
    pub fn update_with(&mut self, kernel: Kernel, chunk: &[u8]) {
        let (Some(&first), Some(&last)) = (chunk.first(), chunk.last()) else {
            return;
        };
        if self.counts.bytes == 0 {
            self.starts_in_word = !is_space(first);
        }
        let (lines, starts) = kernel.count(self.in_word, chunk);
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

    /// Whether the range starts and ends inside a word: what joining it needs beside its
    /// counts.
    pub fn edges(&self) -> Edges {
        Edges {
            starts_in_word: self.starts_in_word,
            ends_in_word: self.ends_in_word,
        }
    }

    /// A range counted elsewhere (by another shard), back from its counts and edges.
    ///
    /// ```
    /// use reader_core::{Counts, RangeCounts};
    /// let data = b"one two three";
    /// let (a, b) = data.split_at(5);
    /// let [a, b] = [a, b].map(|r| {
    ///     let counted = RangeCounts::of(r);
    ///     RangeCounts::new(counted.counts(), counted.edges())
    /// });
    /// assert_eq!(a.join(b).counts(), Counts::of(data));
    /// ```
    pub fn new(counts: Counts, edges: Edges) -> RangeCounts {
        RangeCounts {
            counts,
            starts_in_word: counts.bytes > 0 && edges.starts_in_word,
            ends_in_word: counts.bytes > 0 && edges.ends_in_word,
        }
    }
}

/// Whether a byte range starts and ends inside a word (its first and last bytes are not
/// whitespace): what [`RangeCounts::join`] needs to join it with its neighbours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Edges {
    /// Its first byte is not whitespace.
    pub starts_in_word: bool,
    /// Its last byte is not whitespace.
    pub ends_in_word: bool,
}

/// The kernels that count `\n` bytes and word starts, and the choice between them.
///
/// A [`Kernel`] may run code compiled for CPU features the build target does not promise, so
/// its fields are private to this module and the only way to get one is [`Kernel::available`],
/// which checks the CPU first: whoever holds a `Kernel` may run it.
pub mod kernel {
    use std::fmt;
    use std::sync::OnceLock;

    use super::is_space;

    /// One implementation of the counting kernel (`portable`, `avx2`, `avx512`), as this CPU
    /// can run it: see [`Kernel::available`].
    #[derive(Clone, Copy)]
    pub struct Kernel {
        name: &'static str,
        /// Whether this CPU can run `count`.
        supported: fn() -> bool,
        /// Returns the `\n` bytes and word starts in `data`, given whether the byte before it
        /// was inside a word; only to be called once `supported` has said yes.
        count: unsafe fn(bool, &[u8]) -> (u64, u64),
    }

    const PORTABLE: Kernel = Kernel {
        name: "portable",
        supported: || true,
        count: portable,
    };

    /// Every kernel, slowest first.
    const KERNELS: &[Kernel] = &[
        PORTABLE,
        #[cfg(target_arch = "x86_64")]
        Kernel {
            name: "avx2",
            supported: x86::has_avx2,
            count: x86::avx2,
        },
        #[cfg(target_arch = "x86_64")]
        Kernel {
            name: "avx512",
            supported: x86::has_avx512,
            count: x86::avx512,
        },
    ];

    impl Kernel {
        /// The kernels this CPU can run, from the portable one to the fastest.
        pub fn available() -> impl Iterator<Item = Kernel> {
            KERNELS.iter().copied().filter(|k| (k.supported)())
        }

        /// The fastest kernel this CPU can run, chosen on the first call.
        pub fn best() -> Kernel {
            static BEST: OnceLock<Kernel> = OnceLock::new();
            *BEST.get_or_init(|| Kernel::available().last().unwrap_or(PORTABLE))
        }

        /// Its name: `portable`, `avx2` or `avx512`.
        pub fn name(self) -> &'static str {
            self.name
        }

        /// The `\n` bytes and word starts in `data`, given whether the byte before it was
        /// inside a word.
        #[inline]
        pub(super) fn count(self, prev_in_word: bool, data: &[u8]) -> (u64, u64) {
            // SAFETY: `self` came from `available` (nothing else outside this module can make
            // a `Kernel`), which yields only kernels whose `supported` check passed on this CPU.
            unsafe { (self.count)(prev_in_word, data) }
        }
    }

    /// A kernel shows as its name.
    impl fmt::Debug for Kernel {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name)
        }
    }

    /// Bytes per block: each block sums into byte-wide lanes, so it must stay below 256.
    const BLOCK: usize = 192;

    /// The kernel for every CPU: plain Rust over fixed blocks, with byte-wide sums and no
    /// branches, so the compiler vectorises it for whatever the target has.
    #[inline]
    fn portable(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
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

    /// The x86-64 kernels. Both find whitespace with a `pshufb` table lookup, and both count
    /// (AVX2 everything, AVX-512 the newlines) into byte-wide lanes that a batch of at most
    /// `BATCH` steps cannot overflow, summed (`psadbw`) into 64-bit lanes after each batch.
    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        use super::{block_sums, is_space};

        /// Steps per batch: a step adds at most 2 to a byte-wide lane.
        const BATCH: usize = 127;

        /// How far ahead of the bytes being counted a kernel asks for the next cache lines.
        /// Data that is not in the core's caches (a mapped file) comes from memory; the
        /// hardware's prefetcher alone left the AVX-512 kernel at 5.6 GB/s a core there, and
        /// asking 512 bytes ahead brought it to 8.3 GB/s (plain loads reach 10), at no cost on
        /// data already cached (BENCHMARKS.md, "The counter from memory").
        const PREFETCH: usize = 512;

        /// Asks for the 64-byte line `PREFETCH` bytes after `at` (and the one after it when
        /// `lines` is 2) to be brought into the caches.
        #[inline(always)]
        fn prefetch_ahead(at: *const u8, lines: usize) {
            for line in 0..lines {
                let ahead = at.wrapping_add(PREFETCH + 64 * line);
                // SAFETY: a prefetch is a hint: it reads nothing into the program and never
                // faults, whatever the address (past the end of `data` included).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.cast()) };
            }
        }

        pub(super) fn has_avx2() -> bool {
            is_x86_feature_detected!("avx2")
        }

        pub(super) fn has_avx512() -> bool {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("popcnt")
        }

        /// The whitespace lookup table for `pshufb`, one 16-byte lane of it: `' '` (0x20) at
        /// index 0 and 9..=13 at their own index, 0 elsewhere. A byte `b` is whitespace exactly
        /// when `table[b & 15] == b`: `pshufb` gives 0 for a byte with its high bit set, and
        /// no byte with a non-zero low nibble is 0.
        #[target_feature(enable = "sse2")]
        fn space_table() -> __m128i {
            _mm_setr_epi8(0x20, 0, 0, 0, 0, 0, 0, 0, 0, 9, 10, 11, 12, 13, 0, 0)
        }

        /// The sum of the four 64-bit lanes of `v`.
        #[target_feature(enable = "avx2")]
        fn sum_lanes(v: __m256i) -> u64 {
            let v = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            (_mm_cvtsi128_si64(v) + _mm_extract_epi64::<1>(v)).cast_unsigned()
        }

        /// The portable kernel's pairs `(data[i], data[i + 1])`, 64 at a time as two 32-byte
        /// vectors of each side: a word start is whitespace then not, a line a `\n` on the
        /// right. The pairs past the last 64 go to the portable kernel's block sums.
        #[target_feature(enable = "avx2")]
        pub(super) fn avx2(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
            let Some(&first) = data.first() else {
                return (0, 0);
            };
            let table = _mm256_broadcastsi128_si256(space_table());
            let newline = _mm256_set1_epi8(b'\n'.cast_signed());
            let spaces = |v| _mm256_cmpeq_epi8(_mm256_shuffle_epi8(table, v), v);
            let (prev, next) = (&data[..data.len() - 1], &data[1..]);
            let mut prev_blocks = prev.chunks_exact(64);
            let mut next_blocks = next.chunks_exact(64);
            let mut line_sums = _mm256_setzero_si256();
            let mut start_sums = _mm256_setzero_si256();
            loop {
                let mut line_bytes = _mm256_setzero_si256();
                let mut start_bytes = _mm256_setzero_si256();
                let mut steps = 0;
                for (p, n) in (&mut prev_blocks).zip(&mut next_blocks).take(BATCH) {
                    prefetch_ahead(n.as_ptr(), 1);
                    // SAFETY: `p` and `n` are 64 bytes long; each unaligned load reads 32 of
                    // them.
                    let (p0, p1, n0, n1) = unsafe {
                        (
                            _mm256_loadu_si256(p.as_ptr().cast()),
                            _mm256_loadu_si256(p.as_ptr().add(32).cast()),
                            _mm256_loadu_si256(n.as_ptr().cast()),
                            _mm256_loadu_si256(n.as_ptr().add(32).cast()),
                        )
                    };
                    // Compare results are 0 or -1 per byte: subtracting them counts.
                    let s0 = _mm256_andnot_si256(spaces(n0), spaces(p0));
                    let s1 = _mm256_andnot_si256(spaces(n1), spaces(p1));
                    start_bytes = _mm256_sub_epi8(_mm256_sub_epi8(start_bytes, s0), s1);
                    let l0 = _mm256_cmpeq_epi8(n0, newline);
                    let l1 = _mm256_cmpeq_epi8(n1, newline);
                    line_bytes = _mm256_sub_epi8(_mm256_sub_epi8(line_bytes, l0), l1);
                    steps += 1;
                }
                let zero = _mm256_setzero_si256();
                line_sums = _mm256_add_epi64(line_sums, _mm256_sad_epu8(line_bytes, zero));
                start_sums = _mm256_add_epi64(start_sums, _mm256_sad_epu8(start_bytes, zero));
                if steps < BATCH {
                    break;
                }
            }
            let (lines, starts) = block_sums(prev_blocks.remainder(), next_blocks.remainder());
            (
                u64::from(first == b'\n') + sum_lanes(line_sums) + u64::from(lines),
                u64::from(!prev_in_word && !is_space(first))
                    + sum_lanes(start_sums)
                    + u64::from(starts),
            )
        }

        /// Word starts in a 64-byte block given its whitespace bitmask (bit `i` for byte `i`):
        /// the non-whitespace bytes whose predecessor is whitespace. `prev_space` is 1 when
        /// the byte before the block is whitespace, and becomes the same for the next block.
        #[inline(always)]
        fn word_starts(spaces: u64, prev_space: &mut u64) -> u64 {
            let starts = !spaces & (spaces << 1 | *prev_space);
            *prev_space = spaces >> 63;
            u64::from(starts.count_ones())
        }

        /// 128 bytes at a time as two 64-byte vectors, whose compares give bitmasks directly:
        /// word starts are counted from the whitespace bitmask with `popcnt`, newlines with a
        /// masked add into byte-wide lanes. The last partial blocks are read with masked
        /// loads.
        #[target_feature(enable = "avx512f,avx512bw,popcnt")]
        pub(super) fn avx512(prev_in_word: bool, data: &[u8]) -> (u64, u64) {
            let table = _mm512_broadcast_i32x4(space_table());
            let newline = _mm512_set1_epi8(b'\n'.cast_signed());
            let one = _mm512_set1_epi8(1);
            let spaces = |v| _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(table, v), v);
            let mut prev_space = u64::from(!prev_in_word);
            let mut starts = 0;
            let mut line_sums = _mm512_setzero_si512();
            let mut blocks = data.chunks_exact(128);
            loop {
                let mut line_bytes = _mm512_setzero_si512();
                let mut steps = 0;
                for block in (&mut blocks).take(BATCH) {
                    prefetch_ahead(block.as_ptr(), 2);
                    // SAFETY: `block` is 128 bytes long; each unaligned load reads 64 of them.
                    let (a, b) = unsafe {
                        (
                            _mm512_loadu_si512(block.as_ptr().cast()),
                            _mm512_loadu_si512(block.as_ptr().add(64).cast()),
                        )
                    };
                    starts += word_starts(spaces(a), &mut prev_space);
                    starts += word_starts(spaces(b), &mut prev_space);
                    let la = _mm512_cmpeq_epi8_mask(a, newline);
                    let lb = _mm512_cmpeq_epi8_mask(b, newline);
                    line_bytes = _mm512_mask_add_epi8(line_bytes, la, line_bytes, one);
                    line_bytes = _mm512_mask_add_epi8(line_bytes, lb, line_bytes, one);
                    steps += 1;
                }
                let sums = _mm512_sad_epu8(line_bytes, _mm512_setzero_si512());
                line_sums = _mm512_add_epi64(line_sums, sums);
                if steps < BATCH {
                    break;
                }
            }
            let mut lines = _mm512_reduce_add_epi64(line_sums).cast_unsigned();
            for rest in blocks.remainder().chunks(64) {
                let valid = u64::MAX >> (64 - rest.len());
                // SAFETY: the masked load reads only the bytes `valid` selects, the first
                // `rest.len()`, all within `rest`; the others are not accessed (a masked-off
                // byte cannot fault) and come back as 0.
                let v = unsafe { _mm512_maskz_loadu_epi8(valid, rest.as_ptr().cast()) };
                // The zeros past the end are taken as whitespace, so no word starts there.
                starts += word_starts(spaces(v) | !valid, &mut prev_space);
                lines += u64::from(_mm512_cmpeq_epi8_mask(v, newline).count_ones());
            }
            (lines, starts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// The counting rule written the plainest way (reader-testkit's oracle), as [`Counts`].
    fn naive(data: &[u8]) -> Counts {
        let (bytes, lines, words) = reader_testkit::oracle(data);
        Counts {
            bytes,
            lines,
            words,
        }
    }

    /// Every kernel this CPU can run, the dispatched one among them.
    fn kernels() -> Vec<Kernel> {
        Kernel::available().collect()
    }

    /// `data` fed to a new counter that uses `kernel`, in pieces cut at `cuts` (sorted).
    fn count_with(kernel: Kernel, data: &[u8], cuts: &[usize]) -> Counter {
        let mut counter = Counter::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&data.len()]) {
            counter.update_with(kernel, &data[at..cut]);
            at = cut;
        }
        counter
    }

    /// Sorted cut positions within `data` (at its ends too) from proptest's indices.
    fn positions(data: &[u8], cuts: &[Index]) -> Vec<usize> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        cuts.sort_unstable();
        cuts
    }

    /// Bytes biased towards the interesting ones: every whitespace byte, NUL, high bytes.
    fn interesting_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b' '),
            Just(b'\t'),
            Just(b'\n'),
            Just(0x0b),
            Just(0x0c),
            Just(b'\r'),
            Just(0u8),
            b'a'..=b'z',
            128u8..=255,
            any::<u8>(),
        ]
    }

    /// Inputs across the kernels' vectors and blocks: mostly shorter than a few vectors, some
    /// of several KiB, some made of runs long enough for a word or a gap to span whole blocks.
    fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
        let runs =
            prop::collection::vec((interesting_byte(), 1usize..150), 0..60).prop_map(|runs| {
                runs.into_iter()
                    .flat_map(|(b, n)| std::iter::repeat_n(b, n))
                    .collect()
            });
        prop_oneof![
            4 => prop::collection::vec(interesting_byte(), 0..300),
            1 => prop::collection::vec(interesting_byte(), 4096..10_000),
            2 => runs,
        ]
    }

    #[test]
    fn whitespace_is_exactly_the_six_bytes() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&b| is_space(b)).collect();
        assert_eq!(spaces, vec![b'\t', b'\n', 0x0b, 0x0c, b'\r', b' ']);
    }

    #[test]
    fn the_dispatched_kernel_is_the_fastest_the_cpu_has() {
        let expected: Vec<&str> = [
            ("portable", true),
            #[cfg(target_arch = "x86_64")]
            ("avx2", is_x86_feature_detected!("avx2")),
            #[cfg(target_arch = "x86_64")]
            (
                "avx512",
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("popcnt"),
            ),
        ]
        .into_iter()
        .filter_map(|(name, has)| has.then_some(name))
        .collect();
        let names: Vec<String> = kernels().iter().map(|k| format!("{k:?}")).collect();
        assert_eq!(names, expected);
        assert_eq!(
            format!("{:?}", Kernel::best()),
            expected[expected.len() - 1]
        );
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
        for kernel in kernels() {
            for (data, (bytes, lines, words)) in cases {
                let c = count_with(kernel, data, &[]).counts();
                assert_eq!(
                    (c.bytes, c.lines, c.words),
                    (*bytes, *lines, *words),
                    "{kernel:?}: {data:?}"
                );
            }
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
        for kernel in kernels() {
            let c = count_with(kernel, &data, &[]).counts();
            assert_eq!(c, naive(&data), "{kernel:?}");
            assert_eq!(c.words, 20_000, "{kernel:?}");
        }
    }

    #[test]
    fn dense_inputs_fill_the_byte_wide_counters() {
        // Every byte a line or every other byte a word start, over several batches of blocks:
        // the kernels' byte-wide counters come as close to overflowing as they ever do.
        let len = 50_001;
        let inputs = [
            vec![b'\n'; len],
            b" a".iter().copied().cycle().take(len).collect(),
            b"\na".iter().copied().cycle().take(len).collect(),
        ];
        for kernel in kernels() {
            for data in &inputs {
                let c = count_with(kernel, data, &[]).counts();
                assert_eq!(c, naive(data), "{kernel:?}: {:?}…", &data[..4]);
            }
        }
    }

    proptest! {
        #[test]
        fn one_pass_matches_the_oracle(data in interesting_bytes()) {
            prop_assert_eq!(Counts::of(&data), naive(&data));
        }

        #[test]
        fn every_kernel_matches_the_oracle(data in interesting_bytes(), prev_in_word: bool) {
            let oracle = naive(&data);
            // A word that goes on from before `data` has its start there, not in `data`.
            let continued = prev_in_word && data.first().is_some_and(|&b| !is_space(b));
            let expected = (oracle.lines, oracle.words - u64::from(continued));
            for kernel in kernels() {
                prop_assert_eq!(kernel.count(prev_in_word, &data), expected, "{:?}", kernel);
            }
        }

        #[test]
        fn any_chunking_matches_the_oracle(
            data in interesting_bytes(),
            cuts in prop::collection::vec(any::<Index>(), 0..12),
        ) {
            let cuts = positions(&data, &cuts);
            for kernel in kernels() {
                let counter = count_with(kernel, &data, &cuts);
                prop_assert_eq!(counter.counts(), naive(&data), "{:?}", kernel);
            }
        }

        #[test]
        fn any_split_into_ranges_joins_exactly(
            data in interesting_bytes(),
            cuts in prop::collection::vec(any::<Index>(), 0..12),
        ) {
            let cuts = positions(&data, &cuts);
            let bounds: Vec<usize> = [0].into_iter().chain(cuts).chain([data.len()]).collect();
            for kernel in kernels() {
                let ranges: Vec<RangeCounts> = bounds
                    .windows(2)
                    .map(|w| count_with(kernel, &data[w[0]..w[1]], &[]).range())
                    .collect();
                let left = ranges.iter().fold(RangeCounts::default(), |acc, r| acc.join(*r));
                let right = ranges.iter().rev().fold(RangeCounts::default(), |acc, r| r.join(acc));
                prop_assert_eq!(left.counts(), naive(&data), "{:?}", kernel);
                prop_assert_eq!(right.counts(), naive(&data), "{:?}", kernel);
            }
        }
    }
}

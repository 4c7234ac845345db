//! Content digests as [`Work`]s: BLAKE3 ([`Blake3`]), SHA-256 ([`Sha256`]) and XXH3-128
//! ([`Xxh3`]), each giving the [`Digest`] that `b3sum`, `sha256sum` and `xxhsum -H2` print.
//!
//! BLAKE3 is a tree hash, so a file's byte ranges can be hashed apart (by threads, or by
//! shards on other machines) and joined ([`JoinRanges`]): each range is cut into the subtrees
//! of BLAKE3's tree that it holds, hashed with `blake3::hazmat`, and joined as BLAKE3's own
//! hasher merges its stack of subtrees. Ranges must start on a multiple of a chunk (1 KiB,
//! [`JoinRanges::RANGE_ALIGN`]). A range crosses processes and machines as the list of its
//! subtrees, each by its chaining value ([`Blake3Subtree`]). SHA-256 and XXH3 are sequential:
//! a file is hashed front to back on one thread.
//!
//! ```
//! use reader_core::{Blake3, Sha256, Xxh3, read_file};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("a.txt");
//! std::fs::write(&path, "abc")?;
//! let mut buf = vec![0; 4096];
//! assert_eq!(
//!     read_file(&path, &mut buf, &Sha256)?.to_string(),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! assert_eq!(
//!     read_file(&path, &mut buf, &Blake3)?.to_string(),
//!     "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
//! );
//! assert_eq!(
//!     read_file(&path, &mut buf, &Xxh3)?.to_string(),
//!     "06b05ab6733a618578af5f94892f3950"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use blake3::hazmat::{ChainingValue, HasherExt, Mode, max_subtree_len};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::work::measure::Measure;
use crate::work::{FileWork, JoinRanges, Work};

/// A digest algorithm, by the name the command line and the JSON records use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// BLAKE3, 256 bits (`b3sum`).
    Blake3,
    /// SHA-256 (`sha256sum`).
    Sha256,
    /// XXH3, 128 bits (`xxhsum -H2`): fast, not cryptographic.
    Xxh3,
}

impl Algorithm {
    /// Every algorithm, in the order of their names.
    pub const ALL: [Algorithm; 3] = [Algorithm::Blake3, Algorithm::Sha256, Algorithm::Xxh3];

    /// Its name: `blake3`, `sha256` or `xxh3`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
            Algorithm::Xxh3 => "xxh3",
        }
    }

    /// How many bytes its digest has.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Blake3 | Algorithm::Sha256 => 32,
            Algorithm::Xxh3 => 16,
        }
    }

    /// Whether the digests of a file's byte ranges can be joined ([`JoinRanges`]), so that
    /// one file can be hashed by several threads or shards: BLAKE3 only.
    pub fn joins_ranges(self) -> bool {
        self == Algorithm::Blake3
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// An algorithm by its name, in any case.
    ///
    /// ```
    /// use reader_core::Algorithm;
    /// assert_eq!("SHA256".parse(), Ok(Algorithm::Sha256));
    /// assert!("md4".parse::<Algorithm>().unwrap_err().contains("blake3, sha256, xxh3"));
    /// ```
    fn from_str(name: &str) -> Result<Algorithm, String> {
        Algorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown digest {name:?}; known: {}", names.join(", "))
            })
    }
}

/// A set of digest algorithms: those a run computes for every file ([`Measure`]).
///
/// ```
/// use reader_core::{Algorithm, Algorithms};
/// let set: Algorithms = "sha256,BLAKE3".parse()?;
/// assert_eq!(set.iter().collect::<Vec<_>>(), [Algorithm::Blake3, Algorithm::Sha256]);
/// assert_eq!(set.to_string(), "blake3,sha256");
/// assert!(!set.joins_ranges());
/// assert!(Algorithms::from(Algorithm::Blake3).joins_ranges());
/// assert!("".parse::<Algorithms>()?.is_empty());
/// # Ok::<(), String>(())
/// ```
///
/// [`Measure`]: crate::Measure
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Algorithms(u8);

impl Algorithms {
    /// No digest.
    pub const NONE: Algorithms = Algorithms(0);

    /// Whether the set holds no algorithm.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set holds `algorithm`.
    pub fn contains(self, algorithm: Algorithm) -> bool {
        self.0 & algorithm.bit() != 0
    }

    /// The set with `algorithm` added.
    pub fn with(self, algorithm: Algorithm) -> Algorithms {
        Algorithms(self.0 | algorithm.bit())
    }

    /// Its algorithms, in the order of [`Algorithm::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// Whether every algorithm of the set joins ranges ([`Algorithm::joins_ranges`]); true
    /// of the empty set, since counting does.
    pub fn joins_ranges(self) -> bool {
        self.iter().all(Algorithm::joins_ranges)
    }
}

impl From<Algorithm> for Algorithms {
    fn from(algorithm: Algorithm) -> Algorithms {
        Algorithms::NONE.with(algorithm)
    }
}

impl FromIterator<Algorithm> for Algorithms {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Algorithms {
        iter.into_iter().fold(Algorithms::NONE, Algorithms::with)
    }
}

impl fmt::Display for Algorithms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Algorithm::name).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Algorithms {
    type Err = String;

    /// Algorithms by name, separated by commas; the empty string is the empty set.
    fn from_str(names: &str) -> Result<Algorithms, String> {
        names
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::parse::<Algorithm>)
            .collect()
    }
}

/// The digest of a file's content, shown in lower-case hexadecimal as the reference tools
/// print it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest {
    algorithm: Algorithm,
    bytes: [u8; 32],
}

impl Digest {
    /// `bytes` (as many as the algorithm's digest has; the rest ignored) as a digest.
    fn new(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut all = [0; 32];
        all[..algorithm.digest_len()].copy_from_slice(&bytes[..algorithm.digest_len()]);
        Digest {
            algorithm,
            bytes: all,
        }
    }

    /// `bytes` as a digest of `algorithm`, if they are as many as its digests have.
    ///
    /// ```
    /// use reader_core::{Algorithm, Digest};
    /// let digest = Digest::from_bytes(Algorithm::Xxh3, &[0xab; 16]).expect("16 bytes");
    /// assert_eq!(digest.to_string(), "ab".repeat(16));
    /// assert_eq!(Digest::from_bytes(Algorithm::Sha256, &[0xab; 16]), None);
    /// ```
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Option<Digest> {
        (bytes.len() == algorithm.digest_len()).then(|| Digest::new(algorithm, bytes))
    }

    /// The algorithm that made it.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{self}", self.algorithm)
    }
}

/// One digest of a whole tree for each algorithm: the same files with the same contents
/// under the same paths give the same digest, whatever read them, in whatever order, with
/// however many threads or shards.
///
/// For an algorithm A it is A over, for each file read, sorted by the bytes of its path (as
/// reported): the path's bytes, one NUL byte, and the bytes of the file's A digest. In Python:
///
/// ```text
/// h = hashlib.sha256()
/// for path, digest in sorted(files):   # (path bytes, digest bytes) pairs
///     h.update(path + b"\0" + digest)
/// ```
///
/// ```
/// use reader_core::{Algorithm, Algorithms, Measure, TreeDigest, Work, FileWork};
/// let sha256 = |data: &[u8]| {
///     let mut state = Measure::new(Algorithm::Sha256.into()).start();
///     state.update(data);
///     state.finish().digests
/// };
/// let mut one = TreeDigest::new(Algorithm::Sha256.into());
/// one.add(b"b", &sha256(b"two"));
/// one.add(b"a", &sha256(b"one"));
/// let mut other = TreeDigest::new(Algorithm::Sha256.into());
/// other.add(b"a", &sha256(b"one"));
/// other.add(b"b", &sha256(b"two"));
/// assert_eq!(one.finish(), other.finish());
/// ```
#[derive(Debug, Clone, Default)]
pub struct TreeDigest {
    algorithms: Algorithms,
    /// Every file's entry, one after another: its path, a NUL, and its digest of each
    /// algorithm in order (held in one buffer: no allocation a file).
    entries: Vec<u8>,
    /// Where each entry starts in `entries`, and its path's length.
    files: Vec<(usize, usize)>,
}

impl TreeDigest {
    /// A tree of no file yet, for the digests of `algorithms`.
    pub fn new(algorithms: Algorithms) -> TreeDigest {
        TreeDigest {
            algorithms,
            entries: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Adds the file at `path` (its bytes) with its digests (those of algorithms not asked
    /// for are left out; one asked for and missing counts as no digest of that file).
    pub fn add(&mut self, path: &[u8], digests: &[Digest]) {
        self.files.push((self.entries.len(), path.len()));
        self.entries.extend_from_slice(path);
        self.entries.push(0);
        for algorithm in self.algorithms.iter() {
            match digests.iter().find(|d| d.algorithm() == algorithm) {
                Some(digest) => self.entries.extend_from_slice(&digest.bytes),
                None => self.entries.extend_from_slice(&[0; 32]),
            }
        }
    }

    /// The tree's digest for each algorithm, in the order of [`Algorithm::ALL`].
    pub fn finish(mut self) -> Vec<Digest> {
        let stride = 32 * self.algorithms.iter().count();
        let entries = &self.entries;
        // A path ends in a NUL, which no path holds and which sorts first: entries sort as
        // their paths do. Files arrive roughly in the walk's order, which a stable sort
        // (runs found and merged) puts in order quickly.
        let entry = |&(at, path): &(usize, usize)| &entries[at..at + path + 1 + stride];
        self.files.sort_by(|a, b| entry(a).cmp(entry(b)));
        let mut staged = Vec::with_capacity(64 << 10);
        self.algorithms
            .iter()
            .enumerate()
            .filter_map(|(nth, algorithm)| {
                let mut state = Measure::new(algorithm.into()).start();
                for &(at, path) in &self.files {
                    let digest = at + path + 1 + 32 * nth;
                    staged.extend_from_slice(&entries[at..at + path + 1]);
                    staged.extend_from_slice(&entries[digest..digest + algorithm.digest_len()]);
                    if staged.len() >= 60 << 10 {
                        state.update(&staged);
                        staged.clear();
                    }
                }
                state.update(&staged);
                staged.clear();
                state.finish().digests.pop()
            })
            .collect()
    }
}

/// BLAKE3 of each file; the states of its byte ranges join ([`JoinRanges`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Blake3;

/// [`Blake3`]'s state of a whole file.
#[derive(Debug, Clone, Default)]
pub struct Blake3File(blake3::Hasher);

impl Work for Blake3 {
    type Output = Digest;
    type File = Blake3File;

    fn start(&self) -> Blake3File {
        Blake3File(blake3::Hasher::new())
    }
}

impl FileWork for Blake3File {
    type Output = Digest;

    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self) -> Digest {
        Digest::new(Algorithm::Blake3, self.0.finalize().as_bytes())
    }
}

/// A subtree of BLAKE3's tree held by a range: where it starts, and its hasher until it is
/// reduced to a chaining value (which it can no longer be the root).
#[derive(Debug, Clone)]
struct Subtree {
    start: u64,
    len: u64,
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Hasher(Box<blake3::Hasher>),
    Chaining(ChainingValue),
}

impl Subtree {
    fn chaining_value(&self) -> ChainingValue {
        match &self.node {
            Node::Hasher(hasher) => hasher.finalize_non_root(),
            Node::Chaining(cv) => *cv,
        }
    }
}

/// One subtree of BLAKE3's tree known by its chaining value: what a byte range of a file
/// hashed apart carries of the file's BLAKE3 to another process or machine
/// ([`Blake3Range::subtrees`], [`Blake3Range::from_subtrees`]). A `part` record writes it as
/// `[start, len, "<64 hex digits of the chaining value>"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Blake3Subtree {
    /// Where in the file it starts: a multiple of a chunk (1 KiB).
    pub start: u64,
    /// How many bytes of the file it holds.
    pub len: u64,
    /// Its chaining value: BLAKE3's hash of the subtree as a node below the root.
    pub chaining_value: [u8; 32],
}

/// What [`Blake3`] makes of a byte range, or of several joined: the subtrees of BLAKE3's tree
/// that it holds, in order, merged as far as they can be before the end of the file is known.
///
/// A range hashed on one machine and joined on another travels as its subtrees' chaining
/// values:
///
/// ```
/// use reader_core::{Blake3, Blake3Range, FileWork, JoinRanges};
/// let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
/// let mut ranges = Vec::new();
/// for (start, end) in [(0, 2048), (2048, u64::MAX)] {
///     let mut state = Blake3.start_range(start, end);
///     state.update(&data[start as usize..end.min(5000) as usize]);
///     // What a `part` record carries, and reader-merge rebuilds.
///     let subtrees = state.finish().subtrees();
///     ranges.push(Blake3Range::from_subtrees(&subtrees)?);
/// }
/// let whole = Blake3.join_all(ranges).and_then(Blake3Range::root);
/// assert_eq!(
///     whole.map(|digest| digest.to_string()),
///     Some(blake3::hash(&data).to_hex().to_string())
/// );
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Blake3Range(Vec<Subtree>);

impl Blake3Range {
    /// The subtrees it holds, in order, each as its chaining value (one still being hashed is
    /// finalized as a node below the root): all of the range that joining needs, for
    /// [`Blake3Range::from_subtrees`] elsewhere. None for a range that holds no byte.
    pub fn subtrees(&self) -> Vec<Blake3Subtree> {
        self.0
            .iter()
            .filter(|subtree| subtree.len > 0)
            .map(|subtree| Blake3Subtree {
                start: subtree.start,
                len: subtree.len,
                chaining_value: subtree.chaining_value(),
            })
            .collect()
    }

    /// The range that holds `subtrees`, as [`Blake3Range::subtrees`] listed them, to be joined
    /// with its neighbours ([`JoinRanges::join`] of [`Blake3`]). An error says why the list
    /// cannot be one: a subtree that starts off a chunk boundary, holds no byte or more than a
    /// subtree starting there can hold, or does not start where the one before it ends.
    ///
    /// ```
    /// use reader_core::{Blake3Range, Blake3Subtree};
    /// let at = |start, len| Blake3Subtree { start, len, chaining_value: [0; 32] };
    /// assert!(Blake3Range::from_subtrees(&[at(0, 2048), at(2048, 1024)]).is_ok());
    /// assert!(Blake3Range::from_subtrees(&[]).is_ok());
    /// for bad in [&[at(0, 1024), at(2048, 1024)][..], &[at(512, 10)], &[at(1024, 2048)]] {
    ///     assert!(Blake3Range::from_subtrees(bad).is_err(), "{bad:?}");
    /// }
    /// ```
    pub fn from_subtrees(subtrees: &[Blake3Subtree]) -> Result<Blake3Range, String> {
        let chunk = blake3::CHUNK_LEN as u64;
        let mut range = Blake3Range::default();
        let mut next = None;
        for subtree in subtrees {
            let Blake3Subtree { start, len, .. } = *subtree;
            if !start.is_multiple_of(chunk) {
                return Err(format!(
                    "the subtree at byte {start} does not start on a chunk (a multiple of {chunk})"
                ));
            }
            if len == 0 {
                return Err(format!("the subtree at byte {start} holds no byte"));
            }
            if let Some(most) = max_subtree_len(start).filter(|&most| len > most) {
                return Err(format!(
                    "the subtree at byte {start} holds {len} bytes, more than the {most} a subtree there can"
                ));
            }
            if let Some(end) = next.filter(|&end| end != start) {
                return Err(format!(
                    "the subtree at byte {start} does not follow the one before it, which ends at byte {end}"
                ));
            }
            let end = start.checked_add(len).ok_or_else(|| {
                format!("the subtree at byte {start} of {len} bytes ends past 2^64")
            })?;
            next = Some(end);
            range.push(Subtree {
                start,
                len,
                node: Node::Chaining(subtree.chaining_value),
            });
        }
        Ok(range)
    }

    /// The BLAKE3 digest of the file whose byte ranges, all of them joined in order, make
    /// this, as [`JoinRanges::finish_joined`] of [`Blake3`] gives it; `None` when it is one
    /// subtree known only by its chaining value ([`Blake3Range::from_subtrees`] of a file that
    /// lies within one subtree): BLAKE3's root is that subtree hashed as the root, which its
    /// chaining value cannot give.
    pub fn root(self) -> Option<Digest> {
        let mut subtrees = self.0;
        let Some(last) = subtrees.pop() else {
            return Some(Digest::new(Algorithm::Blake3, blake3::hash(b"").as_bytes()));
        };
        if subtrees.is_empty() {
            // One subtree is the whole file: only its hasher can finalize the root.
            return match last.node {
                Node::Hasher(hasher) => {
                    Some(Digest::new(Algorithm::Blake3, hasher.finalize().as_bytes()))
                }
                Node::Chaining(_) => None,
            };
        }
        // The right edge of the tree, merged from the end; the last merge is the root.
        let mut right = last.chaining_value();
        while subtrees.len() > 1 {
            let left = subtrees.pop().map(|s| s.chaining_value()).unwrap_or(right);
            right = blake3::hazmat::merge_subtrees_non_root(&left, &right, Mode::Hash);
        }
        let first = subtrees[0].chaining_value();
        let root = blake3::hazmat::merge_subtrees_root(&first, &right, Mode::Hash);
        Some(Digest::new(Algorithm::Blake3, root.as_bytes()))
    }

    /// Appends `next`, which starts where the last subtree ends, merging before it the
    /// subtrees that now have more input after them, as BLAKE3's hasher merges its stack.
    fn push(&mut self, next: Subtree) {
        while let [.., left, right] = &self.0[..] {
            if left.len != right.len || !left.start.is_multiple_of(2 * left.len) {
                break;
            }
            let cv = blake3::hazmat::merge_subtrees_non_root(
                &left.chaining_value(),
                &right.chaining_value(),
                Mode::Hash,
            );
            let merged = Subtree {
                start: left.start,
                len: 2 * left.len,
                node: Node::Chaining(cv),
            };
            self.0.truncate(self.0.len() - 2);
            self.0.push(merged);
        }
        self.0.push(next);
    }
}

/// [`Blake3`]'s state of a byte range: the range cut into the subtrees of BLAKE3's tree, each
/// hashed with its own hasher set at its offset.
#[derive(Debug, Clone)]
pub struct Blake3RangeFile {
    done: Blake3Range,
    current: Subtree,
    /// Bytes the current subtree has taken.
    held: u64,
    /// Where the range ends (`u64::MAX`: at the end of the file).
    end: u64,
}

impl Blake3RangeFile {
    /// A fresh subtree at `start`, as large as its offset allows, and no larger than the
    /// largest power of two of chunks left before `end` unless the range runs to the end of
    /// the file (where BLAKE3's tree takes what is left).
    fn subtree_at(start: u64, end: u64) -> Subtree {
        let chunk = blake3::CHUNK_LEN as u64;
        let mut len = max_subtree_len(start).unwrap_or(u64::MAX);
        if end != u64::MAX {
            let chunks_left = (end - start) / chunk;
            if chunks_left > 0 {
                len = len.min((1 << chunks_left.ilog2()) * chunk);
            }
        }
        let mut hasher = blake3::Hasher::new();
        if start > 0 {
            hasher.set_input_offset(start);
        }
        Subtree {
            start,
            len,
            node: Node::Hasher(Box::new(hasher)),
        }
    }
}

impl FileWork for Blake3RangeFile {
    type Output = Blake3Range;

    fn update(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.held == self.current.len {
                let start = self.current.start + self.held;
                let next = Blake3RangeFile::subtree_at(start, self.end);
                let full = std::mem::replace(&mut self.current, next);
                self.done.push(full);
                self.held = 0;
            }
            let room = usize::try_from(self.current.len - self.held).unwrap_or(usize::MAX);
            let (now, rest) = chunk.split_at(room.min(chunk.len()));
            if let Node::Hasher(hasher) = &mut self.current.node {
                hasher.update(now);
            }
            self.held += now.len() as u64;
            chunk = rest;
        }
    }

    fn finish(mut self) -> Blake3Range {
        if self.held > 0 || self.done.0.is_empty() {
            self.current.len = self.held;
            self.done.push(self.current);
        }
        self.done
    }
}

impl JoinRanges for Blake3 {
    type Range = Blake3Range;
    type RangeWork = Blake3RangeFile;
    const RANGE_ALIGN: u64 = blake3::CHUNK_LEN as u64;

    fn start_range(&self, start: u64, end: u64) -> Blake3RangeFile {
        Blake3RangeFile {
            done: Blake3Range::default(),
            current: Blake3RangeFile::subtree_at(start, end),
            held: 0,
            end,
        }
    }

    fn join(&self, mut left: Blake3Range, right: Blake3Range) -> Blake3Range {
        for subtree in right.0 {
            // An empty range (a file that ended before it) holds nothing to join.
            if subtree.len > 0 || left.0.is_empty() {
                left.push(subtree);
            }
        }
        left
    }

    /// The digest of the file, as [`Blake3Range::root`] makes it.
    ///
    /// # Panics
    ///
    /// On a range rebuilt from one subtree's chaining value ([`Blake3Range::from_subtrees`]),
    /// whose root cannot be made: call [`Blake3Range::root`] there. A range read in this
    /// process holds its lone subtree's hasher (a merged subtree always has one after it).
    fn finish_joined(&self, whole: Blake3Range) -> Digest {
        match whole.root() {
            Some(digest) => digest,
            None => unreachable!("a range read here holds a lone subtree as its hasher"),
        }
    }
}

/// SHA-256 of each file, front to back.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256;

/// [`Sha256`]'s state of a file.
#[derive(Debug, Clone, Default)]
pub struct Sha256File(sha2::Sha256);

impl Work for Sha256 {
    type Output = Digest;
    type File = Sha256File;

    fn start(&self) -> Sha256File {
        Sha256File(sha2::Sha256::new())
    }
}

impl FileWork for Sha256File {
    type Output = Digest;

    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self) -> Digest {
        Digest::new(Algorithm::Sha256, &self.0.finalize())
    }
}

/// XXH3-128 of each file, front to back, printed as `xxhsum -H2` prints it (big-endian).
#[derive(Debug, Clone, Copy, Default)]
pub struct Xxh3;

/// [`Xxh3`]'s state of a file.
#[derive(Clone, Default)]
pub struct Xxh3File(twox_hash::XxHash3_128);

impl fmt::Debug for Xxh3File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Xxh3File")
    }
}

impl Work for Xxh3 {
    type Output = Digest;
    type File = Xxh3File;

    fn start(&self) -> Xxh3File {
        Xxh3File(twox_hash::XxHash3_128::new())
    }
}

impl FileWork for Xxh3File {
    type Output = Digest;

    fn update(&mut self, chunk: &[u8]) {
        self.0.write(chunk);
    }

    fn finish(self) -> Digest {
        Digest::new(Algorithm::Xxh3, &self.0.finish_128().to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `work` makes of `data` fed in `chunks`-byte pieces.
    fn fed<W: Work>(work: &W, data: &[u8], chunks: usize) -> W::Output {
        let mut state = work.start();
        data.chunks(chunks.max(1)).for_each(|c| state.update(c));
        state.finish()
    }

    /// `data` cut at `cuts` (sorted offsets, multiples of a chunk), each range hashed apart
    /// with BLAKE3, fed in `chunks`-byte pieces; the last range runs to the end.
    fn blake3_ranges(data: &[u8], cuts: &[usize], chunks: usize) -> Vec<Blake3Range> {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|&c| c > 0 && c < data.len()));
        bounds.dedup();
        bounds
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = bounds.get(i + 1).copied();
                let mut state =
                    Blake3.start_range(start as u64, end.map_or(u64::MAX, |e| e as u64));
                data[start..end.unwrap_or(data.len())]
                    .chunks(chunks.max(1))
                    .for_each(|c| state.update(c));
                state.finish()
            })
            .collect()
    }

    /// BLAKE3 of `data` cut at `cuts`, each range hashed apart and joined.
    fn blake3_of_ranges(data: &[u8], cuts: &[usize], chunks: usize) -> Digest {
        let joined = Blake3
            .join_all(blake3_ranges(data, cuts, chunks))
            .expect("at least one range");
        Blake3.finish_joined(joined)
    }

    /// BLAKE3 of `data` cut at `cuts`, each range hashed apart, carried as its subtrees'
    /// chaining values (checked to round-trip), rebuilt, and joined one after the other, as
    /// reader-merge joins the parts of a file; `None` when the root cannot be made.
    fn blake3_of_subtrees(data: &[u8], cuts: &[usize], chunks: usize) -> Option<Digest> {
        let mut joined = Blake3Range::default();
        for range in blake3_ranges(data, cuts, chunks) {
            let subtrees = range.subtrees();
            let rebuilt = Blake3Range::from_subtrees(&subtrees).expect("a range's own subtrees");
            assert_eq!(rebuilt.subtrees(), subtrees, "round trip");
            joined = Blake3.join(joined, rebuilt);
        }
        joined.root()
    }

    fn blake3(data: &[u8]) -> Digest {
        Digest::new(Algorithm::Blake3, blake3::hash(data).as_bytes())
    }

    #[test]
    fn each_digest_is_the_reference_crates_whatever_the_chunks() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for len in [
            0,
            1,
            1023,
            1024,
            1025,
            4096,
            65_535,
            65_536,
            65_537,
            data.len(),
        ] {
            let data = &data[..len];
            let sha = Digest::new(Algorithm::Sha256, &sha2::Sha256::digest(data));
            let xxh = twox_hash::XxHash3_128::oneshot(data).to_be_bytes();
            for chunks in [1, 7, 1024, 65_536] {
                assert_eq!(
                    fed(&Blake3, data, chunks),
                    blake3(data),
                    "{len} by {chunks}"
                );
                assert_eq!(fed(&Sha256, data, chunks), sha, "{len} by {chunks}");
                let xxh3 = fed(&Xxh3, data, chunks);
                assert_eq!(xxh3.as_bytes(), xxh, "{len} by {chunks}");
            }
        }
    }

    #[test]
    fn blake3_ranges_join_at_every_shape_of_the_tree() {
        let data: Vec<u8> = (0..20 * 1024 + 100).map(|i| (i % 253) as u8).collect();
        let k = 1024;
        for cuts in [
            vec![],
            vec![k],
            vec![3 * k],
            vec![k, 2 * k, 3 * k],
            vec![5 * k, 6 * k, 13 * k],
            vec![8 * k, 16 * k],
            vec![20 * k],
        ] {
            for len in [0, 1, k, k + 1, 3 * k, 8 * k, 16 * k, 17 * k + 5, data.len()] {
                let data = &data[..len];
                let joined = blake3_of_ranges(data, &cuts, 1000);
                assert_eq!(joined, blake3(data), "{len} bytes cut at {cuts:?}");
            }
        }
    }

    #[test]
    fn ranges_carried_as_chaining_values_join_in_order_to_the_hash_of_the_whole() {
        let data: Vec<u8> = (0..(5 << 20) + 3).map(|i| (i * 31 % 257) as u8).collect();
        let k = 1024;
        // 3 parts of 5 MiB + 3 bytes as `Part::new` cuts them, and other shapes.
        let third = (data.len().div_ceil(k) / 3) * k;
        for cuts in [
            vec![third, (data.len().div_ceil(k) * 2 / 3) * k],
            vec![k],
            vec![3 * k, 4 * k, 5 * k, 64 * k, 1 << 20],
            vec![(1 << 20) + k, 4 << 20],
        ] {
            // Files that reach past the first cut, so that two ranges hold subtrees.
            for len in [2 * k, 3 * k + 1, 64 * k, (1 << 20) + 5, data.len()] {
                if len <= cuts[0] {
                    continue;
                }
                let data = &data[..len];
                assert_eq!(
                    blake3_of_subtrees(data, &cuts, 65_536),
                    Some(blake3(data)),
                    "{len} bytes cut at {cuts:?}"
                );
            }
        }
        // A file that ended within its first range's first subtree: no root from its chaining
        // value, and the range's own hasher still makes it.
        for len in [1, 1000, 2048] {
            let data = &data[..len];
            assert_eq!(blake3_of_subtrees(data, &[4 * k], 100), None, "{len}");
            assert_eq!(blake3_of_ranges(data, &[4 * k], 100), blake3(data), "{len}");
        }
        // An empty file, or one whose ranges all came up empty, is BLAKE3 of nothing.
        assert_eq!(blake3_of_subtrees(&[], &[k], 1), Some(blake3(b"")));
        assert!(
            Blake3
                .start_range(1024, 2048)
                .finish()
                .subtrees()
                .is_empty()
        );
    }

    #[test]
    fn subtree_lists_that_are_no_range_are_refused() {
        let at = |start, len| Blake3Subtree {
            start,
            len,
            chaining_value: [7; 32],
        };
        for (bad, says) in [
            (vec![at(0, 1024), at(1024, 0)], "holds no byte"),
            (vec![at(1000, 24)], "does not start on a chunk"),
            (vec![at(3072, 2048)], "more than the 1024"),
            (vec![at(0, 2048), at(4096, 1024)], "ends at byte 2048"),
            (vec![at(1 << 63, 1 << 63)], "past 2^64"),
        ] {
            let err = Blake3Range::from_subtrees(&bad).expect_err("refused");
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let ok = [at(0, 4096), at(4096, 1024), at(5120, 100)];
        let range = Blake3Range::from_subtrees(&ok).expect("a range");
        assert!(range.root().is_some());
    }

    proptest! {
        /// Ranges cut at random chunk boundaries, hashed apart and joined, give what one pass
        /// over the whole gives; so do they when each crosses as its subtrees' chaining values
        /// and they are joined one after the other, unless the file is one subtree.
        #[test]
        fn blake3_ranges_cut_at_random_chunks_join_to_the_hash_of_the_whole(
            data in prop::collection::vec(any::<u8>(), 0..40_000),
            cuts in prop::collection::btree_set(1usize..40, 0..8),
            chunks in 1usize..5000,
        ) {
            let cuts: Vec<usize> = cuts.into_iter().map(|c| c * 1024).collect();
            prop_assert_eq!(blake3_of_ranges(&data, &cuts, chunks), blake3(&data));
            let carried = blake3_of_subtrees(&data, &cuts, chunks);
            let lone = blake3_ranges(&data, &cuts, chunks)
                .iter()
                .map(|r| r.subtrees().len())
                .sum::<usize>()
                == 1;
            prop_assert_eq!(carried, (!lone).then(|| blake3(&data)));
        }
    }

    #[test]
    fn names_parse_and_show() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.name());
        }
        let digest = fed(&Xxh3, b"abc", 2);
        assert_eq!(
            format!("{digest:?}"),
            "xxh3:06b05ab6733a618578af5f94892f3950"
        );
    }
}

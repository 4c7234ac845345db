//! Where a file ends: the one set of rules every read path applies to what its reads return —
//! whether the file has ended, whether it has gone past the user's cap or a pseudo-file's
//! limit, and when the data disagrees with the size a reader took for it, so that the open
//! file must be looked at (`fstat`, `statx`). Pure: no system call is made here.
//!
//! [`Extent`] is used by reader-core's blocking reads and its read that never waits
//! (`mod.rs`), by io_uring's completions (reader-async's `uring/`) and by the hybrid's
//! splitter. It also keeps the file's position, apart from whatever the work counts.
//!
//! # Where a file ends
//!
//! A read that returns fewer bytes than asked is not, by itself, the end of a file: a
//! non-blocking read stops where the cached pages stop, and a blocking one where a page could
//! not be had (an I/O error, no memory). So:
//! - a read that returns 0 ends the file;
//! - a short read ends it only where it reaches, exactly, a size known for the file. Data
//!   past a size `fstat` gave ([`Size::Stated`]) is read on to a read that returns 0 (the
//!   file grew); data past a size looked up before the file was opened ([`Size::Walked`]) is
//!   looked at first, since the path may no longer name a regular file;
//! - the first read of a whole file from its start on a local file system, with no size
//!   known, ends it when it stops off a grain of [`STOP_GRAIN`] ([`first_read_ends`]);
//! - a file ends, as far as a reader goes, one byte past its limit: the user's cap
//!   ([`Limit::Cap`]) or, for a file of a pseudo file system whose size says 0,
//!   [`PSEUDO_FILE_LIMIT`] ([`Limit::Pseudo`]), and fails there;
//! - an unchecked file (no size `fstat` gave) whose data ends before its size, or that gives
//!   nothing at all, is looked at ([`Extent::take_odd`]): it may have become a FIFO or a
//!   device since the walk;
//! - a mapped file (`mapped.rs`) ends at the size `fstat` gave under a read lease, which no
//!   one can shrink without breaking the lease first;
//! - a byte range of a file the splitter reads or a shard's part ([`RangedFile`](crate::RangedFile)) ends at the range's end, or
//!   at a read that returns 0.

use std::path::Path;

use crate::record::{ErrorKind, FileError};

/// The most a reader takes from a file of a pseudo file system (procfs, sysfs…) whose size
/// says 0: its content is made on demand and may not end (`/proc/self/pagemap` runs to
/// hundreds of GiB). The largest such files meant to be read (`/proc/kallsyms`) are a few MiB.
pub const PSEUDO_FILE_LIMIT: u64 = 16 << 20;

/// The finest grain a read from the page cache stops on short of the end of a file: a sector,
/// the smallest block of any file system, and a divisor of every page size.
pub const STOP_GRAIN: usize = 512;

/// Whether the first read of a regular file, from its start, on a local file system, that came
/// back short with `n` of `asked` bytes has met the end of the file, with no size looked up.
/// The page cache holds a file in pages, each filled from the device (in sectors) and dropped
/// as a whole, so a read that stops for another reason than the end — the next page is not
/// cached (a non-blocking read), or could not be read (an I/O error, no memory for it) — stops
/// on a multiple of [`STOP_GRAIN`] from the start. Only the end of a file stops anywhere. A
/// short read on such a multiple says nothing: its caller looks up the size.
///
/// ```
/// use reader_core::extent::first_read_ends;
/// assert!(first_read_ends(100, 4096));
/// assert!(!first_read_ends(4096, 4096)); // a buffer full
/// assert!(!first_read_ends(1024, 4096)); // where an uncached page may begin
/// assert!(!first_read_ends(0, 4096)); // empty, or nothing cached: look
/// ```
pub fn first_read_ends(n: usize, asked: usize) -> bool {
    n > 0 && n < asked && !n.is_multiple_of(STOP_GRAIN)
}

/// What a reader knows of a file's size before it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Nothing: the file is read until a read returns 0.
    Unknown,
    /// Looked up before the file was opened (by the walk or a router): the open file has not
    /// been checked, and is looked at when its data disagrees.
    Walked(u64),
    /// What `fstat` or `statx` of the open file said: a regular file of this many bytes then.
    Stated(u64),
}

impl Size {
    /// A size the walk found, if any: a size of 0 says nothing (a pseudo-file's).
    pub fn walked(size: Option<u64>) -> Size {
        size.filter(|&size| size > 0)
            .map_or(Size::Unknown, Size::Walked)
    }

    /// The size, if one is known.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Size::Unknown => None,
            Size::Walked(size) | Size::Stated(size) => Some(size),
        }
    }
}

/// Where a read of a file must stop, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The cap the user set ([`FileJob::max_bytes`](crate::FileJob::max_bytes)).
    Cap(u64),
    /// A pseudo-file whose size says nothing: [`PSEUDO_FILE_LIMIT`].
    Pseudo,
}

impl Limit {
    /// The most bytes a read may take.
    pub fn bytes(self) -> u64 {
        match self {
            Limit::Cap(cap) => cap,
            Limit::Pseudo => PSEUDO_FILE_LIMIT,
        }
    }

    /// The failure of `path` once it is known to hold more than [`Limit::bytes`]:
    /// `size_limit`.
    pub fn error(self, path: &Path) -> FileError {
        match self {
            Limit::Cap(cap) => FileError::over_cap(path, cap),
            Limit::Pseudo => FileError::new(
                ErrorKind::SizeLimit,
                path,
                format!(
                    "a pseudo-file whose size the file system does not tell gave more than {}; not read further",
                    crate::units::bytes(PSEUDO_FILE_LIMIT as f64)
                ),
            ),
        }
    }
}

/// What follows a read ([`Extent::after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read on from [`Extent::position`].
    More,
    /// The file has ended.
    End,
    /// The file holds more than its limit: it fails with [`Limit::error`].
    Over(Limit),
}

/// One file's read, as far as where it ends goes: its size as the reader knows it, its limit,
/// and how far it has been read.
///
/// ```
/// use reader_core::extent::{Extent, Size, Step};
/// // The walk said 100 bytes: a short read that reaches them is the end.
/// let mut extent = Extent::new(Size::Walked(100), None);
/// assert_eq!(extent.after(60, 60), Step::More);
/// assert_eq!(extent.after(40, 60), Step::End);
/// assert!(!extent.take_odd());
///
/// // It ended at 50: the end, but the open file is looked at (a FIFO now?).
/// let mut shrunk = Extent::new(Size::Walked(100), None);
/// assert_eq!(shrunk.after(50, 64), Step::More);
/// assert_eq!(shrunk.after(0, 64), Step::End);
/// assert!(shrunk.take_odd());
///
/// // A cap of 10 bytes: the 11th fails the file.
/// let mut capped = Extent::new(Size::Unknown, Some(10));
/// assert!(matches!(capped.after(11, 64), Step::Over(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    size: Size,
    cap: Option<u64>,
    limit: Option<Limit>,
    position: u64,
    odd: bool,
}

impl Extent {
    /// A file not read yet, of `size` as far as the reader knows, read to at most `cap` bytes.
    pub fn new(size: Size, cap: Option<u64>) -> Extent {
        Extent {
            size,
            cap,
            limit: cap.map(Limit::Cap),
            position: 0,
            odd: false,
        }
    }

    /// The open file is a regular file of `size` bytes now (`fstat`, `statx`), on a pseudo
    /// file system if `pseudo`: a size of 0 there says nothing, and the file is read to
    /// [`PSEUDO_FILE_LIMIT`] at most.
    pub fn stated(&mut self, size: u64, pseudo: bool) {
        self.size = Size::Stated(size);
        self.odd = false;
        self.limit = match (self.cap, pseudo && size == 0) {
            (Some(cap), true) if cap < PSEUDO_FILE_LIMIT => Some(Limit::Cap(cap)),
            (_, true) => Some(Limit::Pseudo),
            (cap, false) => cap.map(Limit::Cap),
        };
    }

    /// The limit the file is already known to be over — its known size, or what has been read
    /// of it, is past the cap or the pseudo-file limit — if any. A file known to be over its
    /// cap before it is read fails without being opened.
    pub fn over(&self) -> Option<Limit> {
        let known = self.size.bytes().unwrap_or(0).max(self.position);
        self.limit.filter(|limit| known > limit.bytes())
    }

    /// What follows a read that returned `n` of the `asked` bytes (`n` ≤ `asked`), taken by
    /// the work: the position moves on by `n`.
    pub fn after(&mut self, n: usize, asked: usize) -> Step {
        self.position += n as u64;
        if let Some(limit) = self.over() {
            return Step::Over(limit);
        }
        let at = self.position;
        let end = n == 0 || (n < asked && self.size.bytes() == Some(at));
        if !matches!(self.size, Size::Stated(_)) {
            // Checked by no one yet: data that ends before the size the reader took (or with
            // nothing at all), or goes past it, is looked at.
            let expected = self.size.bytes().unwrap_or(1);
            self.odd |= (n == 0 && at < expected) || self.size.bytes().is_some_and(|s| at > s);
        }
        if end { Step::End } else { Step::More }
    }

    /// The file was given to the work up to `position` by other means than reads (a mapping):
    /// the limit it is then over, if any.
    pub fn advanced_to(&mut self, position: u64) -> Option<Limit> {
        self.position = position;
        self.over()
    }

    /// Whether the data has disagreed with a size no one has checked since the last call: the
    /// open file should be looked at, and [`Extent::stated`] told what it is now.
    pub fn take_odd(&mut self) -> bool {
        std::mem::take(&mut self.odd)
    }

    /// How many bytes have been read: where the next read starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The size as the reader knows it.
    pub fn size(&self) -> Size {
        self.size
    }

    /// The most bytes worth giving to the work: one past the limit, which fails the file.
    pub fn most(&self) -> u64 {
        self.limit
            .map_or(u64::MAX, |limit| limit.bytes().saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds reads of `ns` bytes, each of `asked`, and gives every step.
    fn steps(extent: &mut Extent, asked: usize, ns: &[usize]) -> Vec<Step> {
        ns.iter().map(|&n| extent.after(n, asked)).collect()
    }

    #[test]
    fn a_short_read_ends_a_file_only_at_its_known_size() {
        use Step::{End, More};
        // Stated: ends exactly at its size, with no read that returns 0.
        let mut stated = Extent::new(Size::Stated(100), None);
        assert_eq!(steps(&mut stated, 64, &[64, 36]), [More, End]);
        // Short of it (a non-blocking read at uncached pages, an I/O error): reads on.
        let mut short = Extent::new(Size::Stated(100), None);
        assert_eq!(steps(&mut short, 64, &[32, 32, 36]), [More, More, End]);
        // Past it (it grew since fstat): read on to a read that returns 0.
        let mut grew = Extent::new(Size::Stated(100), None);
        assert_eq!(steps(&mut grew, 64, &[64, 50, 0]), [More, More, End]);
        assert!(!grew.take_odd());
        // A full read that reaches the size: the next read says it ended.
        let mut full = Extent::new(Size::Stated(128), None);
        assert_eq!(steps(&mut full, 64, &[64, 64, 0]), [More, More, End]);
        // No size: only a read that returns 0.
        let mut unknown = Extent::new(Size::Unknown, None);
        assert_eq!(steps(&mut unknown, 64, &[10, 10, 0]), [More, More, End]);
        assert_eq!(unknown.position(), 20);
    }

    #[test]
    fn data_that_disagrees_with_an_unchecked_size_is_looked_at() {
        // Matches the walk: nothing to look at.
        let mut same = Extent::new(Size::Walked(100), None);
        steps(&mut same, 64, &[64, 36]);
        assert!(!same.take_odd());
        // Shrank: ends, and is looked at.
        let mut shrank = Extent::new(Size::Walked(100), None);
        assert_eq!(steps(&mut shrank, 64, &[50, 0]), [Step::More, Step::End]);
        assert!(shrank.take_odd());
        assert!(!shrank.take_odd(), "taken once");
        // Grew: looked at, and then its stated size ends it.
        let mut grew = Extent::new(Size::Walked(100), None);
        assert_eq!(steps(&mut grew, 64, &[64, 50]), [Step::More, Step::More]);
        assert!(grew.take_odd());
        grew.stated(130, false);
        assert_eq!(grew.after(16, 64), Step::End);
        assert!(!grew.take_odd());
        // Nothing at all and no size: perhaps a device now.
        let mut empty = Extent::new(Size::Unknown, None);
        assert_eq!(empty.after(0, 64), Step::End);
        assert!(empty.take_odd());
        // Stated: fstat has checked it, nothing is odd.
        let mut stated = Extent::new(Size::Stated(100), None);
        steps(&mut stated, 64, &[50, 0]);
        assert!(!stated.take_odd());
    }

    #[test]
    fn the_cap_fails_a_file_known_larger_before_and_one_found_larger_while_read() {
        assert_eq!(
            Extent::new(Size::Walked(11), Some(10)).over(),
            Some(Limit::Cap(10))
        );
        assert_eq!(Extent::new(Size::Walked(10), Some(10)).over(), None);
        // A size that said less than the file holds: the cap holds while it is read.
        let mut lied = Extent::new(Size::Stated(5), Some(10));
        assert_eq!(lied.after(10, 64), Step::More);
        assert_eq!(lied.after(1, 64), Step::Over(Limit::Cap(10)));
        assert_eq!(lied.most(), 11);
        let mut mapped = Extent::new(Size::Stated(5), Some(10));
        assert_eq!(mapped.advanced_to(10), None);
        assert_eq!(mapped.advanced_to(11), Some(Limit::Cap(10)));
        assert_eq!(Extent::new(Size::Unknown, None).most(), u64::MAX);
    }

    #[test]
    fn a_pseudo_file_whose_size_says_nothing_is_read_to_its_limit() {
        let mut proc_file = Extent::new(Size::Unknown, None);
        proc_file.stated(0, true);
        assert_eq!(proc_file.most(), PSEUDO_FILE_LIMIT + 1);
        let limit = usize::try_from(PSEUDO_FILE_LIMIT).expect("fits");
        assert_eq!(proc_file.after(limit, limit), Step::More);
        assert_eq!(proc_file.after(1, limit), Step::Over(Limit::Pseudo));
        // A tighter cap is the limit, and the error says so.
        let mut capped = Extent::new(Size::Unknown, Some(4));
        capped.stated(0, true);
        assert_eq!(capped.after(5, 64), Step::Over(Limit::Cap(4)));
        // An empty file elsewhere, or a pseudo-file with a size: no pseudo limit.
        let mut empty = Extent::new(Size::Unknown, None);
        empty.stated(0, false);
        assert_eq!(empty.most(), u64::MAX);
        let mut sized = Extent::new(Size::Unknown, None);
        sized.stated(3, true);
        assert_eq!(sized.most(), u64::MAX);
        let error = Limit::Pseudo.error(Path::new("/proc/x"));
        assert_eq!(error.kind(), ErrorKind::SizeLimit);
    }

    #[test]
    fn a_first_read_ends_a_file_only_off_the_grain() {
        assert!(first_read_ends(1, 4096));
        assert!(first_read_ends(STOP_GRAIN + 1, 4096));
        assert!(!first_read_ends(STOP_GRAIN, 4096));
        assert!(!first_read_ends(8 * STOP_GRAIN, 4096));
        assert!(!first_read_ends(0, 4096));
        assert!(!first_read_ends(100, 100), "a buffer full is not short");
    }

    #[test]
    fn walked_sizes_of_zero_say_nothing() {
        assert_eq!(Size::walked(Some(0)), Size::Unknown);
        assert_eq!(Size::walked(None), Size::Unknown);
        assert_eq!(Size::walked(Some(7)), Size::Walked(7));
        assert_eq!(Size::Walked(7).bytes(), Some(7));
    }
}

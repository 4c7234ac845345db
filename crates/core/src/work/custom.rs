//! Your own work on every file, run by any model: a [`Work`] boxed as a [`CustomWork`] rides
//! on every job of a walk ([`Walk::work`](crate::Walk::work)), is fed each file's bytes in the
//! same read as the counts and digests ([`Measure`](crate::Measure)), and its result comes back
//! on the file's record as an [`Output`].
//!
//! A work whose byte ranges join ([`JoinRanges`], given with [`CustomWork::joinable`]) lets the
//! hybrid read a huge file on every core; any other is read front to back on one thread.
//!
//! ```
//! use reader_core::{CustomWork, FileWork, Record, Schedule, SequentialReader, Walk, Work};
//!
//! /// How many bytes of each value a file holds.
//! struct Histogram;
//! struct Tally([u64; 256]);
//! impl Work for Histogram {
//!     type Output = [u64; 256];
//!     type File = Tally;
//!     fn start(&self) -> Tally {
//!         Tally([0; 256])
//!     }
//! }
//! impl FileWork for Tally {
//!     type Output = [u64; 256];
//!     fn update(&mut self, chunk: &[u8]) {
//!         chunk.iter().for_each(|&b| self.0[usize::from(b)] += 1);
//!     }
//!     fn finish(self) -> [u64; 256] {
//!         self.0
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "banana")?;
//! let walk = Walk::new([dir.path()]).work(CustomWork::new(Histogram));
//! let mut a = 0;
//! SequentialReader::new().read(&walk, |record| {
//!     if let Record::File(file) = record {
//!         a += file.output.as_ref().and_then(|o| o.get::<[u64; 256]>()).map_or(0, |h| h[usize::from(b'a')]);
//!     }
//! })?;
//! assert_eq!(a, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::work::{FileWork, JoinRanges, Work};

/// Your own [`Work`], boxed so that every model can run it on every file of a walk
/// ([`Walk::work`](crate::Walk::work)) without a type parameter. Cloning it is cheap (one
/// work, shared).
#[derive(Clone)]
pub struct CustomWork(Arc<dyn AnyWork>);

impl CustomWork {
    /// `work`, read front to back on one thread for each file.
    pub fn new<W>(work: W) -> CustomWork
    where
        W: Work + 'static,
        W::Output: Sync,
    {
        CustomWork(Arc::new(Plain(work)))
    }

    /// `work`, whose byte ranges join: a huge file may be read as ranges on several threads
    /// (the hybrid's splitter) and the ranges joined ([`JoinRanges::join_all`]).
    pub fn joinable<W>(work: W) -> CustomWork
    where
        W: JoinRanges + 'static,
        W::Output: Sync,
    {
        CustomWork(Arc::new(Ranged(work)))
    }

    /// Whether a file may be read as byte ranges that join ([`CustomWork::joinable`]).
    pub fn joins_ranges(&self) -> bool {
        self.0.joins_ranges()
    }

    pub(super) fn start(&self) -> CustomFile {
        CustomFile(self.0.start())
    }

    pub(super) fn start_range(&self, start: u64, end: u64) -> Option<CustomRange> {
        self.0.start_range(start, end).map(CustomRange)
    }

    pub(super) fn join(&self, left: RangeOutput, right: RangeOutput) -> RangeOutput {
        RangeOutput(self.0.join(left.0, right.0))
    }

    pub(super) fn finish_joined(&self, whole: RangeOutput) -> Output {
        self.0.finish_joined(whole.0)
    }
}

impl fmt::Debug for CustomWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomWork(..)")
    }
}

/// One work, shared: two handles are equal when they hold the same work.
impl PartialEq for CustomWork {
    fn eq(&self, other: &CustomWork) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CustomWork {}

/// What a [`CustomWork`] made of one file: its own output type, got back with
/// [`Output::get`].
///
/// ```
/// let output = reader_core::Output::new(7u64);
/// assert_eq!(output.get::<u64>(), Some(&7));
/// assert_eq!(output.get::<u32>(), None);
/// ```
#[derive(Clone)]
pub struct Output(Arc<dyn Any + Send + Sync>);

impl Output {
    /// `value` as an output.
    pub fn new<T: Any + Send + Sync>(value: T) -> Output {
        Output(Arc::new(value))
    }

    /// The value, if it is a `T` (the work's `Output` type).
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Output(..)")
    }
}

/// One file's output: two are equal when they are the same value.
impl PartialEq for Output {
    fn eq(&self, other: &Output) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Output {}

/// A [`CustomWork`]'s state of one file.
pub(super) struct CustomFile(Box<dyn AnyFileWork>);

impl CustomFile {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    pub(super) fn finish(self) -> Output {
        self.0.finish()
    }
}

impl fmt::Debug for CustomFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomFile(..)")
    }
}

/// A [`CustomWork`]'s state of a byte range.
pub(super) struct CustomRange(Box<dyn AnyRangeWork>);

impl CustomRange {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    pub(super) fn finish(self) -> RangeOutput {
        RangeOutput(self.0.finish())
    }
}

impl fmt::Debug for CustomRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomRange(..)")
    }
}

/// What a [`CustomWork`] made of a byte range, or of several joined.
pub(super) struct RangeOutput(Box<dyn Any + Send>);

impl fmt::Debug for RangeOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RangeOutput(..)")
    }
}

/// [`Work`] and [`JoinRanges`] with their types boxed.
trait AnyWork: Send + Sync {
    fn start(&self) -> Box<dyn AnyFileWork>;
    fn joins_ranges(&self) -> bool;
    /// `None` when the work's ranges do not join.
    fn start_range(&self, start: u64, end: u64) -> Option<Box<dyn AnyRangeWork>>;
    fn join(&self, left: Box<dyn Any + Send>, right: Box<dyn Any + Send>) -> Box<dyn Any + Send>;
    fn finish_joined(&self, whole: Box<dyn Any + Send>) -> Output;
}

trait AnyFileWork: Send {
    fn update(&mut self, chunk: &[u8]);
    fn finish(self: Box<Self>) -> Output;
}

trait AnyRangeWork: Send {
    fn update(&mut self, chunk: &[u8]);
    fn finish(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// A work whose ranges do not join.
struct Plain<W>(W);

/// A work whose ranges join.
struct Ranged<W>(W);

/// The state of a file or of a range, boxed.
struct State<F>(F);

impl<F> AnyFileWork for State<F>
where
    F: FileWork,
    F::Output: Send + Sync + 'static,
{
    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self: Box<Self>) -> Output {
        Output::new(self.0.finish())
    }
}

impl<F> AnyRangeWork for State<F>
where
    F: FileWork,
    F::Output: Send + 'static,
{
    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.0.finish())
    }
}

impl<W> AnyWork for Plain<W>
where
    W: Work + 'static,
    W::Output: Sync,
{
    fn start(&self) -> Box<dyn AnyFileWork> {
        Box::new(State(self.0.start()))
    }

    fn joins_ranges(&self) -> bool {
        false
    }

    fn start_range(&self, _start: u64, _end: u64) -> Option<Box<dyn AnyRangeWork>> {
        None
    }

    fn join(&self, left: Box<dyn Any + Send>, _right: Box<dyn Any + Send>) -> Box<dyn Any + Send> {
        left
    }

    fn finish_joined(&self, _whole: Box<dyn Any + Send>) -> Output {
        unreachable!("a work whose ranges do not join is never read as ranges")
    }
}

impl<W> AnyWork for Ranged<W>
where
    W: JoinRanges + 'static,
    W::Output: Sync,
{
    fn start(&self) -> Box<dyn AnyFileWork> {
        Box::new(State(self.0.start()))
    }

    fn joins_ranges(&self) -> bool {
        true
    }

    fn start_range(&self, start: u64, end: u64) -> Option<Box<dyn AnyRangeWork>> {
        Some(Box::new(State(self.0.start_range(start, end))))
    }

    fn join(&self, left: Box<dyn Any + Send>, right: Box<dyn Any + Send>) -> Box<dyn Any + Send> {
        let (Ok(left), Ok(right)) = (left.downcast::<W::Range>(), right.downcast::<W::Range>())
        else {
            unreachable!("every range comes from this work's own start_range");
        };
        Box::new(self.0.join(*left, *right))
    }

    fn finish_joined(&self, whole: Box<dyn Any + Send>) -> Output {
        let Ok(whole) = whole.downcast::<W::Range>() else {
            unreachable!("every range comes from this work's own start_range");
        };
        Output::new(self.0.finish_joined(*whole))
    }
}

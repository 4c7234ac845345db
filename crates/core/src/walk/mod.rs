//! Discovery: which entries of the given PATHs a run reads, skips or reports as failed.
//!
//! A PATH that is a directory is walked recursively, on the `ignore` crate's walker (ripgrep's
//! and fd's); a PATH that is a file is read as one file (the filters apply only to what the
//! walk finds, as in ripgrep). Only regular files are read: FIFOs, sockets and devices are
//! reported as skipped and never opened. Symbolic links are reported as skipped unless links
//! are followed; when they are, a loop is reported as a `symlink_loop` failure and never
//! walked twice. PATHs that overlap (the same directory twice, or one inside another) are
//! walked once, and a name that a directory's listing gives twice (procfs does, for a
//! directory that changes while it is listed) is reported once.
//!
//! The walk is one walker, in one order. When its listings come from the device rather than
//! the page cache, threads list the directories ahead of it and throw what they read away, so
//! that the walker finds them cached (`ahead.rs`). Where a path is too long for the walker,
//! which opens directories by their paths — a PATH longer than `PATH_MAX`, the entries of a
//! directory whose paths are — the walk goes on through directory descriptors
//! (`descend.rs`), so that no entry is left unread for its depth.
//!
//! With a time limit on listings ([`Walk::timeout`]) the whole walk goes through descriptors,
//! and every call it waits on — a listing, a look at a PATH — is made on a helper thread and
//! given up on once the limit passes (`patience.rs`): a listing that never returns costs its
//! directory, reported as `timeout`, and the walk goes on with the rest of the tree.
//!
//! By default every regular file is read. The filters narrow that down:
//!
//! * names — [`Walk::extensions`], [`Walk::exclude`] (gitignore globs), [`Walk::skip_hidden`]
//!   and [`Walk::gitignore`] (the repository's ignore rules) leave entries out of the walk, as
//!   fd and ripgrep do: a directory left out is not descended into;
//! * depth — [`Walk::max_depth`] stops descending;
//! * size — [`Walk::size_range`] reports the files outside the range as skipped
//!   (`too_small`, `too_large`), so that a size filter never hides a file silently.
//!
//! Invalid lines of ignore files are passed over, as git passes over them.

mod ahead;
mod descend;
mod ignores;
mod listing;
pub(crate) mod long;
mod patience;
mod shard;

pub(crate) use ahead::settle;

pub use patience::stuck_listings;
pub use shard::{Part, Shard, key_hash};

use std::collections::hash_map::RandomState;
use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::record::{ErrorKind, FileError, StartError};
use crate::record::{SkipReason, Skipped};
use crate::walk::ahead::{Pace, Prune, ReadAhead};
use crate::walk::descend::{Descent, Rules};
use crate::walk::ignores::RepoRules;
use crate::walk::listing::{Chain, Kind, Listed};
use crate::walk::patience::Patience;
use crate::work::Algorithms;
use crate::work::CustomWork;

/// A regular file that discovery found and a reader should read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    /// Where it is.
    pub path: PathBuf,
    /// Its size when discovered, if the walk looked it up ([`Walk::with_sizes`], or a size
    /// filter).
    pub size: Option<u64>,
    /// The one byte range of it to read, when the file is split over shards
    /// ([`Walk::split_above`]); `None`: the whole file.
    pub part: Option<Part>,
    /// The most bytes to read of it ([`Walk::max_bytes`]): a file found larger fails as
    /// `size_limit` instead of being counted. `None`: no cap.
    pub max_bytes: Option<u64>,
    /// The digests to compute of it besides its counts ([`Walk::digests`]).
    pub digests: Algorithms,
    /// Your own work to run on it besides its counts ([`Walk::work`]).
    pub work: Option<CustomWork>,
}

impl FileJob {
    /// The whole file at `path`, of `size` bytes if known.
    pub fn new(path: impl Into<PathBuf>, size: Option<u64>) -> FileJob {
        FileJob {
            path: path.into(),
            size,
            part: None,
            max_bytes: None,
            digests: Algorithms::NONE,
            work: None,
        }
    }

    /// Whether it may be read as byte ranges joined afterwards (a huge file across cores):
    /// when its digests and its own work all join ranges ([`Measure::ranges`](crate::Measure::ranges)).
    pub fn joins_ranges(&self) -> bool {
        self.digests.joins_ranges() && self.work.as_ref().is_none_or(CustomWork::joins_ranges)
    }
}

/// One discovered entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Discovered {
    /// A regular file to read.
    File(FileJob),
    /// An entry deliberately not read.
    Skipped(Skipped),
    /// An entry that could not even be looked at (an unreadable directory, a symlink loop…).
    Failed(FileError),
}

/// What to discover, and how: a builder that takes and returns `self`.
///
/// ```
/// use reader_core::{Discovered, Walk};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "hello\n")?;
/// std::fs::write(dir.path().join("b.md"), "# title\n")?;
/// let mut found = Vec::new();
/// Walk::new([dir.path()]).extensions(["txt"]).for_each(|entry| {
///     if let Discovered::File(job) = entry {
///         found.push(job.path);
///     }
/// })?;
/// assert_eq!(found, [dir.path().join("a.txt")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Walk {
    roots: Vec<PathBuf>,
    extensions: Vec<Vec<u8>>,
    follow: bool,
    sizes: bool,
    gitignore: bool,
    skip_hidden: bool,
    excludes: Vec<String>,
    max_depth: Option<usize>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    listed: bool,
    shard: Option<Shard>,
    /// With a shard: hand over every regular file, each with whether the shard owns it by
    /// its path ([`Walk::every_file`]).
    every_file: bool,
    split_above: Option<u64>,
    max_bytes: Option<u64>,
    digests: Algorithms,
    work: Option<CustomWork>,
    timeout: Option<Duration>,
}

impl Walk {
    /// Discovery of every regular file under `roots`.
    pub fn new<I, P>(roots: I) -> Walk
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        Walk {
            roots: roots
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
            ..Walk::default()
        }
    }

    /// Only files with one of these extensions (case-insensitive, with or without the dot);
    /// none means every file.
    pub fn extensions<I, S>(mut self, extensions: I) -> Walk
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.extensions = extensions
            .into_iter()
            .map(|e| {
                e.as_ref()
                    .trim_start_matches('.')
                    .to_ascii_lowercase()
                    .into_bytes()
            })
            .collect();
        self
    }

    /// Follow symbolic links (loop-safe). Off by default.
    pub fn follow_links(mut self, follow: bool) -> Walk {
        self.follow = follow;
        self
    }

    /// Look up each file's size during discovery (one `stat` a file), for size-routed readers.
    pub fn with_sizes(mut self, sizes: bool) -> Walk {
        self.sizes = sizes;
        self
    }

    /// Honour the ignore rules of git repositories — `.gitignore`, `.git/info/exclude`, the
    /// global excludes file of git's configuration — and `.ignore` files, and leave `.git`
    /// out. Off by default: every regular file is read.
    ///
    /// As in git, ripgrep and fd, `.gitignore` files count only inside a git repository, and
    /// those of the directories above a PATH (up to the repository's top) count too.
    pub fn gitignore(mut self, yes: bool) -> Walk {
        self.gitignore = yes;
        self
    }

    /// Leave out hidden entries: files and directories whose name starts with a dot. A PATH
    /// given explicitly is walked even when its own name is hidden.
    pub fn skip_hidden(mut self, yes: bool) -> Walk {
        self.skip_hidden = yes;
        self
    }

    /// Leave out entries that match any of these globs, in gitignore syntax (`*.log`,
    /// `target/`, `/docs/gen/**`, and `!keep.log` to take one back), matched relative to each
    /// PATH. [`Walk::check`] rejects a glob that does not parse.
    ///
    /// ```
    /// use reader_core::{Discovered, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("target"))?;
    /// std::fs::write(dir.path().join("target/big.bin"), "x")?;
    /// std::fs::write(dir.path().join("main.rs"), "fn main() {}\n")?;
    /// let walk = Walk::new([dir.path()]).exclude(["target/"]);
    /// walk.check()?;
    /// let files: Vec<_> = walk.entries().collect();
    /// assert!(matches!(&files[..], [Discovered::File(job)] if job.path.ends_with("main.rs")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exclude<I, S>(mut self, globs: I) -> Walk
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.excludes = globs.into_iter().map(|g| g.as_ref().to_string()).collect();
        self
    }

    /// Descend at most `depth` directories below each PATH: `Some(1)` reads only the files
    /// directly inside it. `None` (the default) has no limit.
    pub fn max_depth(mut self, depth: Option<usize>) -> Walk {
        self.max_depth = depth;
        self
    }

    /// Read only regular files of at least `min` and at most `max` bytes (either bound may be
    /// left open); the others are reported as skipped, `too_small` or `too_large`.
    pub fn size_range(mut self, min: Option<u64>, max: Option<u64>) -> Walk {
        self.min_size = min;
        self.max_size = max;
        self
    }

    /// Take the roots as a list of names (`--files0-from`): each is read or walked as given,
    /// once for every time it is listed, and one that does not exist is reported as
    /// `not_found` like any entry, instead of stopping the start; an empty list is an empty run.
    pub fn listed(mut self, yes: bool) -> Walk {
        self.listed = yes;
        self
    }

    /// Only the entries of one shard (see [`Shard`]): files, skipped entries and failures
    /// alike, so that N shards report every entry of the unsharded run once between them.
    ///
    /// ```
    /// use reader_core::{Shard, Walk};
    /// let dir = tempfile::tempdir()?;
    /// for i in 0..20 {
    ///     std::fs::write(dir.path().join(format!("{i}.txt")), "x\n")?;
    /// }
    /// let per_shard: Vec<usize> = (0..3)
    ///     .map(|k| Walk::new([dir.path()]).shard(Shard::new(k, 3).ok()).entries().count())
    ///     .collect();
    /// assert_eq!(per_shard.iter().sum::<usize>(), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard(mut self, shard: Option<Shard>) -> Walk {
        self.shard = shard;
        self
    }

    /// With a [`shard`](Walk::shard), hand over every regular file of the walk, not only
    /// those whose path the shard owns, and say of each whether it does
    /// ([`Walk::for_each_owned`]); skipped entries and failures are still only the shard's
    /// own, and no file is split. A search for duplicates shares its files out by size
    /// (`duplicates.rs`), so each shard must see them all.
    pub(crate) fn every_file(mut self, yes: bool) -> Walk {
        self.every_file = yes;
        self
    }

    /// The shard this walk discovers the share of, if any.
    pub(crate) fn sharded(&self) -> Option<Shard> {
        self.shard
    }

    /// With a [`shard`](Walk::shard), cut every file larger than `unit` bytes into byte ranges
    /// spread over the shards (see [`Shard::part`]), so that one huge file is read by many
    /// instances: this shard's range of it comes as a job with its [`FileJob::part`] set.
    /// Sizes are then looked up during discovery. `None` (the default) splits nothing. With
    /// [`digests`](Walk::digests) that all join ranges
    /// ([`Algorithms::joins_ranges`]: BLAKE3) files are split too, and each part carries its
    /// BLAKE3 subtrees for `reader-merge` to join; with SHA-256 or XXH3, which cannot be
    /// joined, files are not split: each is read whole by the shard that owns it.
    ///
    /// ```
    /// use reader_core::{Algorithm, Discovered, Shard, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("big.bin"), vec![b'x'; 10_000])?;
    /// let parts = |digest: Algorithm| {
    ///     (0..4)
    ///         .flat_map(|k| {
    ///             let walk = Walk::new([dir.path()])
    ///                 .shard(Shard::new(k, 4).ok())
    ///                 .split_above(Some(1000))
    ///                 .digests(digest.into());
    ///             walk.entries().collect::<Vec<_>>()
    ///         })
    ///         .filter(|found| matches!(found, Discovered::File(job) if job.part.is_some()))
    ///         .count()
    /// };
    /// assert_eq!(parts(Algorithm::Blake3), 4);
    /// assert_eq!(parts(Algorithm::Sha256), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split_above(mut self, unit: Option<u64>) -> Walk {
        self.split_above = unit.map(|unit| unit.max(1));
        self
    }

    /// Read at most `cap` bytes of any file: a file larger than that (at discovery, at open
    /// time or while it is read) is reported as failed, `size_limit`, and not counted, so that
    /// no file can hold a reader for longer than `cap` bytes take. `None` (the default): no cap
    /// beyond the one for pseudo-files ([`PSEUDO_FILE_LIMIT`](crate::PSEUDO_FILE_LIMIT)).
    ///
    /// ```
    /// use reader_core::{Discovered, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "twelve bytes")?;
    /// let jobs: Vec<_> = Walk::new([dir.path()]).max_bytes(Some(4)).entries().collect();
    /// assert!(matches!(&jobs[..], [Discovered::File(job)] if job.max_bytes == Some(4)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_bytes(mut self, cap: Option<u64>) -> Walk {
        self.max_bytes = cap;
        self
    }

    /// Computes these digests of every file besides its counts, in the same read
    /// ([`FileJob::digests`]).
    ///
    /// ```
    /// use reader_core::{Algorithm, Discovered, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "abc")?;
    /// let walk = Walk::new([dir.path()]).digests(Algorithm::Sha256.into());
    /// let jobs: Vec<_> = walk.entries().collect();
    /// assert!(matches!(&jobs[..], [Discovered::File(job)] if job.digests == Algorithm::Sha256.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn digests(mut self, digests: Algorithms) -> Walk {
        self.digests = digests;
        self
    }

    /// Runs `work` on every file besides its counts, in the same read; its result comes back
    /// on the file's record ([`FileResult::output`](crate::FileResult::output)). Any model
    /// runs it (reader-proc only in a worker of your own, which runs it too). See
    /// [`CustomWork`] for an example.
    pub fn work(mut self, work: CustomWork) -> Walk {
        self.work = Some(work);
        self
    }

    /// Waits at most `limit` for each directory listing (and each look at a PATH): a directory
    /// whose listing has not finished by then is reported once as failed, `timeout`, nothing
    /// beneath it is walked, and the walk goes on with the rest of the tree. `None` (the
    /// default) waits as long as a listing takes. The calls given up on are left to the kernel
    /// on threads of their own ([`stuck_listings`](crate::stuck_listings)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use reader_core::{Discovered, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("sub"))?;
    /// std::fs::write(dir.path().join("sub/a.txt"), "x")?;
    /// let walk = Walk::new([dir.path()]).timeout(Some(Duration::from_secs(5)));
    /// let found: Vec<_> = walk.entries().collect();
    /// assert!(matches!(&found[..], [Discovered::File(job)] if job.path.ends_with("sub/a.txt")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, limit: Option<Duration>) -> Walk {
        self.timeout = limit;
        self
    }

    /// Checks that every PATH exists and every filter makes sense, before anything is read.
    /// With a [`timeout`](Walk::timeout), a PATH that cannot be looked at within it is left to
    /// the walk to report.
    pub fn check(&self) -> Result<(), StartError> {
        if self.roots.is_empty() && !self.listed {
            return Err(StartError::Invalid("no PATH given".into()));
        }
        if let (Some(min), Some(max)) = (self.min_size, self.max_size)
            && min > max
        {
            return Err(StartError::Invalid(format!(
                "--min-size ({min} bytes) is larger than --max-size ({max} bytes)"
            )));
        }
        excludes_under(Path::new("/"), &self.excludes)?;
        if self.listed {
            return Ok(());
        }
        let mut patience = Patience::<()>::new(self.timeout);
        for root in &self.roots {
            let path = root.clone();
            if let Ok(Err(source)) = patience.call(move |_| long::metadata(&path, true)) {
                return Err(StartError::Path {
                    path: root.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Every entry of every PATH, in walk order, found as the iterator is advanced.
    ///
    /// ```
    /// use reader_core::{Discovered, Walk};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "hello\n")?;
    /// let files = Walk::new([dir.path()])
    ///     .entries()
    ///     .filter(|entry| matches!(entry, Discovered::File(_)))
    ///     .count();
    /// assert_eq!(files, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entries(&self) -> Entries {
        let mut patience = Patience::new(self.timeout);
        Entries {
            roots: self.distinct_roots(&mut patience).into_iter(),
            walk: self.clone(),
            current: None,
            listing: Vec::new(),
            seen: Seen::default(),
            ahead: Ahead::default(),
            handed: None,
            patience,
        }
    }

    /// Walks every PATH and hands each entry to `visit`, in walk order; `visit` may stop the
    /// walk early by returning [`ControlFlow::Break`].
    pub fn run(&self, mut visit: impl FnMut(Discovered) -> ControlFlow<()>) -> ControlFlow<()> {
        for entry in self.entries() {
            visit(entry)?;
        }
        ControlFlow::Continue(())
    }

    /// Walks every PATH to the end, handing each entry to `visit`. A missing PATH is an error
    /// returned before anything is visited.
    pub fn for_each(&self, mut visit: impl FnMut(Discovered)) -> Result<(), StartError> {
        self.check()?;
        let _ = self.run(|entry| {
            visit(entry);
            ControlFlow::Continue(())
        });
        Ok(())
    }

    /// Walks every PATH to the end as [`Walk::for_each`] does, handing each entry to `visit`
    /// with whether this walk's shard owns it by its path (always, without a shard). Only
    /// files can be another shard's, and only with [`Walk::every_file`].
    pub(crate) fn for_each_owned(
        &self,
        mut visit: impl FnMut(Discovered, bool),
    ) -> Result<(), StartError> {
        self.check()?;
        let mut entries = self.entries();
        while let Some((found, owned)) = entries.next_owned() {
            visit(found, owned);
        }
        Ok(())
    }

    /// The roots with overlaps removed, in the order given: a root equal to an earlier one, or
    /// inside another directory root, is dropped, so that each file is discovered once. A list
    /// ([`Walk::listed`]) is taken as it is.
    fn distinct_roots(&self, patience: &mut Patience<Chain>) -> Vec<PathBuf> {
        if self.listed {
            return self.roots.clone();
        }
        let canonical: Vec<Option<PathBuf>> = self
            .roots
            .iter()
            .map(|root| {
                let root = root.clone();
                let canonical = patience.call(move |_| fs::canonicalize(root).ok());
                canonical.ok().flatten()
            })
            .collect();
        let covers = |outer: usize, inner: usize| match (&canonical[outer], &canonical[inner]) {
            // A path strictly inside another can only be inside a directory.
            (Some(o), Some(i)) => outer != inner && i.starts_with(o) && (i != o || outer < inner),
            _ => false,
        };
        (0..self.roots.len())
            .filter(|&i| !(0..self.roots.len()).any(|j| covers(j, i)))
            .map(|i| self.roots[i].clone())
            .collect()
    }

    /// What a walk through descriptors (`descend.rs`) of `root` leaves out, as the walker does.
    fn rules(&self, root: &Path) -> Rules {
        Rules {
            follow: self.follow,
            hidden: self.skip_hidden,
            excludes: excludes_under(root, &self.excludes).ok().flatten(),
            max_depth: self.max_depth,
            repo: self
                .gitignore
                .then(|| RepoRules::new(root, self.skip_hidden)),
        }
    }

    /// Whether symbolic links are followed.
    fn follows(&self) -> bool {
        self.follow
    }

    /// The walker of one root, with this walk's filters.
    fn walker(&self, root: &Path) -> ignore::Walk {
        let mut builder = ignore::WalkBuilder::new(root);
        builder
            .standard_filters(false)
            .hidden(self.skip_hidden)
            .ignore(self.gitignore)
            .git_ignore(self.gitignore)
            .git_global(self.gitignore)
            .git_exclude(self.gitignore)
            .parents(self.gitignore)
            .follow_links(self.follow)
            .max_depth(self.max_depth);
        // `check` has parsed the globs; a root it did not see gets none rather than a panic.
        let excludes = excludes_under(root, &self.excludes).ok().flatten();
        let skip_git = self.gitignore;
        if excludes.is_some() || skip_git {
            builder.filter_entry(move |entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let excluded = excludes
                    .as_ref()
                    .is_some_and(|globs| globs.matched(entry.path(), is_dir).is_ignore());
                let git_dir = skip_git && entry.file_name() == ".git";
                !(excluded || git_dir)
            });
        }
        builder.build()
    }

    /// Whether directories may be listed ahead of the walk: not under the repository's ignore
    /// rules, which only the walker applies (the threads would list ignored directories).
    fn reads_ahead(&self) -> bool {
        !self.gitignore
    }

    /// What the threads listing ahead of the walk of `root` leave out, as the walker does.
    fn prune(&self, root: &Path) -> Prune {
        Prune {
            hidden: self.skip_hidden,
            excludes: excludes_under(root, &self.excludes).ok().flatten(),
            max_depth: self.max_depth,
        }
    }

    /// What to do with one entry of the walk; `None` for directories and filtered-out names.
    fn classify(&self, entry: ignore::DirEntry) -> Option<Discovered> {
        let kind = Kind::of(entry.file_type()?);
        if kind == Kind::Dir {
            return None;
        }
        let explicit = entry.depth() == 0;
        if !explicit && !self.wanted(entry.path()) {
            return None;
        }
        // Looked up before the entry gives its path away, when it is wanted at all.
        let size = self.needs_size(kind).then(|| {
            entry.metadata().map(|meta| meta.len()).map_err(|err| {
                walk_error(entry.path(), err, true).unwrap_or_else(|| {
                    FileError::io(
                        entry.path(),
                        io::Error::other("its size cannot be looked up"),
                    )
                })
            })
        });
        Some(self.found(entry.into_path(), kind, size))
    }

    /// A root that is not a directory, classified from one `stat` made with `patience` (a
    /// root's links are followed, as the walker follows them), without building a walker for
    /// it; `None` for a directory, which is walked.
    fn explicit(&self, root: &Path, patience: &mut Patience<Chain>) -> Option<Discovered> {
        let path = root.to_path_buf();
        match patience.call(move |_| long::metadata(&path, true)) {
            Ok(Ok(meta)) if meta.is_dir() => None,
            Ok(Ok(meta)) => {
                let kind = Kind::of(meta.file_type());
                let size = self.needs_size(kind).then_some(Ok(meta.len()));
                Some(self.found(root.to_path_buf(), kind, size))
            }
            Ok(Err(err)) => Some(Discovered::Failed(FileError::io(root, err))),
            Err(lost) => Some(Discovered::Failed(lost.error(root, "looking it up"))),
        }
    }

    /// What becomes of a non-directory entry of `kind` at `path`: a file to read (with its
    /// `size`, looked up when [`Walk::needs_size`] says so, `None` otherwise), or skipped, with
    /// the reason.
    fn found(
        &self,
        path: PathBuf,
        kind: Kind,
        size: Option<Result<u64, FileError>>,
    ) -> Discovered {
        let reason = if kind == Kind::File {
            let size = match size {
                Some(Ok(len)) => Some(len),
                Some(Err(failed)) => return Discovered::Failed(failed),
                None => None,
            };
            match size {
                Some(len) if self.min_size.is_some_and(|min| len < min) => SkipReason::TooSmall,
                Some(len) if self.max_size.is_some_and(|max| len > max) => SkipReason::TooLarge,
                _ => {
                    return Discovered::File(FileJob {
                        max_bytes: self.max_bytes,
                        digests: self.digests,
                        work: self.work.clone(),
                        ..FileJob::new(path, size)
                    });
                }
            }
        } else {
            match kind {
                Kind::Symlink => SkipReason::Symlink,
                Kind::Fifo => SkipReason::Fifo,
                Kind::Socket => SkipReason::Socket,
                Kind::BlockDevice => SkipReason::BlockDevice,
                Kind::File | Kind::Dir | Kind::CharDevice => SkipReason::CharDevice,
            }
        };
        Discovered::Skipped(Skipped { path, reason })
    }

    /// Whether [`Walk::found`] looks up the size of an entry of `kind`: a regular file's, when
    /// sizes are asked for or a size filter or a split needs them.
    fn needs_size(&self, kind: Kind) -> bool {
        let bounded = self.min_size.is_some() || self.max_size.is_some();
        let split = self.shard.is_some() && self.split_above.is_some();
        kind == Kind::File && (self.sizes || bounded || split)
    }

    /// Does the name at the end of `path` have one of the wanted extensions? Found in the
    /// path's bytes, with `Path::extension`'s rule (`.bashrc` has none), without parsing its
    /// components: this runs once for every entry of the walk.
    fn wanted(&self, path: &Path) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let bytes = path.as_os_str().as_bytes();
        let name = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
        match name.iter().rposition(|&b| b == b'.') {
            Some(dot) if dot > 0 => {
                let ext = &name[dot + 1..];
                self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))
            }
            _ => false,
        }
    }
}

impl Walk {
    /// This walk's shard's share of `found`, an entry of `root`, by its key (its path relative
    /// to `root`, or as given when it is the root itself): all of it, the part of a split file
    /// it owns, or nothing; with whether the shard owns it, which only a file handed over by
    /// [`Walk::every_file`] may not.
    fn share(&self, root: &Path, mut found: Discovered) -> Option<(Discovered, bool)> {
        let Some(shard) = self.shard else {
            return Some((found, true));
        };
        let path = match &found {
            Discovered::File(job) => &job.path,
            Discovered::Skipped(skipped) => &skipped.path,
            Discovered::Failed(failed) => failed.path(),
        };
        let key = match path.strip_prefix(root) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative,
            _ => path,
        };
        let key = key.as_os_str().as_bytes();
        if self.every_file && matches!(found, Discovered::File(_)) {
            let owned = shard.owns(key);
            return Some((found, owned));
        }
        // A file whose digests cannot be joined from ranges (SHA-256, XXH3) is read whole,
        // by the shard that owns it.
        let part = match (&found, self.split_above) {
            (Discovered::File(job), Some(unit))
                if job.digests.joins_ranges() && job.work.is_none() =>
            {
                job.size
                    .filter(|&size| shard.parts_of(size, unit) > 1)
                    .map(|size| shard.part(key, size, unit))
            }
            _ => None,
        };
        match part {
            // A split file: this shard's part of it, if it has one.
            Some(part) => {
                if let Discovered::File(job) = &mut found {
                    job.part = Some(part?);
                }
                Some((found, true))
            }
            None => shard.owns(key).then_some((found, true)),
        }
    }
}

/// The `--exclude` globs as one gitignore matcher rooted at `root`; `None` when there are none.
fn excludes_under(root: &Path, globs: &[String]) -> Result<Option<Arc<Gitignore>>, StartError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let invalid = |glob: &str, err: ignore::Error| {
        StartError::Invalid(format!("--exclude '{glob}' is not a valid glob: {err}"))
    };
    let mut builder = GitignoreBuilder::new(root);
    for glob in globs {
        builder
            .add_line(None, glob)
            .map_err(|err| invalid(glob, err))?;
    }
    let matcher = builder
        .build()
        .map_err(|err| invalid(&globs.join(" "), err))?;
    Ok(Some(Arc::new(matcher)))
}

/// The entries of a [`Walk`], in walk order: see [`Walk::entries`].
pub struct Entries {
    walk: Walk,
    roots: std::vec::IntoIter<PathBuf>,
    /// The root being walked, and the walk of it.
    current: Option<(PathBuf, Source)>,
    /// The directories the walk is in, by depth: the one at `depth - 1` is being listed when
    /// an error of that depth comes (a listing that fails half-way names no path).
    listing: Vec<PathBuf>,
    /// What the directories being listed have listed so far.
    seen: Seen,
    /// Listing the root's directories ahead of the walk, when the tree is not cached.
    ahead: Ahead,
    /// The last directory of the walker's whose entries past `PATH_MAX` were handed over.
    handed: Option<Handed>,
    /// How long the calls of the walk through descriptors are waited for.
    patience: Patience<Chain>,
}

/// The entries past `PATH_MAX` of a directory the walker lists, handed to a walk through
/// descriptors: the walker goes on once that walk is over, leaving those entries out.
struct Handed {
    dir: PathBuf,
    /// The walk, while it lasts.
    descent: Option<Box<Descent>>,
}

/// How a root is walked.
enum Source {
    /// By the walker, which opens directories by their paths.
    Walker(ignore::Walk),
    /// Through descriptors: with a time limit on listings, or a root too long for the walker.
    Descent(Descent),
}

/// The walk's side of listing ahead (`ahead.rs`): how fast its listings are, and the threads
/// once started.
#[derive(Debug, Default)]
struct Ahead {
    pace: Pace,
    /// The last entry was a directory: the walker's next call lists it.
    after_dir: bool,
    running: Option<ReadAhead>,
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("walk", &self.walk)
            .field("root", &self.current.as_ref().map(|(root, _)| root))
            .finish_non_exhaustive()
    }
}

impl Iterator for Entries {
    type Item = Discovered;

    fn next(&mut self) -> Option<Discovered> {
        self.next_owned().map(|(found, _)| found)
    }
}

impl Entries {
    /// The next entry, with whether the walk's shard owns it (see [`Walk::for_each_owned`]).
    fn next_owned(&mut self) -> Option<(Discovered, bool)> {
        let Entries {
            walk,
            roots,
            current,
            listing,
            seen,
            ahead,
            handed,
            patience,
        } = self;
        loop {
            let Some((root, source)) = current else {
                let root = roots.next()?;
                if let Some(found) = walk.explicit(&root, patience) {
                    if let Some(found) = walk.share(&root, found) {
                        return Some(found);
                    }
                    continue;
                }
                let timed = patience.limit().is_some();
                let source = if timed || long::too_long(root.as_os_str().as_bytes()) {
                    Source::Descent(Descent::beneath(walk, &root))
                } else {
                    Source::Walker(walk.walker(&root))
                };
                *current = Some((root, source));
                *handed = None;
                continue;
            };
            let entries = match source {
                Source::Walker(entries) => entries,
                Source::Descent(descent) => {
                    match descent.next(walk, patience) {
                        Some(found) => {
                            if let Some(found) = walk.share(root, found) {
                                return Some(found);
                            }
                        }
                        None => *current = None,
                    }
                    continue;
                }
            };
            if let Some(descent) = handed.as_mut().and_then(|h| h.descent.as_mut()) {
                match descent.next(walk, patience) {
                    Some(found) => {
                        if let Some(found) = walk.share(root, found) {
                            return Some(found);
                        }
                    }
                    None => {
                        if let Some(handed) = handed {
                            handed.descent = None;
                        }
                    }
                }
                continue;
            }
            let timed = ahead.after_dir && ahead.running.is_none() && walk.reads_ahead();
            let next = if timed {
                let (next, slow) = ahead.pace.time(|| entries.next());
                if slow {
                    ahead.running = ReadAhead::start(root, walk.prune(root));
                }
                next
            } else {
                entries.next()
            };
            ahead.after_dir = false;
            let past = match &next {
                Some(Ok(entry)) if long::too_long(entry.path().as_os_str().as_bytes()) => {
                    let dir = entry.path().parent().map(Path::to_path_buf);
                    dir.zip(entry.depth().checked_sub(1))
                }
                Some(Err(err)) => past_limit(err, listing),
                _ => None,
            };
            if let Some((dir, depth)) = past {
                // Its entries past PATH_MAX go through descriptors, once; the walker goes on
                // with the others.
                if handed.as_ref().is_none_or(|handed| handed.dir != dir) {
                    let descent = Descent::past_limit(walk, root, &dir, depth);
                    let descent = Some(Box::new(descent));
                    *handed = Some(Handed { dir, descent });
                }
                continue;
            }
            let found = match next {
                Some(Ok(entry)) => {
                    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                    if !seen.first(entry.depth(), entry.path(), is_dir) {
                        continue;
                    }
                    ahead.after_dir = is_dir;
                    if is_dir {
                        listing.truncate(entry.depth());
                        listing.push(entry.path().to_path_buf());
                    }
                    walk.classify(entry)
                }
                Some(Err(err)) if seen.beneath_repeated(&err) => continue,
                Some(Err(err)) => {
                    let listed = err
                        .depth()
                        .and_then(|depth| listing.get(depth.checked_sub(1)?))
                        .unwrap_or(root);
                    walk_error(listed, err, false).map(Discovered::Failed)
                }
                None => {
                    *current = None;
                    *ahead = Ahead::default();
                    continue;
                }
            };
            if let Some(found) = found.and_then(|found| walk.share(root, found)) {
                return Some(found);
            }
        }
    }
}

/// The directory the walker was in when `err` came, with its depth, if `err` is that a path
/// in it is too long for one call: the walker opens directories (and follows links) by their
/// paths. The error names the path, or none when walking a directory beneath the directory
/// being listed failed (`listing`, by depth, says which that is).
fn past_limit(err: &ignore::Error, listing: &[PathBuf]) -> Option<(PathBuf, usize)> {
    if os_error(err) != Some(libc::ENAMETOOLONG) {
        return None;
    }
    let depth = err.depth()?.checked_sub(1)?;
    match error_path(err) {
        Some(path) if long::too_long(path.as_os_str().as_bytes()) => {
            Some((path.parent()?.to_path_buf(), depth))
        }
        Some(_) => None,
        None => Some((listing.get(depth)?.clone(), depth)),
    }
}

/// The names each directory being walked has listed so far, so that a name its listing gives
/// twice is reported once. A file system lists each name once while a directory stays as it
/// is, but a listing that changes while it is read need not: procfs lists
/// `/proc/PID/map_files` by position, so a mapping made half-way through lists an entry again,
/// and a network or FUSE file system can repeat names too. A directory listed twice is walked
/// once: the second listing of it, and everything beneath that, is left out.
#[derive(Debug, Default)]
struct Seen {
    /// At index `d`, the names the directory at depth `d` (whose entries have depth `d + 1`)
    /// has listed so far; the first `used` are in use, the rest empty and kept for reuse.
    names: Vec<Listed>,
    used: usize,
    /// The key of the names' hashes, one for the whole walk.
    keys: RandomState,
    /// A directory listed again, with its depth: what the walker finds beneath it (entries
    /// deeper than it, and the failure to list it) is not reported again.
    repeated: Option<(usize, PathBuf)>,
}

impl Seen {
    /// Whether the entry at `path`, of `depth`, is reported: not listed before by its
    /// directory, nor beneath a directory listed twice. A root (depth 0) always is, and starts
    /// afresh.
    fn first(&mut self, depth: usize, path: &Path, is_dir: bool) -> bool {
        if self.repeated.as_ref().is_some_and(|(at, _)| depth > *at) {
            return false;
        }
        self.repeated = None;
        // The directories deeper than this entry's have been listed to their end.
        let done = depth.min(self.used);
        self.names[done..self.used]
            .iter_mut()
            .for_each(Listed::clear);
        self.used = depth;
        if depth == 0 {
            return true;
        }
        if self.names.len() < depth {
            self.names.resize_with(depth, Listed::default);
        }
        // The walker's paths end in the entry's name: the bytes after the last `/`.
        let bytes = path.as_os_str().as_bytes();
        let name = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(bytes, |slash| &bytes[slash + 1..]);
        let first = self.names[depth - 1].insert(name, &self.keys);
        if !first && is_dir {
            self.repeated = Some((depth, path.to_path_buf()));
        }
        first
    }

    /// Whether the walker's error `err` is about what is beneath a directory listed twice.
    fn beneath_repeated(&self, err: &ignore::Error) -> bool {
        let Some((at, dir)) = &self.repeated else {
            return false;
        };
        match err.depth() {
            Some(depth) if depth > *at => true,
            Some(depth) => depth == *at && error_path(err) == Some(dir.as_path()),
            None => false,
        }
    }
}

/// The path the walker's error `err` names, if it names one.
fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// A walk error as a failure of the entry it happened on; `None` for an error that is about
/// no entry of the walk (a line of an ignore file that does not parse). The walker marks the
/// errors of its entries with their depth; `at_entry` says the error is an entry's anyway. An
/// error that names no path (a listing that failed half-way) is `listed`'s: the directory
/// being listed.
fn walk_error(listed: &Path, err: ignore::Error, at_entry: bool) -> Option<FileError> {
    let mut path = None;
    let mut at_entry = at_entry;
    let mut err = err;
    loop {
        err = match err {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert(p);
                *err
            }
            ignore::Error::WithDepth { err, .. } => {
                at_entry = true;
                *err
            }
            ignore::Error::WithLineNumber { err, .. } => *err,
            ignore::Error::Loop { ancestor, child } => {
                let message = format!("symbolic link loop back to {}", ancestor.display());
                return Some(FileError::new(ErrorKind::SymlinkLoop, child, message));
            }
            ignore::Error::Io(io_err) if at_entry => {
                let path = path.unwrap_or_else(|| listed.to_path_buf());
                return Some(FileError::io(path, original_io_error(io_err)));
            }
            _ => return None,
        };
    }
}

/// The number of the operating system's error behind the walker's `err`, if there is one.
fn os_error(err: &ignore::Error) -> Option<i32> {
    raw_os_error(err.io_error()?)
}

/// The operating system's own error inside one the walker wrapped, so that its number (and
/// so its kind: `ELOOP`, `ENAMETOOLONG`…) and its plain message survive.
fn original_io_error(err: io::Error) -> io::Error {
    match raw_os_error(&err) {
        Some(code) => io::Error::from_raw_os_error(code),
        None => err,
    }
}

/// The operating system's error number of `err`, or of the `io::Error` that its inner error has
/// as its source: ignore's sequential walk passes walkdir's errors on wrapped that way, an
/// `io::Error` around a `walkdir::Error` around the system's.
fn raw_os_error(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        err.get_ref()
            .and_then(|inner| inner.source())
            .and_then(|source| source.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::fs::symlink;

    fn discover(walk: &Walk) -> Vec<Discovered> {
        let mut all = Vec::new();
        walk.for_each(|d| all.push(d)).expect("roots exist");
        all
    }

    fn names(found: &[Discovered]) -> Vec<String> {
        let mut names: Vec<String> = found
            .iter()
            .map(|d| match d {
                Discovered::File(j) => format!("file {}", name(&j.path)),
                Discovered::Skipped(s) => {
                    format!("skipped {} {}", name(&s.path), s.reason.as_str())
                }
                Discovered::Failed(e) => format!("failed {} {}", name(e.path()), e.kind()),
            })
            .collect();
        names.sort();
        names
    }

    fn name(p: &Path) -> String {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn walks_recursively_and_filters_extensions_case_insensitively() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        fs::write(dir.path().join("a/one.TXT"), "x").expect("write");
        fs::write(dir.path().join("a/b/two.txt"), "x").expect("write");
        fs::write(dir.path().join("a/b/three.md"), "x").expect("write");
        fs::write(dir.path().join("noext"), "x").expect("write");
        let all = discover(&Walk::new([dir.path()]));
        assert_eq!(all.len(), 4);
        let txt = discover(&Walk::new([dir.path()]).extensions([".txt"]));
        assert_eq!(names(&txt), ["file one.TXT", "file two.txt"]);
    }

    #[test]
    fn extensions_follow_path_extension() {
        let walk = Walk::new(["."]).extensions(["txt", "GZ"]);
        for (path, wanted) in [
            ("a/b.txt", true),
            ("a/b.tar.gz", true),
            ("B.TXT", true),
            ("a.d/.txt", false),
            ("a.txt/b", false),
            ("a/b.txt.bak", false),
            ("noext", false),
        ] {
            let path = Path::new(path);
            assert_eq!(walk.wanted(path), wanted, "{}", path.display());
            let by_std = path
                .extension()
                .is_some_and(|e| ["txt", "gz"].iter().any(|w| e.eq_ignore_ascii_case(w)));
            assert_eq!(by_std, wanted, "{}", path.display());
        }
    }

    #[test]
    fn special_files_are_skipped_without_opening() {
        let dir = reader_testkit::Tree::new();
        dir.fifo("pipe");
        let _socket =
            std::os::unix::net::UnixListener::bind(dir.path().join("sock")).expect("bind");
        symlink("/dev/zero", dir.path().join("zero")).expect("symlink");
        let found = names(&discover(&Walk::new([dir.path()])));
        assert_eq!(
            found,
            [
                "skipped pipe fifo",
                "skipped sock socket",
                "skipped zero symlink"
            ]
        );
        let followed = names(&discover(&Walk::new([dir.path()]).follow_links(true)));
        assert_eq!(
            followed,
            [
                "skipped pipe fifo",
                "skipped sock socket",
                "skipped zero char_device"
            ]
        );
    }

    #[test]
    fn links_dangling_and_looping() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::create_dir(d.join("sub")).expect("mkdir");
        fs::write(d.join("sub/file"), "x").expect("write");
        symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
        symlink(d, d.join("sub/loop")).expect("symlink");
        assert_eq!(
            names(&discover(&Walk::new([d]))),
            [
                "file file",
                "skipped dangling symlink",
                "skipped loop symlink"
            ]
        );
        assert_eq!(
            names(&discover(&Walk::new([d]).follow_links(true))),
            [
                "failed dangling not_found",
                "failed loop symlink_loop",
                "file file"
            ]
        );
    }

    #[test]
    fn shards_split_every_kind_of_entry_by_the_path_below_its_root() {
        let dir = reader_testkit::Tree::new();
        for i in 0..30 {
            dir.file(format!("d{}/f{i}.txt", i % 4), "x\n");
        }
        dir.fifo("pipe");
        let d = dir.path();
        symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
        symlink(d, d.join("d0/loop")).expect("symlink");
        let lone = d.join("d1/f1.txt");
        for follow in [false, true] {
            let walk = Walk::new([d, lone.as_path()]).follow_links(follow);
            let all = names(&discover(&walk));
            let mut shards = Vec::new();
            for k in 0..3 {
                let shard = Shard::new(k, 3).ok();
                shards.extend(names(&discover(&walk.clone().shard(shard))));
            }
            shards.sort();
            // Every entry once, in exactly one shard (the lone root is inside `d`: walked once).
            assert_eq!(shards, all, "follow {follow}");
        }
        // The key is the path below the root: the same tree under another name shards alike.
        let shard = Shard::new(1, 3).ok();
        let here = names(&discover(&Walk::new([d]).shard(shard)));
        let moved = d.with_extension("moved");
        fs::rename(d, &moved).expect("rename");
        let there = names(&discover(&Walk::new([&moved]).shard(shard)));
        fs::rename(&moved, d).expect("rename back");
        assert_eq!(here, there);
        assert!(!here.is_empty());
    }

    #[test]
    fn every_file_hands_each_shard_all_files_and_each_is_owned_by_one() {
        let dir = reader_testkit::Tree::new();
        for i in 0..30 {
            dir.file(format!("d{}/f{i}.txt", i % 4), "x\n");
        }
        dir.fifo("pipe");
        let d = dir.path();
        symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
        let walk = Walk::new([d]);
        let all = names(&discover(&walk));
        let files: Vec<&String> = all.iter().filter(|n| n.starts_with("file ")).collect();
        let (mut owned, mut others) = (Vec::new(), Vec::new());
        for k in 0..3 {
            let sharded = walk.clone().shard(Shard::new(k, 3).ok()).every_file(true);
            let mut found = Vec::new();
            sharded
                .for_each_owned(|entry, mine| found.push((entry, mine)))
                .expect("roots exist");
            let (mine, theirs): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, m)| *m);
            let mine: Vec<Discovered> = mine.into_iter().map(|(e, _)| e).collect();
            let theirs: Vec<Discovered> = theirs.into_iter().map(|(e, _)| e).collect();
            // Every file, its own or not; only files are another shard's.
            let mut seen: Vec<String> = names(&mine)
                .into_iter()
                .chain(names(&theirs))
                .filter(|n| n.starts_with("file "))
                .collect();
            seen.sort();
            assert_eq!(seen.iter().collect::<Vec<_>>(), files, "shard {k}");
            assert!(theirs.iter().all(|e| matches!(e, Discovered::File(_))));
            // Without the mode, the shard's own entries are the same.
            let plain = discover(&walk.clone().shard(Shard::new(k, 3).ok()));
            assert_eq!(names(&mine), names(&plain), "shard {k}");
            owned.extend(names(&mine));
            others.extend(names(&theirs));
        }
        owned.sort();
        // Each entry owned once between the shards, as without the mode.
        assert_eq!(owned, all);
        assert_eq!(others.len(), 2 * files.len());
    }

    #[test]
    fn non_utf8_names_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = OsStr::from_bytes(b"caf\xe9.txt");
        fs::write(dir.path().join(name), "x").expect("write");
        let found = discover(&Walk::new([dir.path()]).extensions(["txt"]));
        match found.as_slice() {
            [Discovered::File(job)] => assert_eq!(job.path.file_name(), Some(name)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn overlapping_roots_are_walked_once_and_a_file_root_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/a.md"), "x").expect("write");
        let walk = Walk::new([
            dir.path().join("sub"),
            dir.path().to_path_buf(),
            dir.path().join("sub"),
        ])
        .extensions(["txt"]);
        assert!(discover(&walk).is_empty());
        let explicit = Walk::new([dir.path().join("sub/a.md")]).extensions(["txt"]);
        assert_eq!(names(&discover(&explicit)), ["file a.md"]);
    }

    #[test]
    fn sizes_on_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("f"), "12345").expect("write");
        let found = discover(&Walk::new([dir.path()]).with_sizes(true));
        assert!(matches!(
            &found[..],
            [Discovered::File(FileJob { size: Some(5), .. })]
        ));
    }

    /// A small source tree inside a git repository (a `.git` directory is all the walker asks).
    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for sub in [".git/info", "src", "target/debug", "docs/gen", ".config"] {
            fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        for (file, text) in [
            (".gitignore", "target/\n*.log\n!keep.log\n[unclosed\n"),
            (".git/info/exclude", "secret.txt\n"),
            (".git/HEAD", "ref: refs/heads/main\n"),
            ("src/main.rs", "fn main() {}\n"),
            ("src/.gitignore", "generated.rs\n"),
            ("src/generated.rs", "x"),
            ("target/debug/app", "binary"),
            ("docs/gen/page.md", "# page"),
            ("docs/a.log", "log"),
            ("docs/keep.log", "kept"),
            ("secret.txt", "shh"),
            (".config/settings", "x = 1"),
            ("README", "hello world\n"),
        ] {
            fs::write(d.join(file), text).expect("write");
        }
        dir
    }

    #[test]
    fn gitignore_reads_what_git_would_track_and_leaves_git_out() {
        let repo = repository();
        let found = names(&discover(&Walk::new([repo.path()]).gitignore(true)));
        assert_eq!(
            found,
            [
                "file .gitignore",
                "file .gitignore",
                "file README",
                "file keep.log",
                "file main.rs",
                "file page.md",
                "file settings",
            ]
        );
        let everything = discover(&Walk::new([repo.path()]));
        assert_eq!(everything.len(), 13, "{:?}", names(&everything));
    }

    #[test]
    fn hidden_excluded_and_deep_entries_are_left_out() {
        let repo = repository();
        let d = repo.path();
        let visible = names(&discover(&Walk::new([d]).skip_hidden(true)));
        assert!(visible.iter().all(|n| !n.contains(" .")), "{visible:?}");
        assert!(
            !visible.contains(&"file settings".to_string()),
            "{visible:?}"
        );
        assert_eq!(visible.len(), 8, "{visible:?}");
        let excluded = Walk::new([d]).exclude(["target/", "*.log", "!keep.log", "/docs/gen"]);
        excluded.check().expect("valid globs");
        let found = names(&discover(&excluded));
        for gone in ["file app", "file a.log", "file page.md"] {
            assert!(!found.contains(&gone.to_string()), "{found:?}");
        }
        assert!(found.contains(&"file keep.log".to_string()), "{found:?}");
        let top = names(&discover(&Walk::new([d]).max_depth(Some(1))));
        assert_eq!(top, ["file .gitignore", "file README", "file secret.txt"]);
        let file_root = Walk::new([d.join("README")]).max_depth(Some(0));
        assert_eq!(names(&discover(&file_root)), ["file README"]);
    }

    #[test]
    fn sizes_outside_the_range_are_skipped_with_their_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, len) in [("empty", 0), ("small", 3), ("mid", 10), ("big", 100)] {
            fs::write(dir.path().join(name), vec![b'x'; len]).expect("write");
        }
        let walk = Walk::new([dir.path()]).size_range(Some(1), Some(10));
        assert_eq!(
            names(&discover(&walk)),
            [
                "file mid",
                "file small",
                "skipped big too_large",
                "skipped empty too_small"
            ]
        );
        assert!(
            discover(&walk)
                .iter()
                .any(|d| matches!(d, Discovered::File(FileJob { size: Some(10), .. })))
        );
    }

    #[test]
    fn filters_that_cannot_work_are_start_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad_glob = Walk::new([dir.path()]).exclude(["ok", "{a,b"]).check();
        let err = bad_glob.expect_err("unclosed class").to_string();
        assert!(err.contains("--exclude '{a,b'"), "{err}");
        let bad_range = Walk::new([dir.path()])
            .size_range(Some(10), Some(1))
            .check();
        assert!(bad_range.is_err());
    }

    /// Levels of the deep chain: 8-byte names, about twice `PATH_MAX` at the bottom.
    const LEVELS: usize = 1000;

    /// `top.txt`, and a chain of [`LEVELS`] directories below `deep` holding `at-N.txt` every
    /// 100 levels and at the bottom, and `.hidden.txt` and `notes.md` at level 700.
    fn deep_tree() -> reader_testkit::Tree {
        use reader_testkit::Deep;
        let tree = reader_testkit::Tree::new();
        tree.file("top.txt", "top\n");
        tree.deep_with("deep", LEVELS, 8, |level| {
            let mut items = Vec::new();
            if level % 100 == 0 || level == LEVELS {
                let text = format!("level {level}\n").into_bytes();
                items.push(Deep::File(format!("at-{level}.txt"), text));
            }
            if level == 700 {
                items.push(Deep::File(".hidden.txt".into(), b"h".to_vec()));
                items.push(Deep::File("notes.md".into(), b"md".to_vec()));
            }
            items
        });
        tree
    }

    #[test]
    fn a_tree_far_deeper_than_path_max_is_walked_to_its_bottom() {
        let tree = deep_tree();
        let root = tree.path();
        let all = discover(&Walk::new([root]));
        assert_eq!(all.len(), 14, "{:?}", names(&all));
        assert!(
            all.iter().all(|d| matches!(d, Discovered::File(_))),
            "{:?}",
            names(&all)
        );
        let deepest = reader_testkit::Tree::deep_dir(&tree.join("deep"), LEVELS, 8);
        let deepest = deepest.join(format!("at-{LEVELS}.txt"));
        assert!(long::too_long(deepest.as_os_str().as_bytes()));
        assert!(all.contains(&Discovered::File(FileJob::new(&deepest, None))));
        let count = |walk: Walk| discover(&walk).len();
        assert_eq!(count(Walk::new([root]).extensions(["md"])), 1);
        assert_eq!(count(Walk::new([root]).skip_hidden(true)), 13);
        assert_eq!(
            count(Walk::new([root]).exclude(["*.md", "/deep/**/at-1000.txt"])),
            12
        );
        // `deep` is at depth 1, level N at depth N + 1, and its files at N + 2.
        assert_eq!(count(Walk::new([root]).max_depth(Some(502))), 7);
        for found in discover(&Walk::new([root]).with_sizes(true)) {
            let Discovered::File(job) = found else {
                panic!("{found:?}");
            };
            let name = job
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let want = match name.as_deref() {
                Some(".hidden.txt") => 1,
                Some("notes.md") => 2,
                Some("top.txt") => 4,
                Some(at) => format!("level {}\n", &at[3..at.len() - 4]).len() as u64,
                None => panic!("{job:?}"),
            };
            assert_eq!(job.size, Some(want), "{}", job.path.display());
        }
        let mut shards = Vec::new();
        for k in 0..3 {
            shards.extend(names(&discover(
                &Walk::new([root]).shard(Shard::new(k, 3).ok()),
            )));
        }
        shards.sort();
        assert_eq!(shards, names(&all), "each entry in one shard");
    }

    #[test]
    fn links_past_path_max_are_followed_and_their_loops_found() {
        use reader_testkit::Deep;
        let tree = reader_testkit::Tree::new();
        tree.file("other/o.txt", "other\n");
        let other = tree.join("other");
        let root = tree.path().to_path_buf();
        tree.deep_with("deep", 600, 8, |level| match level {
            550 => vec![
                Deep::Link("back".into(), "../../..".into()),
                Deep::Link("to-root".into(), root.clone()),
                Deep::Link("across".into(), other.clone()),
                Deep::Link("dangling".into(), "nowhere".into()),
                Deep::File("f.txt".into(), b"f\n".to_vec()),
            ],
            _ => Vec::new(),
        });
        let at = reader_testkit::Tree::deep_dir(&tree.join("deep"), 550, 8);
        assert!(long::too_long(at.as_os_str().as_bytes()));
        let plain = names(&discover(&Walk::new([&root])));
        assert_eq!(
            plain,
            [
                "file f.txt",
                "file o.txt",
                "skipped across symlink",
                "skipped back symlink",
                "skipped dangling symlink",
                "skipped to-root symlink",
            ]
        );
        let followed = discover(&Walk::new([&root]).follow_links(true));
        assert_eq!(
            names(&followed),
            [
                "failed back symlink_loop",
                "failed dangling not_found",
                "failed to-root symlink_loop",
                "file f.txt",
                "file o.txt",
                "file o.txt",
            ]
        );
        assert!(followed.contains(&Discovered::File(FileJob::new(
            at.join("across/o.txt"),
            None
        ))));
        let back = reader_testkit::Tree::deep_dir(&tree.join("deep"), 547, 8);
        for found in &followed {
            if let Discovered::Failed(err) = found
                && err.kind() == ErrorKind::SymlinkLoop
            {
                let ancestor = if err.path().ends_with("back") {
                    &back
                } else {
                    &root
                };
                let want = format!("loop back to {}", ancestor.display());
                assert!(err.message().ends_with(&want), "{}", err.message());
            }
        }
    }

    #[test]
    fn the_repository_rules_reach_past_path_max() {
        use reader_testkit::Deep;
        let tree = reader_testkit::Tree::new();
        tree.file(".git/HEAD", "ref: refs/heads/main\n");
        tree.file(".gitignore", "*.log\n");
        tree.deep_with("deep", 600, 8, |level| match level {
            500 => vec![Deep::File(".gitignore".into(), b"*.tmp\n".to_vec())],
            550 => vec![
                Deep::File("kept.txt".into(), b"x".to_vec()),
                Deep::File("left.log".into(), b"x".to_vec()),
                Deep::File("left.tmp".into(), b"x".to_vec()),
            ],
            // A repository of its own: the outer one's rules stop at it, as in git.
            580 => vec![Deep::Dir(".git".into())],
            590 => vec![Deep::File("inner.log".into(), b"x".to_vec())],
            _ => Vec::new(),
        });
        let found = names(&discover(&Walk::new([tree.path()]).gitignore(true)));
        let want = [
            "file .gitignore",
            "file .gitignore",
            "file inner.log",
            "file kept.txt",
        ];
        assert_eq!(found, want);
    }

    #[test]
    fn paths_past_path_max_given_as_paths_or_listed_are_walked() {
        let tree = deep_tree();
        let top = tree.join("deep");
        let dir = reader_testkit::Tree::deep_dir(&top, 900, 8);
        let file = reader_testkit::Tree::deep_dir(&top, LEVELS, 8).join("at-1000.txt");
        let gone = dir.join("gone");
        assert_eq!(
            names(&discover(&Walk::new([&dir]))),
            ["file at-1000.txt", "file at-900.txt"]
        );
        assert_eq!(names(&discover(&Walk::new([&file]))), ["file at-1000.txt"]);
        let err = Walk::new([&gone]).check().expect_err("missing");
        assert!(
            matches!(err, StartError::Path { ref source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err}"
        );
        let listed = Walk::new([&dir, &file, &gone]).listed(true);
        assert_eq!(
            names(&discover(&listed)),
            [
                "failed gone not_found",
                "file at-1000.txt",
                "file at-1000.txt",
                "file at-900.txt"
            ]
        );
    }

    /// Walks `root` through descriptors, as a PATH too long for the walker is walked.
    fn through_descriptors(walk: &Walk, root: &Path) -> Vec<Discovered> {
        let mut descent = Descent::beneath(walk, root);
        let mut patience = Patience::new(None);
        std::iter::from_fn(|| descent.next(walk, &mut patience)).collect()
    }

    #[test]
    fn the_walk_through_descriptors_finds_what_the_walker_finds() {
        let repo = repository();
        let d = repo.path();
        fs::create_dir(d.join("links")).expect("mkdir");
        symlink(d.join("src"), d.join("links/src")).expect("symlink");
        symlink(d, d.join("links/loop")).expect("symlink");
        symlink(d.join("nowhere"), d.join("links/dangling")).expect("symlink");
        // Every kind of rule, and each taking back what another left out.
        fs::write(d.join(".ignore"), "!secret.txt\n*.tmp\n").expect("write");
        fs::write(d.join("docs/.ignore"), "!a.tmp\n").expect("write");
        fs::write(d.join("docs/a.tmp"), "x").expect("write");
        fs::write(d.join("b.tmp"), "x").expect("write");
        fs::write(d.join("src/.gitignore"), "generated.rs\n!.keep\n").expect("write");
        fs::write(d.join("src/.keep"), "x").expect("write");
        // The same tree by a relative path, whose directories above match absolute paths.
        let cwd = std::env::current_dir().expect("cwd");
        let up = PathBuf::from("../".repeat(cwd.components().count()));
        let relative = up.join(d.strip_prefix("/").expect("absolute"));
        let walks = [
            Walk::new([relative.as_path()])
                .gitignore(true)
                .skip_hidden(true),
            Walk::new([d]),
            Walk::new([d]).gitignore(true),
            Walk::new([d]).skip_hidden(true),
            Walk::new([d]).exclude(["target/", "*.log", "!keep.log", "/docs/gen"]),
            Walk::new([d]).max_depth(Some(1)),
            Walk::new([d]).max_depth(Some(2)).follow_links(true),
            Walk::new([d]).follow_links(true).with_sizes(true),
            Walk::new([d])
                .extensions(["rs", "md"])
                .size_range(Some(2), None),
            Walk::new([d])
                .gitignore(true)
                .skip_hidden(true)
                .follow_links(true),
        ];
        let ruled = names(&discover(&walks[0]));
        for name in [
            "file secret.txt",
            "file a.tmp",
            "file .keep",
            "file keep.log",
        ] {
            assert!(ruled.contains(&name.to_string()), "{name}: {ruled:?}");
        }
        for name in [
            "file b.tmp",
            "file a.log",
            "file generated.rs",
            "file settings",
        ] {
            assert!(!ruled.contains(&name.to_string()), "{name}: {ruled:?}");
        }
        for walk in walks {
            let by_walker = discover(&walk);
            let by_descriptors = through_descriptors(&walk, &walk.roots[0]);
            assert_eq!(names(&by_descriptors), names(&by_walker), "{walk:?}");
            let sizes = |found: &[Discovered]| {
                let mut sizes: Vec<_> = found
                    .iter()
                    .filter_map(|f| match f {
                        Discovered::File(job) => Some((job.path.clone(), job.size)),
                        _ => None,
                    })
                    .collect();
                sizes.sort();
                sizes
            };
            assert_eq!(sizes(&by_descriptors), sizes(&by_walker), "{walk:?}");
        }
    }

    #[test]
    fn a_listing_that_never_returns_costs_its_directory_within_the_limit() {
        use reader_testkit::hostile::{HostileFs, LISTING_STALLS, NEVER_LISTED};
        let Some(fs) = HostileFs::mount() else {
            return;
        };
        let tree = fs.join(LISTING_STALLS);
        let never = tree.join(NEVER_LISTED);
        let limit = std::time::Duration::from_millis(200);
        let started = std::time::Instant::now();
        let found = discover(&Walk::new([&tree]).timeout(Some(limit)));
        let took = started.elapsed();
        let alone = discover(&Walk::new([&never]).timeout(Some(limit)));
        let (stalled, stuck) = (fs.stalled_listings(), crate::stuck_listings());
        drop(fs);
        assert_eq!(
            names(&found),
            [
                "failed never-listed timeout",
                "file after.txt",
                "file before.txt",
                "file below.txt",
                "file beside.txt",
            ]
        );
        assert!(took < limit * 5, "{took:?}");
        let Some(Discovered::Failed(err)) =
            found.iter().find(|f| matches!(f, Discovered::Failed(_)))
        else {
            panic!("{found:?}");
        };
        assert_eq!(err.path(), never);
        assert!(err.message().contains("listing"), "{}", err.message());
        assert_eq!(
            names(&alone),
            ["failed never-listed timeout"],
            "a PATH never listed"
        );
        // The second listing of the directory waits in the kernel behind the first one's
        // request, which the server holds.
        assert!(
            stalled >= 1 && stuck >= 2,
            "{stalled} listings stalled, {stuck} stuck"
        );
    }

    #[test]
    fn missing_root_is_a_start_error() {
        let err = Walk::new(["/no/such/path/here"])
            .check()
            .expect_err("missing");
        assert!(err.to_string().starts_with("/no/such/path/here: "), "{err}");
    }

    #[test]
    fn a_name_listed_twice_is_reported_once_and_a_directory_walked_once() {
        let mut seen = Seen::default();
        let walked: Vec<bool> = [
            (0, "/r", true),
            (1, "/r/a", false),
            (1, "/r/d", true),
            (2, "/r/d/x", false),
            (1, "/r/a", false),
            (1, "/r/d", true),
            (2, "/r/d/x", false),
            (1, "/r/b", false),
            (0, "/s", true),
            (1, "/s/a", false),
        ]
        .into_iter()
        .map(|(depth, path, is_dir)| seen.first(depth, Path::new(path), is_dir))
        .collect();
        let expected = [
            true, true, true, true, false, false, false, true, true, true,
        ];
        assert_eq!(walked, expected);

        seen.first(1, Path::new("/s/d"), true);
        assert!(!seen.first(1, Path::new("/s/d"), true));
        let unlisted = |depth, path: &str| ignore::Error::WithDepth {
            depth,
            err: Box::new(ignore::Error::WithPath {
                path: PathBuf::from(path),
                err: Box::new(ignore::Error::Io(io::Error::from_raw_os_error(
                    libc::EACCES,
                ))),
            }),
        };
        assert!(seen.beneath_repeated(&unlisted(1, "/s/d")));
        assert!(seen.beneath_repeated(&unlisted(2, "/s/d/e")));
        assert!(!seen.beneath_repeated(&unlisted(1, "/s/other")));
        assert!(seen.first(1, Path::new("/s/b"), false));
        assert!(!seen.beneath_repeated(&unlisted(1, "/s/d")));
    }

    /// What walkdir's errors are to the walk: an error whose source is the system's.
    #[derive(Debug)]
    struct Wrapping(io::Error);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "walking: {}", self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_systems_error_is_found_inside_the_walkers() {
        let wrapped =
            || io::Error::other(Wrapping(io::Error::from_raw_os_error(libc::ENAMETOOLONG)));
        assert_eq!(wrapped().raw_os_error(), None);
        let err = ignore::Error::WithPath {
            path: PathBuf::from("/r/long"),
            err: Box::new(ignore::Error::Io(wrapped())),
        };
        assert_eq!(os_error(&err), Some(libc::ENAMETOOLONG));
        let original = original_io_error(wrapped());
        assert_eq!(original.raw_os_error(), Some(libc::ENAMETOOLONG));
        assert_eq!(original.kind(), io::ErrorKind::InvalidFilename);

        let plain = ignore::Error::Io(io::Error::from_raw_os_error(libc::ELOOP));
        assert_eq!(os_error(&plain), Some(libc::ELOOP));
        let other = io::Error::other("no system error");
        assert_eq!(os_error(&ignore::Error::Io(other)), None);
        let kept = original_io_error(io::Error::other("kept"));
        assert_eq!(kept.to_string(), "kept");
    }
}

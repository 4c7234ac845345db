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
mod classify;
mod descend;
mod entries;
mod ignores;
mod listing;
pub(crate) mod long;
mod patience;
mod seen;
mod shard;

pub(crate) use ahead::settle;

pub use entries::Entries;
pub use patience::stuck_listings;
pub use shard::{Part, Shard, key_hash};

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::record::{FileError, Skipped, StartError};
use crate::walk::ahead::Prune;
use crate::walk::descend::Rules;
use crate::walk::ignores::RepoRules;
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
        Entries::new(self)
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

#[cfg(test)]
mod tests;

//! The walk itself: [`Entries`], the iterator that goes through each root in walk order — on
//! the `ignore` crate's walker, or through descriptors (`descend.rs`) where paths are too long
//! for it or listings have a time limit — with each name once (`seen.rs`), the directories
//! listed ahead when the tree is cold (`ahead.rs`), and the walker's errors made the entries'
//! failures.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::record::{ErrorKind, FileError};
use crate::walk::ahead::{Pace, ReadAhead};
use crate::walk::descend::Descent;
use crate::walk::listing::Chain;
use crate::walk::patience::Patience;
use crate::walk::seen::Seen;
use crate::walk::{Discovered, Walk, long};

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
    /// The entries of `walk`, from its first root.
    pub(super) fn new(walk: &Walk) -> Entries {
        let mut patience = Patience::new(walk.timeout);
        Entries {
            roots: distinct_roots(walk, &mut patience).into_iter(),
            walk: walk.clone(),
            current: None,
            listing: Vec::new(),
            seen: Seen::default(),
            ahead: Ahead::default(),
            handed: None,
            patience,
        }
    }

    /// The next entry, with whether the walk's shard owns it (see [`Walk::for_each_owned`]).
    pub(super) fn next_owned(&mut self) -> Option<(Discovered, bool)> {
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

/// The roots with overlaps removed, in the order given: a root equal to an earlier one, or
/// inside another directory root, is dropped, so that each file is discovered once. A list
/// ([`Walk::listed`]) is taken as it is.
fn distinct_roots(walk: &Walk, patience: &mut Patience<Chain>) -> Vec<PathBuf> {
    if walk.listed {
        return walk.roots.clone();
    }
    let canonical: Vec<Option<PathBuf>> = walk
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
    (0..walk.roots.len())
        .filter(|&i| !(0..walk.roots.len()).any(|j| covers(j, i)))
        .map(|i| walk.roots[i].clone())
        .collect()
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

/// The path the walker's error `err` names, if it names one.
pub(super) fn error_path(err: &ignore::Error) -> Option<&Path> {
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
pub(super) fn walk_error(listed: &Path, err: ignore::Error, at_entry: bool) -> Option<FileError> {
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

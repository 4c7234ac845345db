//! Discovery: which entries of the given PATHs a run reads, skips or reports as failed.
//!
//! A PATH that is a directory is walked recursively; a PATH that is a file is read as one file
//! (the extension filter applies only to what the walk finds, as in ripgrep). Only regular
//! files are read: FIFOs, sockets and devices are reported as skipped and never opened.
//! Symbolic links are reported as skipped unless links are followed; when they are, a loop is
//! reported as a `symlink_loop` failure and never walked twice. PATHs that overlap (the same
//! directory twice, or one inside another) are walked once.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, FileError, StartError};
use crate::record::{SkipReason, Skipped};

/// A regular file that discovery found and a reader should read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    /// Where it is.
    pub path: PathBuf,
    /// Its size when discovered, if the walk was asked for sizes ([`Walk::with_sizes`]).
    pub size: Option<u64>,
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

    /// Checks that every PATH exists, before anything is read.
    pub fn check(&self) -> Result<(), StartError> {
        if self.roots.is_empty() {
            return Err(StartError::Invalid("no PATH given".into()));
        }
        for root in &self.roots {
            fs::metadata(root).map_err(|source| StartError::Path {
                path: root.clone(),
                source,
            })?;
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
        Entries {
            roots: self.distinct_roots().into_iter(),
            walk: self.clone(),
            current: None,
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

    /// The roots with overlaps removed, in the order given: a root equal to an earlier one, or
    /// inside another directory root, is dropped, so that each file is discovered once.
    fn distinct_roots(&self) -> Vec<PathBuf> {
        let canonical: Vec<Option<PathBuf>> = self
            .roots
            .iter()
            .map(|r| fs::canonicalize(r).ok())
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

    /// What to do with one entry of the walk; `None` for directories and filtered-out names.
    fn classify(&self, entry: &walkdir::DirEntry, explicit: bool) -> Option<Discovered> {
        let file_type = entry.file_type();
        if file_type.is_dir() {
            return None;
        }
        if !explicit && !self.wanted(entry.file_name()) {
            return None;
        }
        let path = entry.path().to_path_buf();
        let reason = if file_type.is_file() {
            let size = if self.sizes {
                match entry.metadata() {
                    Ok(meta) => Some(meta.len()),
                    Err(err) => return Some(Discovered::Failed(walk_error(&path, err))),
                }
            } else {
                None
            };
            return Some(Discovered::File(FileJob { path, size }));
        } else if file_type.is_symlink() {
            SkipReason::Symlink
        } else if file_type.is_fifo() {
            SkipReason::Fifo
        } else if file_type.is_socket() {
            SkipReason::Socket
        } else if file_type.is_block_device() {
            SkipReason::BlockDevice
        } else {
            SkipReason::CharDevice
        };
        Some(Discovered::Skipped(Skipped { path, reason }))
    }

    fn wanted(&self, name: &OsStr) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let Some(ext) = Path::new(name).extension() else {
            return false;
        };
        let ext = ext.as_bytes();
        self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))
    }
}

/// The entries of a [`Walk`], in walk order: see [`Walk::entries`].
pub struct Entries {
    walk: Walk,
    roots: std::vec::IntoIter<PathBuf>,
    /// The root being walked, and the walk of it.
    current: Option<(PathBuf, walkdir::IntoIter)>,
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
        let Entries {
            walk,
            roots,
            current,
        } = self;
        loop {
            if let Some((root, entries)) = current {
                match entries.next() {
                    Some(Ok(entry)) => {
                        let explicit = entry.depth() == 0;
                        if let Some(found) = walk.classify(&entry, explicit) {
                            return Some(found);
                        }
                    }
                    Some(Err(err)) => return Some(Discovered::Failed(walk_error(root, err))),
                    None => *current = None,
                }
                continue;
            }
            let root = roots.next()?;
            let entries = walkdir::WalkDir::new(&root)
                .follow_links(walk.follow)
                .into_iter();
            *current = Some((root, entries));
        }
    }
}

/// A walk error as a failure of the entry it happened on.
fn walk_error(root: &Path, err: walkdir::Error) -> FileError {
    let path = err.path().unwrap_or(root).to_path_buf();
    if let Some(ancestor) = err.loop_ancestor() {
        let message = format!("symbolic link loop back to {}", ancestor.display());
        return FileError::new(ErrorKind::SymlinkLoop, path, message);
    }
    let io_err = err
        .into_io_error()
        .unwrap_or_else(|| io::Error::other("walk failed"));
    FileError::io(path, io_err)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn missing_root_is_a_start_error() {
        let err = Walk::new(["/no/such/path/here"])
            .check()
            .expect_err("missing");
        assert!(err.to_string().starts_with("/no/such/path/here: "), "{err}");
    }
}

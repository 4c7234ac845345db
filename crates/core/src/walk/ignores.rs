//! The repository's ignore rules (`--gitignore`) for the walk through descriptors
//! (`descend.rs`), matched as the walker of the `ignore` crate matches them (its `dir.rs`):
//! `.ignore`, then `.gitignore`, then the repository's `info/exclude`, then git's global
//! excludes file, each kind from the nearest directory out; `.gitignore` and the excludes only
//! inside a repository (a directory holding `.git` or `.jj`), and not from above it; the
//! directories above the PATH matched with absolute paths; a name that starts with a dot left
//! out (with `--no-hidden`) only if no rule took it back.
//!
//! The walker keeps one matcher a directory on a stack as it walks. So does this: each
//! directory's rules are built from its listing and the ignore files read through its
//! descriptor, and dropped when its walk is over, so that neither the time a match takes nor
//! the memory the rules hold grows with more than the directories being walked.

use std::ffi::OsStr;
use std::io::{BufRead, Cursor};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A directory's ignore files, as its listing found and read them.
#[derive(Debug, Default)]
pub(super) struct IgnoreFiles {
    /// `.ignore`.
    pub(super) ignore: Option<Vec<u8>>,
    /// `.gitignore`.
    pub(super) gitignore: Option<Vec<u8>>,
    /// The directory is a repository's top: it holds `.git` (a directory, or a file naming one
    /// elsewhere) or `.jj`.
    pub(super) repository: bool,
    /// The repository's `info/exclude`, and where it was read from.
    pub(super) exclude: Option<(PathBuf, Vec<u8>)>,
}

/// The rules of one directory.
#[derive(Debug)]
pub(super) struct DirRules {
    ignore: Gitignore,
    gitignore: Gitignore,
    exclude: Gitignore,
    repository: bool,
}

impl DirRules {
    /// The rules of the directory at `dir`, from its ignore files.
    pub(super) fn of(dir: &Path, files: IgnoreFiles) -> DirRules {
        let rules = |file: Option<(PathBuf, Vec<u8>)>| match file {
            Some((from, text)) => matcher(dir, &from, &text),
            None => Gitignore::empty(),
        };
        DirRules {
            ignore: rules(files.ignore.map(|text| (dir.join(".ignore"), text))),
            gitignore: rules(files.gitignore.map(|text| (dir.join(".gitignore"), text))),
            exclude: rules(files.exclude),
            repository: files.repository,
        }
    }

    /// The rules of the directory at `dir`, its ignore files read by their paths (a
    /// directory above those the walk lists).
    pub(super) fn at(dir: &Path) -> DirRules {
        let git = std::fs::metadata(dir.join(".git")).ok();
        let jj = dir.join(".jj").exists();
        let exclude = match &git {
            Some(meta) if meta.is_file() => {
                read_file(&dir.join(".git")).and_then(|dot_git| worktree_exclude(&dot_git))
            }
            _ => {
                let path = dir.join(".git/info/exclude");
                read_file(&path).map(|text| (path, text))
            }
        };
        DirRules::of(
            dir,
            IgnoreFiles {
                ignore: read_file(&dir.join(".ignore")),
                gitignore: read_file(&dir.join(".gitignore")),
                repository: git.is_some() || jj,
                exclude,
            },
        )
    }

    fn has_rules(&self) -> bool {
        !(self.ignore.is_empty() && self.gitignore.is_empty() && self.exclude.is_empty())
    }
}

/// The `info/exclude` of the repository of a worktree whose `.git` is a file holding `dot_git`
/// (`gitdir: DIR`, whose `commondir` names the repository's common directory), and where it was
/// read from; `None` if there is none.
pub(super) fn worktree_exclude(dot_git: &[u8]) -> Option<(PathBuf, Vec<u8>)> {
    let git_dir = Path::new(OsStr::from_bytes(
        first_line(dot_git)?.strip_prefix(b"gitdir: ")?,
    ));
    let common = read_file(&git_dir.join("commondir"))?;
    let common = Path::new(OsStr::from_bytes(first_line(&common)?));
    let common = if common.as_os_str().as_bytes().starts_with(b".") {
        git_dir.join(common)
    } else {
        common.to_path_buf()
    };
    let path = common.join("info/exclude");
    read_file(&path).map(|text| (path, text))
}

/// The content of the file at `path`; `None` if it cannot be read.
fn read_file(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok() // whole-file read ok: an ignore file, as the ignore crate reads it
}

/// The first line of `text`, without its line ending.
fn first_line(text: &[u8]) -> Option<&[u8]> {
    let line = text.split(|&b| b == b'\n').next()?;
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// The matcher of the ignore file read from `from` (`text`), whose globs are relative to `dir`,
/// built line by line as the `ignore` crate builds it from the file: a line that is not UTF-8
/// or does not parse is passed over, a byte-order mark is dropped.
fn matcher(dir: &Path, from: &Path, text: &[u8]) -> Gitignore {
    let mut builder = GitignoreBuilder::new(dir);
    for (i, line) in Cursor::new(text).lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(err) if err.kind() == std::io::ErrorKind::InvalidData => continue,
            Err(_) => break,
        };
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            &line
        };
        // A line that does not parse is passed over, as git passes over it.
        let _ = builder.add_line(Some(from.to_path_buf()), line);
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// The rules above the directories a walk lists, fixed for the walk of one PATH: the
/// directories above the PATH and git's global excludes file.
#[derive(Debug)]
pub(super) struct RepoRules {
    /// The PATH, as given.
    root: PathBuf,
    /// Names that start with a dot are left out unless a rule takes them back.
    hidden: bool,
    /// The PATH's directories above it, nearest first, with its own absolute path: their rules
    /// match the absolute path of an entry.
    parents: Vec<DirRules>,
    absolute_root: Option<PathBuf>,
    /// Some directory above the PATH has rules.
    parents_have_rules: bool,
    global: Gitignore,
}

impl RepoRules {
    /// The rules above the walk of `root`.
    pub(super) fn new(root: &Path, hidden: bool) -> RepoRules {
        let absolute_root = root.canonicalize().ok();
        let parents: Vec<DirRules> = absolute_root
            .iter()
            .flat_map(|absolute| absolute.ancestors().skip(1))
            .map(DirRules::at)
            .collect();
        let global = match std::env::current_dir() {
            Ok(cwd) => GitignoreBuilder::new(cwd).build_global().0,
            Err(_) => Gitignore::empty(),
        };
        RepoRules {
            root: root.to_path_buf(),
            hidden,
            parents_have_rules: parents.iter().any(DirRules::has_rules),
            parents,
            absolute_root,
            global,
        }
    }

    /// Whether the entry at `path` (a directory or not) is left out, `levels` the rules of the
    /// directories from the PATH down to the entry's own, nearest last.
    pub(super) fn leaves_out<'a, L>(&self, levels: L, path: &Path, is_dir: bool) -> bool
    where
        L: DoubleEndedIterator<Item = &'a DirRules> + Clone,
    {
        let path = strip_prefix(b"./", path).unwrap_or(path);
        let matched = self.matched(levels, path, is_dir);
        if matched.is_ignore() {
            return true;
        }
        let hidden = path
            .file_name()
            .is_some_and(|name| name.as_bytes().starts_with(b"."));
        matched.is_none() && self.hidden && hidden
    }

    /// What the rules say of `path`, as the `ignore` crate's `Ignore::matched_ignore` decides.
    fn matched<'a, L>(&self, levels: L, path: &Path, is_dir: bool) -> Match<()>
    where
        L: DoubleEndedIterator<Item = &'a DirRules> + Clone,
    {
        let in_repository = levels.clone().any(|level| level.repository)
            || self.parents.iter().any(|level| level.repository);
        let mut found = Found::default();
        let mut saw_repository = false;
        for level in levels.rev() {
            found.take(level, path, is_dir, in_repository && !saw_repository);
            saw_repository |= level.repository;
        }
        if let Some(absolute_root) = self
            .absolute_root
            .as_ref()
            .filter(|_| self.parents_have_rules)
        {
            let below = if self.root == Path::new(".") {
                path
            } else {
                let root = strip_prefix(b"./", &self.root).unwrap_or(&self.root);
                let below = strip_prefix(root.as_os_str().as_bytes(), path).unwrap_or(path);
                strip_prefix(b"/", below).unwrap_or(below)
            };
            let absolute = absolute_root.join(below);
            for level in &self.parents {
                found.take(level, &absolute, is_dir, in_repository && !saw_repository);
                saw_repository |= level.repository;
            }
        }
        let global = if in_repository {
            self.global.matched(path, is_dir).map(|_| ())
        } else {
            Match::None
        };
        found
            .ignore
            .or(found.gitignore)
            .or(found.exclude)
            .or(global)
    }
}

/// The first match of each kind of rule, nearest directory first.
#[derive(Debug)]
struct Found {
    ignore: Match<()>,
    gitignore: Match<()>,
    exclude: Match<()>,
}

impl Default for Found {
    fn default() -> Found {
        Found {
            ignore: Match::None,
            gitignore: Match::None,
            exclude: Match::None,
        }
    }
}

impl Found {
    /// Takes what `level`'s rules say of `path` where nothing nearer said anything;
    /// `repository`: its git rules count (inside a repository, not above it).
    fn take(&mut self, level: &DirRules, path: &Path, is_dir: bool, repository: bool) {
        if self.ignore.is_none() {
            self.ignore = level.ignore.matched(path, is_dir).map(|_| ());
        }
        if repository && self.gitignore.is_none() {
            self.gitignore = level.gitignore.matched(path, is_dir).map(|_| ());
        }
        if repository && self.exclude.is_none() {
            self.exclude = level.exclude.matched(path, is_dir).map(|_| ());
        }
    }
}

/// `path` without `prefix` (bytes), if it starts with it at a component's boundary, as the
/// `ignore` crate strips it.
fn strip_prefix<'a>(prefix: &[u8], path: &'a Path) -> Option<&'a Path> {
    let rest = path.as_os_str().as_bytes().strip_prefix(prefix)?;
    if prefix.last().is_some_and(|&b| b != b'/') && rest.first().is_some_and(|&b| b != b'/') {
        return None;
    }
    Some(Path::new(OsStr::from_bytes(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_rule_of_the_strongest_kind_decides() {
        let tree = reader_testkit::Tree::new();
        tree.file(".git/HEAD", "ref: refs/heads/main\n");
        tree.file(".git/info/exclude", "excluded\n");
        tree.file(".gitignore", "*.log\n/top-only\n");
        tree.file("sub/.gitignore", "!keep.log\n");
        tree.file("sub/.ignore", "secret\n");
        tree.file(".ignore", "!excluded\n");
        let root = tree.path();
        let rules = RepoRules::new(root, true);
        let top = DirRules::at(root);
        let sub = DirRules::at(&root.join("sub"));
        let out = |levels: &[&DirRules], rel: &str, is_dir: bool| {
            rules.leaves_out(levels.iter().copied(), &root.join(rel), is_dir)
        };
        assert!(out(&[&top], "a.log", false));
        assert!(out(&[&top, &sub], "sub/a.log", false));
        assert!(
            !out(&[&top, &sub], "sub/keep.log", false),
            "a nearer whitelist"
        );
        assert!(out(&[&top, &sub], "sub/secret", false), ".ignore");
        assert!(
            !out(&[&top], "excluded", false),
            ".ignore over info/exclude"
        );
        assert!(!out(&[&top, &sub], "sub/excluded", false));
        assert!(out(&[&top], "top-only", true));
        assert!(
            !out(&[&top, &sub], "sub/top-only", true),
            "anchored to its directory"
        );
        assert!(out(&[&top], ".hidden", false));
        let shown = RepoRules::new(root, false);
        assert!(!shown.leaves_out([&top].into_iter(), &root.join(".hidden"), false));
    }

    #[test]
    fn git_rules_count_only_inside_a_repository() {
        let tree = reader_testkit::Tree::new();
        tree.file(".gitignore", "*.log\n");
        tree.file(".ignore", "*.tmp\n");
        let root = tree.path();
        let rules = RepoRules::new(root, false);
        let top = DirRules::at(root);
        assert!(!rules.leaves_out([&top].into_iter(), &root.join("a.log"), false));
        assert!(rules.leaves_out([&top].into_iter(), &root.join("a.tmp"), false));
    }

    #[test]
    fn a_worktree_finds_its_common_exclude_file() {
        let tree = reader_testkit::Tree::new();
        tree.file("main/.git/info/exclude", "shared\n");
        let git_dir = tree.join("main/.git/worktrees/wt");
        tree.file("main/.git/worktrees/wt/commondir", "../..\n");
        tree.file("wt/.git", format!("gitdir: {}\n", git_dir.display()));
        let wt = tree.join("wt");
        let rules = RepoRules::new(&wt, false);
        let top = DirRules::at(&wt);
        assert!(rules.leaves_out([&top].into_iter(), &wt.join("shared"), false));
        assert_eq!(worktree_exclude(b"no gitdir here"), None);
    }
}

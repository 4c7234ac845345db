//! The walk that goes by directory descriptors, as `fts` walks: each directory is listed whole
//! through a descriptor opened relative to its parent's (`listing.rs`), so that no path is too
//! long for it. It walks where the walker of `entries.rs` (the `ignore` crate's, which opens
//! every directory by its path) cannot: a PATH longer than `PATH_MAX`, and the entries of a
//! directory whose paths are ([`Descent::past_limit`]), with everything beneath them.
//!
//! It keeps the walker's contract: the same filters, with the same precedence (the repository's
//! ignore rules as the `ignore` crate's walker matches them: `ignores.rs`), each name of a
//! listing once, links followed only when asked and a loop reported as `symlink_loop`, a
//! directory that cannot be listed reported once, and the depth limit counted from the PATH.
//! What it holds is what the walker holds: the listings and rules of the directories being
//! walked, and a few of their descriptors.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;

use crate::record::{ErrorKind, FileError};
use crate::walk::ahead::{Pace, Prune, ReadAhead};
use crate::walk::ignores::{DirRules, RepoRules};
use crate::walk::listing::{self, Ask, Chain, Entry, Id, Kind, Listing};
use crate::walk::long;
use crate::walk::patience::Patience;
use crate::walk::{Discovered, Walk};

/// What the walk leaves out, as the walker does.
#[derive(Debug)]
pub(super) struct Rules {
    /// Symbolic links are followed.
    pub(super) follow: bool,
    /// Names that start with a dot are left out (unless the ignore rules take one back).
    pub(super) hidden: bool,
    /// The `--exclude` globs.
    pub(super) excludes: Option<Arc<Gitignore>>,
    /// Directories below the PATH descended into at most.
    pub(super) max_depth: Option<usize>,
    /// With `--gitignore`: the repository's ignore rules above the directories listed (hidden
    /// names among them); `.git` is left out.
    pub(super) repo: Option<RepoRules>,
}

/// Which entries of a listed directory the walk takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// All of them; a failure to list the directory is reported.
    All,
    /// Those whose paths are too long for one call; the walker, which lists the directory
    /// too, takes the others and reports what becomes of the directory itself.
    PastLimit,
}

/// A directory to list next.
#[derive(Debug)]
struct ToList {
    path: PathBuf,
    depth: usize,
    /// It is reached through a symbolic link (a PATH's, or one followed).
    through_link: bool,
    part: Part,
}

/// A directory being walked: what is left of its listing.
#[derive(Debug)]
struct Level {
    path: PathBuf,
    depth: usize,
    id: Id,
    names: Vec<u8>,
    entries: std::vec::IntoIter<Entry>,
    /// The listing failed part way.
    broke: Option<io::Error>,
    part: Part,
    /// Its own ignore rules, with `--gitignore`.
    repo: Option<DirRules>,
}

/// A walk through descriptors of everything beneath one directory, or of the entries past
/// `PATH_MAX` of one directory: the [`Discovered`] entries, in walk order, from
/// [`Descent::next`].
#[derive(Debug)]
pub(super) struct Descent {
    rules: Rules,
    ask: Ask,
    /// The directories above the first one listed, up to the PATH, for loops of links.
    above: Vec<(Id, PathBuf)>,
    /// Their ignore rules, with `--gitignore`, the PATH's first.
    above_rules: Vec<DirRules>,
    levels: Vec<Level>,
    next_dir: Option<ToList>,
    /// Listing the PATH's directories ahead of the walk, when its listings are slow.
    ahead: Option<ListAhead>,
}

/// The walk's side of listing ahead (`ahead.rs`), as the walker's in `entries.rs`.
#[derive(Debug)]
struct ListAhead {
    root: PathBuf,
    prune: Prune,
    pace: Pace,
    running: Option<ReadAhead>,
}

impl Descent {
    /// Everything beneath `root`, a PATH that is a directory (or a link to one), with the
    /// filters of `walk`.
    pub(super) fn beneath(walk: &Walk, root: &Path) -> Descent {
        let first = ToList {
            path: root.to_path_buf(),
            depth: 0,
            through_link: true,
            part: Part::All,
        };
        let mut descent = Descent::new(walk, root, first);
        descent.ahead = walk.reads_ahead().then(|| ListAhead {
            root: root.to_path_buf(),
            prune: walk.prune(root),
            pace: Pace::default(),
            running: None,
        });
        descent
    }

    /// The entries of `dir` (a directory `depth` below `root`, which the walker lists) whose
    /// paths are too long for the walker, and everything beneath them.
    pub(super) fn past_limit(walk: &Walk, root: &Path, dir: &Path, depth: usize) -> Descent {
        let first = ToList {
            path: dir.to_path_buf(),
            depth,
            through_link: true,
            part: Part::PastLimit,
        };
        let mut descent = Descent::new(walk, root, first);
        let above = above(root, dir);
        if descent.rules.repo.is_some() {
            descent.above_rules = above.iter().map(|dir| DirRules::at(dir)).collect();
        }
        if walk.follows() {
            descent.above = above
                .into_iter()
                .filter_map(|dir| Some((id_of(&dir)?, dir)))
                .collect();
        }
        descent
    }

    fn new(walk: &Walk, root: &Path, first: ToList) -> Descent {
        let rules = walk.rules(root);
        Descent {
            ask: Ask {
                follow: rules.follow,
                sizes: walk.needs_size(Kind::File),
                ignore_files: rules.repo.is_some(),
            },
            rules,
            above: Vec::new(),
            above_rules: Vec::new(),
            levels: Vec::new(),
            next_dir: Some(first),
            ahead: None,
        }
    }

    /// The next entry, as `walk` classifies it; `None` once the walk is over. Directories are
    /// listed with `patience`: one whose listing is given up on is a `timeout` failure, and
    /// nothing beneath it is walked.
    pub(super) fn next(
        &mut self,
        walk: &Walk,
        patience: &mut Patience<Chain>,
    ) -> Option<Discovered> {
        loop {
            if let Some(dir) = self.next_dir.take() {
                let (path, through_link, ask) = (dir.path.clone(), dir.through_link, self.ask);
                let listed =
                    patience.call(move |chain| listing::list(chain, &path, through_link, ask));
                match listed {
                    Ok(Ok(listing)) => self.enter(dir, listing),
                    Ok(Err(_)) if dir.part == Part::PastLimit => {}
                    Ok(Err(err)) => return Some(Discovered::Failed(FileError::io(dir.path, err))),
                    Err(lost) => {
                        let what = "its listing, and with it the walk beneath it,";
                        return Some(Discovered::Failed(lost.error(dir.path, what)));
                    }
                }
                continue;
            }
            let level = self.levels.last_mut()?;
            let Some(entry) = level.entries.next() else {
                let done = self.levels.pop()?;
                match done.broke {
                    Some(err) if done.part == Part::All => {
                        return Some(Discovered::Failed(FileError::io(done.path, err)));
                    }
                    _ => continue,
                }
            };
            let path = level.path.join(OsStr::from_bytes(entry.name(&level.names)));
            let (depth, part) = (level.depth + 1, level.part);
            if part == Part::PastLimit && !long::too_long(path.as_os_str().as_bytes()) {
                continue;
            }
            if let Some(found) = self.visit(walk, path, depth, entry) {
                return Some(found);
            }
        }
    }

    /// Walks the directory `dir`, whose listing is `listing`, next; and lists ahead once its
    /// listings are found slow.
    fn enter(&mut self, dir: ToList, listing: Listing) {
        if let Some(ahead) = &mut self.ahead
            && ahead.running.is_none()
            && listing
                .first_call
                .is_some_and(|took| ahead.pace.listed(took))
        {
            ahead.running = ReadAhead::start(&ahead.root, ahead.prune.clone());
        }
        self.levels.push(Level {
            repo: listing
                .ignore_files
                .map(|files| DirRules::of(&dir.path, files)),
            path: dir.path,
            depth: dir.depth,
            id: listing.id,
            names: listing.names,
            entries: listing.entries.into_iter(),
            broke: listing.broke,
            part: dir.part,
        });
    }

    /// What becomes of `entry`, at `path` and `depth`: an entry to report, or `None` — a
    /// directory (listed next, unless the depth limit stops it) or an entry left out.
    fn visit(
        &mut self,
        walk: &Walk,
        path: PathBuf,
        depth: usize,
        entry: Entry,
    ) -> Option<Discovered> {
        let kind = match entry.kind {
            Ok(kind) => kind,
            Err(err) => return Some(Discovered::Failed(FileError::io(path, err))),
        };
        let (kind, look, through_link) = match (kind, entry.look) {
            (Kind::Symlink, Some(Ok(look))) if self.rules.follow => (look.kind, Some(look), true),
            (kind, Some(Err(err))) => {
                let is_dir = kind == Kind::Dir;
                let kept = self.keeps(&path, depth, is_dir);
                return kept.then(|| Discovered::Failed(FileError::io(path, err)));
            }
            (kind, look) => (kind, look.and_then(Result::ok), false),
        };
        let is_dir = kind == Kind::Dir;
        if !self.keeps(&path, depth, is_dir) {
            return None;
        }
        if is_dir {
            if let Some(ancestor) = look
                .filter(|_| through_link)
                .and_then(|look| self.ancestor(look.id))
            {
                let message = format!("symbolic link loop back to {}", ancestor.display());
                let looped = FileError::new(ErrorKind::SymlinkLoop, path, message);
                return Some(Discovered::Failed(looped));
            }
            if self.rules.max_depth.is_none_or(|max| depth < max) {
                self.next_dir = Some(ToList {
                    path,
                    depth,
                    through_link,
                    part: Part::All,
                });
            }
            return None;
        }
        if !walk.wanted(&path) {
            return None;
        }
        let size = walk.needs_size(kind).then(|| match look {
            Some(look) => Ok(look.size),
            None => Err(FileError::io(
                &path,
                io::Error::other("its size cannot be looked up"),
            )),
        });
        Some(walk.found(path, kind, size))
    }

    /// Whether the entry at `path`, `depth` below the PATH in the directory being walked, is
    /// walked: the filters, in the walker's order.
    fn keeps(&self, path: &Path, depth: usize, is_dir: bool) -> bool {
        let rules = &self.rules;
        if rules.max_depth.is_some_and(|max| depth > max) {
            return false;
        }
        let name = path.file_name().map_or(&[][..], OsStr::as_bytes);
        match &rules.repo {
            Some(repo) => {
                let listed = self.levels.iter().filter_map(|level| level.repo.as_ref());
                let levels = self.above_rules.iter().chain(listed);
                if name == b".git" || repo.leaves_out(levels, path, is_dir) {
                    return false;
                }
            }
            None if rules.hidden && name.starts_with(b".") => return false,
            None => {}
        }
        !rules
            .excludes
            .as_ref()
            .is_some_and(|globs| globs.matched(path, is_dir).is_ignore())
    }

    /// The path of the directory being walked, or above it, that is the directory `id`.
    fn ancestor(&self, id: Id) -> Option<&Path> {
        let walked = self.levels.iter().map(|level| (level.id, &level.path));
        let above = self.above.iter().map(|(id, path)| (*id, path));
        walked
            .chain(above)
            .find(|(at, _)| *at == id)
            .map(|(_, path)| path.as_path())
    }
}

/// The directories from `root` down to the parent of `dir`, the PATH first (short enough to be
/// looked at by their paths: the walker lists `dir`).
fn above(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let Ok(below) = dir.strip_prefix(root) else {
        return Vec::new();
    };
    let mut path = root.to_path_buf();
    let mut above = Vec::new();
    for component in below.components() {
        above.push(path.clone());
        path.push(component);
    }
    above
}

/// Which directory is at `path`.
fn id_of(path: &Path) -> Option<Id> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

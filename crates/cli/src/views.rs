//! The listings people ask for beside the records: totals per extension or per directory
//! (`--by`), and the files or groups ranked (`--sort`, `--top`).
//!
//! A [`View`] takes the files read as they complete and keeps only what its listing needs:
//! one row a group (memory bounded by the number of groups, not of files), or, for a file
//! listing, the records themselves — at most about twice `--top N` of them when a top is
//! asked for, every file read otherwise. At the end it hands out a [`Listing`], sorted and cut,
//! with the total of every file read.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use reader_core::{Counts, FileResult};

/// What `--by` groups the files by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The file's extension, case-insensitively (`""` for none).
    Ext,
    /// The directory the file is in; with a depth, its ancestor that many levels below the
    /// PATH it was found under.
    Dir(Option<usize>),
}

impl GroupBy {
    /// The name used in JSON group records: `ext` or `dir`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Ext => "ext",
            GroupBy::Dir(_) => "dir",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    /// `ext`, `dir`, or `dir=DEPTH`.
    fn from_str(text: &str) -> Result<GroupBy, String> {
        match text.split_once('=') {
            None if text == "ext" => Ok(GroupBy::Ext),
            None if text == "dir" => Ok(GroupBy::Dir(None)),
            Some(("dir", depth)) => depth
                .parse()
                .map(|d| GroupBy::Dir(Some(d)))
                .map_err(|_| format!("'{depth}' is not a depth (for example: --by dir=2)")),
            _ => Err(format!("'{text}' is not one of ext, dir, dir=DEPTH")),
        }
    }
}

/// What `--sort` ranks by: the largest first, or names in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Bytes, largest first.
    Bytes,
    /// Lines, most first.
    Lines,
    /// Words, most first.
    Words,
    /// Files, most first (groups; every file counts one).
    Files,
    /// Names in byte order.
    Name,
}

/// One row of a listing: a group, a file, or the total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The extension, the directory or the file's path.
    pub key: PathBuf,
    /// Files read.
    pub files: u64,
    /// Their counts.
    pub counts: Counts,
}

impl Row {
    fn add(&mut self, counts: Counts) {
        self.files += 1;
        self.counts += counts;
    }
}

/// What a view hands out at the end of a run.
#[derive(Debug, Default)]
pub struct Listing {
    /// The grouping, or `None` for a listing of files.
    pub by: Option<GroupBy>,
    /// The groups, ranked and cut to `--top`.
    pub groups: Vec<Row>,
    /// The file records, ranked and cut to `--top` (a listing of files only).
    pub files: Vec<FileResult>,
    /// Rows left out by `--top`.
    pub more: u64,
    /// Every file read.
    pub total: Row,
}

/// Collects one listing during a run. See the module docs.
#[derive(Debug)]
pub struct View {
    by: Option<GroupBy>,
    sort: SortKey,
    top: Option<usize>,
    roots: Vec<PathBuf>,
    groups: BTreeMap<Vec<u8>, Row>,
    files: Vec<FileResult>,
    offered: u64,
    total: Row,
}

impl View {
    /// The view `--by`, `--sort` and `--top` ask for, if any. Without `--sort`, a ranking
    /// (`--top`) is by bytes and a grouping is in name order.
    pub fn new(
        by: Option<GroupBy>,
        sort: Option<SortKey>,
        top: Option<usize>,
        roots: &[PathBuf],
    ) -> Option<View> {
        if by.is_none() && sort.is_none() && top.is_none() {
            return None;
        }
        let sort = sort.unwrap_or(if top.is_some() {
            SortKey::Bytes
        } else {
            SortKey::Name
        });
        let mut roots = roots.to_vec();
        // The longest root first, so that a file is placed under the innermost PATH.
        roots.sort_by_key(|r| std::cmp::Reverse(r.as_os_str().len()));
        Some(View {
            by,
            sort,
            top,
            roots,
            groups: BTreeMap::new(),
            files: Vec::new(),
            offered: 0,
            total: Row {
                key: "total".into(),
                ..Row::default()
            },
        })
    }

    /// A listing of files: the view keeps the records of the files read, and the output
    /// writes them at the end, ranked, instead of as they come.
    pub fn holds_files(&self) -> bool {
        self.by.is_none()
    }

    /// Takes one file that was read (`counts` is its outcome).
    pub fn add(&mut self, file: &FileResult, counts: Counts) {
        self.total.add(counts);
        match self.by {
            Some(by) => {
                let key = self.group_of(by, &file.path);
                self.groups
                    .entry(key)
                    .or_insert_with_key(|key| Row {
                        key: PathBuf::from(OsStr::from_bytes(key)),
                        ..Row::default()
                    })
                    .add(counts);
            }
            None => {
                self.offered += 1;
                self.files.push(file.clone());
                if let Some(top) = self.top
                    && self.files.len() >= 2 * top.max(16)
                {
                    self.rank_files();
                    self.files.truncate(top);
                }
            }
        }
    }

    /// The listing, ranked and cut.
    pub fn finish(mut self) -> Listing {
        let mut listing = Listing {
            by: self.by,
            total: self.total.clone(),
            ..Listing::default()
        };
        if self.by.is_some() {
            let mut groups: Vec<Row> = std::mem::take(&mut self.groups).into_values().collect();
            groups.sort_by(|a, b| self.order(&a.key, a.files, a.counts, &b.key, b.files, b.counts));
            let keep = self.top.unwrap_or(groups.len()).min(groups.len());
            listing.more = (groups.len() - keep) as u64;
            groups.truncate(keep);
            listing.groups = groups;
        } else {
            self.rank_files();
            let keep = self.top.unwrap_or(self.files.len()).min(self.files.len());
            self.files.truncate(keep);
            listing.more = self.offered - keep as u64;
            listing.files = self.files;
        }
        listing
    }

    fn rank_files(&mut self) {
        let counts = |f: &FileResult| f.outcome.as_ref().map(|c| *c).unwrap_or_default();
        let mut files = std::mem::take(&mut self.files);
        files.sort_by(|a, b| self.order(&a.path, 1, counts(a), &b.path, 1, counts(b)));
        self.files = files;
    }

    /// The ranking: the chosen key (largest first, or names in order), then names in order.
    fn order(
        &self,
        a_key: &Path,
        a_files: u64,
        a: Counts,
        b_key: &Path,
        b_files: u64,
        b: Counts,
    ) -> Ordering {
        let by_name = a_key.as_os_str().cmp(b_key.as_os_str());
        let by_value = match self.sort {
            SortKey::Bytes => b.bytes.cmp(&a.bytes),
            SortKey::Lines => b.lines.cmp(&a.lines),
            SortKey::Words => b.words.cmp(&a.words),
            SortKey::Files => b_files.cmp(&a_files),
            SortKey::Name => Ordering::Equal,
        };
        by_value.then(by_name)
    }

    /// The group of the file at `path`.
    fn group_of(&self, by: GroupBy, path: &Path) -> Vec<u8> {
        match by {
            GroupBy::Ext => extension(path),
            GroupBy::Dir(depth) => {
                let parent = path.parent().unwrap_or(Path::new(""));
                let root = self
                    .roots
                    .iter()
                    .find(|root| path != root.as_path() && path.starts_with(root));
                let dir = match (depth, root) {
                    (Some(depth), Some(root)) => {
                        let below = parent.strip_prefix(root).unwrap_or(Path::new(""));
                        let mut dir = root.clone();
                        dir.extend(below.components().take(depth));
                        dir
                    }
                    _ => parent.to_path_buf(),
                };
                dir.into_os_string().into_vec()
            }
        }
    }
}

/// The extension of the name at the end of `path`, lower-cased (ASCII), by
/// `Path::extension`'s rule; empty when it has none.
fn extension(path: &Path) -> Vec<u8> {
    path.extension()
        .map(|e| e.as_bytes().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reader_core::Worker;
    use std::time::Duration;

    fn file(path: &str, bytes: u64, lines: u64) -> (FileResult, Counts) {
        let counts = Counts {
            bytes,
            lines,
            words: lines * 2,
        };
        let result = FileResult {
            digests: Vec::new(),
            output: None,
            path: path.into(),
            outcome: Ok(counts),
            elapsed: Duration::ZERO,
            worker: Worker::Main,
            part: None,
            blake3_subtrees: None,
        };
        (result, counts)
    }

    fn tree() -> Vec<(FileResult, Counts)> {
        vec![
            file("src/main.rs", 100, 10),
            file("src/lib.RS", 50, 20),
            file("src/deep/er/mod.rs", 10, 1),
            file("docs/a.md", 500, 5),
            file("README", 7, 1),
            file("src/.hidden", 3, 3),
        ]
    }

    fn listing(by: Option<GroupBy>, sort: Option<SortKey>, top: Option<usize>) -> Listing {
        let roots = [
            PathBuf::from("src"),
            PathBuf::from("docs"),
            PathBuf::from("README"),
        ];
        let mut view = View::new(by, sort, top, &roots).expect("a view");
        for (file, counts) in tree() {
            view.add(&file, counts);
        }
        view.finish()
    }

    fn keys(rows: &[Row]) -> Vec<String> {
        rows.iter().map(|r| r.key.display().to_string()).collect()
    }

    #[test]
    fn groups_by_extension_sum_to_the_total() {
        let l = listing(Some(GroupBy::Ext), Some(SortKey::Lines), None);
        assert_eq!(keys(&l.groups), ["rs", "md", ""]);
        assert_eq!(l.groups[0].files, 3);
        assert_eq!(l.groups[0].counts.lines, 31);
        let sum = l.groups.iter().fold(Counts::default(), |a, r| a + r.counts);
        assert_eq!(sum, l.total.counts);
        assert_eq!(l.total.files, 6);
    }

    #[test]
    fn groups_by_directory_with_and_without_a_depth() {
        let all = listing(Some(GroupBy::Dir(None)), None, None);
        assert_eq!(keys(&all.groups), ["", "docs", "src", "src/deep/er"]);
        let top = listing(Some(GroupBy::Dir(Some(0))), None, None);
        assert_eq!(keys(&top.groups), ["", "docs", "src"]);
        let one = listing(Some(GroupBy::Dir(Some(1))), Some(SortKey::Files), None);
        assert_eq!(keys(&one.groups), ["src", "", "docs", "src/deep"]);
    }

    #[test]
    fn top_keeps_the_largest_and_counts_the_rest() {
        let l = listing(None, None, Some(2));
        let names: Vec<String> = l
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(names, ["docs/a.md", "src/main.rs"]);
        assert_eq!((l.more, l.total.files), (4, 6));
        let by_name = listing(None, Some(SortKey::Name), Some(1));
        assert_eq!(by_name.files[0].path, Path::new("README"));
        let groups = listing(Some(GroupBy::Ext), Some(SortKey::Bytes), Some(1));
        assert_eq!(
            (keys(&groups.groups), groups.more),
            (vec!["md".to_string()], 2)
        );
    }

    #[test]
    fn a_long_run_with_a_top_keeps_few_records() {
        let mut view = View::new(None, Some(SortKey::Bytes), Some(3), &[]).expect("a view");
        for i in 0..10_000u64 {
            let (f, c) = file(&format!("f{i}"), i, 0);
            view.add(&f, c);
            assert!(view.files.len() < 40);
        }
        let l = view.finish();
        let sizes: Vec<u64> = l
            .files
            .iter()
            .map(|f| f.outcome.as_ref().map_or(0, |c| c.bytes))
            .collect();
        assert_eq!(sizes, [9999, 9998, 9997]);
        assert_eq!(l.more, 9997);
    }

    #[test]
    fn by_parses() {
        assert_eq!("ext".parse(), Ok(GroupBy::Ext));
        assert_eq!("dir".parse(), Ok(GroupBy::Dir(None)));
        assert_eq!("dir=2".parse(), Ok(GroupBy::Dir(Some(2))));
        for bad in ["dir=x", "lang", "ext=1", ""] {
            assert!(bad.parse::<GroupBy>().is_err(), "{bad}");
        }
    }
}

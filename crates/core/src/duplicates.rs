//! Duplicate files: which files of a tree hold the same bytes, found in stages that each read
//! only what the one before left in doubt, every read on the caller's own model.
//!
//! 1. **Size.** Every file the walk finds is looked up with one `stat`, on many threads at
//!    once (on a cold tree each waits for the device); a size no other file has is unique.
//!    Names of one file (the same device and inode: hard links) are one file: they are
//!    reported as its links, never compared with each other.
//! 2. **Prefix.** The first [`PREFIX`] bytes of each file left, hashed with BLAKE3. A file no
//!    larger than that is read whole here, and this is its last stage.
//! 3. **Suffix.** For files of [`SUFFIX_FROM`] bytes or more that still agree, the last
//!    [`SUFFIX`] bytes: files that differ at the end (a log, a trailer) are told apart
//!    without reading their middle.
//! 4. **Whole.** What still agrees is read whole and compared by its BLAKE3 digest.
//!
//! Stages 2–4 are runs of [`read_jobs`] over byte ranges ([`Part`]) and whole files, so
//! they read with the threads, tasks, rings or worker processes of whatever [`Schedule`] is
//! given. Each stage hashes with BLAKE3, the digest the record keeps: a faster
//! non-cryptographic hash would save nothing that matters here, since a prefix is a few KiB
//! and the last stage needs BLAKE3 anyway.
//!
//! A file that fails in any stage (gone, unreadable, or changed size since the walk) is
//! reported as failed, with its reason, and is never called unique or a duplicate.
//!
//! **Shards.** With a [`Walk::shard`], a search is shared out by size, not by path: copies
//! have one size, so the shard that owns a size ([`Shard::owns_size`]) compares every file of
//! it and no group spans shards. Each shard walks the whole tree and looks up every file's
//! size (stage 1), then reads only the files of its sizes. Everything else stays with the
//! shard that owns the entry's path, as in a plain sharded run: the entries the walk skips or
//! fails on, the files whose `stat` fails, and the count of files ([`Duplicates::files`]). A
//! file that fails in stages 2–4 is reported by the shard that read it, its size's. So the
//! shards together report what one search reports, each once, and their groups need only be
//! put together ([`Duplicates::sort`]).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::record::{ErrorKind, FileError, RunError, StartError};
use crate::record::{FileResult, Record};
use crate::schedule::{Schedule, Sink, read_jobs};
use crate::walk::{Discovered, FileJob, Walk};
use crate::walk::{Part, Shard};
use crate::work::Edges;
use crate::work::{Algorithm, Algorithms, Blake3Subtree, Digest};

/// Bytes of a file's start compared before anything else is read of it.
pub const PREFIX: u64 = 4 << 10;

/// The smallest file whose end ([`SUFFIX`] bytes) is compared before it is read whole.
pub const SUFFIX_FROM: u64 = 1 << 20;

/// Bytes of a large file's end compared before it is read whole.
pub const SUFFIX: u64 = 4 << 10;

/// A search for duplicate files: a builder that takes and returns `self`.
///
/// ```
/// use reader_core::{DuplicateSearch, Record, SequentialReader, Walk};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "same\n")?;
/// std::fs::write(dir.path().join("b.txt"), "same\n")?;
/// std::fs::write(dir.path().join("c.txt"), "else\n")?;
/// let reader = SequentialReader::new();
/// let found = DuplicateSearch::new().run(&Walk::new([dir.path()]), &reader, |_: Record| {})?;
/// assert_eq!(found.groups.len(), 1);
/// assert_eq!(found.groups[0].members.len(), 2);
/// assert_eq!(found.wasted(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DuplicateSearch {
    include_empty: bool,
}

/// One file of a group of duplicates: a name of it, and its other names (hard links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name it is reported by: the first of its names in byte order.
    pub path: PathBuf,
    /// Its other names: the same file, not a copy.
    pub links: Vec<PathBuf>,
}

/// Files that hold the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// Each file's size.
    pub size: u64,
    /// Their BLAKE3 digest; `None` for empty files, which are not read.
    pub blake3: Option<Digest>,
    /// The files, two or more, in byte order of their paths.
    pub members: Vec<Member>,
}

impl DuplicateGroup {
    /// The bytes all copies but one take.
    pub fn wasted(&self) -> u64 {
        self.size * (self.members.len() as u64).saturating_sub(1)
    }
}

/// What a [`DuplicateSearch`] found.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// The groups, the most wasted space first (then the largest files, then by path).
    pub groups: Vec<DuplicateGroup>,
    /// Files with several names and no copy: each set of names of one file, in byte order.
    pub hard_links: Vec<Vec<PathBuf>>,
    /// Regular files the walk found (with a shard: those whose path it owns).
    pub files: u64,
    /// Files that failed, at the walk or in a stage (reported to the sink).
    pub failed: u64,
    /// Entries the walk skipped (reported to the sink).
    pub skipped: u64,
    /// Bytes read in all stages together.
    pub bytes_read: u64,
    /// Bytes that had to be read: every prefix, and every byte of the files found to be
    /// duplicates (their whole content, in the last stage).
    pub bytes_needed: u64,
    /// How long the search took.
    pub elapsed: Duration,
    /// Why the model could not finish a stage, if it could not: the files it left were still
    /// reported as failed (`not read: …`), and are in no group.
    pub error: Option<RunError>,
}

impl Duplicates {
    /// The bytes all the groups' copies but one take.
    pub fn wasted(&self) -> u64 {
        self.groups.iter().map(DuplicateGroup::wasted).sum()
    }

    /// How many files are in a group.
    pub fn duplicates(&self) -> u64 {
        self.groups.iter().map(|g| g.members.len() as u64).sum()
    }

    /// Puts the groups in their order — the most wasted space first, then the largest files,
    /// then by the first path — and the hard links in byte order, as a search leaves them;
    /// for groups put together from several searches (the shards of one).
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use reader_core::{DuplicateGroup, Duplicates, Member};
    /// let group = |size, names: &[&str]| DuplicateGroup {
    ///     size,
    ///     blake3: None,
    ///     members: names
    ///         .iter()
    ///         .map(|n| Member { path: PathBuf::from(n), links: Vec::new() })
    ///         .collect(),
    /// };
    /// let mut found = Duplicates::default();
    /// found.groups = vec![group(10, &["a", "b"]), group(4, &["c", "d", "e", "f"]), group(10, &["0", "1"])];
    /// found.sort();
    /// let first: Vec<_> = found.groups.iter().map(|g| g.members[0].path.clone()).collect();
    /// assert_eq!(first, [PathBuf::from("c"), PathBuf::from("0"), PathBuf::from("a")]);
    /// ```
    pub fn sort(&mut self) {
        self.groups.sort_by(|a, b| {
            (b.wasted(), b.size, &a.members[0].path).cmp(&(a.wasted(), a.size, &b.members[0].path))
        });
        self.hard_links.sort();
    }
}

/// A file's size, device and inode, or why they are unknown.
type Identity = Result<(u64, u64, u64), FileError>;

/// Groups of files that agree so far, each with what they agree on.
type Agreeing = Vec<(Key, Vec<Candidate>)>;

/// A file still in doubt: its name, size and other names.
#[derive(Debug, Clone)]
struct Candidate {
    member: Member,
    size: u64,
}

/// What a stage compares files by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A byte range's BLAKE3 subtrees.
    Range(Vec<Blake3Subtree>),
    /// A whole file's BLAKE3 digest.
    Whole(Digest),
}

impl DuplicateSearch {
    /// A search that leaves empty files out.
    pub fn new() -> DuplicateSearch {
        DuplicateSearch::default()
    }

    /// Report the empty files as a group of their own (none are read), as fclones does with
    /// `--include-empty`. Off by default: every empty file is the same, which says little.
    pub fn include_empty(mut self, yes: bool) -> DuplicateSearch {
        self.include_empty = yes;
        self
    }

    /// Finds the duplicate files among those `walk` discovers, reading with `schedule`. Every
    /// entry the walk skips and every file that fails is handed to `sink` as its record, once;
    /// the files read are not (their records are the stages', not the tree's). With a
    /// [`Walk::shard`], only this shard's sizes are compared (see the module docs).
    ///
    /// Fails before anything is read if a PATH does not exist or the schedule cannot start.
    pub fn run<S, K>(
        &self,
        walk: &Walk,
        schedule: &S,
        mut sink: K,
    ) -> Result<Duplicates, StartError>
    where
        S: Schedule,
        K: Sink,
    {
        let started = Instant::now();
        let mut found = Duplicates::default();
        let mut failed: HashSet<PathBuf> = HashSet::new();
        let mut report = |record: Record, found: &mut Duplicates| {
            match &record {
                Record::Skipped(_) => found.skipped += 1,
                Record::File(result) => {
                    found.failed += 1;
                    failed.insert(result.path.clone());
                }
            }
            let _ = sink.record(record);
        };
        // 1. The files, from the walk, which looks nothing up; then each file's size and
        //    identity, with one `stat` each on many threads at once.
        //    With a shard, every file, and whether its path is the shard's.
        let mut paths = Vec::new();
        let shard = walk.sharded();
        let walk = walk.clone().digests(Algorithms::NONE).every_file(true);
        walk.for_each_owned(|entry, owned| match entry {
            Discovered::File(job) => {
                found.files += u64::from(owned);
                paths.push((job.path, owned));
            }
            Discovered::Skipped(skipped) => report(Record::Skipped(skipped), &mut found),
            Discovered::Failed(err) => report(Record::File(FileResult::failed(err)), &mut found),
        })?;
        let (identified, failures) = identify(paths, self.include_empty, shard);
        for err in failures {
            report(Record::File(FileResult::failed(err)), &mut found);
        }
        // Files with several names: reported as such unless they are in a group.
        let linked: Vec<Member> = identified
            .iter()
            .flat_map(|(_, files)| files.iter().filter(|file| !file.links.is_empty()))
            .cloned()
            .collect();
        let mut doubtful = Vec::new();
        for (size, files) in identified.into_iter().filter(|(_, files)| files.len() > 1) {
            let candidates: Vec<Candidate> = (files.into_iter())
                .map(|member| Candidate { member, size })
                .collect();
            // Empty files are not read: they are all the same.
            if size == 0 {
                found.groups.push(group_of(candidates, None));
            } else {
                doubtful.push(candidates);
            }
        }
        // 2–4. Prefix, suffix, whole: each stage divides the groups in doubt by what it read.
        let mut stage = |groups: Vec<Vec<Candidate>>,
                         job: fn(&Candidate) -> FileJob,
                         found: &mut Duplicates|
         -> Result<Agreeing, StartError> {
            let (groups, failures) = compare(groups, job, schedule, found)?;
            for err in failures {
                report(Record::File(FileResult::failed(err)), found);
            }
            Ok(groups)
        };
        // Every file in doubt must be read as far as its prefix.
        found.bytes_needed += (doubtful.iter().flatten())
            .map(|c| c.size.min(PREFIX))
            .sum::<u64>();
        let mut large = Vec::new();
        let mut left = Vec::new();
        for (key, group) in stage(doubtful, prefix_job, &mut found)? {
            match key {
                // Read whole already: the files are no larger than a prefix.
                Key::Whole(digest) => found.groups.push(group_of(group, Some(digest))),
                Key::Range(_) => {
                    // A group's files all have one size.
                    if group[0].size >= SUFFIX_FROM {
                        large.push(group);
                    } else {
                        left.push(group);
                    }
                }
            }
        }
        left.extend(
            stage(large, suffix_job, &mut found)?
                .into_iter()
                .map(|(_, g)| g),
        );
        for (key, group) in stage(left, whole_job, &mut found)? {
            if let Key::Whole(digest) = key {
                found.bytes_needed += group.iter().map(|c| c.size).sum::<u64>();
                found.groups.push(group_of(group, Some(digest)));
            }
        }
        let grouped: HashSet<&PathBuf> = (found.groups.iter())
            .flat_map(|group| group.members.iter().map(|member| &member.path))
            .collect();
        let hard_links: Vec<Vec<PathBuf>> = linked
            .into_iter()
            .filter(|file| !grouped.contains(&file.path) && !failed.contains(&file.path))
            .map(names)
            .collect();
        found.hard_links = hard_links;
        found.sort();
        found.elapsed = started.elapsed();
        Ok(found)
    }
}

/// The group of `candidates` found to hold the same bytes.
fn group_of(candidates: Vec<Candidate>, blake3: Option<Digest>) -> DuplicateGroup {
    let size = candidates.first().map_or(0, |c| c.size);
    let mut members: Vec<Member> = candidates.into_iter().map(|c| c.member).collect();
    members.sort_by(|a, b| a.path.cmp(&b.path));
    DuplicateGroup {
        size,
        blake3,
        members,
    }
}

/// Every name of `member`, in byte order.
fn names(member: Member) -> Vec<PathBuf> {
    let mut names = member.links;
    names.push(member.path);
    names.sort();
    names
}

/// The files at `paths`, looked up with one `stat` each on many threads at once (on a cold
/// tree each waits for the device), grouped by size — the sizes that more than one name has,
/// empty files only when `empty`, only `shard`'s sizes when there is one — as files: one
/// [`Member`] for each device and inode, its other names as links. Also the failures of those
/// that could not be looked at, of the paths marked as the shard's own: a file's failure is
/// reported by the shard that owns its path, since no shard can know its size.
fn identify(
    paths: Vec<(PathBuf, bool)>,
    empty: bool,
    shard: Option<Shard>,
) -> (Vec<(u64, Vec<Member>)>, Vec<FileError>) {
    let stat = |path: &PathBuf| {
        // Through a last symbolic link (one `--follow` found), however long the path.
        crate::walk::long::metadata(path, true)
            .map(|meta| (meta.len(), meta.dev(), meta.ino()))
            .map_err(|err| FileError::io(path, err))
    };
    let next = AtomicUsize::new(0);
    let look = || {
        let mut mine: Vec<(usize, Identity)> = Vec::new();
        loop {
            let from = next.fetch_add(STAT_BATCH, Ordering::Relaxed);
            let to = (from + STAT_BATCH).min(paths.len());
            if from >= to {
                return mine;
            }
            mine.extend((from..to).map(|index| (index, stat(&paths[index].0))));
        }
    };
    let threads = crate::defaults::in_flight().clamp(1, STAT_THREADS);
    let mut looked: Vec<Option<Identity>> = vec![None; paths.len()];
    thread::scope(|scope| {
        let spawned: Vec<_> = (1..threads)
            .filter_map(|_| {
                thread::Builder::new()
                    .name("reader-stat".into())
                    .stack_size(STAT_STACK)
                    .spawn_scoped(scope, look)
                    .ok()
            })
            .collect();
        let mine = look();
        let theirs = spawned
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default());
        for (index, id) in mine.into_iter().chain(theirs) {
            looked[index] = Some(id);
        }
    });
    let mut by_size: HashMap<u64, HashMap<(u64, u64), Vec<PathBuf>>> = HashMap::new();
    let mut failures = Vec::new();
    for ((path, owned), id) in paths.into_iter().zip(looked) {
        // What a thread that could not finish took is looked at here.
        match id.unwrap_or_else(|| stat(&path)) {
            Ok((size, dev, ino))
                if (size > 0 || empty) && shard.is_none_or(|s| s.owns_size(size)) =>
            {
                (by_size.entry(size).or_default())
                    .entry((dev, ino))
                    .or_default()
                    .push(path);
            }
            Ok(_) => {}
            Err(err) if owned => failures.push(err),
            Err(_) => {}
        }
    }
    let identified = by_size
        .into_iter()
        .filter(|(_, by_id)| by_id.values().map(Vec::len).sum::<usize>() > 1)
        .map(|(size, by_id)| {
            let members = by_id
                .into_values()
                .map(|mut names| {
                    names.sort();
                    let path = names.remove(0);
                    Member { path, links: names }
                })
                .collect();
            (size, members)
        })
        .collect();
    (identified, failures)
}

/// Paths a thread of [`identify`] takes at a time.
const STAT_BATCH: usize = 64;

/// The most threads [`identify`] looks files up with: enough to keep a device's queue full on a
/// cold tree.
const STAT_THREADS: usize = 64;

/// The stack of a thread of [`identify`], which only calls `stat`.
const STAT_STACK: usize = 64 << 10;

/// A job for the first [`PREFIX`] bytes of `candidate`, or all of it when it is no larger.
fn prefix_job(candidate: &Candidate) -> FileJob {
    if candidate.size <= PREFIX {
        return whole_job(candidate);
    }
    range_job(candidate, 0, PREFIX)
}

/// A job for the last [`SUFFIX`] bytes of `candidate`, from a chunk boundary.
fn suffix_job(candidate: &Candidate) -> FileJob {
    let start = candidate.size.saturating_sub(SUFFIX) / Part::ALIGN * Part::ALIGN;
    range_job(candidate, start, candidate.size)
}

/// A job for all of `candidate`, hashed with BLAKE3.
fn whole_job(candidate: &Candidate) -> FileJob {
    FileJob {
        digests: Algorithms::NONE.with(Algorithm::Blake3),
        ..FileJob::new(candidate.member.path.clone(), Some(candidate.size))
    }
}

/// A job for the bytes `start..end` of `candidate`, hashed with BLAKE3 as a range. It is
/// the middle part of three, so that the read stops at `end` whatever the file holds now.
fn range_job(candidate: &Candidate, start: u64, end: u64) -> FileJob {
    FileJob {
        part: Some(Part {
            index: 1,
            parts: 3,
            start,
            end,
            file_size: candidate.size,
            edges: Edges::default(),
        }),
        ..whole_job(candidate)
    }
}

/// Reads, with `schedule`, the job `job` makes of each candidate of `groups`, and divides each
/// group by what was read: the groups of two or more that still agree, each with the key they
/// agree on, and the failures. Adds the bytes read to `found`.
fn compare<S: Schedule>(
    groups: Vec<Vec<Candidate>>,
    job: fn(&Candidate) -> FileJob,
    schedule: &S,
    found: &mut Duplicates,
) -> Result<(Agreeing, Vec<FileError>), StartError> {
    let mut jobs = Vec::new();
    let mut index: HashMap<PathBuf, (usize, Candidate)> = HashMap::new();
    for (group, candidates) in groups.into_iter().enumerate() {
        for candidate in candidates {
            let job = job(&candidate);
            index.insert(job.path.clone(), (group, candidate));
            jobs.push(job);
        }
    }
    let mut keyed: HashMap<(usize, Key), Vec<Candidate>> = HashMap::new();
    let mut failures = Vec::new();
    if jobs.is_empty() {
        return Ok((Vec::new(), failures));
    }
    let finished = read_jobs(jobs, schedule, |record: Record| {
        if let Record::File(result) = record
            && let Some((group, candidate)) = index.remove(&result.path)
        {
            match key_of(&result, &candidate) {
                Ok((key, read)) => {
                    found.bytes_read += read;
                    keyed.entry((group, key)).or_default().push(candidate);
                }
                Err(err) => failures.push(err),
            }
        }
    })?;
    if let Some(err) = finished.error {
        found.error.get_or_insert(err);
    }
    // Every job becomes a record, whatever the schedule does; should one not, its file is
    // not called anything.
    failures.extend(index.into_values().map(|(_, c)| {
        FileError::new(
            ErrorKind::Io,
            &c.member.path,
            "not read: the run ended early",
        )
    }));
    let groups = keyed
        .into_iter()
        .filter(|(_, candidates)| candidates.len() > 1)
        .map(|((_, key), candidates)| (key, candidates))
        .collect();
    Ok((groups, failures))
}

/// What `candidate`'s stage `result` says it holds, and how many bytes were read for it; its
/// failure if it failed or changed size since the walk.
fn key_of(result: &FileResult, candidate: &Candidate) -> Result<(Key, u64), FileError> {
    let counts = result.outcome.clone()?;
    let path = &candidate.member.path;
    let changed = || {
        FileError::new(
            ErrorKind::Io,
            path,
            format!(
                "changed while it was compared: {} bytes when found, {} now",
                candidate.size, counts.bytes
            ),
        )
    };
    match (&result.part, &result.blake3_subtrees) {
        (Some(part), Some(subtrees)) => {
            if counts.bytes != part.end - part.start {
                return Err(changed());
            }
            Ok((Key::Range(subtrees.clone()), counts.bytes))
        }
        _ => {
            if counts.bytes != candidate.size {
                return Err(changed());
            }
            let digest = result
                .digests
                .iter()
                .find(|d| d.algorithm() == Algorithm::Blake3)
                .copied()
                .ok_or_else(|| FileError::new(ErrorKind::Io, path, "no BLAKE3 digest was made"))?;
            Ok((Key::Whole(digest), counts.bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::SequentialReader;
    use std::fs;
    use std::path::Path;

    fn write(root: &Path, name: &str, data: &[u8]) -> PathBuf {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&path, data).expect("write");
        path
    }

    /// `len` bytes that differ from any other seed's.
    fn data(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn search(root: &Path, search: DuplicateSearch) -> (Duplicates, Vec<Record>) {
        let mut records = Vec::new();
        let found = search
            .run(&Walk::new([root]), &SequentialReader::new(), |r: Record| {
                records.push(r)
            })
            .expect("search");
        (found, records)
    }

    fn paths(group: &DuplicateGroup) -> Vec<&Path> {
        group.members.iter().map(|m| m.path.as_path()).collect()
    }

    #[test]
    fn finds_exactly_the_copies_at_every_stage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let small = data(1, 100);
        let a = write(root, "a", &small);
        let b = write(root, "deep/er/b", &small);
        // Same size as the small copies, other bytes: told apart whole in the prefix stage.
        let mut other = small.clone();
        other[50] ^= 1;
        write(root, "other", &other);
        // Medium files (past the prefix) that differ only in their last byte.
        let medium = data(2, 100_000);
        let m1 = write(root, "m1", &medium);
        let m2 = write(root, "x/m2", &medium);
        let mut last = medium.clone();
        *last.last_mut().expect("data") ^= 1;
        write(root, "m-last", &last);
        // Large files (a suffix stage) that differ only in the middle.
        let large = data(3, 1_500_000);
        let l1 = write(root, "l1", &large);
        let l2 = write(root, "l2", &large);
        let mut middle = large.clone();
        middle[750_000] ^= 1;
        write(root, "l-middle", &middle);
        write(root, "unique", b"one of a kind");
        let (found, records) = search(root, DuplicateSearch::new());
        assert!(records.is_empty(), "{records:?}");
        assert_eq!(found.files, 10);
        let groups: Vec<Vec<&Path>> = found.groups.iter().map(paths).collect();
        assert_eq!(
            groups,
            [vec![&*l1, &*l2], vec![&*m1, &*m2], vec![&*a, &*b]],
            "the most wasted first"
        );
        assert_eq!(
            found.groups[0].blake3.map(|d| d.to_string()),
            Some(blake3::hash(&large).to_hex().to_string())
        );
        assert_eq!(found.wasted(), 1_500_000 + 100_000 + 100);
        assert_eq!(found.duplicates(), 6);
        // What had to be read: every prefix (the small files whole), and the duplicates whole.
        assert_eq!(
            found.bytes_needed,
            3 * 100 + 6 * PREFIX + 2 * 100_000 + 2 * 1_500_000
        );
        // What was: the prefixes, the large files' suffixes (from a chunk boundary), and
        // whatever the prefix and suffix could not tell apart, whole.
        let suffix = 1_500_000 - (1_500_000 - SUFFIX) / 1024 * 1024;
        assert_eq!(
            found.bytes_read,
            3 * 100 + 6 * PREFIX + 3 * suffix + 3 * 100_000 + 3 * 1_500_000
        );
    }

    #[test]
    fn hard_links_are_one_file_and_empty_files_a_group_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let a = write(root, "a", b"linked content\n");
        let b = root.join("b");
        fs::hard_link(&a, &b).expect("link");
        let c = write(root, "c", b"linked content\n");
        let lone = write(root, "lone", b"just me, twice\n");
        let lone_link = root.join("lone-link");
        fs::hard_link(&lone, &lone_link).expect("link");
        let e1 = write(root, "e1", b"");
        let e2 = write(root, "e2", b"");
        let (found, _) = search(root, DuplicateSearch::new());
        assert_eq!(found.groups.len(), 1);
        assert_eq!(
            found.groups[0].members,
            [
                Member {
                    path: a,
                    links: vec![b]
                },
                Member {
                    path: c,
                    links: vec![]
                }
            ]
        );
        assert_eq!(found.hard_links, [vec![lone, lone_link]]);
        let (with_empty, _) = search(root, DuplicateSearch::new().include_empty(true));
        let empty = with_empty
            .groups
            .iter()
            .find(|g| g.size == 0)
            .expect("the empty group");
        assert_eq!(paths(empty), [&*e1, &*e2]);
        assert_eq!(empty.blake3, None);
    }

    #[test]
    fn shards_compare_their_sizes_and_together_find_what_one_search_finds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Copies of many sizes, so that every shard has some; a hard link and a file of one
        // size alone; empty files; a skipped entry.
        for i in 0..24u8 {
            let len = 100 + usize::from(i) * 37;
            let copies = 2 + usize::from(i % 3);
            for c in 0..copies {
                write(root, &format!("d{}/s{i}-c{c}", c % 3), &data(i, len));
            }
            write(
                root,
                &format!("other/s{i}"),
                &data(i.wrapping_add(100), len),
            );
        }
        let lone = write(root, "lone", b"one file, two names\n");
        fs::hard_link(&lone, root.join("lone-link")).expect("link");
        write(root, "e1", b"");
        write(root, "e/2", b"");
        std::os::unix::fs::symlink("lone", root.join("a-link")).expect("symlink");
        let everything = DuplicateSearch::new().include_empty(true);
        let (whole, whole_records) = search(root, everything);
        assert!(whole.groups.len() > 20);
        for count in [1, 2, 3, 5] {
            let mut together = Duplicates::default();
            let mut records = Vec::new();
            for k in 0..count {
                let shard = Shard::new(k, count).ok();
                let walk = Walk::new([root]).shard(shard);
                let found = everything
                    .run(&walk, &SequentialReader::new(), |r: Record| records.push(r))
                    .expect("search");
                assert!(
                    found
                        .groups
                        .iter()
                        .all(|g| Shard::of_size(g.size, count) == k),
                    "shard {k} of {count} compares only its sizes"
                );
                together.groups.extend(found.groups);
                together.hard_links.extend(found.hard_links);
                together.files += found.files;
                together.bytes_read += found.bytes_read;
                together.bytes_needed += found.bytes_needed;
            }
            together.sort();
            assert_eq!(together.groups, whole.groups, "{count} shards");
            assert_eq!(together.hard_links, whole.hard_links, "{count} shards");
            assert_eq!(
                (together.files, together.bytes_read, together.bytes_needed),
                (whole.files, whole.bytes_read, whole.bytes_needed),
                "{count} shards"
            );
            assert_eq!(records, whole_records, "the skipped link, once");
        }
    }

    #[test]
    fn a_file_that_vanishes_or_changes_is_failed_and_never_grouped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let same = data(4, 10_000);
        write(root, "a", &same);
        write(root, "b", &same);
        let c = write(root, "c", &same);
        // A walk that finds it, a search that does not: remove it between the two through a
        // schedule that does so before reading.
        struct Vanishing<'p>(&'p Path, SequentialReader);
        impl Schedule for Vanishing<'_> {
            type Stats = <SequentialReader as Schedule>::Stats;
            fn strategy(&self) -> &'static str {
                "vanishing"
            }
            fn schedule(
                &self,
                jobs: &crate::schedule::Jobs,
                out: crate::schedule::Emitter,
            ) -> Result<Self::Stats, crate::record::RunError> {
                let _ = fs::remove_file(self.0);
                self.1.schedule(jobs, out)
            }
        }
        let mut failed = Vec::new();
        let found = DuplicateSearch::new()
            .run(
                &Walk::new([root]),
                &Vanishing(&c, SequentialReader::new()),
                |r: Record| failed.push(r),
            )
            .expect("search");
        assert_eq!(found.groups.len(), 1);
        assert_eq!(found.groups[0].members.len(), 2);
        assert_eq!(found.failed, 1);
        let [Record::File(result)] = failed.as_slice() else {
            panic!("one failure: {failed:?}");
        };
        assert_eq!(result.path, c);
        assert_eq!(
            result.outcome.as_ref().map_err(FileError::kind),
            Err(ErrorKind::NotFound)
        );
    }
}

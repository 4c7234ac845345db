//! Shards: one run split over many instances of a reader — a Slurm job array, MPI ranks, a
//! Kubernetes Indexed Job, GNU parallel over SSH — with no coordination between them.
//!
//! Every entry discovery reports belongs to exactly one of N shards, by a hash of its *key*:
//! its path relative to the root it was found under (`src/main.rs` for `DIR/src/main.rs`
//! found under `DIR`), or, for a root that is not a directory and every name of a
//! `--files0-from` list, the path as given. The hash is 64-bit FNV-1a over the key's bytes
//! and the shard is the hash modulo N: fixed, so that it is the same on every machine and in
//! every version. Keys relative to the root let instances that see the tree under different
//! mount points agree.
//!
//! Each instance walks the whole tree (or reads the same list) and reads only what its shard
//! owns, so the shards' records together are the unsharded run's, each once.
//!
//! A search for duplicate files (`--duplicates`) is shared out by *size* instead: files can
//! only be copies of files of their own size, so the shard that owns a size
//! ([`Shard::owns_size`]) compares every file of that size, wherever its path is, and a group
//! of copies never spans shards. The key of a size is its decimal digits in ASCII (`4096` for
//! 4 KiB, `0` for the empty files), hashed as a path's key is: fixed like it.
//!
//! A file can be larger than a fair share. When the run splits files above a unit U
//! (`--shard-split U`), a file of S bytes (S > U) is cut into P = min(N, ⌈S / U⌉, ⌈S / 1 KiB⌉)
//! [`Part`]s of nearly equal length, cut on 1 KiB boundaries ([`Part::ALIGN`]), and part j
//! belongs to shard (hash + j) mod N: P different shards, part 0 to the shard that would own
//! the whole file. Each part is counted (and hashed with BLAKE3, when asked) on its own, and
//! its record carries what joining needs ([`Edges`](crate::Edges), and the subtrees of BLAKE3's
//! tree it holds); `reader-merge` joins the parts into one record per file.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::record::StartError;
use crate::work::Edges;
use crate::work::JoinRanges;
use crate::work::MeasureRanges;

/// One of `count` shards: the entries whose key hashes to `index` (see the module docs).
///
/// ```
/// use reader_core::Shard;
/// let shard: Shard = "2/8".parse()?;
/// assert_eq!((shard.index(), shard.count()), (2, 8));
/// // Every key belongs to exactly one shard of 8.
/// let owners = (0..8)
///     .filter(|&k| Shard::new(k, 8).map(|s| s.owns(b"src/main.rs")).unwrap_or(false))
///     .count();
/// assert_eq!(owners, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// The launchers `--shard auto` knows, in the order they are tried: the variable holding this
/// instance's rank, the one holding how many there are, and the launcher's name for messages.
const LAUNCHERS: [(&str, &str, &str); 4] = [
    (
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "a Slurm job array",
    ),
    ("SLURM_PROCID", "SLURM_NTASKS", "Slurm tasks"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI"),
    ("PMI_RANK", "PMI_SIZE", "a PMI launcher (MPICH, Intel MPI)"),
];

impl Shard {
    /// Shard `index` of `count`; `index` counts from 0.
    pub fn new(index: u32, count: u32) -> Result<Shard, StartError> {
        if count == 0 {
            return Err(StartError::Invalid(
                "the number of shards must be at least 1".into(),
            ));
        }
        if index >= count {
            return Err(StartError::Invalid(format!(
                "there is no shard {index} of {count}: shards are numbered from 0 to {}",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// This instance's shard as its launcher tells it: a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`), Slurm
    /// tasks (`SLURM_PROCID` of `SLURM_NTASKS`), Open MPI (`OMPI_COMM_WORLD_RANK` of
    /// `OMPI_COMM_WORLD_SIZE`) or PMI (`PMI_RANK` of `PMI_SIZE`), tried in that order; `var`
    /// looks a variable up (`std::env::var`, or a map in tests).
    ///
    /// ```
    /// use reader_core::Shard;
    /// let env = |name: &str| match name {
    ///     "OMPI_COMM_WORLD_RANK" => Some("3".to_string()),
    ///     "OMPI_COMM_WORLD_SIZE" => Some("4".to_string()),
    ///     _ => None,
    /// };
    /// assert_eq!(Shard::from_launcher(env)?, Shard::new(3, 4)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_launcher(var: impl Fn(&str) -> Option<String>) -> Result<Shard, StartError> {
        for (rank, size, launcher) in LAUNCHERS {
            let (Some(rank_text), Some(size_text)) = (var(rank), var(size)) else {
                continue;
            };
            let number = |name: &str, text: &str| {
                text.trim().parse::<u32>().map_err(|_| {
                    StartError::Invalid(format!(
                        "--shard auto: {name}={text:?} ({launcher}) is not a whole number"
                    ))
                })
            };
            let mut index = number(rank, &rank_text)?;
            let count = number(size, &size_text)?;
            if rank == "SLURM_ARRAY_TASK_ID"
                && let Some(min) = var("SLURM_ARRAY_TASK_MIN")
            {
                let min = number("SLURM_ARRAY_TASK_MIN", &min)?;
                index = index.checked_sub(min).ok_or_else(|| {
                    StartError::Invalid(format!(
                        "--shard auto: SLURM_ARRAY_TASK_ID={index} is below SLURM_ARRAY_TASK_MIN={min}"
                    ))
                })?;
            }
            return Shard::new(index, count).map_err(|err| {
                StartError::Invalid(format!(
                    "--shard auto: {rank}={rank_text}, {size}={size_text} ({launcher}): {err}"
                ))
            });
        }
        let names: Vec<String> = LAUNCHERS
            .iter()
            .map(|(rank, size, _)| format!("{rank}/{size}"))
            .collect();
        Err(StartError::Invalid(format!(
            "--shard auto: no launcher says which shard this is (none of {} is set); give --shard K/N",
            names.join(", ")
        )))
    }

    /// Which shard this is, from 0.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The shard of `count` that owns `key`.
    pub fn of(key: &[u8], count: u32) -> u32 {
        // `count` is at least 1 in every Shard; 0 would own nothing, so say 0.
        u32::try_from(key_hash(key) % u64::from(count.max(1))).unwrap_or(0)
    }

    /// Whether `key` (see the module docs) belongs to this shard.
    pub fn owns(&self, key: &[u8]) -> bool {
        Shard::of(key, self.count) == self.index
    }

    /// The shard of `count` that owns the files of `size` bytes in a search for duplicates:
    /// the shard of the size's key, its decimal digits in ASCII (see the module docs).
    ///
    /// ```
    /// use reader_core::Shard;
    /// // The key of 4096 is the four bytes "4096", hashed as a path is.
    /// assert_eq!(Shard::of_size(4096, 3), Shard::of(b"4096", 3));
    /// // Every size has one owner.
    /// let owners = (0..5)
    ///     .filter(|&k| Shard::new(k, 5).is_ok_and(|s| s.owns_size(4096)))
    ///     .count();
    /// assert_eq!(owners, 1);
    /// ```
    pub fn of_size(size: u64, count: u32) -> u32 {
        Shard::of(size.to_string().as_bytes(), count)
    }

    /// Whether this shard compares the files of `size` bytes in a search for duplicates (see
    /// [`Shard::of_size`]).
    pub fn owns_size(&self, size: u64) -> bool {
        Shard::of_size(size, self.count) == self.index
    }

    /// The shard of `count` that owns part `index` of the file with `key`: (hash + index)
    /// mod `count`. Part 0 is owned by the shard that would own the whole file.
    pub fn owner_of_part(key: &[u8], index: u32, count: u32) -> u32 {
        let count = u64::from(count.max(1));
        let owner = (key_hash(key) % count + u64::from(index) % count) % count;
        u32::try_from(owner).unwrap_or(0)
    }

    /// How many parts a file of `size` bytes is cut into when files above `unit` bytes are
    /// split: min(N, ⌈size / unit⌉, ⌈size / 1 KiB⌉) — no more parts than the file has
    /// [`Part::ALIGN`] grains, so that none is empty — and 1 — not split — for a file of at
    /// most `unit` (or of at most 1 KiB).
    ///
    /// ```
    /// use reader_core::Shard;
    /// let shard = Shard::new(0, 8)?;
    /// assert_eq!(shard.parts_of(10 << 20, 1 << 20), 8);
    /// assert_eq!(shard.parts_of(3 << 20, 1 << 20), 3);
    /// assert_eq!(shard.parts_of(1 << 20, 1 << 20), 1);
    /// // Below 1 KiB a part: 3000 bytes split above 100 are 3 parts, not 8.
    /// assert_eq!(shard.parts_of(3000, 100), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parts_of(&self, size: u64, unit: u64) -> u32 {
        let wanted = size.div_ceil(unit.max(1)).min(size.div_ceil(Part::ALIGN));
        u32::try_from(wanted.min(u64::from(self.count))).unwrap_or(self.count)
    }

    /// The part of a file of `size` bytes with `key` that this shard reads, when files above
    /// `unit` are split: `None` if the file is not split (see [`Shard::owns`]) or none of its
    /// parts is this shard's.
    ///
    /// ```
    /// use reader_core::Shard;
    /// let size = 10 << 20;
    /// let parts: Vec<_> = (0..4)
    ///     .filter_map(|k| Shard::new(k, 4).ok()?.part(b"big.log", size, 1 << 20))
    ///     .collect();
    /// // Four parts on four shards, which together cover the file once.
    /// assert_eq!(parts.len(), 4);
    /// let mut ranges: Vec<_> = parts.iter().map(|p| (p.start, p.end)).collect();
    /// ranges.sort();
    /// assert_eq!(ranges.first().map(|r| r.0), Some(0));
    /// assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0));
    /// assert_eq!(ranges.last().map(|r| r.1), Some(size));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn part(&self, key: &[u8], size: u64, unit: u64) -> Option<Part> {
        let parts = self.parts_of(size, unit);
        if parts < 2 {
            return None;
        }
        let first = Shard::owner_of_part(key, 0, self.count);
        let index = (self.index + self.count - first) % self.count;
        (index < parts).then(|| Part::new(index, parts, size))
    }
}

/// One of the byte ranges a file split over the shards is cut into (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Part {
    /// Which part, from 0.
    pub index: u32,
    /// How many parts the file is cut into.
    pub parts: u32,
    /// The range's first byte.
    pub start: u64,
    /// One past its last byte. The last part is read on to the end of the file, wherever
    /// that is now, as an unsplit file would be.
    pub end: u64,
    /// The file's size when it was discovered, which the parts divide.
    pub file_size: u64,
    /// What the read found at the range's edges, for joining (all `false` until it is read,
    /// and for a part that failed).
    pub edges: Edges,
}

impl Part {
    /// What every cut between parts is a multiple of: a BLAKE3 chunk, 1 KiB
    /// ([`JoinRanges::RANGE_ALIGN`] of [`MeasureRanges`]), so that the BLAKE3 states of the
    /// parts join into the file's digest as well as their counts join into its counts.
    pub const ALIGN: u64 = <MeasureRanges as JoinRanges>::RANGE_ALIGN;

    /// Part `index` of `parts` nearly equal ranges of a file of `file_size` bytes, cut on
    /// [`Part::ALIGN`]: the file's G = ⌈`file_size` / 1 KiB⌉ grains are shared out, part j
    /// starting at grain ⌊G·j / `parts`⌋, and the last part ends at `file_size`. Parts differ
    /// in length by at most a grain, and none is empty when `parts` ≤ G (as
    /// [`Shard::parts_of`] makes it).
    ///
    /// ```
    /// use reader_core::Part;
    /// let size = 5 * 1024 * 1024 + 3;
    /// let parts: Vec<Part> = (0..3).map(|j| Part::new(j, 3, size)).collect();
    /// assert_eq!(
    ///     parts.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(),
    ///     [(0, 1_747_968), (1_747_968, 3_495_936), (3_495_936, size)]
    /// );
    /// assert!(parts.iter().all(|p| p.start % Part::ALIGN == 0));
    /// ```
    pub fn new(index: u32, parts: u32, file_size: u64) -> Part {
        let grains = file_size.div_ceil(Part::ALIGN);
        let at = |i: u32| {
            let grain = u128::from(grains) * u128::from(i) / u128::from(parts.max(1));
            u64::try_from(grain * u128::from(Part::ALIGN)).map_or(file_size, |at| at.min(file_size))
        };
        Part {
            index,
            parts,
            start: at(index),
            end: at(index + 1),
            file_size,
            edges: Edges::default(),
        }
    }

    /// Whether this is the file's last part, which reads on to its end.
    pub fn is_last(&self) -> bool {
        self.index + 1 >= self.parts
    }
}

/// 64-bit FNV-1a of `key`: the fixed hash shards are chosen by.
pub fn key_hash(key: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    key.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = StartError;

    /// `K/N`: shard K (from 0) of N.
    fn from_str(text: &str) -> Result<Shard, StartError> {
        let invalid =
            || StartError::Invalid(format!("'{text}' is not K/N (shard K, from 0, of N)"));
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let index = index.trim().parse().map_err(|_| invalid())?;
        let count = count.trim().parse().map_err(|_| invalid())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn split_files_are_cut_into_parts_on_different_shards_that_cover_them_once() {
        let unit = 1000;
        for count in [1, 2, 3, 8] {
            for size in [
                0,
                1,
                999,
                1000,
                1001,
                2500,
                7999,
                8000,
                123_457,
                5 * 1024 * 1024 + 3,
                u64::MAX / 3,
            ] {
                for key in [&b"a"[..], b"dir/big.bin", b""] {
                    let shards: Vec<Shard> = (0..count)
                        .filter_map(|k| Shard::new(k, count).ok())
                        .collect();
                    let parts: Vec<(u32, Part)> = shards
                        .iter()
                        .filter_map(|s| Some((s.index(), s.part(key, size, unit)?)))
                        .collect();
                    let grains = size.div_ceil(Part::ALIGN);
                    let expected = size.div_ceil(unit).min(grains).min(u64::from(count));
                    if expected < 2 {
                        assert!(parts.is_empty(), "{size} in {count}: not split");
                        continue;
                    }
                    assert_eq!(parts.len() as u64, expected, "{size} in {count}");
                    let mut ranges: Vec<Part> = parts.iter().map(|(_, p)| *p).collect();
                    ranges.sort_by_key(|p| p.index);
                    assert_eq!(ranges[0].start, 0);
                    assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                    assert_eq!(ranges.last().map(|p| p.end), Some(size));
                    assert!(ranges.last().is_some_and(Part::is_last));
                    // Cut on 1 KiB; no part empty, nor longer than a grain more than its
                    // share; part 0 where the whole is.
                    let longest = grains.div_ceil(expected) * Part::ALIGN;
                    assert!(
                        ranges.iter().all(|p| p.start % Part::ALIGN == 0
                            && p.start < p.end
                            && p.end - p.start <= longest),
                        "{size} in {count}: {ranges:?}"
                    );
                    let zero = parts.iter().find(|(_, p)| p.index == 0).map(|(k, _)| *k);
                    assert_eq!(zero, Some(Shard::of(key, count)));
                    for (k, part) in &parts {
                        assert_eq!(Shard::owner_of_part(key, part.index, count), *k);
                    }
                }
            }
        }
    }

    #[test]
    fn parts_are_cut_on_1_kib_and_cover_the_file_once_whatever_their_number() {
        for size in [
            0,
            1,
            1023,
            1024,
            1025,
            3000,
            65_536,
            5 * 1024 * 1024 + 3,
            1 << 40,
        ] {
            for parts in 1..=9 {
                let cut: Vec<Part> = (0..parts).map(|j| Part::new(j, parts, size)).collect();
                assert_eq!(cut[0].start, 0);
                assert!(cut.windows(2).all(|w| w[0].end == w[1].start));
                assert_eq!(cut.last().map(|p| p.end), Some(size));
                assert!(
                    cut.iter()
                        .all(|p| p.start % 1024 == 0 && p.file_size == size)
                );
                let grains = size.div_ceil(1024);
                if u64::from(parts) <= grains {
                    assert!(cut.iter().all(|p| p.start < p.end), "{size} / {parts}");
                }
                // Nearly equal: lengths differ by at most a grain (the last may be shorter).
                let lens: Vec<u64> = cut[..cut.len() - 1]
                    .iter()
                    .map(|p| p.end - p.start)
                    .collect();
                let (min, max) = (lens.iter().min(), lens.iter().max());
                assert!(
                    min.zip(max).is_none_or(|(a, b)| b - a <= 1024),
                    "{size} / {parts}: {lens:?}"
                );
            }
        }
    }

    #[test]
    fn the_hash_is_fnv1a_64_and_never_changes() {
        // The published FNV-1a test vectors: shards of one run on different machines and
        // versions must agree, so these may never change.
        assert_eq!(key_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(key_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(key_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_key_of_a_size_is_its_decimal_digits_and_never_changes() {
        // Fixed forever, as the path hash is: shards of one search made by different
        // versions must agree on who compares which size.
        for (size, digits) in [(0u64, &b"0"[..]), (7, b"7"), (4096, b"4096")] {
            for count in [1, 2, 3, 5, 8] {
                assert_eq!(Shard::of_size(size, count), Shard::of(digits, count));
            }
        }
        assert_eq!(
            Shard::of_size(u64::MAX, 7),
            Shard::of(b"18446744073709551615", 7)
        );
        // FNV-1a of "0" (0xaf63ad4c86019caf) modulo 2 and 3; of "4096" modulo 5.
        assert_eq!(key_hash(b"0"), 0xaf63_ad4c_8601_9caf);
        assert_eq!(Shard::of_size(0, 2), (0xaf63_ad4c_8601_9caf_u64 % 2) as u32);
        assert_eq!(Shard::of_size(0, 3), (0xaf63_ad4c_8601_9caf_u64 % 3) as u32);
        assert_eq!(Shard::of_size(4096, 5), (key_hash(b"4096") % 5) as u32);
    }

    #[test]
    fn every_size_has_one_owner_and_the_shares_are_even() {
        let count = 5;
        let shards: Vec<Shard> = (0..count)
            .filter_map(|k| Shard::new(k, count).ok())
            .collect();
        let mut per_shard = vec![0u32; count as usize];
        for size in 0..5000u64 {
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns_size(size)).collect();
            assert_eq!(owners.len(), 1, "{size}");
            assert_eq!(owners[0].index(), Shard::of_size(size, count));
            per_shard[owners[0].index() as usize] += 1;
        }
        assert!(
            per_shard.iter().all(|&n| (850..1150).contains(&n)),
            "{per_shard:?}"
        );
        // One shard owns everything.
        let one = Shard::new(0, 1).expect("0/1");
        assert!((0..100).all(|size| one.owns_size(size)));
    }

    #[test]
    fn every_key_has_one_owner_and_the_shares_are_even() {
        let count = 7;
        let shards: Vec<Shard> = (0..count)
            .filter_map(|k| Shard::new(k, count).ok())
            .collect();
        let mut per_shard = vec![0u32; count as usize];
        for i in 0..7000 {
            let key = format!("dir{}/file{i}.txt", i % 13);
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(key.as_bytes())).collect();
            assert_eq!(owners.len(), 1, "{key}");
            per_shard[owners[0].index() as usize] += 1;
        }
        assert!(
            per_shard.iter().all(|&n| (900..1100).contains(&n)),
            "{per_shard:?}"
        );
    }

    #[test]
    fn k_of_n_parses_and_bad_shards_are_refused() {
        assert_eq!("0/1".parse::<Shard>().ok(), Shard::new(0, 1).ok());
        assert_eq!(
            " 6 / 7 "
                .parse::<Shard>()
                .map(|s| s.to_string())
                .ok()
                .as_deref(),
            Some("6/7")
        );
        for bad in ["", "3", "3/", "/3", "a/b", "3/3", "4/3", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let err = "8/8"
            .parse::<Shard>()
            .map(|_| ())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("from 0 to 7"), "{err}");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn launchers_are_read_in_order() {
        let slurm_array = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "1"),
        ]);
        assert_eq!(
            Shard::from_launcher(slurm_array).ok(),
            Shard::new(4, 8).ok()
        );
        let srun = env(&[("SLURM_PROCID", "2"), ("SLURM_NTASKS", "3")]);
        assert_eq!(Shard::from_launcher(srun).ok(), Shard::new(2, 3).ok());
        let pmi = env(&[("PMI_RANK", "0"), ("PMI_SIZE", "2")]);
        assert_eq!(Shard::from_launcher(pmi).ok(), Shard::new(0, 2).ok());
    }

    #[test]
    fn no_launcher_or_a_bad_one_is_one_clear_line() {
        let none = Shard::from_launcher(env(&[]))
            .map(|_| ())
            .expect_err("refused")
            .to_string();
        assert!(
            none.contains("no launcher") && none.contains("--shard K/N"),
            "{none}"
        );
        assert!(!none.contains('\n'));
        let bad = env(&[("OMPI_COMM_WORLD_RANK", "x"), ("OMPI_COMM_WORLD_SIZE", "4")]);
        let bad = Shard::from_launcher(bad)
            .map(|_| ())
            .expect_err("refused")
            .to_string();
        assert!(
            bad.contains("OMPI_COMM_WORLD_RANK") && bad.contains("Open MPI"),
            "{bad}"
        );
        let outside = env(&[("PMI_RANK", "4"), ("PMI_SIZE", "4")]);
        assert!(Shard::from_launcher(outside).is_err());
    }
}

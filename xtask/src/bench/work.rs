//! The work a benchmark run asks of every file (`--work`): counting alone, or counting and a
//! digest in the same read. For each work, one core's speed on a tree's own files — measured
//! here with the readers' own code, [`reader_core::Measure`] — gives the table's limit: the
//! read-only reference's time plus bytes ÷ (cores × that speed).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use reader_core::{Algorithm, Algorithms, FileWork, Measure, Work as _};
use serde::{Serialize, Serializer};

/// What a run computes of each file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// Bytes, lines and words: the readers without `--digest`.
    #[default]
    Count,
    /// The counts and one digest, in the same read: `--digest ALGO`.
    Digest(Algorithm),
}

impl Work {
    /// Every work, by rising CPU cost a byte.
    pub const ALL: [Work; 4] = [
        Work::Count,
        Work::Digest(Algorithm::Xxh3),
        Work::Digest(Algorithm::Blake3),
        Work::Digest(Algorithm::Sha256),
    ];

    /// Its name on the command line: `count`, or the digest's (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Work::Count => "count",
            Work::Digest(algorithm) => algorithm.name(),
        }
    }

    /// The digest it computes, if any.
    pub fn algorithm(self) -> Option<Algorithm> {
        match self {
            Work::Count => None,
            Work::Digest(algorithm) => Some(algorithm),
        }
    }

    /// The arguments a reader binary gets for it.
    pub fn reader_args(self) -> Vec<String> {
        match self {
            Work::Count => Vec::new(),
            Work::Digest(algorithm) => vec!["--digest".into(), algorithm.name().into()],
        }
    }

    /// What the readers do of each file: `counting`, `counting + sha256`.
    pub fn describe(self) -> String {
        match self {
            Work::Count => "counting".into(),
            Work::Digest(algorithm) => format!("counting + {algorithm}"),
        }
    }
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Work {
    type Err = String;

    fn from_str(name: &str) -> Result<Work, String> {
        Work::ALL
            .into_iter()
            .find(|w| w.name() == name.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Work::ALL.iter().map(|w| w.name()).collect();
                format!("unknown work '{name}' (known: {})", known.join(", "))
            })
    }
}

impl Serialize for Work {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One core's speed for each work on one tree, and the cores the limit counts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Speeds {
    /// Cores the readers may use.
    pub cores: usize,
    /// Bytes a second one core does each work at, on the tree's own files.
    pub per_core: BTreeMap<Work, f64>,
}

/// What a table's limit row says: the fastest any reader could be on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limit {
    /// The read-only reference's median plus the work spread over every core.
    pub ms: f64,
    /// One core's speed for the work, in bytes a second.
    pub per_core: f64,
    /// The cores it is spread over.
    pub cores: usize,
}

impl Limit {
    /// The limit of a work on a tree of `bytes`: the reference's time plus the time `cores`
    /// cores take to do the work at `per_core` bytes a second each. `None` without a speed
    /// or a reference time to build on.
    pub fn new(reference_ms: f64, bytes: u64, cores: usize, per_core: f64) -> Option<Limit> {
        let usable = reference_ms.is_finite()
            && reference_ms > 0.0
            && cores > 0
            && per_core.is_finite()
            && per_core > 0.0;
        usable.then(|| Limit {
            ms: reference_ms + bytes as f64 / (cores as f64 * per_core) * 1e3,
            per_core,
            cores,
        })
    }
}

/// How much of a tree its speeds are measured on: enough for a steady figure, quick to hash.
const SAMPLE_BYTES: u64 = 16 << 20;

/// A sample of `files` (path, size) with their sizes: every k-th file, so that it has the
/// tree's mix of sizes, up to [`SAMPLE_BYTES`] (a file that crosses it is cut there). Files
/// that cannot be read are left out (the readers report them).
pub fn sample(files: &[(PathBuf, u64)]) -> Vec<Vec<u8>> {
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    let every = usize::try_from(total.div_ceil(SAMPLE_BYTES))
        .unwrap_or(usize::MAX)
        .max(1);
    let mut out = Vec::new();
    let mut left = SAMPLE_BYTES;
    for (path, _) in files.iter().step_by(every) {
        if left == 0 {
            break;
        }
        if let Some(bytes) = read_head(path, left) {
            left -= bytes.len() as u64;
            out.push(bytes);
        }
    }
    out
}

fn read_head(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(limit)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Passes over a sample: at least this many, and more until [`MIN_TIME`] has passed.
const MIN_PASSES: usize = 3;
/// See [`MIN_PASSES`].
const MAX_PASSES: usize = 30;
/// See [`MIN_PASSES`].
const MIN_TIME: Duration = Duration::from_millis(200);

/// Bytes a second one core does `work` at on `files`, each file a fresh state fed in the
/// readers' chunks, as the readers do: the fastest of several passes, since a pass can only
/// be slowed down by the rest of the machine. 0 for an empty sample.
pub fn one_core_speed(work: Work, files: &[Vec<u8>]) -> f64 {
    let bytes: usize = files.iter().map(Vec::len).sum();
    if bytes == 0 {
        return 0.0;
    }
    let measure = Measure::new(work.algorithm().map_or(Algorithms::NONE, Algorithms::from));
    let started = Instant::now();
    let mut fastest = f64::INFINITY;
    let mut passes = 0;
    while passes < MIN_PASSES || (passes < MAX_PASSES && started.elapsed() < MIN_TIME) {
        let pass = Instant::now();
        for file in files {
            let mut state = measure.start();
            for chunk in file.chunks(reader_core::defaults::BUFFER_SIZE) {
                state.update(chunk);
            }
            std::hint::black_box(state.finish());
        }
        fastest = fastest.min(pass.elapsed().as_secs_f64());
        passes += 1;
    }
    bytes as f64 / fastest.max(1e-9)
}

/// A speed for people: `1.20 GiB/s`, `850 MiB/s`.
pub fn speed(bytes_per_s: f64) -> String {
    let gib = bytes_per_s / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.2} GiB/s")
    } else {
        format!("{:.0} MiB/s", bytes_per_s / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_are_named_as_the_readers_take_them() {
        assert_eq!("count".parse::<Work>(), Ok(Work::Count));
        assert_eq!(
            " sha256".parse::<Work>(),
            Ok(Work::Digest(Algorithm::Sha256))
        );
        assert_eq!(
            Work::Digest(Algorithm::Xxh3).reader_args(),
            ["--digest", "xxh3"]
        );
        assert!(Work::Count.reader_args().is_empty());
        let err = "md5".parse::<Work>().err().unwrap_or_default();
        assert!(err.contains("'md5'") && err.contains("count, xxh3, blake3, sha256"));
        for w in Work::ALL {
            assert_eq!(w.to_string().parse::<Work>(), Ok(w));
        }
    }

    #[test]
    fn the_limit_adds_the_work_spread_over_the_cores_to_the_reference() {
        // 1 GiB over 2 cores at 0.5 GiB/s each: one second more than the reference's 40 ms.
        let limit = Limit::new(40.0, 1 << 30, 2, (1u64 << 29) as f64);
        assert_eq!(limit.map(|l| l.ms), Some(1040.0));
        assert_eq!(limit.map(|l| l.cores), Some(2));
        assert_eq!(Limit::new(40.0, 1 << 30, 2, 0.0), None);
        assert_eq!(Limit::new(0.0, 1 << 30, 2, 1e9), None);
        assert_eq!(Limit::new(40.0, 1 << 30, 0, 1e9), None);
        assert_eq!(Limit::new(f64::NAN, 1, 1, 1e9), None);
    }

    #[test]
    fn a_digest_is_slower_than_counting_alone_and_an_empty_sample_has_no_speed() {
        let files = vec![vec![b'a'; 256 << 10]; 4];
        let count = one_core_speed(Work::Count, &files);
        let sha256 = one_core_speed(Work::Digest(Algorithm::Sha256), &files);
        assert!(count > sha256 && sha256 > 0.0, "{count} {sha256}");
        assert_eq!(one_core_speed(Work::Count, &[]), 0.0);
    }

    #[test]
    fn the_sample_strides_over_the_files_and_stops_at_its_budget() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mib = 1u64 << 20;
        let mut files = Vec::new();
        for (name, size) in [
            ("a", 10 * mib),
            ("b", 10 * mib),
            ("gone", 0),
            ("c", 10 * mib),
        ] {
            let path = dir.join(name);
            if name != "gone" {
                std::fs::File::create(&path)?.set_len(size)?;
            }
            files.push((path, size));
        }
        files.push((dir.join("d"), 10 * mib));
        std::fs::File::create(dir.join("d"))?.set_len(10 * mib)?;
        let lengths = |files: &[(PathBuf, u64)]| -> Vec<usize> {
            sample(files).iter().map(Vec::len).collect()
        };
        // 40 MiB: every third file (a, c), the second cut where the 16 MiB run out.
        let strided = lengths(&files);
        // A file that cannot be read is left out.
        let readable = lengths(&files[2..4]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(strided, [10 << 20, 6 << 20]);
        assert_eq!(readable, [10 << 20]);
        assert_eq!(speed(1.5 * (1u64 << 30) as f64), "1.50 GiB/s");
        assert_eq!(speed(850.0 * (1u64 << 20) as f64), "850 MiB/s");
        Ok(())
    }
}

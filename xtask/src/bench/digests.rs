//! Per-file digests under a digest work: what the digest crates themselves (`blake3`, `sha2`,
//! `twox-hash`) compute over a tree, what a run reported (a reader's JSON records, a tool's
//! output), each keyed by the file's path inside the tree, and the comparison that marks a
//! run WRONG when one file's digest differs, is missing or is not of the tree.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use reader_core::{Algorithm, Record};
use serde::Serialize;
use sha2::Digest as _;

/// Each file's digest in lower-case hex, by its path inside the tree.
pub type FileDigests = BTreeMap<PathBuf, String>;

/// `path` inside `tree`: what follows the tree's own path, or `path` as it is when it is not
/// beneath it (and so matches no file of the tree).
pub fn in_tree(path: &Path, tree: &Path) -> PathBuf {
    path.strip_prefix(tree).unwrap_or(path).to_path_buf()
}

/// A hasher of each algorithm, fed in turn.
enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
    Xxh3(Box<twox_hash::XxHash3_128>),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Xxh3 => Hasher::Xxh3(Box::new(twox_hash::XxHash3_128::new())),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Xxh3(h) => h.write(bytes),
        }
    }

    /// The digest as `b3sum`, `sha256sum` and `xxhsum -H2` print it.
    fn hex(self) -> String {
        match self {
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Xxh3(h) => format!("{:032x}", h.finish_128()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The digests of every one of `files` (beneath `tree`) for each of `algorithms`, computed by
/// the digest crates in one read of each file. A file that cannot be read has none: the
/// readers report it as failed, with no digest either.
pub fn compute(
    tree: &Path,
    files: &[PathBuf],
    algorithms: &[Algorithm],
) -> BTreeMap<Algorithm, FileDigests> {
    let mut out: BTreeMap<Algorithm, FileDigests> = algorithms
        .iter()
        .map(|&a| (a, FileDigests::new()))
        .collect();
    let mut buf = vec![0u8; 1 << 16];
    for path in files {
        let mut hashers: Vec<(Algorithm, Hasher)> =
            algorithms.iter().map(|&a| (a, Hasher::new(a))).collect();
        if hash_file(path, &mut buf, &mut hashers).is_err() {
            continue;
        }
        for (algorithm, hasher) in hashers {
            out.entry(algorithm)
                .or_default()
                .insert(in_tree(path, tree), hasher.hex());
        }
    }
    out
}

fn hash_file(
    path: &Path,
    buf: &mut [u8],
    hashers: &mut [(Algorithm, Hasher)],
) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        for (_, hasher) in hashers.iter_mut() {
            hasher.update(&buf[..n]);
        }
    }
}

/// The `algorithm` digest of every whole file record of a reader's `--format json` output, by
/// path inside `tree`, read with reader-core's own reading of a record's JSON.
pub fn from_records(output: &[u8], algorithm: Algorithm, tree: &Path) -> FileDigests {
    let mut out = FileDigests::new();
    for line in output.split(|&b| b == b'\n') {
        let Ok(Record::File(file)) = serde_json::from_slice::<Record>(line) else {
            continue;
        };
        let digest = file.digests.iter().find(|d| d.algorithm() == algorithm);
        if let (None, Some(digest)) = (&file.part, digest) {
            out.insert(in_tree(&file.path, tree), digest.to_string());
        }
    }
    out
}

/// How a run's per-file digests compared with the crates'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestCheck {
    /// Every file of the tree, each with the crates' digest.
    Agree {
        /// Files compared.
        files: usize,
    },
    /// What differs, for people: how many files, and the first of each kind.
    Disagree(String),
}

/// Compares what a run reported with what was expected, file by file.
pub fn compare(got: &FileDigests, want: &FileDigests) -> DigestCheck {
    let differ: Vec<&PathBuf> = want
        .iter()
        .filter(|(path, digest)| {
            got.get(*path)
                .is_some_and(|g| !g.eq_ignore_ascii_case(digest))
        })
        .map(|(path, _)| path)
        .collect();
    let missing: Vec<&PathBuf> = want.keys().filter(|p| !got.contains_key(*p)).collect();
    let strange: Vec<&PathBuf> = got.keys().filter(|p| !want.contains_key(*p)).collect();
    let mut problems = Vec::new();
    for (paths, what) in [
        (&differ, "with another digest"),
        (&missing, "without a digest"),
        (&strange, "not of the tree (or not readable here)"),
    ] {
        if let Some(first) = paths.first() {
            problems.push(format!(
                "{} file{} {what} (first: {})",
                paths.len(),
                if paths.len() == 1 { "" } else { "s" },
                first.display()
            ));
        }
    }
    if problems.is_empty() {
        DigestCheck::Agree { files: want.len() }
    } else {
        DigestCheck::Disagree(problems.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_give_the_digests_the_tools_print() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-digests-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub"))?;
        std::fs::write(dir.join("sub/a.txt"), "abc")?;
        let files = [dir.join("sub/a.txt"), dir.join("gone")];
        let all = compute(&dir, &files, &Algorithm::ALL);
        let _ = std::fs::remove_dir_all(&dir);
        let of = |a: Algorithm| all.get(&a).cloned().unwrap_or_default();
        let one = |digest: &str| FileDigests::from([(PathBuf::from("sub/a.txt"), digest.into())]);
        // sha256sum, b3sum and xxhsum -H2 of "abc".
        assert_eq!(
            of(Algorithm::Sha256),
            one("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            of(Algorithm::Blake3),
            one("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")
        );
        assert_eq!(of(Algorithm::Xxh3), one("06b05ab6733a618578af5f94892f3950"));
        Ok(())
    }

    #[test]
    fn records_are_read_by_path_inside_the_tree_whatever_the_name() {
        let (a, b) = ("aa".repeat(32), "bb".repeat(32));
        let output = [
            format!(
                r#"{{"type":"file","path":"/t/a.txt","size":3,"lines":0,"words":1,"elapsed_us":1,"worker":"thread-0","error":null,"sha256":"{a}"}}"#
            ),
            format!(
                r#"{{"type":"file","path":{{"bytes":"//4udHh0"}},"size":3,"lines":0,"words":1,"elapsed_us":1,"worker":"thread-1","error":null,"sha256":"{b}"}}"#
            ),
            r#"{"type":"file","path":"/t/failed","size":null,"lines":null,"words":null,"elapsed_us":1,"worker":"thread-0","error":{"kind":"not_found","message":"/t/failed: gone"}}"#.into(),
            r#"{"type":"skipped","path":"/t/pipe","reason":"fifo"}"#.into(),
            r#"{"type":"summary","files":3}"#.into(),
        ]
        .join("\n");
        let got = from_records(output.as_bytes(), Algorithm::Sha256, Path::new("/t"));
        let raw = reader_core::names::from_base64("//4udHh0").unwrap_or_default();
        assert_eq!(
            got,
            FileDigests::from([(PathBuf::from("a.txt"), a), (raw, b)])
        );
        assert!(from_records(output.as_bytes(), Algorithm::Blake3, Path::new("/t")).is_empty());
    }

    #[test]
    fn a_digest_that_differs_is_missing_or_strange_is_named() {
        let want = FileDigests::from([
            (PathBuf::from("a"), "aa".into()),
            (PathBuf::from("b"), "bb".into()),
            (PathBuf::from("c"), "cc".into()),
        ]);
        assert_eq!(compare(&want, &want), DigestCheck::Agree { files: 3 });
        let mut upper = want.clone();
        upper.insert("a".into(), "AA".into());
        assert_eq!(compare(&upper, &want), DigestCheck::Agree { files: 3 });
        let mut got = want.clone();
        got.insert("b".into(), "b0".into());
        got.remove(Path::new("c"));
        got.insert("/elsewhere/x".into(), "xx".into());
        assert_eq!(
            compare(&got, &want),
            DigestCheck::Disagree(
                "1 file with another digest (first: b), 1 file without a digest (first: c), \
                 1 file not of the tree (or not readable here) (first: /elsewhere/x)"
                    .into()
            )
        );
        assert_eq!(
            in_tree(Path::new("/t/x/y"), Path::new("/t")),
            Path::new("x/y")
        );
        assert_eq!(
            in_tree(Path::new("/u/y"), Path::new("/t")),
            Path::new("/u/y")
        );
    }
}

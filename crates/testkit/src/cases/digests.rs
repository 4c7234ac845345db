//! The conformance cases of `--digest` and `--format sums`, and their oracle: each digest
//! computed by its own crate in one call over the whole file (`blake3::hash`,
//! `sha2::Sha256::digest`, `twox_hash::XxHash3_128::oneshot`), independent of reader-core's
//! streaming, splitting and joining; and the system's own tools (`sha256sum`, `b3sum`,
//! `xxhsum`) where they are installed (`.ci/run` installs them).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use reader_core::{FileResult, Record};
use serde_json::Value;
use sha2::Digest as _;

use crate::run::{Reader, Run, finish, record_of};
use crate::tree::{Tree, bytes_path};
use crate::{fixtures_dir, noise, path_key};

/// The algorithms of `--digest`, by their names.
pub const ALGORITHMS: [&str; 3] = ["blake3", "sha256", "xxh3"];

/// The digest `algorithm` (one of [`ALGORITHMS`]) gives of `data`, in lower-case hex, as
/// `b3sum`, `sha256sum` and `xxhsum -H2` print it.
pub fn expected(algorithm: &str, data: &[u8]) -> String {
    let bytes: Vec<u8> = match algorithm {
        "blake3" => blake3::hash(data).as_bytes().to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "xxh3" => twox_hash::XxHash3_128::oneshot(data).to_be_bytes().to_vec(),
        other => panic!("no digest {other}"),
    };
    hex(&bytes)
}

/// The digest of a tree by docs/CONTRACT.md: `algorithm` over each file's path bytes, a NUL
/// and its digest's bytes, in the order of the path bytes.
pub fn expected_tree(algorithm: &str, files: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(Vec<u8>, Vec<u8>)> = files.iter().collect();
    sorted.sort();
    let mut stream = Vec::new();
    for (path, data) in sorted {
        stream.extend_from_slice(path);
        stream.push(0);
        stream.extend_from_slice(&unhex(&expected(algorithm, data)));
    }
    expected(algorithm, &stream)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Checks that every file of `files` has, in `run`, the digests of `algorithms` that the
/// crates give, and that the summary's tree digest is the contract's.
fn assert_digests(run: &Run, algorithms: &[&str], files: &[(PathBuf, Vec<u8>)]) {
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records: HashMap<String, Value> = run.records();
    assert_eq!(records.len(), files.len(), "{:?}", records.keys());
    for (path, data) in files {
        let record = &records[&path_key(path)];
        for algorithm in algorithms {
            assert_eq!(
                record[algorithm].as_str(),
                Some(expected(algorithm, data).as_str()),
                "{algorithm} of {} ({} bytes)",
                path.display(),
                data.len()
            );
        }
        for other in ALGORITHMS.iter().filter(|a| !algorithms.contains(a)) {
            assert!(
                record[other].is_null(),
                "{other} was not asked for: {record}"
            );
        }
    }
    let tree: Vec<(Vec<u8>, Vec<u8>)> = files
        .iter()
        .map(|(path, data)| (path.as_os_str().as_bytes().to_vec(), data.clone()))
        .collect();
    let summary = run.summary();
    for algorithm in algorithms {
        assert_eq!(
            summary["tree_digest"][algorithm].as_str(),
            Some(expected_tree(algorithm, &tree).as_str()),
            "the tree's {algorithm}: {summary}"
        );
    }
}

/// The sizes where a read changes its way: a BLAKE3 chunk (1 KiB) ±1, the reader's buffer
/// (64 KiB) ±1, the largest file read without waiting (1 MiB) ±1, and the size from which a
/// file is mapped and the hybrid splits it (64 MiB) ±1.
const BOUNDARIES: [usize; 14] = [
    0,
    1,
    1023,
    1024,
    1025,
    (64 << 10) - 1,
    64 << 10,
    (64 << 10) + 1,
    (1 << 20) - 1,
    (1 << 20) + 1,
    (64 << 20) - 1,
    64 << 20,
    (64 << 20) + 1,
    3 * (16 << 20) + 1024 + 7,
];

/// `--digest` gives the digests of the reference crates for every file of the tricky tree and
/// for files at every size where a read changes its way, whatever digests are asked for
/// together (BLAKE3 alone may be split across threads; with SHA-256 a file is read whole), and
/// the tree digest of docs/CONTRACT.md. CSV has a column for each.
pub fn digests_match_the_reference_crates(reader: &Reader) {
    let tricky = fixtures_dir().join("tricky");
    let mut files = Vec::new();
    collect(&tricky, &mut files);
    let all = ["blake3", "sha256", "xxh3"];
    let run = reader.clone().setting("--digest", "blake3,sha256,xxh3");
    assert_digests(&run.json(&[&tricky]), &all, &files);

    let tree = Tree::new();
    let files: Vec<(PathBuf, Vec<u8>)> = BOUNDARIES
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let data = noise(len, i as u64 + 11);
            (tree.file(format!("{len:09}.bin"), &data), data)
        })
        .collect();
    for algorithms in [&["blake3"][..], &["sha256", "xxh3"], &all] {
        let run = reader.clone().setting("--digest", &algorithms.join(","));
        assert_digests(&run.json(&[tree.path()]), algorithms, &files);
    }

    let small = Tree::new();
    let data = b"one two\n";
    let path = small.file("a.txt", data);
    let csv = reader
        .clone()
        .setting("--digest", "sha256,blake3")
        .setting("--format", "csv")
        .run(&[small.path()]);
    assert_eq!(csv.code(), Some(0), "stderr: {}", csv.stderr);
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.ends_with(",files,blake3,sha256"), "{header}");
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with(&format!("file,{},8,1,2,", path.display())),
        "{row}"
    );
    let want = format!(",{},{}", expected("blake3", data), expected("sha256", data));
    assert!(row.ends_with(&want), "{row}");
}

/// Every regular file under `dir`, with its content.
fn collect(dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            collect(&path, files);
        } else if meta.is_file() {
            let data = fs::read(&path).expect("read"); // whole-file read ok: small fixture files
            files.push((path, data));
        }
    }
}

/// Whether `tool` runs here; says so on stderr when it does not (the test then skips it).
pub(crate) fn installed(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("skipped: {tool} is not installed, so the case does not compare with it");
    }
    found
}

/// `--format sums` writes the manifests `sha256sum -c` and `b3sum --check` accept, for names
/// that hold a newline, a backslash, a carriage return and bytes that are not UTF-8; and the
/// digests the tools themselves print (`sha256sum`, `b3sum`, `xxhsum -H2`) are the readers'.
/// A failed file is no line of the manifest: it goes to stderr and sets the exit status.
pub fn sums_manifests_satisfy_the_reference_tools(reader: &Reader) {
    let tree = Tree::new();
    let names: [&[u8]; 6] = [
        b"plain.txt",
        b"new\nline",
        b"back\\slash",
        b"carriage\rreturn",
        b"not utf8 \xff\xfe",
        b"sub/dir/deep name.md",
    ];
    for (i, name) in names.iter().enumerate() {
        tree.file(bytes_path(name), noise(3000 * i + 5, i as u64 + 3));
    }
    // Manifests beside the tree, not in it (nor in a folder other runs share).
    let outside = Tree::new();
    let sums = |digest: &str, tag: bool| -> Vec<u8> {
        let reader = reader
            .clone()
            .setting("--digest", digest)
            .setting("--format", "sums");
        let mut cmd = reader.command(if tag { &["--tag", "."][..] } else { &["."] });
        cmd.current_dir(tree.path());
        let run = finish(cmd);
        assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
        let lines = run.stdout.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(
            lines,
            names.len(),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        run.stdout
    };
    for (tool, digest, tags) in [
        ("sha256sum", "sha256", &[false, true][..]),
        ("b3sum", "blake3", &[false]),
    ] {
        if !installed(tool) {
            continue;
        }
        for &tag in tags {
            let mut lines: Vec<&[u8]> = Vec::new();
            let written = sums(digest, tag);
            for line in written.split_inclusive(|&b| b == b'\n') {
                // b3sum reads only UTF-8 manifests: the name that is not is left to --check.
                if tool != "b3sum" || std::str::from_utf8(line).is_ok() {
                    lines.push(line);
                }
            }
            let manifest = outside.join(format!("{tool}-{tag}.manifest"));
            fs::write(&manifest, lines.concat()).expect("write manifest");
            let mut check = Command::new(tool);
            check.arg("--check").arg(&manifest).current_dir(tree.path());
            let run = finish(check);
            let said = String::from_utf8_lossy(&run.stdout);
            assert_eq!(run.code(), Some(0), "{tool} --check: {said} {}", run.stderr);
            assert_eq!(said.matches(": OK").count(), lines.len(), "{said}");
        }
    }
    // The tools' own digests of the plain names, line for line.
    for (tool, args, digest) in [
        ("sha256sum", &[][..], "sha256"),
        ("b3sum", &[][..], "blake3"),
        ("xxhsum", &["-H2"][..], "xxh3"),
    ] {
        if !installed(tool) {
            continue;
        }
        let mut theirs = Command::new(tool);
        theirs
            .args(args)
            .args(["plain.txt", "sub/dir/deep name.md"])
            .current_dir(tree.path());
        let run = finish(theirs);
        assert_eq!(run.code(), Some(0), "{tool}: {}", run.stderr);
        let ours = String::from_utf8_lossy(&sums(digest, false)).into_owned();
        for line in String::from_utf8_lossy(&run.stdout).lines() {
            let (hex, name) = line.split_once("  ").expect("HEX  NAME");
            let want = format!("{hex}  ./{name}");
            assert!(
                ours.lines().any(|l| l == want),
                "{tool}: {line} not in {ours}"
            );
        }
    }
    // A file that fails: no line, one line on stderr, exit 1.
    tree.file("failing.txt", "never hashed");
    let run = reader
        .clone()
        .faults("panic:failing.txt")
        .setting("--digest", "sha256")
        .setting("--format", "sums")
        .run(&[tree.path()]);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(!out.contains("failing.txt"), "{out}");
    assert_eq!(out.lines().count(), names.len(), "{out}");
    assert!(run.stderr.contains("failing.txt"), "{}", run.stderr);
}

/// `reader-merge`, from the binaries built beside `reader`'s (`cargo test --workspace` builds
/// them all before it runs any test; alone, `cargo build -p reader-cli --bin reader-merge`).
fn merge_beside(reader: &Reader) -> PathBuf {
    let merge = reader.bin().with_file_name("reader-merge");
    assert!(
        merge.is_file(),
        "{} is not built: run `cargo build -p reader-cli --bin reader-merge` first",
        merge.display()
    );
    merge
}

/// Runs `merge` with `args`.
fn merged(merge: &Path, args: &[&std::ffi::OsStr]) -> Run {
    let mut cmd = Command::new(merge);
    cmd.args(args);
    finish(cmd)
}

/// `--shard K/N --shard-split SIZE --digest blake3`: every file above SIZE is cut into parts
/// on different shards, each part carries the subtrees of BLAKE3's tree it holds
/// (`blake3_subtrees`) and no digest of its own, and `reader-merge` joins them into the
/// digests `blake3::hash` gives — in its JSON records and tree digest, its CSV and its
/// `--format sums`. With `--digest sha256`, which cannot be joined from parts, nothing is
/// split: the shard that owns a large file reads it whole, and the merge gives its digest.
pub fn split_shards_join_blake3_digests_with_reader_merge(reader: &Reader) {
    let merge = merge_beside(reader);
    let tree = Tree::new();
    let unit = 64 * 1024;
    let files: Vec<(PathBuf, Vec<u8>)> = [
        ("big/odd.bin", (5 << 20) + 3),
        ("big/three.bin", 2 * unit + 1),
        ("big/two.bin", unit + 1),
        ("exact.bin", unit),
        ("small.txt", 8),
        ("empty", 0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, len))| {
        let data = noise(len, i as u64 + 101);
        (tree.file(name, &data), data)
    })
    .collect();
    let count = 3;
    for digest in ["blake3", "sha256"] {
        let out = Tree::new();
        let template = out.join("{shard}.jsonl");
        let mut parts: HashMap<String, Vec<(u32, FileResult)>> = HashMap::new();
        let mut whole: HashMap<String, u32> = HashMap::new();
        let shards: Vec<PathBuf> = (0..count)
            .map(|k| {
                let shard = format!("{k}/{count}");
                let run = reader.clone().setting("--digest", digest).run(&[
                    "--format".as_ref(),
                    "json".as_ref(),
                    "--shard".as_ref(),
                    shard.as_ref(),
                    "--shard-split".as_ref(),
                    "64KiB".as_ref(),
                    "-o".as_ref(),
                    template.as_os_str(),
                    tree.path().as_os_str(),
                ]);
                assert_eq!(
                    run.code(),
                    Some(0),
                    "{digest}, shard {shard}: {}",
                    run.stderr
                );
                let written = out.join(format!("{k}.jsonl"));
                let text = fs::read_to_string(&written).expect("the shard's output"); // whole-file read ok: a shard's output, checked whole
                let lines: Vec<&str> = text.lines().collect();
                let (_summary, records) = lines.split_last().expect("a summary");
                for line in records {
                    let Record::File(file) = record_of(line) else {
                        continue;
                    };
                    let path = path_key(&file.path);
                    if file.part.is_some() {
                        parts.entry(path).or_default().push((k, file));
                    } else {
                        assert!(whole.insert(path, k).is_none(), "{digest}: twice");
                    }
                }
                written
            })
            .collect();
        for (path, data) in &files {
            let key = path_key(path);
            if digest != "blake3" || data.len() <= unit {
                assert!(!parts.contains_key(&key), "{digest}: {key} is not split");
                assert!(whole.contains_key(&key), "{digest}: {key} is read whole");
                continue;
            }
            let got = parts
                .get(&key)
                .unwrap_or_else(|| panic!("{digest}: {key} was not split"));
            let wanted = data.len().div_ceil(unit).min(count as usize);
            let on: BTreeSet<u32> = got.iter().map(|(k, _)| *k).collect();
            assert_eq!(on.len(), wanted, "{key}: a part on each of {wanted} shards");
            assert_eq!(got.len(), wanted, "{key}: {got:?}");
            for (_, part) in got {
                assert!(part.digests.is_empty(), "a part has no digest: {part:?}");
                let start = part.part.map_or(u64::MAX, |cut| cut.start);
                assert_eq!(start % 1024, 0, "cut on 1 KiB: {part:?}");
                let subtrees = part.blake3_subtrees.as_deref().expect("subtrees");
                let held: u64 = subtrees.iter().map(|s| s.len).sum();
                assert_eq!(Ok(held), part.outcome.as_ref().map(|c| c.bytes), "{part:?}");
                assert_eq!(subtrees.first().map(|s| s.start), Some(start));
            }
        }
        let args = |format: &'static str| -> Vec<&std::ffi::OsStr> {
            let mut args: Vec<&std::ffi::OsStr> = vec!["--format".as_ref(), format.as_ref()];
            args.extend(shards.iter().map(|s| s.as_os_str()));
            args
        };
        assert_digests(&merged(&merge, &args("json")), &[digest], &files);
        let sums = merged(&merge, &args("sums"));
        assert_eq!(sums.code(), Some(0), "{}", sums.stderr);
        let manifest = String::from_utf8_lossy(&sums.stdout);
        assert_eq!(manifest.lines().count(), files.len(), "{manifest}");
        let csv = merged(&merge, &args("csv"));
        assert_eq!(csv.code(), Some(0), "{}", csv.stderr);
        let table = String::from_utf8_lossy(&csv.stdout);
        for (path, data) in &files {
            let hex = expected(digest, data);
            let line = format!("{hex}  {}", path.display());
            assert!(manifest.lines().any(|l| l == line), "{line} in {manifest}");
            let row = format!("file,{},", path.display());
            assert!(
                table
                    .lines()
                    .any(|l| l.starts_with(&row) && l.ends_with(&hex)),
                "{row}…{hex} in {table}"
            );
        }
    }
}

/// `--check` verifies a manifest concurrently and reports each fault as `sha256sum -c` does,
/// with its exit status: a flipped byte and a truncated file `FAILED`, a removed file and an
/// unreadable one `FAILED open or read` (with a line on stderr), a malformed line named by its
/// number (fatal with `--strict`); and given PATHs, a file the manifest does not list `new` and
/// a listed one not there `missing`. `--quiet` drops the `OK` lines, `--status` everything.
pub fn check_reports_every_fault(reader: &Reader) {
    let tree = Tree::new();
    let names = [
        "intact.txt",
        "flipped.bin",
        "truncated.bin",
        "removed.txt",
        "failing.txt",
        "back\\slash",
    ];
    for (i, name) in names.iter().enumerate() {
        tree.file(name, noise(70_000 + 999 * i, i as u64 + 40));
    }
    // Manifests beside the tree, not in it (nor in a folder other runs share).
    let outside = Tree::new();
    let at_tree = |reader: &Reader, args: &[&str]| {
        let mut cmd = reader.command(args);
        cmd.current_dir(tree.path());
        finish(cmd)
    };
    for digest in ALGORITHMS {
        let make = reader
            .clone()
            .setting("--digest", digest)
            .setting("--format", "sums");
        let made = at_tree(&make, &["."]);
        assert_eq!(made.code(), Some(0), "stderr: {}", made.stderr);
        let manifest = outside.join(format!("{digest}.manifest"));
        fs::write(&manifest, &made.stdout).expect("write manifest");
        let manifest = manifest.to_string_lossy().into_owned();
        let check = reader.clone().setting("--digest", digest);

        if digest != "xxh3" {
            // A plain 64-digit line may be either: only --digest can say which.
            let unsure = at_tree(reader, &["--check", &manifest]);
            assert_eq!(unsure.code(), Some(2), "{}", unsure.stderr);
            assert!(unsure.stderr.contains("--digest"), "{}", unsure.stderr);
        }
        let clean = at_tree(&check, &["--check", &manifest]);
        assert_eq!(clean.code(), Some(0), "{digest}: {}", clean.stderr);
        let said = String::from_utf8_lossy(&clean.stdout).into_owned();
        assert_eq!(said.lines().count(), names.len(), "{said}");
        assert!(said.lines().all(|l| l.ends_with(": OK")), "{said}");
        assert!(said.contains("\\./back\\\\slash: OK"), "{said}");

        // The faults, each its own kind.
        let flipped = tree.join("flipped.bin");
        let mut data = fs::read(&flipped).expect("read"); // whole-file read ok: a 70 KB test file
        data[40_000] ^= 1;
        fs::write(&flipped, &data).expect("flip");
        let truncated = tree.join("truncated.bin");
        let data = fs::read(&truncated).expect("read"); // whole-file read ok: a 70 KB test file
        fs::write(&truncated, &data[..data.len() - 1]).expect("truncate");
        fs::remove_file(tree.join("removed.txt")).expect("remove");
        tree.file("new.txt", "not in the manifest");
        let mut lines = fs::read(&manifest).expect("manifest"); // whole-file read ok: a manifest of 6 lines
        lines.extend_from_slice(b"not a checksum line\n");
        fs::write(&manifest, &lines).expect("append");
        let faulty = check.clone().faults("panic:failing.txt");

        let run = at_tree(&faulty, &["--check", &manifest]);
        assert_eq!(run.code(), Some(1), "{digest}: {}", run.stderr);
        let said = String::from_utf8_lossy(&run.stdout).into_owned();
        let verdict = |name: &str| {
            said.lines()
                .find(|l| l.starts_with(&format!("./{name}: ")))
                .map(|l| l[name.len() + 4..].to_string())
        };
        assert_eq!(verdict("intact.txt").as_deref(), Some("OK"), "{said}");
        assert_eq!(verdict("flipped.bin").as_deref(), Some("FAILED"), "{said}");
        assert_eq!(
            verdict("truncated.bin").as_deref(),
            Some("FAILED"),
            "{said}"
        );
        let unreadable = Some("FAILED open or read");
        assert_eq!(verdict("removed.txt").as_deref(), unreadable, "{said}");
        assert_eq!(verdict("failing.txt").as_deref(), unreadable, "{said}");
        assert_eq!(verdict("new.txt"), None, "not audited: {said}");
        assert!(
            run.stderr.contains(":7: ") || run.stderr.contains("line 7"),
            "{}",
            run.stderr
        );
        for warning in [
            "WARNING: 1 line is improperly formatted",
            "WARNING: 2 listed files could not be read",
            "WARNING: 2 computed checksums did NOT match",
        ] {
            assert!(run.stderr.contains(warning), "{warning}: {}", run.stderr);
        }
        assert!(run.stderr.contains("removed.txt"), "{}", run.stderr);

        // An audit of the tree: the new file, and the removed one missing.
        let audit = at_tree(&faulty, &["--check", &manifest, "--quiet", "."]);
        assert_eq!(audit.code(), Some(1), "{digest}: {}", audit.stderr);
        let said = String::from_utf8_lossy(&audit.stdout).into_owned();
        assert!(said.lines().any(|l| l == "./new.txt: new"), "{said}");
        assert!(
            said.lines().any(|l| l == "./removed.txt: missing"),
            "{said}"
        );
        assert!(!said.contains(": OK"), "--quiet: {said}");

        let silent = at_tree(&faulty, &["--check", &manifest, "--status"]);
        assert_eq!(silent.code(), Some(1));
        // (The injected panic prints its own message on stderr.)
        assert!(
            silent.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&silent.stdout)
        );
        assert!(!silent.stderr.contains("WARNING"), "{}", silent.stderr);

        // Only the malformed line left: 0, or 1 with --strict.
        for (i, name) in names.iter().enumerate() {
            tree.file(name, noise(70_000 + 999 * i, i as u64 + 40));
        }
        fs::remove_file(tree.join("new.txt")).expect("remove");
        let lenient = at_tree(&check, &["--check", &manifest]);
        assert_eq!(lenient.code(), Some(0), "{digest}: {}", lenient.stderr);
        let strict = at_tree(&check, &["--check", &manifest, "--strict"]);
        assert_eq!(strict.code(), Some(1), "{digest}: {}", strict.stderr);
    }
    let none = reader
        .clone()
        .setting("--check", "/nonexistent/manifest")
        .run(&["."]);
    assert_eq!(none.code(), Some(2));
    assert_eq!(none.stderr.lines().count(), 1, "{}", none.stderr);
}

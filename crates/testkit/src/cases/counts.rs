//! Counting: every file read once with the oracle's counts — the committed tricky tree,
//! content made to cross chunk boundaries, many files, a `/proc` file whose size says 0, and
//! files partly in the page cache.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::checks::{assert_no_panic, assert_read, counts, record};
use crate::run::Reader;
use crate::tree::Tree;
use crate::{fixtures_dir, noise, oracle, path_key};

/// The committed tricky tree gives exactly the committed oracle counts, file by file.
pub fn tricky_fixture_matches_the_oracle(reader: &Reader) {
    let root = fixtures_dir().join("tricky");
    let expected =
        fs::read_to_string(fixtures_dir().join("tricky.expected.tsv")).expect("expected counts"); // whole-file read ok: a small oracle file
    let run = reader.json(&[&root]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    let mut rows = 0;
    for line in expected.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let want: Vec<u64> = fields[1..]
            .iter()
            .map(|n| n.parse().expect("a count"))
            .collect();
        let got = counts(record(&records, &root.join(fields[0])));
        assert_eq!([got.0, got.1, got.2], want[..], "{}", fields[0]);
        rows += 1;
    }
    assert_eq!(records.len(), rows, "no entry more, none less");
    let human = reader.run(&[&root]);
    assert_eq!(human.code(), Some(0));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!(" {rows} files read, 0 failed, 0 skipped")),
        "{text}"
    );
}

/// Generated content that stresses chunk boundaries and every whitespace byte.
pub fn generated_edge_cases_match_the_oracle(reader: &Reader) {
    let tree = Tree::new();
    // A multiple of the readers' chunk size (64 KiB), so the boundary is a chunk boundary.
    let chunk = 256 * 1024;
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("long-line", b"word ".repeat(300_000)),
        (
            "word-across-chunks",
            [vec![b' '; chunk - 4], b"abcdefghij\n".to_vec()].concat(),
        ),
        (
            "crlf-across-chunks",
            [vec![b'a'; chunk - 1], b"\r\nb".to_vec()].concat(),
        ),
        ("noise", noise(700_000, 7)),
        ("whitespace-only", b" \t\n\x0b\x0c\r".repeat(1000)),
        ("one-byte", b"x".to_vec()),
        ("one-newline", b"\n".to_vec()),
    ];
    for seed in 1..20 {
        cases.push(("", noise(seed as usize * 397, seed)));
    }
    let mut paths = Vec::new();
    for (i, (name, data)) in cases.iter().enumerate() {
        paths.push(tree.file(format!("{i:02}-{name}"), data));
    }
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), cases.len());
    for (path, (_, data)) in paths.iter().zip(&cases) {
        assert_read(&records, path, data);
    }
}

/// Many files in nested folders: every one reported once, with its own counts.
pub fn every_file_exactly_once(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..1500usize {
        let data = noise(i * 7 % 5000, i as u64 + 1);
        files.push((
            tree.file(format!("d{}/e{}/f{i}.txt", i % 30, i % 7), &data),
            data,
        ));
    }
    for jobs in ["1", "7"] {
        let run = reader.json(&[&"--jobs".as_ref(), &jobs.as_ref(), &tree.path().as_os_str()]);
        assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
        let records = run.records();
        assert_eq!(records.len(), files.len());
        for (path, data) in &files {
            assert_read(&records, path, data);
        }
        assert_eq!(run.summary()["files"], 1500);
    }
}

/// A `/proc` file reports size 0 but has content: it is read to its end.
pub fn proc_file_with_size_zero(reader: &Reader) {
    let path = Path::new("/proc/self/status");
    let run = reader.json(&[path]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let (bytes, lines, words) = counts(record(&run.records(), path));
    assert!(
        bytes > 100 && lines > 10 && words > 20,
        "{bytes} {lines} {words}"
    );
}

/// Files partly in the page cache are counted whole, wherever the cached pages stop: a read
/// that ends where the cache ends (a non-blocking read, a read from the page cache before a
/// read from the device) is not the end of the file. Every state of
/// [`Pages::PARTLY`](crate::cache::Pages::PARTLY) at the sizes where the readers change their
/// way of reading: a page, a few pages, just over one read's buffer, just under and over the
/// largest file read only from the cache (1 MiB), and above the size from which files are
/// mapped (64 MiB). The tree lives in `scratch`, on a disk, where pages can be dropped; a file
/// system that keeps them fails the case, saying so, rather than letting it pass with every
/// file cached.
pub fn partly_cached_files_are_read_whole(reader: &Reader, scratch: &Path) {
    use crate::cache::{self, Pages};
    fs::create_dir_all(scratch).expect("create the scratch folder");
    let tree = tempfile::Builder::new()
        .prefix("partly-cached-")
        .tempdir_in(scratch)
        .expect("a folder on the build's disk");
    let page = cache::page_size();
    const MIB: usize = 1 << 20;
    let sizes = [
        page,
        3 * page + 100,
        64 * 1024 + 1,
        100_000,
        MIB - 1,
        MIB + 1,
    ];
    let mut files = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        for (j, pages) in Pages::PARTLY.into_iter().enumerate() {
            // Several of each: a read that races the device's completion may miss one.
            for copy in 0..3 {
                files.push((
                    format!("{size}/{j}-{copy}.txt"),
                    size,
                    pages,
                    (i * 10 + j) as u64,
                ));
            }
        }
    }
    for pages in [Pages::First, Pages::EveryOther] {
        let size = 64 * MIB + page + 1;
        files.push((format!("large/{pages:?}.txt"), size, pages, 99));
    }
    let mut expected = HashMap::new();
    for (rel, size, pages, seed) in &files {
        let path = tree.path().join(rel);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        let data = noise(*size, seed + 1);
        fs::write(&path, &data).expect("write");
        expected.insert(path_key(&path), (oracle(&data), *pages));
    }
    for (rel, _, pages, _) in &files {
        cache::cache_only(&tree.path().join(rel), *pages)
            .unwrap_or_else(|e| panic!("this case needs a disk-backed scratch folder: {e}"));
    }
    let run = reader.json(&[tree.path()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), expected.len());
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(path, (want, pages))| {
            let Some(record) = records.get(path) else {
                return Some(format!("{path} cached {pages:?}: no record"));
            };
            let exact = record["error"].is_null() && counts(record) == *want;
            (!exact).then(|| format!("{path} cached {pages:?}: {record}, not {want:?}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} files wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

//! The conformance cases of `--duplicates`: a tree with known sets of copies (under other
//! names and depths, hard links, empty files, files of one size that differ only at the end or
//! in the middle, a file that fails while it is compared) must give exactly the known groups
//! in every model; and on a tree of real files the groups must be those of `jdupes -r`, where
//! it is installed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::digests::installed;
use crate::{Reader, Tree, Value, noise};

/// The groups of a `--duplicates --format json` run, each as the set of its paths relative to
/// `root` (hard links included).
pub fn json_groups(lines: &[Value], root: &Path) -> BTreeSet<BTreeSet<String>> {
    lines
        .iter()
        .filter(|line| line["type"] == "duplicates")
        .map(|group| {
            let mut names: BTreeSet<String> = BTreeSet::new();
            let paths = group["paths"].as_array().expect("paths");
            let links = group["links"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for path in paths
                .iter()
                .chain(links.iter().flat_map(|l| l.as_array().expect("links")))
            {
                names.insert(relative(path.as_str().expect("a UTF-8 path"), root));
            }
            names
        })
        .collect()
}

/// The groups of fdupes' text (a path a line, a blank line after each group), relative to
/// `root`.
pub fn text_groups(text: &str, root: &Path) -> BTreeSet<BTreeSet<String>> {
    text.split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| relative(l, root))
                .collect::<BTreeSet<String>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

fn relative(path: &str, root: &Path) -> String {
    Path::new(path)
        .strip_prefix(root)
        .unwrap_or(Path::new(path))
        .to_string_lossy()
        .into_owned()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

/// Every model finds exactly the known groups: copies under other names and depths, large
/// copies (compared by their ends too), hard links as one file, empty files only with
/// `--include-empty`, `--min-size` leaving small files out; files of one size that differ
/// only in the last byte or only in the middle are not copies; a file that fails while it is
/// compared is reported as failed, in no group, and the run exits 1; copies far deeper than
/// `PATH_MAX` are found like any. JSON, fdupes and CSV agree.
pub fn duplicates_are_found_exactly(reader: &Reader) {
    let (tree, expected) = known_copies();
    let root = tree.path();
    let reader = reader.clone().faults(FAILS);
    let run = reader.json(&[&["--duplicates".as_ref()], &[root.as_os_str()][..]].concat());
    assert_eq!(
        run.code(),
        Some(1),
        "a failure: status 1; stderr: {}",
        run.stderr
    );
    let lines = run.lines();
    assert_eq!(json_groups(&lines, root), expected);
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "file" && !l["error"].is_null())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("fails-one"))
    );
    let hard_links: Vec<&Value> = lines.iter().filter(|l| l["type"] == "hard_links").collect();
    assert_eq!(hard_links.len(), 1);
    assert_eq!(hard_links[0]["paths"].as_array().map(Vec::len), Some(2));
    let summary = run.summary();
    assert_eq!(summary["groups"], 5);
    assert_eq!(summary["duplicates"], 11);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["files"], 21);
    let wasted = 1_200_000 + 2 * 5000 + 7000 + 6000 + 3;
    assert_eq!(summary["wasted"], wasted);
    let (read, needed) = (
        summary["bytes_read"].as_u64(),
        summary["bytes_needed"].as_u64(),
    );
    assert!(read >= needed && needed > Some(2 * 1_200_000), "{summary}");

    // The same groups as fdupes' text, and the empty files with --include-empty.
    let fdupes = reader.run(&[
        "--duplicates".as_ref(),
        "--format".as_ref(),
        "fdupes".as_ref(),
        "--include-empty".as_ref(),
        root.as_os_str(),
    ]);
    assert_eq!(fdupes.code(), Some(1), "stderr: {}", fdupes.stderr);
    assert!(
        fdupes.stderr.contains("fails-one"),
        "the failure on stderr: {}",
        fdupes.stderr
    );
    let mut with_empty = expected.clone();
    with_empty.insert(set(&["e1", "e/2"]));
    assert_eq!(
        text_groups(&String::from_utf8_lossy(&fdupes.stdout), root),
        with_empty
    );

    // --min-size leaves the small copies out; CSV has a row for each name of each group.
    let csv = reader.run(&[
        "--duplicates".as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
        "--min-size".as_ref(),
        "10".as_ref(),
        root.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&csv.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "group,size,blake3,path,path_bytes,link_of");
    assert_eq!(rows.len(), 1 + 2 + 3 + 3 + 2, "{text}");
    assert!(!text.contains("/s1"), "{text}");
}

/// What the readers are run with in [`duplicates_are_found_exactly`]: the fault that makes
/// `p/fails-one`, a copy, fail when it is read (reader-core's `READER_FAULTS`).
pub const FAILS: &str = "panic:fails-one";

/// The tree of [`duplicates_are_found_exactly`] — copies under other names and depths, large
/// copies, files of one size that differ only at the end or in the middle, hard links (`h1`
/// and `h1-link`, a copy of `h2`; `solo` and `solo-link`, with no copy), the empty files `e1`
/// and `e/2`, `p/fails-one` (a copy that fails with [`FAILS`]) and copies far below
/// `PATH_MAX` — with its groups, each the set of its paths relative to the tree, hard links
/// included: those a search finds with [`FAILS`], without the empty files.
pub fn known_copies() -> (Tree, BTreeSet<BTreeSet<String>>) {
    let tree = Tree::new();
    let one = noise(5000, 1);
    tree.file("a/one.txt", &one);
    tree.file("b/c/one copy", &one);
    tree.file("deep/1/2/3/one", &one);
    tree.file("p/fails-one", &one);
    tree.file("s1", "hi\n");
    tree.file("s/2", "hi\n");
    let last = noise(9000, 2);
    let mut last_flipped = last.clone();
    *last_flipped.last_mut().expect("bytes") ^= 1;
    tree.file("last-a", &last);
    tree.file("last-b", &last_flipped);
    let big = noise(1_200_000, 3);
    let mut middle = big.clone();
    middle[600_000] ^= 1;
    tree.file("big-a", &big);
    tree.file("big/b", &big);
    tree.file("mid", &middle);
    let linked = noise(7000, 4);
    let h1 = tree.file("h1", &linked);
    fs::hard_link(&h1, tree.join("h1-link")).expect("hard link");
    tree.file("h2", &linked);
    let solo = tree.file("solo", noise(3000, 5));
    fs::hard_link(&solo, tree.join("solo-link")).expect("hard link");
    tree.file("e1", "");
    tree.file("e/2", "");
    tree.file("unique", noise(100, 6));
    // Two copies far below PATH_MAX, in trees of 600 levels of 8-byte names.
    let far = noise(6000, 7);
    let deep_a = tree.deep("far-a", 600, 8, &far);
    let deep_b = tree.deep("far-b", 600, 8, &far);
    let root = tree.path();
    let deep: BTreeSet<String> = [&deep_a, &deep_b]
        .into_iter()
        .map(|p| relative(&p.to_string_lossy(), root))
        .collect();
    let expected: BTreeSet<BTreeSet<String>> = [
        deep,
        set(&["big-a", "big/b"]),
        set(&["a/one.txt", "b/c/one copy", "deep/1/2/3/one"]),
        set(&["h1", "h1-link", "h2"]),
        set(&["s1", "s/2"]),
    ]
    .into_iter()
    .collect();
    (tree, expected)
}

/// On a tree of real files — this repository's sources, copied twice — the groups are those
/// of `jdupes -r`, where it is installed (the case says so and passes without it). Hard links
/// are left out: jdupes lists some names of a linked file and not others, depending on the
/// order it meets them, where `--duplicates` lists each file once with all its names.
pub fn duplicates_match_jdupes(reader: &Reader) {
    if !installed("jdupes") {
        return;
    }
    let tree = Tree::new();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for copy in ["one", "two"] {
        let to = tree.join(copy);
        let status = Command::new("cp")
            .arg("-R")
            .arg(&sources)
            .arg(&to)
            .status()
            .expect("cp");
        assert!(status.success());
    }
    let root = tree.path();
    let ours = reader.run(&[
        "--duplicates".as_ref(),
        "--format".as_ref(),
        "fdupes".as_ref(),
        root.as_os_str(),
    ]);
    assert_eq!(ours.code(), Some(0), "stderr: {}", ours.stderr);
    let jdupes = Command::new("jdupes")
        .arg("-r")
        .arg("-q")
        .arg(root)
        .output()
        .expect("jdupes");
    let theirs = text_groups(&String::from_utf8_lossy(&jdupes.stdout), root);
    assert!(theirs.len() > 10, "a tree with copies: {theirs:?}");
    assert_eq!(
        text_groups(&String::from_utf8_lossy(&ours.stdout), root),
        theirs
    );
}

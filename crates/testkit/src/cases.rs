//! The cases. Each takes a [`Reader`] and panics (fails) if the reader breaks the contract of
//! docs/CONTRACT.md: counts against the [`oracle`], every entry exactly once, exit
//! statuses, one-line errors, no hang, bounded memory.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::hostile::{self, Expected, HostileFs};
use crate::run::{Reader, Run, finish, wait_or_kill};
use crate::tree::{Deep, Tree, bytes_path};
use crate::{HANG, fixtures_dir, noise, oracle, procfs};

fn key(path: &Path) -> String {
    crate::path_key(path)
}

fn counts(record: &Value) -> (u64, u64, u64) {
    assert!(record["error"].is_null(), "expected a read file: {record}");
    let n = |k: &str| {
        record[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {record}"))
    };
    (n("size"), n("lines"), n("words"))
}

fn record<'a>(records: &'a HashMap<String, Value>, path: &Path) -> &'a Value {
    records.get(&key(path)).unwrap_or_else(|| {
        panic!(
            "no record for {}; have {:?}",
            path.display(),
            records.keys().collect::<Vec<_>>()
        )
    })
}

fn assert_read(records: &HashMap<String, Value>, path: &Path, data: &[u8]) {
    assert_eq!(
        counts(record(records, path)),
        oracle(data),
        "{}",
        path.display()
    );
}

fn assert_failed(records: &HashMap<String, Value>, path: &Path, kind: &str) {
    let r = record(records, path);
    assert_eq!(r["type"], "file", "{r}");
    assert_eq!(r["error"]["kind"], kind, "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&*path.to_string_lossy()),
        "the message names the path: {r}"
    );
}

fn assert_skipped(records: &HashMap<String, Value>, path: &Path, reason: &str) {
    let r = record(records, path);
    assert_eq!(
        (r["type"].as_str(), r["reason"].as_str()),
        (Some("skipped"), Some(reason)),
        "{r}"
    );
}

fn assert_no_panic(run: &Run) {
    assert!(!run.stderr.contains("panicked"), "stderr: {}", run.stderr);
}

fn assert_one_line_error(run: &Run) {
    assert_eq!(run.code(), Some(2), "stderr: {}", run.stderr);
    assert_no_panic(run);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing on stdout");
}

/// Runs the reader with `args` (and `--progress never`) inside a bash script that `script`
/// makes around its command line — a pipe, a redirection, `echo $?` — and returns the run of
/// the script.
fn in_bash(
    reader: &Reader,
    args: &[&std::ffi::OsStr],
    script: impl FnOnce(String) -> String,
) -> Run {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--progress".as_ref(), "never".as_ref()];
    all.extend_from_slice(args);
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script(reader.shell_words(&all))]);
    finish(cmd)
}

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

/// `--ext` keeps only the named extensions, case-insensitively.
pub fn extension_filter(reader: &Reader) {
    let tree = Tree::new();
    for name in [
        "a.txt",
        "b.TXT",
        "c.md",
        "sub/d.rs",
        "noext",
        ".hidden.txt",
        "e.txt.bak",
    ] {
        tree.file(name, "x y\n");
    }
    let run = reader.json(
        &["--ext", "txt,MD"]
            .map(AsRef::<std::ffi::OsStr>::as_ref)
            .iter()
            .chain([tree.path().as_os_str()].iter())
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let mut names: Vec<String> = run
        .records()
        .keys()
        .map(|k| k.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    names.sort();
    assert_eq!(names, [".hidden.txt", "a.txt", "b.TXT", "c.md"]);
    let rs = reader.json(&["-e".as_ref(), "rs".as_ref(), tree.path().as_os_str()]);
    assert_eq!(rs.records().len(), 1);
}

/// The names of the files a JSON run read, relative to `root`, sorted.
fn read_names(run: &Run, root: &Path) -> Vec<String> {
    assert!(run.code() == Some(0), "stderr: {}", run.stderr);
    let mut names: Vec<String> = run
        .records()
        .values()
        .filter(|r| r["type"] == "file")
        .map(|r| {
            let path = crate::record_path(r);
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            rel.to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A small project inside a git repository: sources, build output, logs, dot files.
fn project(tree: &Tree) {
    for (name, text) in [
        (".gitignore", "target/\n*.log\n!keep.log\n"),
        ("src/.gitignore", "generated.rs\n"),
        (".git/info/exclude", "secret.txt\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/generated.rs", "// made by a build\n"),
        ("src/deep/er/mod.rs", "pub mod x;\n"),
        ("target/debug/app", "\x7fELF binary"),
        ("docs/a.log", "a log\n"),
        ("docs/keep.log", "kept\n"),
        ("secret.txt", "shh\n"),
        (".config/settings", "x = 1\n"),
        ("README", "hello world\n"),
        ("empty", ""),
    ] {
        tree.file(name, text);
    }
}

/// `--gitignore` reads what git would track (the ignore files, `.git/info/exclude`, no
/// `.git`); `--no-hidden`, `--exclude` and `--max-depth` leave entries out; the default still
/// reads every regular file.
pub fn ignore_rules_and_name_filters(reader: &Reader) {
    let tree = Tree::new();
    project(&tree);
    let root = tree.path();
    let with = |flags: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
        args.push(root.as_os_str());
        read_names(&reader.json(&args), root)
    };
    assert_eq!(with(&[]).len(), 14, "the default reads every regular file");
    assert_eq!(
        with(&["--gitignore"]),
        [
            ".config/settings",
            ".gitignore",
            "README",
            "docs/keep.log",
            "empty",
            "src/.gitignore",
            "src/deep/er/mod.rs",
            "src/main.rs"
        ]
    );
    let visible = with(&["--no-hidden"]);
    assert!(
        visible
            .iter()
            .all(|n| !n.split('/').any(|c| c.starts_with('.'))),
        "{visible:?}"
    );
    assert_eq!(visible.len(), 9, "{visible:?}");
    assert_eq!(
        with(&[
            "--exclude",
            "target/",
            "--exclude",
            "*.log",
            "--exclude",
            "!keep.log",
            "--exclude",
            "/src/deep",
            "--no-hidden"
        ]),
        [
            "README",
            "docs/keep.log",
            "empty",
            "secret.txt",
            "src/generated.rs",
            "src/main.rs"
        ]
    );
    assert_eq!(
        with(&["--max-depth", "1"]),
        [".gitignore", "README", "empty", "secret.txt"]
    );
    let bad = reader.run(&["--exclude".as_ref(), "{unclosed".as_ref(), root.as_os_str()]);
    assert_one_line_error(&bad);
    assert!(bad.stderr.contains("--exclude"), "{}", bad.stderr);
}

/// `--min-size` and `--max-size` report the files outside the range as skipped, with their
/// reason, never silently dropped; a range that cannot hold anything is a start error.
pub fn size_filters_report_what_they_skip(reader: &Reader) {
    let tree = Tree::new();
    let sizes = [("empty", 0usize), ("one", 1), ("kib", 1024), ("big", 5000)];
    let paths: Vec<_> = sizes
        .iter()
        .map(|(name, len)| tree.file(format!("d/{name}"), vec![b'x'; *len]))
        .collect();
    let run = reader.json(&[
        "--min-size".as_ref(),
        "1".as_ref(),
        "--max-size".as_ref(),
        "1KiB".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 4, "every file is reported");
    assert_skipped(&records, &paths[0], "too_small");
    assert_read(&records, &paths[1], b"x");
    assert_read(&records, &paths[2], &[b'x'; 1024]);
    assert_skipped(&records, &paths[3], "too_large");
    assert_eq!(run.summary()["skipped"], 2);
    let bad = reader.run(&[
        "--min-size".as_ref(),
        "2k".as_ref(),
        "--max-size".as_ref(),
        "1k".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&bad);
    let unparsable = reader.run(&[
        "--max-size".as_ref(),
        "lots".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&unparsable);
}

/// In a real git repository, `--gitignore` reads exactly what `git ls-files` lists plus the
/// untracked files git does not ignore. Skipped, with a message, where git is not installed.
pub fn gitignore_agrees_with_git(reader: &Reader) {
    let tree = Tree::new();
    project(&tree);
    std::fs::remove_dir_all(tree.join(".git")).expect("remove the stand-in .git");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(tree.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", tree.path())
            .env("XDG_CONFIG_HOME", tree.join(".config"))
            .output()
    };
    match git(&["init", "-q"]) {
        Ok(out) if out.status.success() => {}
        _ => {
            eprintln!("gitignore_agrees_with_git: skipped, git is not installed here");
            return;
        }
    }
    std::fs::write(tree.join(".git/info/exclude"), "secret.txt\n").expect("exclude");
    let added = git(&["add", "README", "src/main.rs", ".gitignore"]).expect("git add");
    assert!(added.status.success(), "{added:?}");
    let listed = git(&[
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ])
    .expect("git ls-files");
    let mut want: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split('\0')
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    want.sort();
    let home = tree.path().to_string_lossy().into_owned();
    let config = tree.join(".config").to_string_lossy().into_owned();
    let run = reader
        .clone()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &config)
        .json(&["--gitignore".as_ref(), tree.path().as_os_str()]);
    assert_eq!(read_names(&run, tree.path()), want);
}

/// `--by`, `--sort` and `--top`: group records whose sums equal the records', a ranked file
/// listing that keeps the largest, and a human table whose `total` line is the summary's.
pub fn views_group_and_rank(reader: &Reader) {
    let tree = Tree::new();
    let mut want: HashMap<String, (u64, u64, u64, u64)> = HashMap::new();
    for i in 0..60usize {
        let ext = ["rs", "RS", "md", "txt", ""][i % 5];
        let name = if ext.is_empty() {
            format!("d{}/f{i}", i % 4)
        } else {
            format!("d{}/f{i}.{ext}", i % 4)
        };
        let data = noise(i * 37 % 900, i as u64 + 7);
        tree.file(&name, &data);
        let (b, l, w) = oracle(&data);
        let e = want.entry(ext.to_ascii_lowercase()).or_default();
        *e = (e.0 + 1, e.1 + b, e.2 + l, e.3 + w);
    }
    tree.fifo("d0/pipe");
    let root = tree.path().as_os_str();
    let grouped = reader.json(&["--by".as_ref(), "ext".as_ref(), root]);
    assert_eq!(grouped.code(), Some(0), "stderr: {}", grouped.stderr);
    assert_eq!(
        grouped.records().len(),
        61,
        "every entry still has its record"
    );
    let groups: HashMap<String, (u64, u64, u64, u64)> = grouped
        .lines()
        .iter()
        .filter(|r| r["type"] == "group")
        .map(|g| {
            assert_eq!(g["by"], "ext", "{g}");
            let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("{k} in {g}"));
            let key = g["key"].as_str().expect("a key").to_string();
            (key, (n("files"), n("bytes"), n("lines"), n("words")))
        })
        .collect();
    assert_eq!(groups, want);
    let top = reader.json(&[
        "--top".as_ref(),
        "5".as_ref(),
        "--sort".as_ref(),
        "bytes".as_ref(),
        root,
    ]);
    assert_eq!(top.code(), Some(0), "stderr: {}", top.stderr);
    let lines = top.lines();
    let sizes: Vec<u64> = lines
        .iter()
        .filter(|r| r["type"] == "file")
        .map(|r| r["size"].as_u64().expect("a read file"))
        .collect();
    let mut all: Vec<u64> = (0..60usize).map(|i| (i * 37 % 900) as u64).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sizes, all[..5], "the five largest, largest first");
    assert!(
        lines.iter().any(|r| r["type"] == "skipped"),
        "skipped entries are still reported"
    );
    assert_eq!(lines.last().map(|s| s["files"].clone()), Some(60.into()));
    let table = reader.run(&[
        "--by".as_ref(),
        "dir".as_ref(),
        "--sort".as_ref(),
        "lines".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        root,
    ]);
    assert_eq!(table.code(), Some(0), "stderr: {}", table.stderr);
    let out = String::from_utf8_lossy(&table.stdout);
    let total = out
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .unwrap_or_else(|| panic!("a total line: {out}"));
    let lines_total: u64 = want.values().map(|v| v.2).sum();
    let shown: Vec<String> = total
        .split_whitespace()
        .map(|f| f.replace(',', ""))
        .collect();
    assert_eq!(shown[0], "60", "{total}");
    assert_eq!(shown[1], lines_total.to_string(), "{total}");
    assert_eq!(
        out.lines().filter(|l| l.contains("/d")).count(),
        4,
        "one row a directory: {out}"
    );
}

/// `/proc/self` finishes in seconds with every entry reported once: `/proc/self/status` is read
/// to its end, and `/proc/self/pagemap`, whose size says 0 and whose content runs to hundreds of
/// GiB, stops at the pseudo-file limit as `size_limit`.
pub fn proc_self_finishes_and_pseudo_files_are_capped(reader: &Reader) {
    let run = reader.run_within(
        Duration::from_secs(60),
        &["--format", "json", "--progress", "never", "/proc/self"],
    );
    assert!(matches!(run.code(), Some(0 | 1)), "stderr: {}", run.stderr);
    assert_no_panic(&run);
    let records = run.records();
    let status = record(&records, Path::new("/proc/self/status"));
    assert!(status["error"].is_null(), "{status}");
    assert!(status["lines"].as_u64().is_some_and(|l| l > 5), "{status}");
    let pagemap = record(&records, Path::new("/proc/self/pagemap"));
    assert_eq!(pagemap["error"]["kind"], "size_limit", "{pagemap}");
}

/// `--max-bytes SIZE` caps every file: one of SIZE bytes or fewer is read exactly, a larger one
/// (a 70 MiB file, whose size says so, included) is reported once as `size_limit` and not
/// counted, and a pseudo-file whose size says 0 stops at the cap too. A cap that is not a size
/// is one line and status 2.
pub fn a_byte_cap_fails_larger_files_as_size_limit(reader: &Reader) {
    let tree = Tree::new();
    let mut read = Vec::new();
    for (name, len) in [("empty", 0), ("under.txt", 999), ("at.txt", 1000)] {
        let data = "word ".repeat(len / 5);
        read.push((tree.file(name, &data), data));
    }
    let over = tree.file("sub/over.txt", "x".repeat(1001));
    let huge = tree.sparse("sub/huge.bin", 70 << 20);
    let capped = reader.clone().setting("--max-bytes", "1000");
    let run = capped.json(&[tree.path()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 5, "{:?}", records.keys());
    for (path, data) in &read {
        assert_read(&records, path, data.as_bytes());
    }
    for path in [&over, &huge] {
        assert_failed(&records, path, "size_limit");
        let message = record(&records, path)["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("--max-bytes"), "{message}");
    }
    let summary = run.summary();
    assert_eq!(
        (summary["ok"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(summary["bytes"].as_u64(), Some(995 + 1000));

    let status = Path::new("/proc/self/status");
    let run = reader.clone().setting("--max-bytes", "100").json(&[status]);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    assert_failed(&run.records(), status, "size_limit");

    let run = reader
        .clone()
        .setting("--max-bytes", "lots")
        .run(&[tree.path()]);
    assert_one_line_error(&run);
    assert!(run.stderr.contains("--max-bytes"), "{}", run.stderr);
}

/// `--files0-from`: a NUL-separated list (a file, or `-` for stdin) is read as PATHs are — a
/// listed directory is walked, a listed FIFO skipped, a missing name reported as `not_found`
/// — and an unreadable list is a one-line start error.
pub fn files0_from_reads_a_list_like_paths(reader: &Reader) {
    let tree = Tree::new();
    let a = tree.file("a.txt", "one two\n");
    let b = tree.file("dir/b.md", "three\n");
    let c = tree.file("dir/sub/c", "four five six\n");
    let pipe = tree.fifo("pipe");
    let missing = tree.join("missing.txt");
    let mut list = Vec::new();
    for path in [&a, &tree.join("dir"), &missing, &pipe] {
        list.extend_from_slice(path.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let list_file = tree.file("list0", &list);
    let check = |run: &Run| {
        assert_eq!(
            run.code(),
            Some(1),
            "a missing file is a failure: {}",
            run.stderr
        );
        let records = run.records();
        assert_eq!(records.len(), 5, "{:?}", records.keys());
        assert_read(&records, &a, b"one two\n");
        assert_read(&records, &b, b"three\n");
        assert_read(&records, &c, b"four five six\n");
        assert_failed(&records, &missing, "not_found");
        assert_skipped(&records, &pipe, "fifo");
    };
    check(&reader.json(&["--files0-from".as_ref(), list_file.as_os_str()]));
    let args = [
        "--format".as_ref(),
        "json".as_ref(),
        "--files0-from".as_ref(),
        "-".as_ref(),
    ];
    check(&in_bash(reader, &args, |cmd| {
        format!("{cmd} <{}", list_file.display())
    }));
    let unreadable = reader.run(&["--files0-from".as_ref(), missing.as_os_str()]);
    assert_one_line_error(&unreadable);
    let both = reader.run(&[
        "--files0-from".as_ref(),
        list_file.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&both);
}

/// `--shard K/N` with `--output 'DIR/{shard}.jsonl'`: the N shards' files hold between them
/// every record of the unsharded run once (files, failures and skipped entries alike), each
/// file appears only when its run is complete, and a shard that cannot write its output
/// leaves none.
pub fn shards_together_are_the_whole_run(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..40 {
        let data = format!("file {i} has {} words\n", i % 7).repeat(i % 5 + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 3), &data), data));
    }
    tree.fifo("d1/pipe");
    tree.symlink("d2/dangling", "nowhere");
    let whole = reader.json(&[tree.path()]);
    assert_eq!(whole.code(), Some(0), "stderr: {}", whole.stderr);
    let expected = whole.records();
    let out = tempfile::tempdir().expect("tempdir");
    let template = out.path().join("{shard}.jsonl");
    let count = 3;
    let mut union = HashMap::new();
    for k in 0..count {
        let shard = format!("{k}/{count}");
        let run = reader.run(&[
            "--format".as_ref(),
            "json".as_ref(),
            "--shard".as_ref(),
            shard.as_ref(),
            "--output".as_ref(),
            template.as_os_str(),
            tree.path().as_os_str(),
        ]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "--output leaves stdout empty");
        let written = Run {
            status: run.status,
            stdout: fs::read(out.path().join(format!("{k}.jsonl"))).expect("the shard's file"), // whole-file read ok: a shard's output, checked whole
            stderr: run.stderr,
        };
        let summary = written.summary();
        assert_eq!(summary["shard"]["index"], k, "{summary}");
        assert_eq!(summary["shard"]["count"], count, "{summary}");
        assert!(summary["shard"]["version"].is_string(), "{summary}");
        for (path, record) in written.records() {
            assert!(
                union.insert(path.clone(), record).is_none(),
                "{path} in two shards"
            );
        }
    }
    let names = |records: &HashMap<String, Value>| {
        let mut names: Vec<String> = records
            .iter()
            .map(|(path, r)| format!("{path} {} {} {}", r["type"], r["size"], r["reason"]))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&union), names(&expected));
    for (path, data) in &files {
        assert_read(&union, path, data.as_bytes());
    }
    let left: Vec<_> = fs::read_dir(out.path()).expect("list").flatten().collect();
    assert_eq!(left.len(), count, "only the shards' files: {left:?}");
    // An output that cannot be created: one line, status 2, and nothing read or written.
    // (a file where its directory should be)
    let nowhere = out.path().join("0.jsonl/{shard}.jsonl");
    let failed = reader.run(&[
        "--shard".as_ref(),
        "0/2".as_ref(),
        "--output".as_ref(),
        nowhere.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&failed);
    assert!(
        failed.stderr.contains("0.jsonl/0.jsonl"),
        "{}",
        failed.stderr
    );
    let auto = reader
        .clone()
        .env("PMI_RANK", "1")
        .env("PMI_SIZE", "3")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_PROCID")
        .env_remove("OMPI_COMM_WORLD_RANK")
        .json(&["--shard".as_ref(), "auto".as_ref(), tree.path().as_os_str()]);
    assert_eq!(auto.summary()["shard"]["index"], 1, "{}", auto.stderr);
    let unset = reader
        .clone()
        .env_remove("PMI_RANK")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_PROCID")
        .env_remove("OMPI_COMM_WORLD_RANK")
        .run(&["--shard".as_ref(), "auto".as_ref(), tree.path().as_os_str()]);
    assert_one_line_error(&unset);
}

/// `--shard-split`: files above the unit are cut into byte ranges over the shards, and every
/// range is a `part` record whose counts are those of its bytes alone and whose edges say
/// whether it starts and ends inside a word — so that the ranges of a file, on different
/// shards, cover it exactly once and join (with a word across each boundary counted once) to
/// the whole file's counts. Files at or below the unit are whole, as without the flag.
pub fn split_shards_cover_large_files_once(reader: &Reader) {
    let tree = Tree::new();
    let unit: u64 = 64 * 1024;
    let mut data = Vec::new();
    for i in 0..12_000u32 {
        // Words of every length, tabs, CRLFs and runs of spaces, so that boundaries fall
        // inside words and between them.
        data.extend_from_slice(
            format!("w{i} {}\t\r\n  x", "y".repeat((i % 13) as usize)).as_bytes(),
        );
    }
    let big = tree.file("big/words.txt", &data);
    let solid_data = vec![b'z'; 5 * 64 * 1024 + 7];
    let solid = tree.file("big/solid.bin", &solid_data);
    let exact = tree.file("exact.txt", vec![b'a'; 64 * 1024]);
    let small = tree.file("small.txt", "one two\n");
    tree.file("empty", "");
    let expected = reader.json(&[tree.path()]).records();
    let count = 3;
    let mut whole = HashMap::new();
    let mut parts: HashMap<String, Vec<(u64, Value)>> = HashMap::new();
    for k in 0..count {
        let shard = format!("{k}/{count}");
        let run = reader.json(&[
            "--shard".as_ref(),
            shard.as_ref(),
            "--shard-split".as_ref(),
            "64KiB".as_ref(),
            tree.path().as_os_str(),
        ]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        assert_eq!(
            run.summary()["shard"]["split_above"],
            unit,
            "{}",
            run.summary()
        );
        for (path, record) in run.records() {
            if record["type"] == "part" {
                parts.entry(path).or_default().push((k, record));
            } else {
                assert!(whole.insert(path.clone(), record).is_none(), "{path} twice");
            }
        }
    }
    for (path, content) in [(&big, &data), (&solid, &solid_data)] {
        let key = path.display().to_string();
        let mut got = parts
            .remove(&key)
            .unwrap_or_else(|| panic!("{key} was not split"));
        got.sort_by_key(|(_, r)| r["part"].as_u64());
        let size = content.len() as u64;
        let wanted = size.div_ceil(unit).min(count);
        assert_eq!(got.len() as u64, wanted, "{key}: {got:?}");
        let shards: BTreeSet<u64> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(shards.len(), got.len(), "{key}: one part a shard");
        let (mut at, mut joined, mut ended_in_word) = (0u64, (0, 0, 0), false);
        for (_, part) in &got {
            let field = |name: &str| {
                part[name]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: {part}"))
            };
            assert_eq!(
                field("start"),
                at,
                "{key}: the parts follow each other: {part}"
            );
            assert_eq!(field("parts"), wanted, "{part}");
            assert_eq!(field("file_size"), size, "{part}");
            let range = &content[at as usize..field("end") as usize];
            assert_eq!(counts(part), oracle(range), "{key}: {part}");
            let in_word = |byte: Option<&u8>| byte.is_some_and(|b| !b" \t\n\x0b\x0c\r".contains(b));
            assert_eq!(part["starts_in_word"], in_word(range.first()), "{part}");
            assert_eq!(part["ends_in_word"], in_word(range.last()), "{part}");
            let (b, l, w) = oracle(range);
            let across = ended_in_word && in_word(range.first());
            joined = (joined.0 + b, joined.1 + l, joined.2 + w - u64::from(across));
            ended_in_word = in_word(range.last());
            at = field("end");
        }
        assert_eq!(at, size, "{key}: the parts reach the end");
        assert_eq!(joined, oracle(content), "{key}: joined");
        assert_eq!(joined, counts(record(&expected, path)), "{key}");
    }
    assert!(
        parts.is_empty(),
        "nothing else is split: {:?}",
        parts.keys()
    );
    let mut names: Vec<&String> = whole.keys().collect();
    names.sort();
    assert_eq!(names.len(), expected.len() - 2, "{names:?}");
    assert_read(&whole, &exact, &[b'a'; 64 * 1024]);
    assert_read(&whole, &small, b"one two\n");
    // The flag needs shards, and output only the merge can join.
    assert_one_line_error(&reader.json(&[
        "--shard-split".as_ref(),
        "1MiB".as_ref(),
        tree.path().as_os_str(),
    ]));
    assert_one_line_error(&reader.run(&[
        "--format".as_ref(),
        "csv".as_ref(),
        "--shard".as_ref(),
        "0/2".as_ref(),
        "--shard-split".as_ref(),
        "1MiB".as_ref(),
        tree.path().as_os_str(),
    ]));
}

/// FIFOs, sockets and devices are reported as skipped and never opened.
pub fn special_files_are_skipped_without_hanging(reader: &Reader) {
    let tree = Tree::new();
    let ok = tree.file("ok.txt", "fine\n");
    let pipe = tree.fifo("pipe");
    let sock = tree.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind a socket");
    let zero = tree.symlink("zero", "/dev/zero");
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_read(&records, &ok, b"fine\n");
    assert_skipped(&records, &pipe, "fifo");
    assert_skipped(&records, &sock, "socket");
    assert_skipped(&records, &zero, "symlink");
    let followed = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_eq!(followed.code(), Some(0), "stderr: {}", followed.stderr);
    assert_skipped(&followed.records(), &zero, "char_device");
    let direct = reader.json(&[&pipe]);
    assert_eq!(direct.code(), Some(0));
    assert_skipped(&direct.records(), &pipe, "fifo");
}

fn link_tree() -> Tree {
    let tree = Tree::new();
    tree.file("real/f.txt", "in the real folder\n");
    tree.symlink("to-dir", tree.join("real"));
    tree.symlink("dangling", tree.join("nowhere"));
    tree.symlink("real/loop", tree.path());
    tree
}

/// Without `--follow`, every symbolic link is skipped as such.
pub fn symlinks_without_follow_are_skipped(reader: &Reader) {
    let tree = link_tree();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 4);
    assert_read(&records, &tree.join("real/f.txt"), b"in the real folder\n");
    for link in ["to-dir", "dangling", "real/loop"] {
        assert_skipped(&records, &tree.join(link), "symlink");
    }
}

/// With `--follow`, links are walked, a dangling one fails `not_found`, and a loop fails
/// `symlink_loop` instead of being walked forever.
pub fn symlinks_with_follow_loop_safe(reader: &Reader) {
    let tree = link_tree();
    let run = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_eq!(
        run.code(),
        Some(1),
        "failures give status 1; stderr: {}",
        run.stderr
    );
    let records = run.records();
    assert_read(&records, &tree.join("real/f.txt"), b"in the real folder\n");
    assert_read(
        &records,
        &tree.join("to-dir/f.txt"),
        b"in the real folder\n",
    );
    assert_failed(&records, &tree.join("dangling"), "not_found");
    assert_failed(&records, &tree.join("real/loop"), "symlink_loop");
    assert_failed(&records, &tree.join("to-dir/loop"), "symlink_loop");
    assert_eq!(records.len(), 5);
}

/// A PATH that does not exist: one line on stderr, status 2, nothing read.
pub fn missing_path_exits_2_with_one_line(reader: &Reader) {
    let tree = Tree::new();
    let missing = tree.join("no-such-dir");
    let run = reader.json(&[&missing]);
    assert_one_line_error(&run);
    assert!(
        run.stderr.contains(&*missing.to_string_lossy()),
        "{}",
        run.stderr
    );
}

/// Usage errors: one line on stderr, status 2.
pub fn bad_arguments_exit_2_with_one_line(reader: &Reader) {
    let tree = Tree::new();
    let dir = tree.path().to_string_lossy().into_owned();
    let cases: [&[&str]; 6] = [
        &["--no-such-flag", &dir],
        &["--jobs", "0", &dir],
        &["--jobs", "lots", &dir],
        &["--ext", "", &dir],
        &["--format", "xml", &dir],
        &[],
    ];
    for args in cases {
        let run = reader.run(args);
        assert_one_line_error(&run);
    }
    let help = reader.run(&["--help"]);
    assert_eq!(help.code(), Some(0));
}

/// An unreadable file and an unreadable folder, as a user the permissions apply to (the suite
/// switches to `nobody` with `setpriv` when it runs as root, rather than skipping the case).
pub fn permission_denied_as_an_unprivileged_user(reader: &Reader) {
    let tree = Tree::new();
    let open = tree.file("open.txt", "readable\n");
    let secret = tree.file("secret.txt", "hidden\n");
    tree.file("locked/inside.txt", "hidden\n");
    tree.chmod("secret.txt", 0o000);
    tree.chmod("locked", 0o000);
    let args = ["--format", "json", "--progress", "never"];
    // SAFETY: geteuid has no preconditions.
    let cmd = if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        cmd.arg(reader.bin())
            .args(reader.command(&args).get_args())
            .arg(tree.path());
        cmd
    } else {
        let mut cmd = reader.command(&args);
        cmd.arg(tree.path());
        cmd
    };
    let run = finish(cmd);
    tree.chmod("locked", 0o755);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_read(&records, &open, b"readable\n");
    assert_failed(&records, &secret, "permission_denied");
    assert_failed(&records, &tree.join("locked"), "permission_denied");
    assert_eq!(records.len(), 3);
}

/// A PATH that is a file is read as one file; overlapping PATHs read each file once.
pub fn file_path_and_overlapping_paths(reader: &Reader) {
    let tree = Tree::new();
    let x = tree.file("a/x.txt", "one two\n");
    let y = tree.file("a/b/y.txt", "three\n");
    let single = reader.json(&[&x]);
    assert_eq!(single.code(), Some(0));
    let records = single.records();
    assert_eq!(records.len(), 1);
    assert_read(&records, &x, b"one two\n");
    let a = tree.join("a");
    let overlapping = reader.json(&[&a, &tree.join("a/b"), &a, &x]);
    assert_eq!(
        overlapping.code(),
        Some(0),
        "stderr: {}",
        overlapping.stderr
    );
    let records = overlapping.records();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_read(&records, &y, b"three\n");
}

/// An empty folder is a successful run of nothing.
pub fn empty_directory(reader: &Reader) {
    let tree = Tree::new();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0));
    assert!(run.records().is_empty());
    assert_eq!(run.summary()["files"], 0);
    assert_eq!(reader.run(&[tree.path()]).code(), Some(0));
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

/// The address space the memory-limit cases leave a reader: 64 MiB (`ulimit -v`, in KiB).
const MEMORY_LIMIT: &str = "-v 65536";

/// A sparse file of 1 GiB: exact counts (zeros are one long word), read within 64 MiB of address
/// space (`ulimit -v`), its resident memory bounded by the buffers.
pub fn sparse_file_exact_and_bounded_memory(reader: &Reader) {
    let tree = Tree::new();
    let len = 1u64 << 30;
    let sparse = tree.sparse("sparse.bin", len);
    let args = ["--jobs".as_ref(), "4".as_ref(), tree.path().as_os_str()];
    let run = reader.json_limited(MEMORY_LIMIT, HANG, &args);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(counts(record(&run.records(), &sparse)), (len, 0, 1));
    let rss = run.summary()["peak_rss_kib"]
        .as_u64()
        .expect("peak_rss_kib");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB reading a 1 GiB file");
}

/// Minimal RFC 4180 reader: rows of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "CSV ends with a complete row"
    );
    rows
}

/// Names with newlines, quotes, commas, tabs, backslashes and bytes that are not UTF-8: JSON and
/// CSV stay valid and parseable, one record each, and every record maps back to its file byte
/// for byte (JSON `{"bytes": base64}`, CSV `path_bytes`), so that two names that differ only in
/// invalid bytes never print the same.
pub fn awkward_names_keep_json_and_csv_valid(reader: &Reader) {
    use base64::Engine as _;
    use std::os::unix::ffi::OsStringExt;
    let tree = Tree::new();
    let names: Vec<std::path::PathBuf> = vec![
        "new\nline.txt".into(),
        "quote\"s.txt".into(),
        "comma,semi;.txt".into(),
        "tab\tname.txt".into(),
        "space name.txt".into(),
        r"back\xffslash.txt".into(),
        bytes_path(b"bad\xff\xfe.txt"),
        bytes_path(b"\xff\xfe.txt"),
        bytes_path(b"\xff\xfd.txt"),
        bytes_path(b"caf\xe9/\x80.txt"),
    ];
    for name in &names {
        tree.file(name, "a b c\n");
    }
    let mut want: Vec<std::path::PathBuf> = names.iter().map(|n| tree.join(n)).collect();
    want.sort_unstable();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), names.len());
    for name in &names {
        assert_read(&records, &tree.join(name), b"a b c\n");
    }
    let mut from_json: Vec<std::path::PathBuf> = run.lines()[..names.len()]
        .iter()
        .map(crate::record_path)
        .collect();
    from_json.sort_unstable();
    assert_eq!(from_json, want, "JSON paths map back to the files");
    let csv = reader.run(&["--format".as_ref(), "csv".as_ref(), tree.path().as_os_str()]);
    assert_eq!(csv.code(), Some(0));
    let text = std::str::from_utf8(&csv.stdout).expect("CSV output is UTF-8");
    let rows = parse_csv(text);
    assert_eq!(rows.len(), names.len() + 1, "header and one row a file");
    assert_eq!(rows[0][..2], ["type", "path"]);
    let raw_column = rows[0]
        .iter()
        .position(|c| c == "path_bytes")
        .expect("a path_bytes column");
    let mut from_csv: Vec<std::path::PathBuf> = rows[1..]
        .iter()
        .map(|row| match row[raw_column].as_str() {
            "" => std::path::PathBuf::from(&row[1]),
            encoded => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("path_bytes is base64");
                std::path::PathBuf::from(std::ffi::OsString::from_vec(raw))
            }
        })
        .collect();
    from_csv.sort_unstable();
    assert_eq!(from_csv, want, "CSV rows map back to the files");
    let mut shown: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    shown.sort_unstable();
    shown.dedup();
    assert_eq!(shown.len(), names.len(), "no two names print the same");
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.len() == rows[0].len() && r[0] == "file" && r[4] == "3")
    );
}

/// Levels of the deep tree of [`paths_longer_than_path_max`]: 8-byte names, so its deepest
/// files sit at about four times `PATH_MAX`.
const DEEP_LEVELS: usize = 2000;

/// A tree whose deepest files sit at several times `PATH_MAX` (docs/CONTRACT.md): every file is
/// read, exactly, under its full path — files every 250 levels, two side by side, the bottom —
/// in every model, with no `name_too_long` left; links down there are skipped, or followed with
/// `--follow` (a loop back up reported as `symlink_loop`); a `--files0-from` list of such paths
/// is read as PATHs are; and shards share the whole run out between them.
pub fn paths_longer_than_path_max(reader: &Reader) {
    let tree = Tree::new();
    let shallow = tree.file("shallow.txt", "near the top\n");
    let other = tree.file("other/o.txt", "reached through a link\n");
    let top = tree.join("deep");
    let mut files = vec![(shallow, b"near the top\n".to_vec())];
    tree.deep_with("deep", DEEP_LEVELS, 8, |level| {
        let mut items = Vec::new();
        let dir = Tree::deep_dir(&top, level, 8);
        if level % 250 == 0 || level == DEEP_LEVELS {
            let data = noise(1000 + level, level as u64);
            files.push((dir.join(format!("at-{level}.txt")), data.clone()));
            items.push(Deep::File(format!("at-{level}.txt"), data));
        }
        if level == 1500 {
            let data = b"beside another\n".to_vec();
            files.push((dir.join("beside.txt"), data.clone()));
            items.push(Deep::File("beside.txt".into(), data));
        }
        if level == 1800 {
            items.push(Deep::Link("loop".into(), "../../..".into()));
            items.push(Deep::Link("across".into(), tree.join("other")));
            let up = "../".repeat(50);
            items.push(Deep::Link(
                "to-file".into(),
                format!("{up}at-1750.txt").into(),
            ));
        }
        items
    });
    let at = |level| Tree::deep_dir(&top, level, 8);
    assert!(at(DEEP_LEVELS).as_os_str().len() > 4 * 4096);
    let links = ["loop", "across", "to-file"].map(|name| at(1800).join(name));
    let no_name_too_long = |run: &Run| {
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(!text.contains("name_too_long"), "{}", run.stderr);
    };

    let run = reader.json(&[tree.path()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    no_name_too_long(&run);
    let records = run.records();
    assert_eq!(
        records.len(),
        files.len() + 1 + links.len(),
        "{:?}",
        records.len()
    );
    for (path, data) in &files {
        assert_read(&records, path, data);
    }
    assert_read(&records, &other, b"reached through a link\n");
    for link in &links {
        assert_skipped(&records, link, "symlink");
    }
    let whole = records;
    let file_at = |level: usize| {
        let name = format!("at-{level}.txt");
        files
            .iter()
            .find(|(path, _)| path.ends_with(&name))
            .expect("a file at that level")
    };

    let followed = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_no_panic(&followed);
    assert_eq!(followed.code(), Some(1), "the loop: {}", followed.stderr);
    no_name_too_long(&followed);
    let records = followed.records();
    for (path, data) in &files {
        assert_read(&records, path, data);
    }
    assert_failed(&records, &links[0], "symlink_loop");
    assert_read(
        &records,
        &links[1].join("o.txt"),
        b"reached through a link\n",
    );
    assert_read(&records, &links[2], &file_at(1750).1);
    assert_eq!(records.len(), files.len() + 1 + 3, "{:?}", records.len());

    let missing = at(1900).join("gone.txt");
    let mut list = Vec::new();
    for path in [&file_at(1750).0, &at(1900), &missing] {
        list.extend_from_slice(path.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let lists = Tree::new();
    let list_file = lists.file("list0", &list);
    let listed = reader.json(&["--files0-from".as_ref(), list_file.as_os_str()]);
    assert_eq!(
        listed.code(),
        Some(1),
        "the missing file: {}",
        listed.stderr
    );
    no_name_too_long(&listed);
    let records = listed.records();
    assert_eq!(records.len(), 3, "{:?}", records.len());
    for (path, data) in [file_at(1750), file_at(2000)] {
        assert_read(&records, path, data);
    }
    assert_failed(&records, &missing, "not_found");

    let mut union = HashMap::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let run = reader.json(&["--shard".as_ref(), shard.as_ref(), tree.path().as_os_str()]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        for (path, record) in run.records() {
            assert!(
                union.insert(path.clone(), record).is_none(),
                "in two shards"
            );
        }
    }
    // Names only in messages: the paths are tens of kilobytes long.
    let names = |records: &HashMap<String, Value>| {
        let mut names: Vec<String> = records
            .keys()
            .map(|path| {
                format!(
                    "{} {}",
                    path.len(),
                    path.rsplit('/').next().unwrap_or_default()
                )
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&union), names(&whole));
    for (path, data) in &files {
        assert_read(&union, path, data);
    }
}

/// `ulimit -n 16`, with the default jobs and with `--jobs 200`: the reader adapts and reads
/// everything.
pub fn low_fd_limit_with_many_jobs(reader: &Reader) {
    let tree = Tree::new();
    for i in 0..300 {
        tree.file(format!("d{}/f{i}.txt", i % 3), format!("file {i}\n"));
    }
    for jobs in [None, Some("200")] {
        let mut args = vec![tree.path().as_os_str()];
        if let Some(jobs) = jobs {
            args.extend(["--jobs", jobs].map(std::ffi::OsStr::new));
        }
        let run = reader.json_limited("-n 16", HANG, &args);
        assert_no_panic(&run);
        assert_eq!(run.code(), Some(0), "--jobs {jobs:?}: {}", run.stderr);
        let records = run.records();
        assert_eq!(records.len(), 300);
        assert!(
            records.values().all(|r| r["error"].is_null()),
            "every file read"
        );
    }
}

/// `reader | head -1`: the closed pipe ends the run quietly with status 0.
pub fn broken_pipe_is_quiet_success(reader: &Reader) {
    let tree = Tree::new();
    for i in 0..3000 {
        tree.file(format!("d{}/f{i}.txt", i % 10), "some words here\n");
    }
    let args = [
        "--format".as_ref(),
        "json".as_ref(),
        tree.path().as_os_str(),
    ];
    let run = in_bash(reader, &args, |cmd| {
        format!("{cmd} | head -1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"")
    });
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "0",
        "the reader's status; stderr: {}",
        run.stderr
    );
    assert!(run.stderr.trim().is_empty(), "quiet: {}", run.stderr);
}

/// Output to a full disk (`/dev/full`) ends, in every format, with one line naming the problem
/// and status 2 — never a silent success.
pub fn output_to_a_full_disk_is_one_line_and_status_2(reader: &Reader) {
    let tree = Tree::new();
    for i in 0..200 {
        tree.file(format!("d{}/f{i}.txt", i % 5), "some words here\n");
    }
    for format in ["human", "json", "csv"] {
        let args = [
            "--format".as_ref(),
            format.as_ref(),
            tree.path().as_os_str(),
        ];
        let run = in_bash(reader, &args, |cmd| {
            format!("{cmd} >/dev/full; echo \"$?\"")
        });
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            "2",
            "{format}: the reader's status; stderr: {}",
            run.stderr
        );
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{format}: one line: {:?}", run.stderr);
        assert!(
            lines[0].contains("cannot write output") && lines[0].contains("No space left"),
            "{format}: {}",
            lines[0]
        );
    }
    // `--output` on a file system that fills up: the same line and status, and no FILE (nor
    // its temporary) left that could pass for a whole output.
    let full = tempfile::tempdir().expect("tempdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
        .arg(full.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: --output on a full file system needs to mount a tmpfs (root)");
        return;
    }
    let out = full.path().join("out.jsonl");
    let run = reader.run(&["-o".as_ref(), out.as_os_str(), tree.path().as_os_str()]);
    let left: Vec<_> = fs::read_dir(full.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let _ = Command::new("umount").arg(full.path()).status();
    assert_eq!(run.code(), Some(2), "stderr: {}", run.stderr);
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("No space left"), "{}", run.stderr);
    assert!(
        left.is_empty(),
        "nothing left on the full file system: {left:?}"
    );
}

/// SIGINT mid-run: the reader exits (status 130 or killed by SIGINT) and leaves no process. A
/// reader with worker processes is signalled once they run, and none may outlive it.
pub fn sigint_exits_130_and_leaves_no_process(reader: &Reader) {
    let tree = Tree::new();
    // 32 GiB of zeros: seconds of reading, so the run is still going when the signal comes.
    for i in 0..8 {
        tree.sparse(format!("big{i}.bin"), 4 << 30);
    }
    let mut cmd = reader.command(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        tree.path().as_os_str(),
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start the reader");
    let workers = if reader.has_processes() {
        procfs::wait_for_children(child.id(), 1, Duration::from_secs(10))
    } else {
        thread::sleep(Duration::from_millis(100));
        procfs::live_children(child.id())
    };
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the run ended before the signal: the case tells nothing"
    );
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = wait_or_kill(&mut child, Duration::from_secs(5));
    assert!(
        status.code() == Some(130) || status.signal() == Some(libc::SIGINT),
        "status {status:?}"
    );
    let left = procfs::left_after(&workers, Duration::from_secs(1));
    assert!(left.is_empty(), "processes left running: {left:?}");
}

/// A tree that changes while it is read: stable files whose counts are known, files deleted
/// and created again and again, one that grows and one that is cut shorter.
struct ChangingTree {
    tree: Tree,
    stable: Vec<(PathBuf, String)>,
    grow: PathBuf,
    shrink: PathBuf,
}

impl ChangingTree {
    /// Churn files: deleted and created again in turn while the tree changes.
    const CHURN: usize = 200;

    fn new(stable_files: usize) -> ChangingTree {
        let tree = Tree::new();
        let mut stable = Vec::new();
        for i in 0..stable_files {
            let data = format!("stable file {i}\n").repeat(i % 50 + 1);
            stable.push((
                tree.file(format!("stable/{}/f{i}.txt", i % 20), &data),
                data,
            ));
        }
        for i in 0..Self::CHURN {
            tree.file(format!("churn/c{i}.txt"), "short lived\n");
        }
        let grow = tree.file("grow.txt", "start\n");
        let shrink = tree.file("shrink.txt", "x ".repeat(4 << 20));
        ChangingTree {
            tree,
            stable,
            grow,
            shrink,
        }
    }

    /// Runs `read` while another thread changes the tree, and returns what it returned.
    fn while_changing<T>(&self, read: impl FnOnce() -> T) -> T {
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    for i in 0..Self::CHURN {
                        let p = self.tree.join(format!("churn/c{i}.txt"));
                        if round % 2 == 0 {
                            let _ = fs::remove_file(&p);
                        } else {
                            let _ = fs::write(&p, "short lived\n");
                        }
                    }
                    let _ = fs::OpenOptions::new()
                        .append(true)
                        .open(&self.grow)
                        .and_then(|mut f| {
                            use std::io::Write;
                            f.write_all(&b"more words\n".repeat(1000))
                        });
                    let _ = fs::OpenOptions::new()
                        .write(true)
                        .open(&self.shrink)
                        .and_then(|f| f.set_len((round % 7) * 100_000));
                    round += 1;
                }
            });
            let result = read();
            stop.store(true, Ordering::Relaxed);
            result
        })
    }

    /// Every entry of `run` reported once, the stable files with exact counts, and only
    /// vanished churn files failed, as `not_found`.
    fn check(&self, run: &Run, what: &str) {
        assert_no_panic(run);
        assert!(matches!(run.code(), Some(0 | 1)), "{what}: {}", run.stderr);
        let records = run.records();
        for (path, data) in &self.stable {
            assert_read(&records, path, data.as_bytes());
        }
        for (path, r) in &records {
            if !r["error"].is_null() {
                assert!(
                    path.contains("/churn/"),
                    "{what}: only vanishing files may fail: {r}"
                );
                assert_eq!(r["error"]["kind"], "not_found", "{what}: {r}");
            }
        }
        assert!(
            records.contains_key(&key(&self.grow)) && records.contains_key(&key(&self.shrink)),
            "{what}: the growing and the shrinking file are reported"
        );
    }
}

/// Files deleted, growing and truncated while the run goes on: the run ends, every entry is
/// reported once, and the stable files are counted exactly.
pub fn files_changing_during_the_run(reader: &Reader) {
    let changing = ChangingTree::new(2000);
    let run = changing.while_changing(|| reader.json(&[changing.tree.path()]));
    changing.check(&run, "one reader");
}

/// The readers of the other models: the binaries built beside `reader`'s, where there are
/// (`cargo test --workspace` builds them all before it runs any test).
fn sibling_readers(reader: &Reader) -> Vec<Reader> {
    const MODELS: [&str; 5] = [
        "reader-seq",
        "reader-threads",
        "reader-async",
        "reader-hybrid",
        "reader-proc",
    ];
    MODELS
        .iter()
        .map(|name| reader.bin().with_file_name(name))
        .filter(|bin| bin != reader.bin() && bin.is_file())
        .filter_map(|bin| {
            let sibling = Reader::new(bin.to_str()?, &[]);
            Some(if bin.ends_with("reader-proc") {
                sibling.with_processes()
            } else {
                sibling
            })
        })
        .collect()
}

/// Load: eight readers at once on one tree while its files are created, appended to, cut
/// shorter and deleted — this reader, the readers of the other models built beside it, and this
/// reader again with other `--jobs` to make eight — three times over. Every run reports each
/// entry once, the stable files with exact counts, and fails only files that vanished.
pub fn eight_readers_at_once_on_a_changing_tree(reader: &Reader) {
    let changing = ChangingTree::new(1000);
    let mut readers = vec![reader.clone()];
    readers.extend(sibling_readers(reader));
    for jobs in ["1", "2", "8", "32", "64", "3", "16"] {
        if readers.len() >= 8 {
            break;
        }
        readers.push(reader.clone().setting("--jobs", jobs));
    }
    for _ in 0..3 {
        eight_at_once(&changing, &readers);
    }
}

/// One run of each of `readers` on `changing`, all at once while it changes, each checked.
fn eight_at_once(changing: &ChangingTree, readers: &[Reader]) {
    let runs = changing.while_changing(|| {
        let children: Vec<_> = readers
            .iter()
            .map(|r| {
                let mut cmd = r.command(&[
                    "--format".as_ref(),
                    "json".as_ref(),
                    "--progress".as_ref(),
                    "never".as_ref(),
                    changing.tree.path().as_os_str(),
                ]);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("start the reader")
            })
            .collect();
        children
            .into_iter()
            .map(|child| crate::collect(child, HANG))
            .collect::<Vec<_>>()
    });
    for (r, run) in readers.iter().zip(&runs) {
        changing.check(run, &r.shell_words::<&str>(&[]));
    }
}

/// A read that panics (injected with `panic:PATTERN`) costs that file only: it is reported as
/// `worker_crashed`, naming the panic, and every other file is read.
pub fn a_panic_while_reading_costs_one_file(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..60 {
        let data = format!("file {i} of sixty\n").repeat(i + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 3), &data), data));
    }
    let boom = tree.file("d1/boom.txt", "never counted\n");
    let run = reader.clone().faults("panic:boom.txt").json(&[tree.path()]);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), files.len() + 1);
    assert_failed(&records, &boom, "worker_crashed");
    let message = record(&records, &boom)["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("panicked"), "{message}");
    for (path, data) in &files {
        assert_read(&records, path, data.as_bytes());
    }
}

/// Under a limit on the threads and processes the reader may start (`ulimit -u`, as an
/// unprivileged user it applies to), a run either reads everything or ends with one line on
/// stderr and status 2 — with every entry reported and the summary if records had begun —
/// and never panics. Needs root to switch users; skipped, visibly, without.
pub fn a_thread_limit_ends_in_one_line_or_a_complete_run(reader: &Reader) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching to an unprivileged user for `ulimit -u` needs root");
        return;
    }
    let tree = Tree::new();
    for i in 0..200 {
        tree.file(format!("d{}/f{i}.txt", i % 4), "a few words\n");
    }
    // A user of this configuration's own: the limit counts every process of the user, and the
    // configurations of one test binary run at the same time.
    let uid = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        reader.shell_words::<&str>(&[]).hash(&mut hasher);
        60_000 + hasher.finish() % 5_000
    };
    for limit in [1, 2, 3, 4, 6, 10] {
        for format in ["json", "human"] {
            let script = format!(
                "ulimit -u {limit} && exec setpriv --reuid={uid} --regid={uid} --clear-groups -- {}",
                reader.shell_words(&[
                    "--format".as_ref(),
                    format.as_ref(),
                    "--progress".as_ref(),
                    "never".as_ref(),
                    tree.path().as_os_str(),
                ])
            );
            let mut cmd = Command::new("bash");
            cmd.args(["-c", &script]);
            let run = finish(cmd);
            let what = format!("ulimit -u {limit}, {format}");
            assert_no_panic(&run);
            match run.code() {
                Some(0) if format == "json" => assert_eq!(run.records().len(), 200, "{what}"),
                Some(0) => assert!(run.stderr.trim().is_empty(), "{what}: {}", run.stderr),
                Some(2) => {
                    assert_eq!(run.stderr_lines().len(), 1, "{what}: {}", run.stderr);
                    assert!(run.stderr.contains("error: "), "{what}: {}", run.stderr);
                    if format == "json" && !run.stdout.is_empty() {
                        assert_eq!(run.records().len(), 200, "{what}");
                    }
                }
                other => panic!("{what}: status {other:?}, stderr: {}", run.stderr),
            }
        }
    }
}

/// A read that never returns (`hang:` injected, as a stalled mount would do), with
/// `--timeout`: it is reported as `timeout`, the run goes on with a thread or worker in place
/// of the stuck one, reads every other file and ends. The limit is taken in seconds, with `s`
/// and with `ms`; one that is not a positive time is a usage error.
pub fn a_read_that_never_ends_is_a_timeout_and_the_run_goes_on(reader: &Reader) {
    let tree = Tree::new();
    let mut files = Vec::new();
    for i in 0..40 {
        let data = format!("file {i} is read\n").repeat(i % 5 + 1);
        files.push((tree.file(format!("d{}/f{i}.txt", i % 2), &data), data));
    }
    let hung: Vec<PathBuf> = (0..2)
        .map(|i| tree.file(format!("d{i}/hung-{i}.txt"), "never counted\n"))
        .collect();
    for limit in ["2s", "1.5", "500ms"] {
        let run = reader
            .clone()
            .setting("--timeout", limit)
            .json(&[&files[0].0]);
        assert_eq!(run.code(), Some(0), "--timeout {limit}: {}", run.stderr);
    }
    for bad in ["0", "soon", "2h"] {
        let run = reader.clone().setting("--timeout", bad).run(&[tree.path()]);
        assert_one_line_error(&run);
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    }
    let run = reader
        .clone()
        .setting("--timeout", "300ms")
        .faults("hang:hung-")
        .json(&["--jobs".as_ref(), "2".as_ref(), tree.path().as_os_str()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), files.len() + hung.len());
    for path in &hung {
        assert_failed(&records, path, "timeout");
    }
    for (path, data) in &files {
        assert_read(&records, path, data.as_bytes());
    }
}

/// Every entry of the hostile file system reported once, as [`HostileFs::expected`] says.
fn assert_hostile(records: &HashMap<String, Value>, expected: &[(PathBuf, Expected)]) {
    for (path, want) in expected {
        match want {
            Expected::Read(data) => assert_read(records, path, data),
            Expected::Failed(kind) => assert_failed(records, path, kind),
        }
    }
    assert_eq!(records.len(), expected.len(), "{:?}", records.keys());
}

/// What a run on the hostile file system with a time limit did ([`run_stalled`]).
struct Stalled {
    /// The run, its output read to the end.
    run: Run,
    /// How long after the start its output ended.
    took: Duration,
    /// The process had exited (it may not have been reaped) 2 s after its output ended.
    exited: bool,
    /// Reads and listings of the file system that waited for an answer before it let go.
    stalled: (usize, usize),
    /// Worker processes still there once the file system let go.
    left: Vec<u32>,
}

/// Runs `reader` with `--timeout 500ms` and JSON output over `path` of the hostile file system
/// `fs`, reading its output to the end but for at most `bound`; then releases what the file
/// system holds and reaps the reader. Nothing is judged before the file system lets go, so
/// that no failing case leaves a reader in uninterruptible sleep.
fn run_stalled(reader: &Reader, fs: &HostileFs, path: &Path, bound: Duration) -> Stalled {
    let mut cmd = reader.clone().setting("--timeout", "500ms").command(&[
        "--format".as_ref(),
        "json".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        path.as_os_str(),
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start the reader");
    let pid = child.id();
    // Read to the end of the output: a process that cannot be reaped can still close it.
    let (ended_tx, ended) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("piped stdout");
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf); // whole-file read ok: the reader's output, checked whole
        let _ = ended_tx.send((buf, started.elapsed()));
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf); // whole-file read ok: the reader's stderr
        String::from_utf8_lossy(&buf).into_owned()
    });
    let mut workers = BTreeSet::new();
    let output = loop {
        workers.extend(procfs::children(pid).into_iter().map(|(child, _)| child));
        match ended.recv_timeout(Duration::from_millis(20)) {
            Ok(output) => break Some(output),
            Err(_) if started.elapsed() < bound => {}
            Err(_) => break None,
        }
    };
    let exit_deadline = Instant::now() + Duration::from_secs(2);
    while procfs::alive(pid) && Instant::now() < exit_deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let exited = !procfs::alive(pid);
    let stalled = (fs.stalled_reads(), fs.stalled_listings());
    fs.release();
    let status = wait_or_kill(&mut child, Duration::from_secs(30));
    let left: Vec<u32> = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left: Vec<u32> = workers
                .iter()
                .copied()
                .filter(|&w| procfs::alive(w))
                .collect();
            if left.is_empty() || Instant::now() >= deadline {
                break left;
            }
            thread::sleep(Duration::from_millis(20));
        }
    };
    let stderr = errors.join().unwrap_or_default();
    let Some((stdout, took)) = output else {
        panic!("the output was still open {bound:?} after the start; stderr: {stderr}");
    };
    Stalled {
        run: Run {
            status,
            stdout,
            stderr,
        },
        took,
        exited,
        stalled,
        left,
    }
}

/// The hostile FUSE file system ([`HostileFs`]: a file whose read never returns, one whose read
/// fails half-way, sizes that lie both ways, a listing that fails half-way, a slow listing, a
/// listing that gives a file and a subdirectory twice, a listing that never returns).
///
/// Without its stalled file and directory every other entry is reported once with the right
/// counts or kind, with no time limit. Whole, with `--timeout 500ms`: every record and the
/// summary are written and the output closed within the limit and a moment (a second more for
/// reader-proc, which waits that long for a killed worker to die), the process exits although
/// a thread of it (or its worker) is stuck in the kernel — it is reaped once the file system
/// lets the read go, with status 1 — and nothing is left in uninterruptible sleep after the
/// mount is gone. Skipped, visibly, where FUSE cannot be mounted.
pub fn a_hostile_file_system_is_read_to_its_end(reader: &Reader) {
    let Some(fs) = HostileFs::mount() else {
        return;
    };
    let stalls = Path::new(hostile::LISTING_STALLS);
    let others: Vec<PathBuf> = [
        Path::new(hostile::PLAIN),
        Path::new(hostile::FAILS_HALF_WAY),
        Path::new(hostile::SIZE_LARGER),
        Path::new(hostile::SIZE_SMALLER),
        Path::new(hostile::LISTING_FAILS),
        Path::new(hostile::SLOW_LISTING),
        Path::new(hostile::REPEATS_NAMES),
        &stalls.join("before.txt"),
        &stalls.join("after"),
        &stalls.join("beside.txt"),
    ]
    .iter()
    .map(|name| fs.join(name))
    .collect();
    let run = reader.json(&others);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    assert_hostile(&run.records(), &fs.expected(false));
    let whole = fs.expected(true);

    let bound = if reader.has_processes() {
        Duration::from_millis(500) + Duration::from_secs(3)
    } else {
        Duration::from_millis(500) + Duration::from_secs(2)
    };
    let stalled = run_stalled(reader, &fs, fs.root(), bound);
    drop(fs);
    let Stalled {
        run,
        took,
        exited,
        stalled,
        left,
    } = stalled;
    assert!(
        took <= bound,
        "the output ended after {took:?}, past {bound:?}"
    );
    assert!(
        stalled.0 >= 1 && stalled.1 >= 1,
        "the stalled file was read and the stalled directory listed ({stalled:?} waiting)"
    );
    assert!(
        exited,
        "the process had not exited 2 s after its output ended"
    );
    assert!(
        left.is_empty(),
        "workers left after the file system let go: {left:?}"
    );
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    assert_hostile(&run.records(), &whole);
    let summary = run.summary();
    if reader.has_processes() {
        assert!(summary["workers_left"].as_u64() >= Some(1), "{summary}");
    } else {
        assert!(summary["stuck_reads"].as_u64() >= Some(1), "{summary}");
    }
    assert!(summary["stuck_listings"].as_u64() >= Some(1), "{summary}");
    assert!(
        run.stderr.contains("still stuck in the kernel"),
        "{}",
        run.stderr
    );
}

/// A directory whose listing never returns (the hostile file system's
/// [`hostile::NEVER_LISTED`]), with `--timeout 500ms`: it is reported once, as `timeout`, naming
/// it; every file beside it, and below the directory walked after it, is read; every record and
/// the summary are written and the output ends within the limit and a second, in every model;
/// the process exits although a thread of it is stuck in the kernel (`stuck_listings`, and a
/// line on stderr), is reaped with status 1 once the file system lets go, and leaves no worker
/// behind. Skipped, visibly, where FUSE cannot be mounted.
pub fn a_listing_that_never_returns_costs_one_directory(reader: &Reader) {
    let Some(fs) = HostileFs::mount() else {
        return;
    };
    let tree = Path::new(hostile::LISTING_STALLS);
    let expected = fs.expected_under(tree, true);
    let bound = Duration::from_millis(500) + Duration::from_secs(1);
    let stalled = run_stalled(reader, &fs, &fs.join(tree), bound);
    let never = fs.join(tree).join(hostile::NEVER_LISTED);
    drop(fs);
    let Stalled {
        run,
        took,
        exited,
        stalled,
        left,
    } = stalled;
    assert!(
        took <= bound,
        "the output ended after {took:?}, past {bound:?}"
    );
    assert!(
        stalled.1 >= 1,
        "the directory was listed ({stalled:?} waiting)"
    );
    assert!(
        exited,
        "the process had not exited 2 s after its output ended"
    );
    assert!(left.is_empty(), "workers left: {left:?}");
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_hostile(&records, &expected);
    assert_eq!(records.len(), 5, "{:?}", records.keys());
    let message = records[&key(&never)]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("timeout") && message.contains("listing"),
        "{message}"
    );
    let summary = run.summary();
    assert!(summary["stuck_listings"].as_u64() >= Some(1), "{summary}");
    assert!(
        run.stderr.contains("still stuck in the kernel"),
        "{}",
        run.stderr
    );
}

/// A folder of 100,000 files: all read, each once, within 64 MiB of address space
/// (`ulimit -v`: a reader's memory does not grow with the tree).
///
/// The tree is built once under `shared` (the test target's scratch folder) and reused by every
/// configuration and every later run: making 100,000 files costs more than reading them.
pub fn hundred_thousand_files(reader: &Reader, shared: &Path) {
    let tree = shared_tree(shared, "hundred-thousand-files", |root| {
        for d in 0..100 {
            let dir = root.join(format!("d{d:03}"));
            fs::create_dir_all(&dir)?;
            for f in 0..1000 {
                fs::write(dir.join(format!("{f:04}")), "x\n")?;
            }
        }
        Ok(())
    });
    // Cold, on a slow disk busy with other cases' writes, 100,000 opens can take minutes: the
    // guard is for hangs, not for speed.
    let run = reader.json_limited(MEMORY_LIMIT, Duration::from_secs(600), &[tree.as_os_str()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(run.records().len(), 100_000);
    let summary = run.summary();
    assert_eq!(
        (summary["ok"].as_u64(), summary["lines"].as_u64()),
        (Some(100_000), Some(100_000))
    );
}

/// A read-only tree under `shared/name`, built by `build` the first time it is asked for: in a
/// private folder renamed into place when complete, so concurrent tests and test processes
/// never see half a tree.
fn shared_tree(
    shared: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::path::PathBuf {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let done = shared.join(name);
    if !done.is_dir() {
        fs::create_dir_all(shared).expect("create the scratch folder");
        let partial = tempfile::Builder::new()
            .prefix(&format!("{name}-partial-"))
            .tempdir_in(shared)
            .expect("create a private folder");
        build(partial.path()).expect("build the shared tree");
        // Another process may have finished first: then its tree is used and ours dropped.
        if fs::rename(partial.path(), &done).is_ok() {
            std::mem::forget(partial);
        }
    }
    done
}

/// Files partly in the page cache are counted whole, wherever the cached pages stop: a read
/// that ends where the cache ends (a non-blocking read, a read from the page cache before a
/// read from the device) is not the end of the file. Every state of [`cache::Pages::PARTLY`]
/// at the sizes where the readers change their way of reading: a page, a few pages, just over
/// one read's buffer, just under and over the largest file read only from the cache (1 MiB),
/// and above the size from which files are mapped (64 MiB). The tree lives in `scratch`, on a
/// disk, where pages can be dropped; a file system that keeps them fails the case, saying so,
/// rather than letting it pass with every file cached.
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
        expected.insert(key(&path), (oracle(&data), *pages));
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

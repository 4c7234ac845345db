//! The filters: `--ext`, `--gitignore` (against git itself), `--no-hidden`, `--exclude`,
//! `--max-depth`, and the size filters, which report what they leave out.

use std::path::Path;
use std::process::Command;

use super::checks::{assert_one_line_error, assert_read, assert_skipped};
use crate::run::{Reader, Run};
use crate::tree::Tree;

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

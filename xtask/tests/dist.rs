//! `cargo xtask dist` through its command line, as an installation: every binary it lays out
//! runs from its `bin/`, `reader-proc` reads a tree through the `reader-proc-worker` installed
//! beside it, every man page renders and every bash completion completes. Built with `--dev`:
//! the same `cargo build --workspace --bins` as CI's `bench --quick`, which then builds nothing
//! again; the release binaries differ only in their profile.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reader_testkit::{Reader, Tree, finish, finish_within, tools};

/// Every binary `cargo install --path` puts on a user's PATH, from the crates of the workspace.
const BINARIES: &[&str] = &[
    "reader-async",
    "reader-hybrid",
    "reader-merge",
    "reader-proc",
    "reader-proc-worker",
    "reader-read-only",
    "reader-seq",
    "reader-threads",
];

/// Longer than `dist --dev` takes, building every binary from nothing on two cores.
const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The environment variable that would name the worker program, which an installation does
/// not need.
const WORKER_ENV: &str = "READER_PROC_WORKER";

#[test]
fn dist_lays_out_an_installation_whose_binaries_pages_and_completions_work() {
    let dir = Tree::new();
    let out = dir.path().join("dist");
    let mut dist = Command::new(env!("CARGO_BIN_EXE_xtask"));
    dist.args(["dist", "--dev", "--out"]).arg(&out);
    let run = finish_within(dist, BUILD_LIMIT);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);

    let bin = out.join("bin");
    let mut installed: Vec<String> = std::fs::read_dir(&bin)
        .expect("bin/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    installed.sort();
    assert_eq!(installed, BINARIES);

    for name in BINARIES
        .iter()
        .filter(|name| **name != "reader-proc-worker")
    {
        let mut version = Command::new(bin.join(name));
        version.arg("--version");
        let version = finish(version);
        let stdout = String::from_utf8_lossy(&version.stdout);
        assert!(
            version.code() == Some(0)
                && stdout.starts_with(&format!("{name} {} ", env!("CARGO_PKG_VERSION"))),
            "{name} --version: {stdout}{}",
            version.stderr
        );

        let page = out.join(format!("share/man/man1/{name}.1"));
        if let Some(text) = tools::render_man_page(&page) {
            assert!(text.contains("EXIT STATUS"), "{name}: {text}");
        }
        let bash = out.join(format!("share/bash-completion/completions/{name}"));
        if let Some(candidates) = tools::bash_completions(&bash, &[name, "--for"]) {
            assert_eq!(candidates, ["--format"], "{name}");
        }
        for other in [
            format!("share/zsh/site-functions/_{name}"),
            format!("share/fish/vendor_completions.d/{name}.fish"),
            format!("share/elvish/lib/{name}.elv"),
            format!("share/powershell/_{name}.ps1"),
        ] {
            let script = std::fs::read_to_string(out.join(&other)).expect(&other);
            assert!(
                script.contains("--format") || script.contains("-l format"),
                "{other}"
            );
        }
    }

    reader_proc_reads_through_the_worker_beside_it(&bin);
}

/// `reader-proc` from `bin`, with nothing naming its worker, reads a tree with worker processes;
/// alone in a folder, it says it cannot find the worker: it looks beside itself.
fn reader_proc_reads_through_the_worker_beside_it(bin: &Path) {
    let tree = Tree::new();
    for i in 0..12 {
        tree.file(format!("d/f{i}.txt"), "one two\nthree\n");
    }
    let proc = bin.join("reader-proc");
    let reader =
        Reader::new(proc.to_str().expect("a UTF-8 path"), &["-j", "2"]).env_remove(WORKER_ENV);
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let summary = run.summary();
    assert_eq!(
        (&summary["strategy"], &summary["ok"]),
        (&"proc".into(), &12.into())
    );
    let records = run.records();
    assert!(
        records
            .values()
            .all(|r| r["worker"].as_str().is_some_and(|w| w.starts_with("pid-"))),
        "read by worker processes: {records:?}"
    );

    let alone = Tree::new();
    let lone = alone.path().join("reader-proc");
    std::fs::copy(&proc, &lone).expect("copied");
    let lone = Reader::new(lone.to_str().expect("a UTF-8 path"), &[]).env_remove(WORKER_ENV);
    let run = lone.run(&[tree.path()]);
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    let beside = alone.path().join("reader-proc-worker");
    assert!(
        run.stderr
            .contains(&format!("{} not found", beside.display())),
        "{}",
        run.stderr
    );
}

//! The command line's promises that are the same for every binary, tried on `reader-seq`: the
//! usage errors, `--progress always` and `-v` without a terminal, the CPU figures of a binary
//! started by `exec` (as `cargo run` starts it), and the time of a long run for people.

use std::process::Command;

use reader_testkit::{Reader, Tree, finish};

const BIN: &str = env!("CARGO_BIN_EXE_reader-seq");

fn tree() -> Tree {
    let tree = Tree::new();
    for i in 0..20 {
        tree.file(format!("d/f{i}.txt"), "one two\nthree\n");
    }
    tree
}

#[test]
fn with_no_path_the_error_names_it_and_how_to_get_help() {
    let run = Reader::new(BIN, &[]).run::<&str>(&[]);
    assert_eq!(run.code(), Some(2));
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains("<PATH>"), "{}", run.stderr);
    assert!(lines[0].ends_with("try '--help'"), "{}", run.stderr);
}

#[test]
fn progress_always_writes_plain_lines_when_stderr_is_not_a_terminal() {
    let tree = tree();
    let reader = Reader::new(BIN, &[]).faults("sleep:1300:f3.txt");
    let run = reader.run(&[
        "--progress".as_ref(),
        "always".as_ref(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let progress: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("reader-seq: ") && l.contains(" records, "))
        .collect();
    assert!(!progress.is_empty(), "a progress line: {:?}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no terminal codes: {:?}",
        run.stderr
    );
    let quiet = reader.run(&[tree.path()]);
    assert!(
        quiet.stderr.is_empty(),
        "auto shows nothing: {:?}",
        quiet.stderr
    );
}

#[test]
fn verbose_lines_have_no_colour_when_stderr_is_not_a_terminal() {
    let tree = tree();
    let run = Reader::new(BIN, &[]).run(&["-v".as_ref(), tree.path().as_os_str()]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(run.stderr.lines().count() >= 20, "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
}

#[test]
fn cpu_figures_are_the_readers_own_after_an_exec() {
    let tree = tree();
    // The shell burns CPU, then becomes the reader, as `cargo run` does after its build.
    let script =
        r#"i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; exec "$0" --format json "$1""#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script, BIN]).arg(tree.path());
    let start = std::time::Instant::now();
    let run = finish(cmd);
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let summary = run.summary();
    let cpu = summary["cpu_user_ms"].as_f64().expect("cpu_user_ms")
        + summary["cpu_sys_ms"].as_f64().expect("cpu_sys_ms");
    let elapsed = summary["elapsed_ms"].as_f64().expect("elapsed_ms");
    assert!(
        wall_ms > 3.0 * elapsed,
        "the shell did burn time first: {wall_ms} ms"
    );
    // Two cores at most: the reader cannot use more than twice its own wall time, plus the
    // start-up before its clock began.
    assert!(
        cpu < 2.0 * elapsed + 20.0,
        "cpu {cpu} ms for a run of {elapsed} ms"
    );
}

#[test]
fn a_long_run_prints_its_time_in_seconds() {
    let tree = tree();
    let reader = Reader::new(BIN, &[]).faults("sleep:1100:f7.txt");
    let run = reader.run(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let timing = stdout
        .lines()
        .find(|l| l.contains("files/s"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        timing.trim_start().starts_with("1.") && timing.contains(" s ("),
        "{timing}"
    );
}

#[test]
fn duplicates_refuse_what_does_not_combine_in_one_line() {
    let tree = tree();
    let path = tree.path().to_str().expect("a UTF-8 temporary path");
    for (args, says) in [
        (
            &["--duplicates", "--digest", "sha256", path][..],
            "--digest",
        ),
        (
            &["--duplicates", "--format", "sums", path][..],
            "--format sums",
        ),
        (&["--format", "fdupes", path][..], "--duplicates"),
        (&["--include-empty", path][..], "--duplicates"),
        (
            &[
                "--duplicates",
                "--shard",
                "0/2",
                "--shard-split",
                "1MiB",
                "--format",
                "json",
                path,
            ][..],
            "--shard-split",
        ),
    ] {
        let run = Reader::new(BIN, &[]).run(args);
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr);
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {}", run.stderr);
        assert!(lines[0].contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn duplicates_go_to_an_output_file_once_complete() {
    let tree = tree();
    let out = Tree::new();
    let target = out.join("dupes.jsonl");
    let run = Reader::new(BIN, &[]).run(&[
        "--duplicates".as_ref(),
        "--output".as_ref(),
        target.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let written = std::fs::read_to_string(&target).expect("the output file");
    let lines: Vec<&str> = written.lines().collect();
    // Twenty copies of one content: one group, and the summary.
    assert_eq!(lines.len(), 2, "{written}");
    assert!(
        lines[0].starts_with(r#"{"type":"duplicates","size":14,"wasted":266,"#),
        "{written}"
    );
    assert!(lines[1].contains(r#""duplicates":20"#), "{written}");
}

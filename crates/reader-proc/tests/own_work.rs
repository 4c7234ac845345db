//! Your own work in worker processes, through the public API: the `long_lines` example is a
//! program that is its own worker (`worker::main_with`), and a parent that says the wrong
//! output type, or none, is refused at the handshake.

use std::path::PathBuf;
use std::process::Command;

use reader_proc::ProcReader;

/// The example program, which `cargo test` builds beside the tests.
fn example() -> PathBuf {
    let deps = std::env::current_exe().expect("the test's path");
    let profile = deps
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let program = profile.join("examples").join("long_lines");
    assert!(
        program.exists(),
        "{} is missing: `cargo test -p reader-proc` builds it",
        program.display()
    );
    program
}

#[test]
fn a_program_of_your_own_runs_its_work_in_its_workers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = "x".repeat(150);
    let mut expected = Vec::new();
    for i in 0..40 {
        let text = format!("{long}\nshort\n").repeat(i % 4) + &"y".repeat(101 * (i % 2));
        let path = dir.path().join(format!("f{i}.txt"));
        std::fs::write(&path, &text).expect("write");
        expected.push(format!("{} {}", i % 4 + i % 2, path.display()));
    }
    let out = Command::new(example())
        .arg(dir.path())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    expected.sort_unstable();
    assert_eq!(lines, expected);
}

#[test]
fn a_worker_running_another_work_is_refused_at_the_handshake() {
    let refused = |reader: ProcReader| {
        reader
            .worker(example())
            .jobs(1)
            .start()
            .map(|_| ())
            .expect_err("the handshake refuses it")
            .to_string()
    };
    let none = refused(ProcReader::new());
    assert!(
        none.contains("it runs u64") && none.contains("counting alone"),
        "{none}"
    );
    let other = refused(ProcReader::new().output::<String>());
    assert!(other.contains("alloc::string::String"), "{other}");
}

//! How a run ends: a missing PATH or bad arguments (one line, status 2), a closed pipe (quiet
//! success), a full disk (one line, status 2) and SIGINT (130, no process left).

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use super::checks::{assert_one_line_error, in_bash};
use crate::procfs;
use crate::run::{Reader, wait_or_kill};
use crate::tree::Tree;

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

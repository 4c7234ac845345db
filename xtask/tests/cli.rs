//! The xtask binary through its command line: the measuring helper, `fixtures --out`, and a
//! `bench --dir` that runs `wc` (always present on Linux) without building anything.

use std::path::{Path, PathBuf};
use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_helper_reports_usage_and_passes_the_exit_status_on() -> std::io::Result<()> {
    let dir = temp_dir("helper");
    std::fs::create_dir_all(&dir)?;
    let report = dir.join("report");
    let status = xtask()
        .args([
            "__measure".as_ref(),
            report.as_os_str(),
            "sh".as_ref(),
            "-c".as_ref(),
            "exit 5".as_ref(),
        ])
        .status()?;
    assert_eq!(status.code(), Some(5));
    let line = std::fs::read_to_string(&report)?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 6, "{line}");
    assert!(fields[4].parse::<u64>().is_ok_and(|kib| kib > 0), "{line}");
    assert_eq!(fields[5], "0", "no --vm, no virtual size: {line}");
    let bad = xtask().arg("__measure").output()?;
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir)
}

#[test]
fn fixtures_go_where_asked_with_a_manifest_beside_the_tree() -> std::io::Result<()> {
    let dir = temp_dir("fixtures");
    let out = xtask()
        .args(["fixtures", "--profile", "tiny", "--out"])
        .arg(&dir)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json"))?)?;
    assert_eq!(manifest["profile"], "tiny");
    assert_eq!(manifest["files"], 300);
    assert!(manifest["words"].as_u64().is_some_and(|w| w > 0));
    assert!(dir.join("tree").is_dir());
    let wrong = xtask().args(["fixtures", "--profile", "nope"]).output()?;
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("unknown profile 'nope'") && stderr.lines().count() == 1,
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir)
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(path))?;
    std::fs::write(path, text)
}

#[test]
fn bench_dir_runs_wc_and_writes_the_report() -> std::io::Result<()> {
    let dir = temp_dir("bench");
    let tree = dir.join("my tree");
    write(&tree.join("a.txt"), "one two\nthree\n")?;
    write(&tree.join("sub/b.txt"), "four")?;
    let out_dir = dir.join("out");
    let out = xtask()
        .args([
            "bench",
            "--no-build",
            "--readers",
            "wc",
            "--runs",
            "2",
            "--dir",
        ])
        .arg(&tree)
        .arg("--out")
        .arg(&out_dir)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("PERFORMANCE RESULTS — my tree (2 files"),
        "{stdout}"
    );
    assert!(stdout.contains("fastest: wc"), "{stdout}");
    let report = std::fs::read_dir(&out_dir)?
        .next()
        .map(|e| e.map(|e| e.path()))
        .transpose()?
        .unwrap_or_default();
    for name in ["results.json", "results.csv", "report.md", "report.html"] {
        assert!(report.join(name).is_file(), "{name}");
    }
    let csv = std::fs::read_to_string(report.join("results.csv"))?;
    assert_eq!(
        csv.lines().count(),
        1 + 3,
        "warm-up and two runs of wc:\n{csv}"
    );
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.contains(",0,2,0,0,18,2,4,") && l.contains(",OK,")),
        "{csv}"
    );
    for args in [
        &["bench", "--readers", "nope"][..],
        &["bench", "--dir", "/no/such/folder/here"],
        &["bench", "--profile", "huge"],
    ] {
        let bad = xtask().args(args).output()?;
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(1), "{args:?}");
        assert!(
            stderr.starts_with("xtask: error: ") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir)
}

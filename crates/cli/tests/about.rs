//! What a binary says of itself, tried on the binaries of this crate: `--version` (the git
//! revision and the counter's kernel), the man page of `--generate man` (the records and exit
//! statuses of docs/CONTRACT.md, rendered by the system's `man`) and the bash completion of
//! `--generate complete-bash`. `cargo xtask dist`'s test tries every binary of the workspace.

use std::path::Path;
use std::process::Command;

use reader_testkit::{finish, tools};

const SEQ: &str = env!("CARGO_BIN_EXE_reader-seq");
const MERGE: &str = env!("CARGO_BIN_EXE_reader-merge");
const READ_ONLY: &str = env!("CARGO_BIN_EXE_reader-read-only");

/// What `bin ARGS` printed on stdout, having succeeded with nothing on stderr.
fn stdout_of(bin: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    let run = finish(cmd);
    assert!(
        run.code() == Some(0) && run.stderr.is_empty(),
        "{bin} {args:?}: status {:?}, {}",
        run.code(),
        run.stderr
    );
    String::from_utf8(run.stdout).expect("UTF-8")
}

/// The revision of the checkout the tests run in, if they run in one (as `build.rs` asks it).
fn checkout_revision() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    git(&["ls-files", "--error-unmatch", "Cargo.toml"])?;
    git(&["rev-parse", "HEAD"])
}

/// The counter's kernel this CPU runs, by the CPU's own flags.
fn expected_kernel() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("popcnt")
        {
            return "avx512";
        }
        if is_x86_feature_detected!("avx2") {
            return "avx2";
        }
    }
    "portable"
}

#[test]
fn version_names_the_revision_and_the_counters_kernel() {
    let version = stdout_of(SEQ, &["--version"]);
    let lines: Vec<&str> = version.lines().collect();
    let first = format!("reader-seq {}", env!("CARGO_PKG_VERSION"));
    match checkout_revision() {
        Some(head) => {
            let rest = lines[0]
                .strip_prefix(&format!("{first} (rev "))
                .unwrap_or_else(|| {
                    panic!("built from a checkout, the revision is named: {version}")
                });
            let short = rest.strip_suffix(')').expect("(rev HASH)");
            assert!(
                short.len() == 12 && head.starts_with(short),
                "{short} is not HEAD ({head})"
            );
        }
        None => assert_eq!(lines[0], first, "no checkout, no revision"),
    }
    assert_eq!(lines[1..], [format!("counter: {}", expected_kernel())]);
    assert_eq!(stdout_of(SEQ, &["-V"]), version, "-V says the same");

    let merge = stdout_of(MERGE, &["--version"]);
    assert_eq!(
        merge.lines().next(),
        lines
            .first()
            .map(|l| l.replacen("reader-seq", "reader-merge", 1))
            .as_deref(),
    );
    assert_eq!(merge.lines().count(), 1, "merge counts nothing: {merge}");
    let read_only = stdout_of(READ_ONLY, &["--version"]);
    assert_eq!(
        read_only.lines().count(),
        1,
        "it counts nothing: {read_only}"
    );
}

/// The names docs/CONTRACT.md gives the record types, error kinds, skip reasons and exit
/// statuses.
fn contract_names() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CONTRACT.md");
    let contract = std::fs::read_to_string(&path).expect("docs/CONTRACT.md");
    let mut names: Vec<String> = contract
        .split("\"type\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    // The bullets "- `error.kind`: `a`, `b` (…), …" and "- `reason`: …", to the next bullet.
    for bullet in ["- `error.kind`:", "- `reason`:"] {
        let (_, rest) = contract.split_once(bullet).expect(bullet);
        let list = rest.split("\n- ").next().unwrap_or_default();
        let mut quoted = list.split('`').skip(1).step_by(2);
        names.extend(
            quoted
                .by_ref()
                .filter(|name| {
                    name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !name.is_empty()
                })
                .map(str::to_string),
        );
    }
    let (_, statuses) = contract
        .split_once("## Exit status")
        .expect("exit statuses");
    names.extend(
        statuses
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string),
    );
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_man_page_has_what_the_contract_promises_and_renders() {
    let names = contract_names();
    for must in [
        "file",
        "part",
        "summary",
        "not_found",
        "size_limit",
        "fifo",
        "too_large",
        "130",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} read from the contract: {names:?}"
        );
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (bin, name) in [
        (SEQ, "reader-seq"),
        (MERGE, "reader-merge"),
        (READ_ONLY, "reader-read-only"),
    ] {
        let roff = stdout_of(bin, &["--generate", "man"]);
        assert!(
            roff.starts_with(".ie \\n(.g"),
            "{name}: roff, with its preamble:\n{roff}"
        );
        for section in [".SH \"EXIT STATUS\"", ".SH OUTPUT"] {
            assert!(roff.contains(section), "{name}: {section}\n{roff}");
        }
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !roff.contains(&format!("\\fB{n}\\fR")))
            .collect();
        assert!(missing.is_empty(), "{name}'s man page lacks {missing:?}");
        let page = dir.path().join(format!("{name}.1"));
        std::fs::write(&page, &roff).expect("written");
        if let Some(text) = tools::render_man_page(&page) {
            for heading in [
                "NAME",
                "SYNOPSIS",
                "OPTIONS",
                "OUTPUT",
                "EXIT STATUS",
                "SEE ALSO",
            ] {
                assert!(
                    text.lines().any(|l| l == heading),
                    "{name}: {heading} in\n{text}"
                );
            }
        }
    }
}

#[test]
fn bash_completes_for_to_format() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (bin, name) in [(SEQ, "reader-seq"), (MERGE, "reader-merge")] {
        let script = dir.path().join(format!("{name}.bash"));
        std::fs::write(&script, stdout_of(bin, &["--generate", "complete-bash"])).expect("written");
        let Some(candidates) = tools::bash_completions(&script, &[name, "--for"]) else {
            return;
        };
        assert_eq!(candidates, ["--format"], "{name}");
    }
}

#[test]
fn every_shell_gets_a_script_and_generate_goes_alone() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(SEQ, &["--generate", &format!("complete-{shell}")]);
        assert!(
            script.contains("files0-from") && script.contains("reader-seq"),
            "{shell}: {script}"
        );
    }
    let mut both = Command::new(SEQ);
    both.args(["--generate", "man", "some/dir"]);
    let run = finish(both);
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stdout.is_empty() && run.stderr.lines().count() == 1,
        "{}",
        run.stderr
    );
}

//! What the tests of the installed files need from the system's own tools: `bash` to source a
//! completion script and ask it to complete a command line, `mandoc` or `man` to render a man
//! page. When a tool is missing, each says so on stderr and gives `None`: the test skips
//! (`.ci/run` installs them).

use std::path::Path;
use std::process::Command;

use crate::finish;

/// Sources the bash completion `script`, completes the command line `words` (the command, then
/// the words typed so far, the last the one being completed) as bash does at a TAB, and gives
/// the candidates. `None` when bash is missing; a script that does not load or registers no
/// completion for the command fails the test.
pub fn bash_completions(script: &Path, words: &[&str]) -> Option<Vec<String>> {
    // Finds the function the script registered for the command (`complete -F FN … command`),
    // and calls it as bash's programmable completion would.
    const COMPLETE: &str = r#"
source "$1" || exit 3
shift
spec=$(complete -p "$1") || exit 4
[[ $spec =~ -F\ ([^ ]+) ]] || exit 5
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
"${BASH_REMATCH[1]}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    if !has("bash", "--version") {
        eprintln!("skipped: bash is not installed, so no completion script is tried");
        return None;
    }
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", COMPLETE, "bash"])
        .arg(script)
        .args(words);
    let run = finish(cmd);
    assert_eq!(
        run.code(),
        Some(0),
        "{}: bash cannot complete {words:?} with it: {}",
        script.display(),
        run.stderr
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    Some(stdout.lines().map(str::to_string).collect())
}

/// The man page `page` rendered as text, by `mandoc` or else `man -l`, with every warning the
/// renderer has: a page that fails to render or draws a warning fails the test. `None` when
/// neither is installed.
pub fn render_man_page(page: &Path) -> Option<String> {
    let mut cmd = if has("mandoc", "-V") {
        let mut cmd = Command::new("mandoc");
        cmd.args(["-T", "utf8", "-W", "warning"]);
        cmd
    } else if has("man", "--version") {
        let mut cmd = Command::new("man");
        cmd.args(["--warnings", "-l"]).env("MANWIDTH", "80");
        cmd
    } else {
        eprintln!("skipped: neither mandoc nor man is installed, so no man page is rendered");
        return None;
    };
    cmd.arg(page).env("MANPAGER", "cat").env("PAGER", "cat");
    let run = finish(cmd);
    assert!(
        run.code() == Some(0) && run.stderr.is_empty(),
        "{} does not render cleanly (status {:?}): {}",
        page.display(),
        run.code(),
        run.stderr
    );
    Some(String::from_utf8_lossy(&run.stdout).into_owned())
}

/// Whether `program` runs (with `arg`, which it must take and exit on).
fn has(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|out| out.status.success())
}

//! Tells `--version` which git revision the readers are built from: `READER_GIT_REVISION`,
//! from the checkout this crate is tracked in, else from the `.cargo_vcs_info.json` that
//! `cargo package` writes into a packaged crate. A build from neither (a tarball of the
//! sources) has none, and says nothing of it.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let dir = Path::new(&manifest_dir);
    if let Some(revision) = checkout_revision(dir).or_else(|| packaged_revision(dir)) {
        println!("cargo:rustc-env=READER_GIT_REVISION={revision}");
    }
}

/// The short hash of HEAD, when this crate's manifest is tracked by the checkout around it
/// (a crate unpacked inside some other repository is not), and the files whose change means
/// a new HEAD, for cargo to watch.
fn checkout_revision(dir: &Path) -> Option<String> {
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let revision = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    let git_path = |name: &str| git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p));
    let mut watched = vec![git_path("HEAD"), git_path("packed-refs")];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        // The branch's own file; while it has none (its commit is in packed-refs), the folder
        // a commit will write it in.
        let file = git_path(&branch);
        if file.as_ref().is_some_and(|file| file.exists()) {
            watched.push(file);
        } else {
            watched.push(file.and_then(|file| file.parent().map(Path::to_path_buf)));
        }
    }
    for path in watched.into_iter().flatten().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(revision)
}

/// The revision `cargo package` recorded (`"sha1": "<hash>"`), shortened as git shortens it.
fn packaged_revision(dir: &Path) -> Option<String> {
    let info = dir.join(".cargo_vcs_info.json");
    let text = std::fs::read_to_string(&info).ok()?; // whole-file read ok: cargo's few-line VCS note
    println!("cargo:rerun-if-changed={}", info.display());
    let (_, after) = text.split_once("\"sha1\"")?;
    let hash: String = after
        .trim_start_matches([' ', ':', '"'])
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    (hash.len() == 12).then_some(hash)
}

/// What `git -C dir ARGS` prints, trimmed, if it succeeds (and git is there at all).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

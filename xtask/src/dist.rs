//! `cargo xtask dist`: what an installation needs, laid out as an installation prefix under
//! `target/dist/` — the binaries as users install them (the release profile, which the
//! benchmark builds too), and for each command its man page and its completion scripts for
//! bash, zsh, fish, elvish and PowerShell, each written by the binary itself
//! (`--generate KIND`) from the command line it parses.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::{self, BuildProfile};

/// What `dist` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Build with the dev profile: quicker, for the tests; not what users get.
    pub dev: bool,
    /// Where to lay the files out (default `target/dist`); must be empty or absent.
    pub out: Option<PathBuf>,
}

/// Binaries that are not commands: started by another, with no man page or completion.
const NOT_COMMANDS: &[&str] = &["reader-proc-worker"];

/// A file written for each command: what `--generate` is asked for, and where it goes, as the
/// tools that read it look for it under a prefix (`/usr/local`, `~/.local`).
#[derive(Debug)]
struct Generated {
    /// The `KIND` of `--generate KIND`.
    kind: &'static str,
    /// Its folder under the prefix.
    folder: &'static str,
    /// Its file name, `{}` standing for the command's.
    name: &'static str,
}

/// What each command gets beside its binary.
const GENERATED: &[Generated] = &[
    Generated {
        kind: "man",
        folder: "share/man/man1",
        name: "{}.1",
    },
    Generated {
        kind: "complete-bash",
        // bash-completion loads a command's completion from the file named after it.
        folder: "share/bash-completion/completions",
        name: "{}",
    },
    Generated {
        kind: "complete-zsh",
        folder: "share/zsh/site-functions",
        name: "_{}",
    },
    Generated {
        kind: "complete-fish",
        folder: "share/fish/vendor_completions.d",
        name: "{}.fish",
    },
    Generated {
        kind: "complete-elvish",
        folder: "share/elvish/lib",
        name: "{}.elv",
    },
    Generated {
        kind: "complete-powershell",
        folder: "share/powershell",
        name: "_{}.ps1",
    },
];

/// Each binary users install is smaller than this: a larger one has taken debug information
/// back in (see the release profile in Cargo.toml).
const MAX_BINARY_BYTES: u64 = 6_000_000;

/// Builds the binaries and lays out the installation; see the module docs.
pub fn dist(opts: &Options) -> Result<()> {
    let ws = build::workspace()?;
    let out = match &opts.out {
        Some(out) => {
            if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
                bail!("--out {}: not empty", out.display());
            }
            out.clone()
        }
        None => {
            let out = ws.target.join("dist");
            if out.exists() {
                std::fs::remove_dir_all(&out)
                    .with_context(|| format!("{}: cannot remove", out.display()))?;
            }
            out
        }
    };
    let profile = if opts.dev {
        BuildProfile::Dev
    } else {
        BuildProfile::Release
    };
    let binaries = build::build_all(&ws, profile)?;
    let bin = out.join("bin");
    create(&bin)?;
    for (name, built) in &binaries {
        let installed = bin.join(name);
        std::fs::copy(built, &installed)
            .with_context(|| format!("cannot copy {} to {}", built.display(), bin.display()))?;
        let size = std::fs::metadata(&installed)
            .with_context(|| installed.display().to_string())?
            .len();
        println!("{:>6.2} MB  bin/{name}", size as f64 / 1e6);
        if profile == BuildProfile::Release && size >= MAX_BINARY_BYTES {
            bail!(
                "bin/{name} is {size} bytes, not under {MAX_BINARY_BYTES}: has the release \
                 profile taken debug information back in?"
            );
        }
    }
    for generated in GENERATED {
        create(&out.join(generated.folder))?;
    }
    let commands = binaries
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !NOT_COMMANDS.contains(&name.as_str()));
    for name in commands {
        for generated in GENERATED {
            let file = Path::new(generated.folder).join(generated.name.replace("{}", name));
            let text = generate(&bin.join(name), generated.kind)?;
            std::fs::write(out.join(&file), text)
                .with_context(|| format!("{}: cannot write", file.display()))?;
        }
    }
    println!(
        "dist: {} binaries, with the man pages and completions of each command, in {}",
        binaries.len(),
        out.display()
    );
    Ok(())
}

/// What `binary --generate kind` writes.
fn generate(binary: &Path, kind: &str) -> Result<Vec<u8>> {
    let output = Command::new(binary)
        .args(["--generate", kind])
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !output.status.success() || output.stdout.is_empty() {
        bail!(
            "{} --generate {kind} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// Makes `dir` and the folders above it.
fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))
}

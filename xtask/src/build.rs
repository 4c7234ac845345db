//! Building the reader binaries, the same for the benchmark and for `dist`: the whole
//! workspace's binaries (xtask's aside) with the profile users install. The benchmark goes on
//! when a half-written crate breaks that, building each package that does build, one at a
//! time, so that it runs whatever readers exist and says which are missing; `dist` does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace as `cargo metadata` describes it.
#[derive(Debug)]
pub struct Workspace {
    /// The workspace root.
    pub root: PathBuf,
    /// The target directory (honours `CARGO_TARGET_DIR`).
    pub target: PathBuf,
    /// Packages with binaries, each with its binary names (xtask excluded).
    pub packages: Vec<(String, Vec<String>)>,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Asks cargo where the workspace and its target directory are.
pub fn workspace() -> Result<Workspace> {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata: bad JSON")?;
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(PathBuf::from)
            .context("cargo metadata: missing field")
    };
    let packages = meta["packages"]
        .as_array()
        .map(|pkgs| {
            pkgs.iter()
                .filter(|p| p["name"] != "xtask")
                .filter_map(|p| {
                    let bins: Vec<String> = p["targets"]
                        .as_array()?
                        .iter()
                        .filter(|t| {
                            t["kind"]
                                .as_array()
                                .is_some_and(|k| k.iter().any(|k| k == "bin"))
                        })
                        .filter_map(|t| t["name"].as_str().map(String::from))
                        .collect();
                    (!bins.is_empty())
                        .then(|| (p["name"].as_str().unwrap_or_default().to_string(), bins))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Workspace {
        root: text(&meta["workspace_root"])?,
        target: text(&meta["target_directory"])?,
        packages,
    })
}

/// The cargo profile the readers are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildProfile {
    /// `--release`: what the figures are measured with.
    Release,
    /// `dev`: quicker to build; for `--quick`, which checks correctness, not speed.
    Dev,
}

impl BuildProfile {
    /// The folder under the target directory.
    pub fn dir(self) -> &'static str {
        match self {
            BuildProfile::Release => "release",
            BuildProfile::Dev => "debug",
        }
    }
}

/// The arguments of `cargo` that build every binary of the workspace with `profile`.
fn build_all_args(profile: BuildProfile) -> Vec<&'static str> {
    let mut args = vec!["build", "--workspace", "--bins", "--exclude", "xtask"];
    if profile == BuildProfile::Release {
        args.push("--release");
    }
    args
}

/// Builds every binary of the workspace, or fails; returns them (by name → path).
pub fn build_all(ws: &Workspace, profile: BuildProfile) -> Result<Vec<(String, PathBuf)>> {
    let args = build_all_args(profile);
    eprintln!("dist: cargo {}", args.join(" "));
    if !run_cargo(&ws.root, &args)? {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(existing(ws, profile))
}

/// Builds the readers and returns the binaries this build produced (by name → path).
/// Binaries of packages that failed to build are left out, even if an old copy exists.
pub fn build(ws: &Workspace, profile: BuildProfile) -> Result<Vec<(String, PathBuf)>> {
    let args = build_all_args(profile);
    eprintln!("bench: cargo {}", args.join(" "));
    let started = std::time::Instant::now();
    let all_ok = run_cargo(&ws.root, &args)?;
    let built: Vec<&(String, Vec<String>)> = if all_ok {
        ws.packages.iter().collect()
    } else {
        eprintln!("bench: the workspace does not build as a whole; building each package alone");
        let mut built = Vec::new();
        for pkg in &ws.packages {
            let mut one = vec!["build", "--bins", "-p", pkg.0.as_str()];
            if profile == BuildProfile::Release {
                one.push("--release");
            }
            if run_cargo(&ws.root, &one)? {
                built.push(pkg);
            } else {
                eprintln!(
                    "bench: package {} does not build; its readers are left out",
                    pkg.0
                );
            }
        }
        built
    };
    eprintln!("bench: build took {:.0} s", started.elapsed().as_secs_f64());
    let dir = ws.target.join(profile.dir());
    Ok(built
        .into_iter()
        .flat_map(|(_, bins)| bins.iter())
        .map(|bin| (bin.clone(), dir.join(bin)))
        .filter(|(_, path)| path.is_file())
        .collect())
}

/// Binaries already in the target folder, without building (for `--no-build`).
pub fn existing(ws: &Workspace, profile: BuildProfile) -> Vec<(String, PathBuf)> {
    let dir = ws.target.join(profile.dir());
    ws.packages
        .iter()
        .flat_map(|(_, bins)| bins.iter())
        .map(|bin| (bin.clone(), dir.join(bin)))
        .filter(|(_, path)| path.is_file())
        .collect()
}

fn run_cargo(root: &Path, args: &[&str]) -> Result<bool> {
    let status = cargo()
        .args(args)
        .current_dir(root)
        .status()
        .context("cannot run cargo build")?;
    Ok(status.success())
}

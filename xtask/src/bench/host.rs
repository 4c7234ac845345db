//! What the figures were measured on and with: the host (CPU model, cores, memory, kernel),
//! the git revision, tool versions, and a UTC timestamp — recorded with every result.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// The machine and software a benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Cores this process may use.
    pub cores: usize,
    /// `MemTotal` in KiB.
    pub memory_kib: u64,
    /// The kernel release.
    pub kernel: String,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os: String,
    /// `git rev-parse HEAD`, with `-dirty` when the working tree has changes.
    pub git_revision: String,
    /// `rustc`, `cargo`, `wc` and `xargs` versions (first lines).
    pub tools: Vec<(String, String)>,
}

fn small_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default() // whole-file read ok: small /proc and /etc files
}

fn field(text: &str, key: &str, sep: char) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(sep)?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The first line a command prints, or `None` if it does not run.
pub fn first_line(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    output(program, args, dir).map(|text| text.lines().next().unwrap_or("").trim().to_string())
}

/// What a command prints on its standard output, or `None` if it does not run or fails.
pub fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Describes this machine; `root` is the workspace (for git).
pub fn describe(root: &Path) -> Host {
    let cpuinfo = small_file("/proc/cpuinfo");
    let meminfo = small_file("/proc/meminfo");
    let memory_kib = field(&meminfo, "MemTotal", ':')
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let mut git_revision = first_line("git", &["rev-parse", "--short=12", "HEAD"], root)
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty {
        git_revision.push_str("-dirty");
    }
    let tools = [
        ("rustc", "rustc"),
        ("cargo", "cargo"),
        ("wc", "wc"),
        ("xargs", "xargs"),
    ]
    .into_iter()
    .map(|(name, program)| {
        let version =
            first_line(program, &["--version"], root).unwrap_or_else(|| "not found".into());
        (name.to_string(), version)
    })
    .collect();
    Host {
        cpu_model: field(&cpuinfo, "model name", ':').unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kib,
        kernel: small_file("/proc/sys/kernel/osrelease").trim().to_string(),
        os: field(&small_file("/etc/os-release"), "PRETTY_NAME", '=')
            .unwrap_or_else(|| "unknown".into()),
        git_revision,
        tools,
    }
}

/// `wc` can be run (the bench goes on without it, and says so).
pub fn has_wc(root: &Path) -> bool {
    first_line("wc", &["--version"], root).is_some()
        && first_line("xargs", &["--version"], root).is_some()
}

/// The current UTC time as `2026-11-26T04:15:09Z` and as a folder name `20261126T041509Z`.
pub fn timestamp() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let (h, mi, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    (
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn this_host_is_described() {
        let host = describe(Path::new("."));
        assert!(host.cores >= 1 && host.memory_kib > 0, "{host:?}");
        assert!(!host.kernel.is_empty());
    }
}

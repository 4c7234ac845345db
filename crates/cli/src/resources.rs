//! What a run used, from `getrusage` and `/proc/self/status`, for the summary.

use serde::Serialize;

/// What the process used, from `getrusage` and `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Resources {
    /// User CPU time, in milliseconds, of this process and its reaped children.
    pub cpu_user_ms: f64,
    /// System CPU time, in milliseconds, of this process and its reaped children.
    pub cpu_sys_ms: f64,
    /// Peak resident memory in KiB (the largest of this process and any one child).
    pub peak_rss_kib: u64,
    /// The most threads this process was seen running at once.
    pub threads: u64,
}

fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory the size of a rusage.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    // SAFETY: getrusage filled it in when it returned 0 (and it was zeroed anyway).
    (rc == 0).then(|| unsafe { usage.assume_init() })
}

fn millis(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3
}

/// A number field of `/proc/self/status` (`Threads:`, `VmHWM:`…), if `/proc` can tell.
fn status_field(name: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status") // whole-file read ok: a small /proc file
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|n| n.trim().trim_end_matches("kB").trim().parse().ok())
        })
}

/// The peak resident memory of this program, in KiB.
///
/// `VmHWM` of `/proc/self/status`, not `getrusage`'s `ru_maxrss`: Linux carries `ru_maxrss`
/// across `fork` and `exec`, so a program started by a large parent (a test harness, a
/// benchmark driver) would report the parent's memory as its own.
fn own_peak_rss_kib() -> Option<u64> {
    status_field("VmHWM:")
}

/// CPU time and peak memory so far, of this process and its reaped children (worker
/// processes); `threads` is left for the caller, who samples it during the run.
pub fn usage() -> Resources {
    let mut res = Resources::default();
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        if let Some(u) = rusage(who) {
            res.cpu_user_ms += millis(u.ru_utime);
            res.cpu_sys_ms += millis(u.ru_stime);
            let peak = match who {
                libc::RUSAGE_SELF => own_peak_rss_kib(),
                _ => None,
            };
            let peak = peak.unwrap_or_else(|| u64::try_from(u.ru_maxrss).unwrap_or(0));
            res.peak_rss_kib = res.peak_rss_kib.max(peak);
        }
    }
    res
}

impl Resources {
    /// These figures with the CPU time of `before` taken off: what was used since. Peak memory
    /// and threads are kept as they are (peaks, not sums).
    pub fn since(mut self, before: &Resources) -> Resources {
        self.cpu_user_ms = (self.cpu_user_ms - before.cpu_user_ms).max(0.0);
        self.cpu_sys_ms = (self.cpu_sys_ms - before.cpu_sys_ms).max(0.0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_plausible() {
        let r = usage();
        assert!(r.peak_rss_kib > 100, "{r:?}");
        assert!(own_peak_rss_kib().is_some_and(|kib| kib > 100));
    }
}

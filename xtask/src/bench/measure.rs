//! The measuring helper, `xtask __measure REPORT PROGRAM [ARG…]`: a freshly started, small
//! process that forks, execs PROGRAM, reaps it with `wait4` and writes its wall time, CPU
//! times, peak RSS and status to REPORT.
//!
//! Why a helper: Linux counts in a child's `ru_maxrss` the memory of the process it was
//! forked from (all of it after `vfork`/`posix_spawn`, which std uses, the current resident
//! set after `fork`). Spawned straight from the bench — which has just written a gigabyte of
//! fixtures — every reader would inherit tens of MiB it never used. Forked from this small
//! helper it inherits only the helper's own few MiB, the same for every reader; the bench
//! measures that floor with `true` and reports it.
//!
//! With `--vm` first, it also samples the peak virtual size (`VmPeak`) of the child and of
//! its children every millisecond while it runs — the address space a thread's stack or a
//! process reserves, which `ru_maxrss` does not see. Sampling costs a little CPU, so only the
//! study's memory experiment asks for it.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The hidden first argument that selects the helper.
pub const HELPER_ARG: &str = "__measure";

/// The helper's option to sample the peak virtual size.
pub const VM_ARG: &str = "--vm";

/// How often `--vm` samples.
const VM_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// What the helper measured of its child.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// The raw wait status.
    pub status: i32,
    /// Wall time from fork to reaping.
    pub wall_ms: f64,
    /// User CPU of the child and its reaped descendants.
    pub user_ms: f64,
    /// System CPU of the child and its reaped descendants.
    pub sys_ms: f64,
    /// Peak RSS of the largest process among them, in KiB.
    pub peak_rss_kib: u64,
    /// Peak virtual size of the largest process among them, in KiB, when sampled (`--vm`);
    /// else 0.
    pub peak_vm_kib: u64,
}

impl Usage {
    /// The report line.
    pub fn to_line(self) -> String {
        format!(
            "{} {:.3} {:.3} {:.3} {} {}\n",
            self.status,
            self.wall_ms,
            self.user_ms,
            self.sys_ms,
            self.peak_rss_kib,
            self.peak_vm_kib
        )
    }

    /// Parses a report line.
    pub fn parse(line: &str) -> Option<Usage> {
        let mut f = line.split_whitespace();
        Some(Usage {
            status: f.next()?.parse().ok()?,
            wall_ms: f.next()?.parse().ok()?,
            user_ms: f.next()?.parse().ok()?,
            sys_ms: f.next()?.parse().ok()?,
            peak_rss_kib: f.next()?.parse().ok()?,
            peak_vm_kib: f.next()?.parse().ok()?,
        })
    }
}

/// The helper's `main`: `args` are what follows `__measure`. Exits with the child's status
/// (128 + signal when killed), 127 when it could not start it, 2 on bad arguments.
pub fn helper_main(args: &[OsString]) -> ExitCode {
    let (sample_vm, args) = match args.split_first() {
        Some((first, rest)) if first == VM_ARG => (true, rest),
        _ => (false, args),
    };
    let [report, program, rest @ ..] = args else {
        eprintln!("xtask {HELPER_ARG}: usage: [{VM_ARG}] REPORT PROGRAM [ARG...]");
        return ExitCode::from(2);
    };
    match measure(Path::new(program), rest, sample_vm) {
        Ok(usage) => {
            if let Err(err) = std::fs::write(report, usage.to_line()) {
                eprintln!("xtask {HELPER_ARG}: {}: {err}", Path::new(report).display());
                return ExitCode::from(2);
            }
            let code = if libc::WIFEXITED(usage.status) {
                libc::WEXITSTATUS(usage.status)
            } else {
                128 + libc::WTERMSIG(usage.status)
            };
            ExitCode::from(u8::try_from(code).unwrap_or(255))
        }
        Err(err) => {
            eprintln!(
                "xtask {HELPER_ARG}: {}: {err}",
                Path::new(program).display()
            );
            ExitCode::from(127)
        }
    }
}

/// `program` as a path: itself if it has a `/`, else the first match on `PATH`.
fn resolve(program: &Path) -> io::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not found on PATH"))
}

fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in an argument"))
}

/// `VmPeak` of `pid` and of its children (direct ones, as a reader's workers are), in KiB:
/// the largest. 0 when it cannot be read (the process is gone, or a zombie).
fn peak_vm(pid: libc::pid_t) -> u64 {
    let vm = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status")) // whole-file read ok: a small /proc file
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmPeak:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) // whole-file read ok: a list of pids
        .unwrap_or_default();
    children
        .split_whitespace()
        .map(vm)
        .fold(vm(&pid.to_string()), u64::max)
}

/// Forks, execs `program` with `args` (stdin, stdout and stderr inherited), reaps it; with
/// `sample_vm`, samples its peak virtual size while it runs.
pub fn measure(program: &Path, args: &[OsString], sample_vm: bool) -> io::Result<Usage> {
    let path = c_string(resolve(program)?.as_os_str())?;
    let mut argv = vec![c_string(program.as_os_str())?];
    for a in args {
        argv.push(c_string(a)?);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let started = Instant::now();
    // SAFETY: between fork and exec the child only calls execv and _exit, which are
    // async-signal-safe; everything they use was allocated before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: path and argv are NUL-terminated and outlive the call.
        unsafe {
            libc::execv(path.as_ptr(), argv_ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    let mut peak_vm_kib = 0;
    let flags = if sample_vm { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: status and usage point to writable memory of the right types.
        let rc = unsafe { libc::wait4(pid, &mut status, flags, usage.as_mut_ptr()) };
        if rc == pid {
            break;
        }
        if rc == 0 {
            // Still running (WNOHANG): sample, then look again.
            peak_vm_kib = peak_vm_kib.max(peak_vm(pid));
            std::thread::sleep(VM_EVERY);
            continue;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    // SAFETY: wait4 filled it in (and it was zeroed before).
    let usage = unsafe { usage.assume_init() };
    let millis = |tv: libc::timeval| tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3;
    Ok(Usage {
        status,
        wall_ms,
        user_ms: millis(usage.ru_utime),
        sys_ms: millis(usage.ru_stime),
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        peak_vm_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_measured_and_its_status_kept() -> io::Result<()> {
        let usage = measure(Path::new("sh"), &["-c".into(), "exit 3".into()], false)?;
        assert!(libc::WIFEXITED(usage.status) && libc::WEXITSTATUS(usage.status) == 3);
        assert!(usage.wall_ms > 0.0 && usage.peak_rss_kib > 0, "{usage:?}");
        assert_eq!(
            Usage::parse(&usage.to_line()).map(|u| u.status),
            Some(usage.status)
        );
        let burn = measure(
            Path::new("sh"),
            &[
                "-c".into(),
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done".into(),
            ],
            true,
        )?;
        assert!(burn.peak_vm_kib > 0, "sampled while it ran: {burn:?}");
        assert_eq!(usage.peak_vm_kib, 0, "not sampled");
        assert!(burn.user_ms + burn.sys_ms > 10.0, "{burn:?}");
        assert!(measure(Path::new("no-such-program-here"), &[], false).is_err());
        let missing = measure(Path::new("/no/such/binary"), &[], false)?;
        assert_eq!(libc::WEXITSTATUS(missing.status), 127);
        Ok(())
    }

    #[test]
    fn bad_reports_are_rejected() {
        assert_eq!(Usage::parse("0 1.5 2 3 4"), None);
        assert_eq!(Usage::parse("0 1.5 2 3 x 5"), None);
        assert_eq!(
            Usage::parse("0 1.5 2 3 4 5").map(|u| u.peak_rss_kib),
            Some(4)
        );
        assert_eq!(
            Usage::parse("0 1.5 2 3 4 5").map(|u| u.peak_vm_kib),
            Some(5)
        );
    }
}

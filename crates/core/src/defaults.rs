//! Defaults derived from the machine, each with the reason it is what it is.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

use crate::sys;

/// Bytes read per `read` call, and the size of each worker's reused buffer: 64 KiB.
///
/// Every byte is copied from the page cache into the buffer and then counted; a buffer that
/// stays in the core's L2 cache between the two is counted from there, not from memory (the
/// fastest of 32 to 256 KiB on cached large files: BENCHMARKS.md, "reader-core"). Peak memory
/// for file data is jobs × this.
pub const BUFFER_SIZE: usize = 64 * 1024;

/// The most files a pool's thread takes from the queue at once ([`crate::Jobs::next_guided`]):
/// the queue's lock is taken once a batch rather than once a file.
pub const FILES_PER_TAKE: usize = 16;

/// File descriptors kept free for what is not a file being read: standard streams, the
/// directory handles of the walk (walkdir keeps up to 10), channels, the runtime's own.
pub(crate) const RESERVED_FDS: u64 = 32;

/// CPU cores this process may use (1 if that cannot be told), looked up once: the lookup
/// reads the affinity mask and the cgroup's quota files, and every reader asks several times.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// The soft limit on open files (`RLIMIT_NOFILE`); `u64::MAX` when unlimited or unknown.
pub fn open_files_limit() -> u64 {
    sys::soft_limit(libc::RLIMIT_NOFILE).unwrap_or(u64::MAX)
}

/// Makes the allocator fit a limit on address space (`ulimit -v`, `RLIMIT_AS`), if one is set;
/// call it first thing in `main`, before any thread starts.
///
/// glibc gives each new thread that allocates an arena of its own, reserving 64 MiB of address
/// space for it at once (twice that while it aligns it). Under a limit of 64 MiB the first such
/// reservation takes all that is left, and the next allocation anywhere fails and aborts the
/// process. So under a finite limit every thread allocates from the one main arena
/// (`M_ARENA_MAX` 1), which costs the readers nothing they measure: their buffers are
/// allocated once a thread and reused. Without a limit nothing changes.
pub fn fit_address_space_limit() {
    if sys::soft_limit(libc::RLIMIT_AS).is_some() {
        sys::one_arena();
    }
}

/// The threads this process runs now (0 if `/proc` cannot tell).
pub fn running_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// How many more threads or processes this process may start, at most, if that is limited:
/// the cgroup's `pids.max` less its `pids.current` (cgroup v2 or v1, this cgroup and its
/// ancestors), and the soft `RLIMIT_NPROC` of its user (not enforced for root; what the user's
/// other processes take of it cannot be told, so it only bounds). `None` when nothing limits
/// it. Read afresh each time: a handful of small files.
pub fn task_headroom() -> Option<u64> {
    let mut room = cgroup_pids_headroom();
    if !sys::is_root()
        && let Some(limit) = sys::soft_limit(libc::RLIMIT_NPROC)
    {
        room = Some(room.map_or(limit, |r| r.min(limit)));
    }
    room
}

/// What the `pids` controller of this process's cgroups leaves, if any of them limits it.
fn cgroup_pids_headroom() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?; // whole-file read ok: a small /proc file
    let read = |path: &std::path::Path| -> Option<String> {
        std::fs::read_to_string(path).ok() // whole-file read ok: one number
    };
    let mut room: Option<u64> = None;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let base = match controllers {
            "" => std::path::PathBuf::from("/sys/fs/cgroup"),
            c if c.split(',').any(|c| c == "pids") => {
                std::path::PathBuf::from("/sys/fs/cgroup/pids")
            }
            _ => continue,
        };
        let mut dir = base.join(path.trim_start_matches('/'));
        loop {
            let max = read(&dir.join("pids.max")).and_then(|m| m.trim().parse::<u64>().ok());
            let current =
                read(&dir.join("pids.current")).and_then(|c| c.trim().parse::<u64>().ok());
            if let Some(max) = max {
                let left = max.saturating_sub(current.unwrap_or(0));
                room = Some(room.map_or(left, |r| r.min(left)));
            }
            if dir == base || !dir.pop() {
                break;
            }
        }
    }
    room
}

/// How many files may be open at once without running out of descriptors: the open-files
/// limit less 32 kept for what is not a file being read, at least 1.
pub fn fd_budget() -> usize {
    let budget = open_files_limit().saturating_sub(RESERVED_FDS).max(1);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// Threads for a pool of blocking readers: one per core, plus one.
///
/// With a warm page cache a read is a memory copy plus counting, so one thread per core keeps
/// every core busy; the extra thread covers the moments one of them waits on a cold page or on
/// the shared queue.
pub fn threads() -> usize {
    clamp_to_address_space((cores() + 1).min(fd_budget()))
}

/// Files in flight for the async model: `min(100, max(50, cores × 4))`, the seed project's
/// rule of thumb, never more than the descriptors or a limit on address space allow (each file
/// in flight may hold a blocking thread).
///
/// On a cold cache what decides speed is how many reads the device sees at once (about 64
/// saturate the virtual disks measured here); on a warm one any number above the core count does.
pub fn in_flight() -> usize {
    clamp_to_address_space((cores() * 4).clamp(50, 100).min(fd_budget()))
}

/// Address space a reading thread may take: its stack (2 MiB, Rust's and tokio's default), a
/// guard page and its buffer.
const THREAD_ADDRESS_SPACE: u64 = (2 << 20) + 4096 + BUFFER_SIZE as u64;

/// Address space kept for what is not a reading thread: the walk, the queue, the output, a
/// runtime's own threads.
const RESERVED_ADDRESS_SPACE: u64 = 16 << 20;

/// The address space this process may still map, if it is limited (`ulimit -v`,
/// `RLIMIT_AS`): the soft limit less what is mapped now (`VmSize`). `None` without a limit.
pub fn address_space_left() -> Option<u64> {
    let limit = sys::soft_limit(libc::RLIMIT_AS)?;
    let status = std::fs::read_to_string("/proc/self/status").ok(); // whole-file read ok: a small /proc file
    let mapped_kib = status.as_deref().and_then(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmSize:"))
            .and_then(|n| n.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    Some(limit.saturating_sub(mapped_kib.unwrap_or(0) * 1024))
}

/// Clamps a number of reading threads, or of files in flight that may each hold one, to what a
/// limit on address space leaves ([`address_space_left`]), at least 1; unchanged without a
/// limit. Under `ulimit -v 65536` a reader runs a dozen or so instead of aborting when an
/// allocation fails.
pub fn clamp_to_address_space(requested: usize) -> usize {
    let Some(left) = address_space_left() else {
        return requested;
    };
    let fit = left.saturating_sub(RESERVED_ADDRESS_SPACE) / THREAD_ADDRESS_SPACE;
    requested
        .min(usize::try_from(fit).unwrap_or(usize::MAX))
        .max(1)
}

/// Clamps a requested number of concurrently open files to what the descriptor limit allows.
pub fn clamp_to_fds(requested: usize) -> usize {
    clamp_to_fds_per(requested, 1)
}

/// Clamps a requested number of units (workers, readers) that hold `fds_each` descriptors
/// each to what the descriptor limit allows, at least 1.
pub fn clamp_to_fds_per(requested: usize, fds_each: usize) -> usize {
    requested.min(fd_budget() / fds_each.max(1)).max(1)
}

/// Clamps a number of reading threads, or of files in flight that may each hold one, to what
/// both the descriptor limit ([`clamp_to_fds`]) and a limit on address space
/// ([`clamp_to_address_space`]) allow.
pub fn clamp_readers(requested: usize) -> usize {
    clamp_to_address_space(clamp_to_fds(requested))
}

/// Descriptors the budget leaves once `used` of them are taken.
pub fn fds_beyond(used: usize) -> usize {
    fd_budget().saturating_sub(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        assert!(cores() >= 1);
        assert!(threads() >= 2.min(fd_budget()));
        assert!((1..=100).contains(&in_flight()));
        assert_eq!(clamp_to_fds(0), 1);
        assert_eq!(clamp_to_fds(usize::MAX), fd_budget());
        assert_eq!(clamp_to_fds_per(usize::MAX, 4), (fd_budget() / 4).max(1));
        assert_eq!(fds_beyond(usize::MAX), 0);
        assert_eq!(fds_beyond(0), fd_budget());
        assert!(running_threads() >= 1);
        // Root, outside any pids-limited cgroup, as the project's machines run the tests: no
        // limit; otherwise some room, since this very test runs.
        if let Some(room) = task_headroom() {
            assert!(room > 0);
        }
    }
}

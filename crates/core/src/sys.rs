//! The crate's system calls: every libc call that needs `unsafe`, each behind a safe function
//! whose documentation says what it does and what it returns, so that the code that calls them
//! is safe code. Two files keep `unsafe` of their own, each an abstraction of its own: the
//! mapping of a large file under a read lease (`read/mapped.rs`) and the counting kernels
//! (`work/count.rs`).
//!
//! A directory that a name is resolved in is passed as a [`RawFd`], so that `AT_FDCWD` (the
//! working directory) can be; a number that is no open descriptor only makes the call fail
//! (`EBADF`). A descriptor that is itself read or looked at is borrowed ([`BorrowedFd`],
//! [`File`](std::fs::File)). Errors are the calls' own (`errno`), as
//! [`io::Error::last_os_error`] gives them; none is retried here, `EINTR` included: what a
//! caller makes of an error is its business.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `openat(dir, name, flags)`: opens `name` relative to the directory `dir` (`AT_FDCWD`: the
/// working directory), with `flags` exactly as given (`O_CLOEXEC` is the caller's to add).
/// Returns the new descriptor, owned.
pub(crate) fn openat(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // The mode only counts with `O_CREAT` or `O_TMPFILE`; it is passed always, so that the C
    // library never reads a variadic argument that is not there.
    let mode: libc::c_uint = 0;
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is only a number to the
    // kernel (one that is no open directory fails the call), and the mode is passed.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor openat has just returned to us, open and nobody else's; the
    // OwnedFd owns it now.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat2(dir, name)` with `flags` (as [`openat`] takes them) and the `RESOLVE_*` flags
/// `resolve`, no mode. Returns the new descriptor, owned. Errs as the call does: `ENOSYS` on a
/// kernel before 5.6, `EINVAL` for a resolve flag the kernel does not know, `EAGAIN` where
/// `RESOLVE_CACHED` would have to wait.
pub(crate) fn openat2(
    dir: RawFd,
    name: &CStr,
    flags: libc::c_int,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: an all-zero open_how is a valid value (no flags, no mode, no resolve flags).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = resolve;
    // SAFETY: `name` is a NUL-terminated string and `how` an open_how of the size passed; both
    // outlive the call, and `dir` is only a number to the kernel.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: `fd` is a descriptor openat2 has just opened for us, nobody else's; the OwnedFd
    // owns it now.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstatat(dir, name, flags)`: what `name`, relative to the directory `dir` (`AT_FDCWD`: the
/// working directory), is; with `AT_SYMLINK_NOFOLLOW` a symbolic link itself, with
/// `AT_EMPTY_PATH` and the name `""` what `dir` is. Returns its `stat`.
pub(crate) fn fstatat(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<libc::stat> {
    let mut stat = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `name` is NUL-terminated and `stat` writable memory of a stat's size; both
    // outlive the call, and `dir` is only a number to the kernel.
    if unsafe { libc::fstatat(dir, name.as_ptr(), stat.as_mut_ptr(), flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat filled it in when it returned 0 (and it was zeroed anyway).
    Ok(unsafe { stat.assume_init() })
}

/// `fstat(fd)`: what the open descriptor `fd` is. Returns its `stat`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut stat = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `fd` is open for the whole call, and `stat` is writable memory the size of a
    // stat.
    if unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat filled it in when it returned 0 (and it was zeroed anyway).
    Ok(unsafe { stat.assume_init() })
}

/// The type of the file system the open descriptor `fd` (an `O_PATH` one will do) is on:
/// `fstatfs`'s `f_type`, a magic number of `<linux/magic.h>`. `None` if the call fails.
pub(crate) fn fstatfs_type(fd: BorrowedFd<'_>) -> Option<libc::__fsword_t> {
    let mut stat = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `fd` is open for the whole call, and `stat` is writable memory the size of a
    // statfs.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstatfs filled it in when it returned 0 (and it was zeroed anyway).
    Some(unsafe { stat.assume_init() }.f_type)
}

/// One `getdents64` call on the open directory `fd`: fills `buf` with `linux_dirent64`
/// records from the directory's position on, and moves the position past them. Returns how
/// many bytes of `buf` it filled, 0 at the end of the directory.
pub(crate) fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable memory of the length passed, and `fd` is open; both outlive
    // the call.
    let read = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
}

/// One `preadv2` of `file` into `buf` with `RWF_NOWAIT`, which takes only what the page cache
/// holds and never waits for the device: at `offset`, or from the file's position (`None`),
/// which it then advances. Returns how many bytes it read, 0 at the end of the file. A read
/// that would wait fails with `EAGAIN` ([`io::ErrorKind::WouldBlock`]); a file system that
/// cannot tell, with `EOPNOTSUPP`; an offset past what `off_t` holds, as
/// [`io::ErrorKind::Other`].
pub(crate) fn pread_nowait(file: &File, buf: &mut [u8], offset: Option<u64>) -> io::Result<usize> {
    let offset = match offset {
        Some(offset) => libc::off_t::try_from(offset).map_err(io::Error::other)?,
        None => -1,
    };
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the descriptor is open for the whole call and `iov` describes `buf`, writable
    // memory of `iov_len` bytes that nothing else uses meanwhile.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Tells the kernel that `file` will be read front to back (`posix_fadvise`,
/// `POSIX_FADV_SEQUENTIAL`), so that it reads ahead further. Only a hint: its failure changes
/// nothing, and nothing is returned.
pub(crate) fn advise_sequential(file: &File) {
    // SAFETY: the descriptor is open for the duration of the call; the call touches no memory
    // of ours.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

/// How many times the calling thread has given up its core to wait (`ru_nvcsw` of
/// `getrusage(RUSAGE_THREAD)`); `None` if the kernel does not say.
pub(crate) fn voluntary_switches() -> Option<i64> {
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is writable memory the size of a rusage, for the whole call.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: getrusage filled it in when it returned 0 (and it was zeroed anyway).
    Some(unsafe { usage.assume_init() }.ru_nvcsw)
}

/// The soft limit on `resource` (`RLIMIT_NOFILE`…), from `getrlimit`; `None` when it is
/// unlimited or the call fails.
pub(crate) fn soft_limit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(resource, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Whether the process runs as root: its effective user id (`geteuid`) is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// Makes every thread allocate from the one main malloc arena (`mallopt(M_ARENA_MAX, 1)`);
/// only glibc has per-thread arenas, so elsewhere it does nothing. Call it before threads
/// start: a thread that has allocated already may have an arena of its own. Nothing is
/// returned: should glibc refuse, the arenas stay as they were.
pub(crate) fn one_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes a setting of the allocator, under the allocator's own lock;
    // it touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Makes a FIFO at `path` with the permissions `mode` (`mkfifo`), for the tests.
#[cfg(test)]
pub(crate) fn mkfifo(path: &std::path::Path, mode: libc::mode_t) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(name.as_ptr(), mode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

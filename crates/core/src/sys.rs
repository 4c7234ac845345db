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

use std::ffi::CStr;
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

//! The ring's words with the kernel: what an operation's `user_data` says (the slot and what
//! it is doing), whether io_uring can be used here at all, and how a ring thread's ring is
//! built.

use std::io;

use io_uring::{IoUring, opcode};

/// What a ring slot is doing, in the low bits of an operation's `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Open = 0,
    Stat = 1,
    Read = 2,
    /// A `close` whose result nobody waits for.
    Close = 3,
    /// The read of the ring's `eventfd`: a file read on a thread is done.
    Wake = 4,
    /// The cancel of a slot's operation, after its timeout.
    Cancel = 5,
}

const OP_BITS: u64 = 3;

pub(super) fn user_data(slot: usize, op: Op) -> u64 {
    ((slot as u64) << OP_BITS) | op as u64
}

pub(super) fn decode(data: u64) -> (usize, u64) {
    ((data >> OP_BITS) as usize, data & ((1 << OP_BITS) - 1))
}

/// Why io_uring cannot be used here, if it cannot: the kernel lacks it, `kernel.io_uring_disabled`
/// forbids it, a seccomp filter refuses it, or an operation the runtime needs is missing.
pub(crate) fn refusal() -> Option<String> {
    let ring = match IoUring::new(4) {
        Ok(ring) => ring,
        Err(err) => return Some(format!("io_uring is not available (io_uring_setup: {err})")),
    };
    let mut probe = io_uring::Probe::new();
    if let Err(err) = ring.submitter().register_probe(&mut probe) {
        return Some(format!(
            "io_uring is not available (cannot probe its operations: {err})"
        ));
    }
    let needed = [
        ("openat", opcode::OpenAt::CODE),
        ("statx", opcode::Statx::CODE),
        ("read", opcode::Read::CODE),
        ("close", opcode::Close::CODE),
        ("async cancel", opcode::AsyncCancel::CODE),
    ];
    needed
        .iter()
        .find(|(_, code)| !probe.is_supported(*code))
        .map(|(name, _)| format!("io_uring here lacks the {name} operation"))
}

/// Builds a ring for one thread: submissions only from this thread, completions reaped when
/// it asks, without interrupting it (`SINGLE_ISSUER`, `COOP_TASKRUN`, `DEFER_TASKRUN`, kernel
/// 6.1 and later); a plain ring where those are unknown.
pub(super) fn build_ring(entries: u32) -> io::Result<IoUring> {
    let quiet = IoUring::builder()
        .setup_single_issuer()
        .setup_coop_taskrun()
        .setup_defer_taskrun()
        .build(entries);
    match quiet {
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries),
        built => built,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips() {
        assert_eq!(decode(user_data(77, Op::Read)), (77, Op::Read as u64));
    }
}

//! What the ring does not read itself: a file handed to a thread of its own that reads it
//! with reader-core's [`read_job`] (files off the local file systems, files to map, odd
//! files), and the `eventfd` through which that thread wakes the ring when it is done.

use std::sync::{Arc, Mutex};
use std::thread;

use io_uring::{opcode, types};
use reader_core::{read_job, size_is_trusted};

use super::ops::{Op, user_data};
use reader_core::lock;

use super::{RingThread, Slot};

/// Whether a file's directory is on a local file system ([`size_is_trusted`]), looked up
/// once for each run of files in one directory (the walk sends them together).
///
/// The ring reads only files there. A FUSE or NFS server may say one size and hold another,
/// and the kernel's answers to io_uring reads of such a file are not those of `read(2)`: a
/// FUSE file opened for direct I/O that holds 720 bytes and says 10 was read as 64 KiB of its
/// content over and over (kernel 6.18). reader-core reads those files front to back.
#[derive(Debug, Default)]
pub(super) struct LocalDir {
    dir: std::path::PathBuf,
    local: bool,
}

impl LocalDir {
    pub(super) fn holds(&mut self, path: &std::path::Path) -> bool {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        if dir != self.dir {
            self.local = std::fs::File::open(dir).is_ok_and(|dir| size_is_trusted(&dir));
            dir.clone_into(&mut self.dir);
        }
        self.local
    }
}

/// The `eventfd` a thread that has read a file writes to, and the ring's read of it.
pub(super) struct Wake {
    pub(super) fd: i32,
    pub(super) value: Box<u64>,
    pub(super) armed: bool,
}

/// Wakes the ring thread whose eventfd is `fd`.
pub(super) fn wake(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of `one` to an eventfd that stays open as long as a thread
    // may write to it (see `RingThread::finish`).
    unsafe { libc::write(fd, (&raw const one).cast(), 8) };
}

impl RingThread<'_> {
    /// Hands the slot's file to a thread that reads it with [`read_job`]; when no thread can
    /// be had, reads it here (holding up this ring's other files meanwhile).
    pub(super) fn hand_to_thread(&mut self, slot: usize) {
        let worker = self.worker(slot);
        let Some(reading) = self.slots[slot].reading.as_mut() else {
            return;
        };
        reading.on_thread = true;
        let job = reading.job.clone();
        let hold = Arc::new(Mutex::new(None));
        reading.hold = Some(Arc::clone(&hold));
        self.on_threads += 1;
        let (back, fd, size) = (self.back_tx.clone(), self.wake.fd, self.rings.buffer_size);
        let spawned = thread::Builder::new()
            .name("reader-ring-file".into())
            .spawn(move || {
                let result = read_job(job, &mut vec![0; size], worker);
                // Abandoned meanwhile: the read is no longer stuck.
                drop(lock(&hold).take());
                let _ = back.send((slot, result));
                wake(fd);
            });
        if spawned.is_err()
            && let Slot {
                buf,
                reading: Some(reading),
                ..
            } = &mut self.slots[slot]
        {
            let result = read_job(reading.job.clone(), buf, worker);
            let _ = self.back_tx.send((slot, result));
            wake(self.wake.fd);
        }
    }

    pub(super) fn arm_wake(&mut self) {
        let read = opcode::Read::new(
            types::Fd(self.wake.fd),
            (&raw mut *self.wake.value).cast::<u8>(),
            8,
        )
        .build()
        .user_data(user_data(0, Op::Wake));
        self.wake.armed = true;
        self.queue(read);
    }

    /// Reports the files read on threads that have come back.
    pub(super) fn take_back(&mut self) {
        while let Ok((slot, result)) = self.back_rx.try_recv() {
            self.on_threads -= 1;
            let Some(reading) = self.slots[slot].reading.take() else {
                continue;
            };
            self.free.push(slot);
            if reading.abandoned {
                // Abandoned after the thread had looked: its count ends here.
                if let Some(hold) = &reading.hold {
                    drop(lock(hold).take());
                }
                continue;
            }
            self.active -= 1;
            self.tally.thread_files += 1;
            self.out.emit(result);
        }
    }
}

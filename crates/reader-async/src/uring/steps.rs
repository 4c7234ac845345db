//! What follows each completion of a slot's operation — `openat`, `statx`, a read of a whole
//! file or of a byte range — as the next step of its file ([`Next`]), by reader-core's rules
//! ([`Extent`](reader_core::extent::Extent)). Pure: no I/O, so each rule is a unit test.

use std::io;

use reader_core::extent::Step;
use reader_core::{FileError, MAP_FROM};

use super::{Look, Next, Reading, SlotWork};

/// A file that has given this many bytes is looked at: one `statx` is little beside reading
/// them, and it tells a file to map, a pseudo-file or a device before much more is read.
pub(super) const LOOK_PAST: u64 = 1 << 20;

/// What follows `openat`'s `result`.
pub(super) fn opened(reading: &Reading, result: i32) -> Next {
    if result >= 0 {
        return Next::ReadAt(match reading.work {
            SlotWork::Range { start, .. } => start,
            SlotWork::File(_) => 0,
        });
    }
    match -result {
        // Too long a path for one `openat`: reader-core opens it relative to its directory.
        libc::ENAMETOOLONG => Next::Thread,
        errno => Next::Done(Err(FileError::io(
            &reading.job.path,
            io::Error::from_raw_os_error(errno),
        ))),
    }
}

/// What follows `statx`'s `result`, with what it filled in; a file of at least `large`
/// bytes is handed off.
pub(super) fn stated(
    reading: &mut Reading,
    result: i32,
    stat: &libc::statx,
    large: Option<u64>,
) -> Next {
    if result < 0 {
        let err = io::Error::from_raw_os_error(-result);
        return Next::Done(Err(FileError::io(&reading.job.path, err)));
    }
    match u32::from(stat.stx_mode) & libc::S_IFMT {
        libc::S_IFREG => {}
        libc::S_IFDIR => return Next::Done(Err(FileError::is_directory(&reading.job.path))),
        _ => return Next::Done(Err(FileError::no_longer_regular(&reading.job.path))),
    }
    if let SlotWork::Range { .. } = reading.work {
        // Looked at because its read was slow: a regular file still, its range read on.
        return if reading.ended {
            Next::Done(Ok(()))
        } else {
            Next::Wait
        };
    }
    let size = stat.stx_size;
    let empty = reading.ended && reading.extent.position() == 0;
    // The ring reads files of local file systems only: no pseudo-file comes here by design,
    // and whatever says 0 and is not known empty goes to reader-core, which has the rule.
    reading.extent.stated(size, false);
    if large.is_some_and(|large| size >= large) {
        return Next::HandOff;
    }
    if size >= MAP_FROM || (size == 0 && !empty) {
        // Mapped, or a size that says nothing (a pseudo-file, a file growing from empty):
        // reader-core's rules for them, from the start.
        return Next::Thread;
    }
    if let Some(limit) = reading.extent.over() {
        return Next::Done(Err(limit.error(&reading.job.path)));
    }
    if reading.ended {
        Next::Done(Ok(()))
    } else {
        Next::Wait
    }
}

/// A read that failed: `EAGAIN` (the kernel would not wait) goes to a thread; anything else is
/// the file's error.
pub(super) fn read_error(reading: &Reading, result: i32) -> Next {
    match -result {
        libc::EAGAIN | libc::EINTR => Next::Thread,
        libc::EISDIR => Next::Done(Err(FileError::is_directory(&reading.job.path))),
        errno => Next::Done(Err(FileError::io(
            &reading.job.path,
            io::Error::from_raw_os_error(errno),
        ))),
    }
}

/// What follows a read of `n` bytes, counted, into a buffer of `len`.
///
/// Where the file ends, and when it is odd, is reader-core's [`Extent`](reader_core::extent::Extent): the ring looks at a
/// file with `statx` only when the extent finds its data odd (empty, ending before the size
/// the walk found or going past it), when it runs past [`LOOK_PAST`] (it may be large enough
/// to map, a pseudo-file, or a device that never ends), or when its read is slow
/// ([`SLOW_READ`](super::deadline::SLOW_READ)). A file that ends as expected is not looked at.
pub(super) fn after_read(reading: &mut Reading, n: usize, len: usize) -> Next {
    let step = reading.extent.after(n, len);
    if let Step::Over(limit) = step {
        return Next::Done(Err(limit.error(&reading.job.path)));
    }
    let odd = reading.extent.take_odd() || reading.extent.position() >= LOOK_PAST;
    let next = if step == Step::End {
        reading.ended = true;
        if reading.stat == Look::Not && !odd || reading.stat == Look::Done {
            return Next::Done(Ok(()));
        }
        Next::Wait
    } else {
        Next::ReadAt(reading.extent.position())
    };
    if odd && reading.stat == Look::Not {
        Next::Look(Box::new(next))
    } else {
        next
    }
}

/// What follows a read of `n` bytes of a byte range, counted: the range ends where its
/// length is read, or at the end of the file (a read that returns 0); a short read reads on.
pub(super) fn after_range_read(reading: &mut Reading, n: usize) -> Next {
    let SlotWork::Range {
        start, len, read, ..
    } = reading.work
    else {
        unreachable!("called for ranges only");
    };
    if n == 0 || read >= len {
        reading.ended = true;
        // A look at a slow read is in flight: the range is done once it answers.
        return if reading.stat == Look::Sent {
            Next::Wait
        } else {
            Next::Done(Ok(()))
        };
    }
    Next::ReadAt(start + read)
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use reader_core::{FileJob, FileWork};

    use super::*;

    fn reading(size: Option<u64>, cap: Option<u64>) -> Reading {
        let mut job = FileJob::new("f.txt", size);
        job.max_bytes = cap;
        Reading {
            fd: Some(3),
            ..Reading::new(job, CString::default())
        }
    }

    /// Feeds `n` bytes as one read into a buffer of `len` and says what follows.
    fn read(reading: &mut Reading, n: usize, len: usize) -> Next {
        reading.work.update(&vec![b'a'; n]);
        after_read(reading, n, len)
    }

    /// The bytes a whole file's work counted.
    fn counted(reading: Reading) -> u64 {
        match reading.work {
            SlotWork::File(work) => work.finish().counts.bytes,
            SlotWork::Range { .. } => panic!("a whole file"),
        }
    }

    #[test]
    fn a_byte_range_ends_at_its_length_or_at_the_end_of_the_file() {
        let part = |start, end| reader_core::Part {
            index: 1,
            parts: 3,
            start,
            end,
            file_size: 1 << 20,
            edges: reader_core::Edges::default(),
        };
        let range = |start, end| {
            let mut job = FileJob::new("f", Some(1 << 20));
            job.part = Some(part(start, end));
            job.digests = "blake3".parse().expect("names");
            Reading {
                fd: Some(3),
                ..Reading::new(job, CString::default())
            }
        };
        let read = |reading: &mut Reading, n: usize| {
            reading.work.update(&vec![b'a'; n]);
            after_range_read(reading, n)
        };
        let mut whole = range(1024, 5120);
        assert!(matches!(opened(&whole, 3), Next::ReadAt(1024)));
        // Short: read on from where it stopped; then its length ends it.
        assert!(matches!(read(&mut whole, 1000), Next::ReadAt(2024)));
        assert!(matches!(read(&mut whole, 3096), Next::Done(Ok(()))));
        // The file ends first.
        let mut cut = range(0, 4096);
        assert!(matches!(read(&mut cut, 100), Next::ReadAt(100)));
        assert!(matches!(read(&mut cut, 0), Next::Done(Ok(()))));
        // A look at a slow read is in flight: done once it answers.
        let mut looked = range(0, 10);
        looked.stat = Look::Sent;
        assert!(matches!(read(&mut looked, 10), Next::Wait));
        assert!(looked.ended);
        // Digests that cannot join ranges: a whole-file work, which the ring leaves to a
        // thread (reader-core says why it cannot be read).
        let mut job = FileJob::new("f", Some(1 << 20));
        job.part = Some(part(0, 10));
        job.digests = "sha256".parse().expect("names");
        assert!(matches!(SlotWork::of(&job), SlotWork::File(_)));
    }

    #[test]
    fn a_file_of_known_size_ends_at_its_size_without_a_look() {
        let mut file = reading(Some(100), None);
        assert!(matches!(read(&mut file, 100, 4096), Next::Done(Ok(()))));
        assert_eq!(counted(file), 100);
    }

    #[test]
    fn without_a_size_the_read_that_returns_nothing_ends_it() {
        let mut file = reading(None, None);
        assert!(matches!(read(&mut file, 100, 4096), Next::ReadAt(100)));
        assert!(matches!(read(&mut file, 0, 4096), Next::Done(Ok(()))));
        assert_eq!(counted(file), 100);
    }

    #[test]
    fn odd_files_are_looked_at() {
        // Empty: perhaps a device now.
        let mut empty = reading(None, None);
        assert!(
            matches!(read(&mut empty, 0, 4096), Next::Look(next) if matches!(*next, Next::Wait))
        );
        // Shorter than the walk said.
        let mut shrunk = reading(Some(100), None);
        assert!(matches!(read(&mut shrunk, 50, 4096), Next::ReadAt(50)));
        assert!(matches!(read(&mut shrunk, 0, 4096), Next::Look(_)));
        // Past what the walk said (it grew, or is no longer a regular file): looked at, and
        // read on.
        let mut grew = reading(Some(100), None);
        assert!(matches!(read(&mut grew, 64, 64), Next::ReadAt(64)));
        assert!(
            matches!(read(&mut grew, 50, 64), Next::Look(next) if matches!(*next, Next::ReadAt(114)))
        );
        // Past LOOK_PAST: to map, a pseudo-file or a device that never ends.
        let mut long = reading(None, None);
        let len = usize::try_from(LOOK_PAST).expect("fits");
        assert!(
            matches!(read(&mut long, len, len), Next::Look(next) if matches!(*next, Next::ReadAt(_)))
        );
    }

    #[test]
    fn a_file_past_the_cap_fails_as_size_limit() {
        let mut file = reading(None, Some(10));
        let Next::Done(Err(err)) = read(&mut file, 11, 4096) else {
            panic!("not failed");
        };
        assert_eq!(err.kind(), reader_core::ErrorKind::SizeLimit);
    }
}

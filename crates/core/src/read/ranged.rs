//! A regular file read as byte ranges, by several threads at once: a shard's part of a file
//! and the hybrid's splitter read through [`RangedFile`]. The ranges of a file under a read
//! lease are given to the work through mappings (see `mapped`), the others with positioned
//! reads.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::read::extent::Extent;
use crate::read::mapped::{Lease, Mapped};
use crate::read::open_regular;
use crate::record::FileError;
use crate::work::{FileWork, JoinRanges};

/// A regular file opened to be read as byte ranges ([`RangedFile::read`]), by as many threads
/// as like at once, each range into a range state of a [`JoinRanges`] work.
///
/// ```
/// use reader_core::{Count, JoinRanges, RangedFile};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// std::fs::write(&path, "one two\nthree\n")?;
/// let file = RangedFile::open(&path, None)?.mapped();
/// assert_eq!(file.size(), 14);
/// let mut buf = [0; 4];
/// let (head, tail) = (file.read(0, 8, &mut buf, &Count)?, file.read(8, file.most(), &mut buf, &Count)?);
/// let whole = Count.join_all(vec![head, tail]).expect("in order");
/// assert_eq!((whole.counts().lines, whole.counts().words), (2, 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RangedFile {
    held: Held,
    path: PathBuf,
    extent: Extent,
}

/// The open file, under a read lease or not.
#[derive(Debug)]
enum Held {
    Plain(File),
    Leased(Lease<File>),
}

impl RangedFile {
    /// Opens `path` for reading without ever blocking on a FIFO or a terminal, and checks that
    /// it is a regular file, of at most `cap` bytes when given ([`FileJob::max_bytes`](crate::FileJob::max_bytes)):
    /// a larger one fails, `size_limit`.
    ///
    /// ```
    /// # use reader_core::RangedFile;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.txt");
    /// std::fs::write(&path, "one two\n")?;
    /// assert_eq!(RangedFile::open(&path, None)?.size(), 8);
    /// assert!(RangedFile::open(&path, Some(7)).is_err());
    /// assert!(RangedFile::open(dir.path(), None).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: &Path, cap: Option<u64>) -> Result<RangedFile, FileError> {
        let (file, extent) = open_regular(path, cap)?;
        Ok(RangedFile {
            held: Held::Plain(file),
            path: path.to_path_buf(),
            extent,
        })
    }

    /// From now on, the bytes the file holds are read through mappings under a read lease,
    /// without a copy, where the kernel grants one (a local file system, a file nobody has
    /// open for writing); otherwise they are read as before. Worth it for a file in the page
    /// cache; a cold one keeps the device busier with reads than with page faults.
    pub fn mapped(self) -> RangedFile {
        let RangedFile { held, path, extent } = self;
        let held = match held {
            Held::Plain(file) => Lease::take(file).map_or_else(Held::Plain, Held::Leased),
            leased => leased,
        };
        RangedFile { held, path, extent }
    }

    /// Whether its ranges are read through mappings ([`RangedFile::mapped`]).
    pub fn is_mapped(&self) -> bool {
        matches!(self.held, Held::Leased(_))
    }

    /// The open file (to ask the page cache about it, say).
    pub fn file(&self) -> &File {
        match &self.held {
            Held::Plain(file) => file,
            Held::Leased(lease) => lease.file(),
        }
    }

    /// Its size when it was opened, as the kernel gave it (see
    /// [`size_is_trusted`](crate::size_is_trusted) for where that may lie).
    pub fn size(&self) -> u64 {
        self.extent.size().bytes().unwrap_or(0)
    }

    /// Where its last range should end: one byte past its limit, so that a file that grew
    /// past it is found out ([`RangedFile::ended_at`]); `u64::MAX` without a limit.
    pub fn most(&self) -> u64 {
        self.extent.most()
    }

    /// Gives the bytes `start..end` to a range state of `work`
    /// ([`JoinRanges::start_range`]); stops early at end of file. `start` must be a multiple
    /// of the work's [`JoinRanges::RANGE_ALIGN`].
    pub fn read<W: JoinRanges>(
        &self,
        start: u64,
        end: u64,
        buf: &mut [u8],
        work: &W,
    ) -> Result<W::Range, FileError> {
        debug_assert!(
            start.is_multiple_of(W::RANGE_ALIGN),
            "a range starts on the work's grain"
        );
        let mut range = work.start_range(start, end);
        let mut at = start;
        if let Held::Leased(lease) = &self.held {
            match lease.count(start, end, &mut range) {
                Mapped::Declined => {}
                Mapped::Done(to) | Mapped::Broken(to) => at = to,
            }
        }
        let file = self.file();
        while at < end {
            let want = usize::try_from(end - at).map_or(buf.len(), |w| w.min(buf.len()));
            match file.read_at(&mut buf[..want], at) {
                Ok(0) => break,
                Ok(n) => {
                    range.update(&buf[..n]);
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FileError::io(&self.path, e)),
            }
        }
        Ok(range.finish())
    }

    /// Checks the file's end, once its ranges are read and `bytes` of it were found: a file
    /// that grew past its limit while it was read fails, `size_limit`.
    pub fn ended_at(mut self, bytes: u64) -> Result<(), FileError> {
        match self.extent.advanced_to(bytes) {
            Some(limit) => Err(limit.error(&self.path)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::Count;

    #[test]
    fn a_file_that_grew_past_its_limit_while_read_fails_at_its_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, "0123456789").expect("write");
        let file = RangedFile::open(&path, Some(10)).expect("within its limit");
        assert_eq!(file.most(), 11);
        std::fs::write(&path, "0123456789ab").expect("grow");
        let range = file
            .read(0, file.most(), &mut [0; 4], &Count)
            .expect("read");
        let err = file
            .ended_at(range.counts().bytes)
            .expect_err("past its limit");
        assert_eq!(err.kind(), crate::ErrorKind::SizeLimit);
    }
}

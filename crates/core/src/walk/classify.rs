//! Classification: what the walk makes of one entry it finds — a file to read (with its size
//! when a filter or the reader needs it), an entry skipped with its reason, or a failure —
//! after the name filters, and this walk's shard's share of it.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::record::{FileError, SkipReason, Skipped};
use crate::walk::entries::walk_error;
use crate::walk::listing::{Chain, Kind};
use crate::walk::patience::Patience;
use crate::walk::{Discovered, FileJob, Walk, long};

impl Walk {
    /// What to do with one entry of the walk; `None` for directories and filtered-out names.
    pub(super) fn classify(&self, entry: ignore::DirEntry) -> Option<Discovered> {
        let kind = Kind::of(entry.file_type()?);
        if kind == Kind::Dir {
            return None;
        }
        let explicit = entry.depth() == 0;
        if !explicit && !self.wanted(entry.path()) {
            return None;
        }
        // Looked up before the entry gives its path away, when it is wanted at all.
        let size = self.needs_size(kind).then(|| {
            entry.metadata().map(|meta| meta.len()).map_err(|err| {
                walk_error(entry.path(), err, true).unwrap_or_else(|| {
                    FileError::io(
                        entry.path(),
                        io::Error::other("its size cannot be looked up"),
                    )
                })
            })
        });
        Some(self.found(entry.into_path(), kind, size))
    }

    /// A root that is not a directory, classified from one `stat` made with `patience` (a
    /// root's links are followed, as the walker follows them), without building a walker for
    /// it; `None` for a directory, which is walked.
    pub(super) fn explicit(
        &self,
        root: &Path,
        patience: &mut Patience<Chain>,
    ) -> Option<Discovered> {
        let path = root.to_path_buf();
        match patience.call(move |_| long::metadata(&path, true)) {
            Ok(Ok(meta)) if meta.is_dir() => None,
            Ok(Ok(meta)) => {
                let kind = Kind::of(meta.file_type());
                let size = self.needs_size(kind).then_some(Ok(meta.len()));
                Some(self.found(root.to_path_buf(), kind, size))
            }
            Ok(Err(err)) => Some(Discovered::Failed(FileError::io(root, err))),
            Err(lost) => Some(Discovered::Failed(lost.error(root, "looking it up"))),
        }
    }

    /// What becomes of a non-directory entry of `kind` at `path`: a file to read (with its
    /// `size`, looked up when [`Walk::needs_size`] says so, `None` otherwise), or skipped, with
    /// the reason.
    pub(super) fn found(
        &self,
        path: PathBuf,
        kind: Kind,
        size: Option<Result<u64, FileError>>,
    ) -> Discovered {
        let reason = if kind == Kind::File {
            let size = match size {
                Some(Ok(len)) => Some(len),
                Some(Err(failed)) => return Discovered::Failed(failed),
                None => None,
            };
            match size {
                Some(len) if self.min_size.is_some_and(|min| len < min) => SkipReason::TooSmall,
                Some(len) if self.max_size.is_some_and(|max| len > max) => SkipReason::TooLarge,
                _ => {
                    return Discovered::File(FileJob {
                        max_bytes: self.max_bytes,
                        digests: self.digests,
                        work: self.work.clone(),
                        ..FileJob::new(path, size)
                    });
                }
            }
        } else {
            match kind {
                Kind::Symlink => SkipReason::Symlink,
                Kind::Fifo => SkipReason::Fifo,
                Kind::Socket => SkipReason::Socket,
                Kind::BlockDevice => SkipReason::BlockDevice,
                Kind::File | Kind::Dir | Kind::CharDevice => SkipReason::CharDevice,
            }
        };
        Discovered::Skipped(Skipped { path, reason })
    }

    /// Whether [`Walk::found`] looks up the size of an entry of `kind`: a regular file's, when
    /// sizes are asked for or a size filter or a split needs them.
    pub(super) fn needs_size(&self, kind: Kind) -> bool {
        let bounded = self.min_size.is_some() || self.max_size.is_some();
        let split = self.shard.is_some() && self.split_above.is_some();
        kind == Kind::File && (self.sizes || bounded || split)
    }

    /// Does the name at the end of `path` have one of the wanted extensions? Found in the
    /// path's bytes, with `Path::extension`'s rule (`.bashrc` has none), without parsing its
    /// components: this runs once for every entry of the walk.
    pub(super) fn wanted(&self, path: &Path) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let bytes = path.as_os_str().as_bytes();
        let name = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
        match name.iter().rposition(|&b| b == b'.') {
            Some(dot) if dot > 0 => {
                let ext = &name[dot + 1..];
                self.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))
            }
            _ => false,
        }
    }

    /// This walk's shard's share of `found`, an entry of `root`, by its key (its path relative
    /// to `root`, or as given when it is the root itself): all of it, the part of a split file
    /// it owns, or nothing; with whether the shard owns it, which only a file handed over by
    /// [`Walk::every_file`] may not.
    pub(super) fn share(&self, root: &Path, mut found: Discovered) -> Option<(Discovered, bool)> {
        let Some(shard) = self.shard else {
            return Some((found, true));
        };
        let path = match &found {
            Discovered::File(job) => &job.path,
            Discovered::Skipped(skipped) => &skipped.path,
            Discovered::Failed(failed) => failed.path(),
        };
        let key = match path.strip_prefix(root) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative,
            _ => path,
        };
        let key = key.as_os_str().as_bytes();
        if self.every_file && matches!(found, Discovered::File(_)) {
            let owned = shard.owns(key);
            return Some((found, owned));
        }
        // A file whose digests cannot be joined from ranges (SHA-256, XXH3) is read whole,
        // by the shard that owns it.
        let part = match (&found, self.split_above) {
            (Discovered::File(job), Some(unit))
                if job.digests.joins_ranges() && job.work.is_none() =>
            {
                job.size
                    .filter(|&size| shard.parts_of(size, unit) > 1)
                    .map(|size| shard.part(key, size, unit))
            }
            _ => None,
        };
        match part {
            // A split file: this shard's part of it, if it has one.
            Some(part) => {
                if let Discovered::File(job) = &mut found {
                    job.part = Some(part?);
                }
                Some((found, true))
            }
            None => shard.owns(key).then_some((found, true)),
        }
    }
}

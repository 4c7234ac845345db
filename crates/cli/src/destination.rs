//! Where a run's output goes with `--output FILE`: a temporary file beside FILE, renamed onto
//! it only once the run is complete, so that a run that fails or dies never leaves a FILE
//! that looks complete, and a run started again (a retried shard) simply replaces its own.
//!
//! FILE's directory is made if it is missing. A run that ends normally but cannot finish (its model gave up, a write failed) removes its
//! temporary file; one killed outright leaves it behind under its hidden name
//! (`.FILE.<pid>.tmp`), never under FILE.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use reader_core::StartError;

/// The temporary file of an `--output` that is not complete yet; removed when dropped unless
/// [`Pending::commit`]ted.
#[derive(Debug)]
pub(crate) struct Pending {
    temp: PathBuf,
    target: PathBuf,
    /// The same open file the output is written through, to be synced before the rename.
    file: File,
    committed: bool,
}

impl Pending {
    /// Creates the temporary file for `target` in its directory; returns it with a handle to
    /// write the output to.
    pub(crate) fn create(target: &Path) -> Result<(Pending, File), StartError> {
        let failed = |source| StartError::Path {
            path: target.to_path_buf(),
            source,
        };
        let name = target
            .file_name()
            .ok_or_else(|| failed(io::Error::other("names a directory, not a file")))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = target.with_file_name(temp_name);
        // `-o out/{shard}.jsonl` makes `out/`, as every shard of a run may be the first there.
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(failed)?;
        }
        let open = || OpenOptions::new().write(true).create_new(true).open(&temp);
        let file = match open() {
            // Left by a run that was killed and had the same pid: it is ours to replace.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&temp).map_err(failed)?;
                open()
            }
            other => other,
        }
        .map_err(failed)?;
        let writer = file.try_clone().map_err(failed)?;
        let pending = Pending {
            temp,
            target: target.to_path_buf(),
            file,
            committed: false,
        };
        Ok((pending, writer))
    }

    /// Makes the output FILE: syncs the temporary file, renames it onto FILE and syncs the
    /// directory, so that FILE is either the whole output or not there.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        let parent = match self.target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // The rename is done; a directory that cannot be synced (some file systems refuse)
        // leaves it as durable as the file system makes it.
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The file the output becomes.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.jsonl");
        fs::write(&target, "old\n").expect("write");
        let (pending, mut writer) = Pending::create(&target).expect("create");
        writer.write_all(b"new\n").expect("write");
        assert_eq!(fs::read_to_string(&target).expect("read"), "old\n"); // whole-file read ok: four bytes
        pending.commit().expect("commit");
        assert_eq!(fs::read_to_string(&target).expect("read"), "new\n"); // whole-file read ok: four bytes
        let left: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
    }

    #[test]
    fn a_run_that_does_not_commit_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.jsonl");
        let (pending, mut writer) = Pending::create(&target).expect("create");
        writer.write_all(b"half").expect("write");
        drop(pending);
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn a_missing_directory_is_made_and_one_that_cannot_be_is_a_start_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out/deeper/0.jsonl");
        let (pending, _) = Pending::create(&target).expect("create");
        pending.commit().expect("commit");
        assert!(target.is_file());
        let blocked = target.join("1.jsonl");
        let err = Pending::create(&blocked)
            .map(|_| ())
            .expect_err("a file where a directory should be");
        assert!(err.to_string().contains("0.jsonl/1.jsonl"), "{err}");
    }
}

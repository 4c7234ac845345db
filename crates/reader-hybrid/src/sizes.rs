//! The sizes the router routes by: one `fstatat` a file, relative to its directory.
//!
//! Discovery names files by their whole path; looking each one up by that path walks every
//! component again, which was most of the cost of a lookup on a cached tree. Jobs come in walk
//! order, so the files of one directory come together: the directory is opened once
//! (`O_PATH`) and each file is looked up by its name in it.

use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::thread;

use reader_core::FileJob;

/// Fills in the sizes of the jobs that have none, with up to `threads` threads at once. A file
/// whose size cannot be looked up (it vanished) keeps none and goes to the thread pool, which
/// reports why it cannot be read.
pub(crate) fn look_up_sizes(batch: &mut [FileJob], threads: usize) {
    let unsized_jobs = batch.iter().filter(|job| job.size.is_none()).count();
    if threads <= 1 || unsized_jobs < 2 {
        let mut sizer = Sizer::default();
        for job in batch.iter_mut().filter(|job| job.size.is_none()) {
            job.size = sizer.size(&job.path);
        }
        return;
    }
    let per_thread = batch.len().div_ceil(threads);
    thread::scope(|scope| {
        for part in batch.chunks_mut(per_thread) {
            let spawned = thread::Builder::new()
                .name("hybrid-sizer".into())
                .spawn_scoped(scope, move || look_up_sizes(part, 1));
            // No thread to be had: the part keeps no sizes and goes to the thread pool.
            drop(spawned);
        }
    });
}

/// Looks up sizes, keeping the directory of the last file open.
#[derive(Debug, Default)]
struct Sizer {
    dir: Option<(PathBuf, File)>,
}

impl Sizer {
    /// The size of the file at `path`, following symbolic links as `std::fs::metadata` does.
    fn size(&mut self, path: &Path) -> Option<u64> {
        let relative = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .zip(path.file_name())
            .and_then(|(parent, name)| {
                Some((self.dir(parent)?, CString::new(name.as_bytes()).ok()?))
            });
        let Some((dir, name)) = relative else {
            return std::fs::metadata(path).ok().map(|meta| meta.len());
        };
        // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `dir` is an open directory descriptor, `name` a NUL-terminated name and
        // `stat` writable; all outlive the call.
        let rc = unsafe { libc::fstatat(dir, name.as_ptr(), &mut stat, 0) };
        if rc == 0 {
            u64::try_from(stat.st_size).ok()
        } else {
            None
        }
    }

    /// A descriptor of the directory `parent`, opened unless it is the last one's.
    fn dir(&mut self, parent: &Path) -> Option<libc::c_int> {
        if self.dir.as_ref().is_none_or(|(open, _)| open != parent) {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(parent)
                .ok()?;
            self.dir = Some((parent.to_path_buf(), file));
        }
        self.dir.as_ref().map(|(_, file)| file.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_looked_up_in_parallel_and_a_vanished_file_keeps_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut batch: Vec<FileJob> = (0..40u64)
            .map(|i| {
                let sub = dir.path().join(format!("d{}", i % 3));
                std::fs::create_dir_all(&sub).expect("mkdir");
                let path = sub.join(format!("f{i}"));
                std::fs::write(&path, vec![b'x'; i as usize]).expect("write");
                FileJob { path, size: None }
            })
            .collect();
        batch.push(FileJob {
            path: dir.path().join("gone"),
            size: None,
        });
        batch[0].size = Some(999);
        look_up_sizes(&mut batch, 16);
        assert_eq!(batch[0].size, Some(999), "a known size is kept");
        for (i, job) in batch.iter().enumerate().take(40).skip(1) {
            assert_eq!(job.size, Some(i as u64));
        }
        assert_eq!(batch[40].size, None);
    }

    #[test]
    fn links_are_followed_and_bare_names_are_looked_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "12345").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let mut sizer = Sizer::default();
        assert_eq!(sizer.size(&link), Some(5));
        assert_eq!(sizer.size(&dir.path().join("missing")), None);
        assert_eq!(
            sizer.size(Path::new("Cargo.toml")),
            std::fs::metadata("Cargo.toml").ok().map(|m| m.len())
        );
    }
}

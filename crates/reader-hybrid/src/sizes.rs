//! The sizes the router routes by: one `fstatat` a file, relative to its directory when the
//! thread looked at the previous file there too ([`reader_core::file_size`]). Discovery names
//! files by their whole path, and looking each one up by that path walks every component
//! again; jobs come in walk order, so the files of one directory come together. The paths
//! then read without the `fstat` a reader otherwise does after opening
//! ([`count_sized`](reader_core::count_sized)): one `stat` a file in all, as for the other
//! readers. On a cold tree a `stat` is a read of the inode from the device, so the router then
//! runs many of them at once.

use std::thread;

use reader_core::FileJob;

/// Fills in the sizes of the jobs that have none, with up to `threads` threads at once. A file
/// whose size cannot be looked up (it vanished) keeps none and goes to the thread pool, which
/// reports why it cannot be read.
pub(crate) fn look_up_sizes(batch: &mut [FileJob], threads: usize) {
    let unsized_jobs = batch.iter().filter(|job| job.size.is_none()).count();
    if threads <= 1 || unsized_jobs < 2 {
        for job in batch.iter_mut().filter(|job| job.size.is_none()) {
            job.size = reader_core::file_size(&job.path);
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
                FileJob::new(path, None)
            })
            .collect();
        batch.push(FileJob::new(dir.path().join("gone"), None));
        batch[0].size = Some(999);
        look_up_sizes(&mut batch, 16);
        assert_eq!(batch[0].size, Some(999), "a known size is kept");
        for (i, job) in batch.iter().enumerate().take(40).skip(1) {
            assert_eq!(job.size, Some(i as u64));
        }
        assert_eq!(batch[40].size, None);
    }
}

//! Files in chosen page-cache states, without root: dropped with `POSIX_FADV_DONTNEED` once
//! written back, then chosen pages read back one at a time with read-ahead off
//! (`POSIX_FADV_RANDOM`), and the state checked with `mincore` on a mapping, which reads
//! nothing. A check that reads (`preadv2` with `RWF_NOWAIT`) would not do: a non-blocking
//! read of a page that is not cached starts the read-ahead that caches it.
//!
//! ```no_run
//! use reader_testkit::cache::{self, Pages};
//! let dir = cache::tempdir();
//! let path = dir.path().join("f.txt");
//! std::fs::write(&path, vec![b'x'; 5 * 4096])?;
//! // Fails where the file system keeps every page whatever it is told (tmpfs).
//! cache::cache_only(&path, Pages::First)?;
//! assert_eq!(cache::resident(&path)?, [true, false, false, false, false]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Which pages of a file are left in the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// None: the file is cold.
    None,
    /// The first page only.
    First,
    /// Every other page, from the first.
    EveryOther,
    /// Every page but the last.
    AllButLast,
    /// Every page but the first.
    AllButFirst,
    /// A pseudo-random half of the pages, chosen by the seed.
    RandomHalf(u64),
}

impl Pages {
    /// The states that leave a file partly cached, each cut somewhere else.
    pub const PARTLY: [Pages; 5] = [
        Pages::First,
        Pages::EveryOther,
        Pages::AllButLast,
        Pages::AllButFirst,
        Pages::RandomHalf(0x9e37_79b9_7f4a_7c15),
    ];

    /// Which of `count` pages are to be cached.
    pub fn chosen(self, count: usize) -> Vec<bool> {
        let mut seed = match self {
            Pages::RandomHalf(seed) => seed | 1,
            _ => 1,
        };
        (0..count)
            .map(|page| match self {
                Pages::None => false,
                Pages::First => page == 0,
                Pages::EveryOther => page % 2 == 0,
                Pages::AllButLast => page + 1 < count,
                Pages::AllButFirst => page > 0,
                Pages::RandomHalf(_) => {
                    seed ^= seed >> 12;
                    seed ^= seed << 25;
                    seed ^= seed >> 27;
                    seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63 == 1
                }
            })
            .collect()
    }
}

/// A temporary folder whose files' pages can be dropped: in the system's temporary folder
/// unless that is kept in memory (tmpfs, ramfs), else in the current one (a test's is its
/// crate's folder, on a disk).
pub fn tempdir() -> tempfile::TempDir {
    let system = std::env::temp_dir();
    let base = if in_memory(&system) {
        Path::new(".").to_path_buf()
    } else {
        system
    };
    tempfile::Builder::new()
        .prefix("reader-cache-")
        .tempdir_in(base)
        .expect("create a temporary folder")
}

/// Whether `dir` is on a file system that keeps its files in memory (tmpfs, ramfs).
fn in_memory(dir: &Path) -> bool {
    const TMPFS: libc::__fsword_t = 0x0102_1994;
    const RAMFS: libc::__fsword_t = 0x8584_58f6;
    let Ok(name) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `name` is NUL-terminated and `stat` writable memory the size of a statfs.
    if unsafe { libc::statfs(name.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statfs filled it in when it returned 0 (and it was zeroed anyway).
    let kind = unsafe { stat.assume_init() }.f_type;
    kind == TMPFS || kind == RAMFS
}

/// The size of a page of the page cache.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system setting.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Writes back and drops every page of `path` from the page cache.
pub fn evict(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    file.sync_data()?;
    advise(&file, libc::POSIX_FADV_DONTNEED)
}

/// [`evict`] every file below `dir`.
pub fn evict_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            evict_tree(&entry.path())?;
        } else if entry.file_type()?.is_file() {
            evict(&entry.path())?;
        }
    }
    Ok(())
}

/// Leaves exactly the pages of `path` that `pages` chooses in the page cache, and checks that
/// it did. Fails, saying what the cache holds, where the file system keeps pages it is told to
/// drop (tmpfs, ramfs) or reads more than it is asked for.
pub fn cache_only(path: &Path, pages: Pages) -> io::Result<()> {
    let page = page_size();
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    let chosen = pages.chosen(len.div_ceil(page));
    file.sync_data()?;
    advise(&file, libc::POSIX_FADV_DONTNEED)?;
    advise(&file, libc::POSIX_FADV_RANDOM)?;
    let mut buf = vec![0; page];
    for (i, _) in chosen.iter().enumerate().filter(|(_, cached)| **cached) {
        file.read_at(&mut buf, (i * page) as u64)?;
    }
    let found = resident(path)?;
    if found != chosen {
        let show = |pages: &[bool]| -> String {
            let shown: String = pages
                .iter()
                .take(64)
                .map(|&p| if p { '#' } else { '.' })
                .collect();
            if pages.len() > 64 {
                shown + "…"
            } else {
                shown
            }
        };
        return Err(io::Error::other(format!(
            "{}: asked the page cache for {} ({pages:?}), it holds {}; a file system that \
             keeps files in memory (tmpfs) cannot be put in a partly cached state",
            path.display(),
            show(&chosen),
            show(&found),
        )));
    }
    Ok(())
}

/// Which pages of `path` are in the page cache, looked up with `mincore` on a mapping of it,
/// which reads none of them.
pub fn resident(path: &Path) -> io::Result<Vec<bool>> {
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: a read-only shared mapping of an open file, of its length; nothing is read
    // through it, and it is unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let mut vec = vec![0u8; len.div_ceil(page_size())];
    // SAFETY: `map` is a mapping of `len` bytes and `vec` has a byte for each of its pages.
    let rc = unsafe { libc::mincore(map, len, vec.as_mut_ptr()) };
    let err = io::Error::last_os_error();
    // SAFETY: `map` was mapped above with this length and is not used after.
    unsafe { libc::munmap(map, len) };
    if rc != 0 {
        return Err(err);
    }
    Ok(vec.iter().map(|&v| v & 1 == 1).collect())
}

/// `posix_fadvise(file, 0, 0, advice)`.
fn advise(file: &File, advice: libc::c_int) -> io::Result<()> {
    // SAFETY: advice on a descriptor open for the call; no memory is passed.
    match unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, advice) } {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_choose_the_pages_they_name() {
        let show = |pages: Pages| -> String {
            let chosen = pages.chosen(6);
            chosen.iter().map(|&p| if p { '#' } else { '.' }).collect()
        };
        assert_eq!(show(Pages::None), "......");
        assert_eq!(show(Pages::First), "#.....");
        assert_eq!(show(Pages::EveryOther), "#.#.#.");
        assert_eq!(show(Pages::AllButLast), "#####.");
        assert_eq!(show(Pages::AllButFirst), ".#####");
        let random = Pages::RandomHalf(7).chosen(1000);
        let cached = random.iter().filter(|&&p| p).count();
        assert!((400..600).contains(&cached), "{cached}");
    }

    #[test]
    fn chosen_pages_are_what_the_cache_holds_on_a_disk() {
        let dir = tempdir();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 5 * page_size() + 10]).expect("write");
        for pages in Pages::PARTLY.into_iter().chain([Pages::None]) {
            cache_only(&path, pages).expect("a partly cached file");
            assert_eq!(resident(&path).expect("mincore"), pages.chosen(6));
        }
    }
}

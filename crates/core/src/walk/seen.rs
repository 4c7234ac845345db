//! Each name once: the names the directories being walked have listed so far.

/// The names each directory being walked has listed so far, so that a name its listing gives
/// twice is reported once. A file system lists each name once while a directory stays as it
/// is, but a listing that changes while it is read need not: procfs lists
/// `/proc/PID/map_files` by position, so a mapping made half-way through lists an entry again,
/// and a network or FUSE file system can repeat names too. A directory listed twice is walked
/// once: the second listing of it, and everything beneath that, is left out.
use std::collections::hash_map::RandomState;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::walk::entries::error_path;
use crate::walk::listing::Listed;

#[derive(Debug, Default)]
pub(super) struct Seen {
    /// At index `d`, the names the directory at depth `d` (whose entries have depth `d + 1`)
    /// has listed so far; the first `used` are in use, the rest empty and kept for reuse.
    names: Vec<Listed>,
    used: usize,
    /// The key of the names' hashes, one for the whole walk.
    keys: RandomState,
    /// A directory listed again, with its depth: what the walker finds beneath it (entries
    /// deeper than it, and the failure to list it) is not reported again.
    repeated: Option<(usize, PathBuf)>,
}

impl Seen {
    /// Whether the entry at `path`, of `depth`, is reported: not listed before by its
    /// directory, nor beneath a directory listed twice. A root (depth 0) always is, and starts
    /// afresh.
    pub(super) fn first(&mut self, depth: usize, path: &Path, is_dir: bool) -> bool {
        if self.repeated.as_ref().is_some_and(|(at, _)| depth > *at) {
            return false;
        }
        self.repeated = None;
        // The directories deeper than this entry's have been listed to their end.
        let done = depth.min(self.used);
        self.names[done..self.used]
            .iter_mut()
            .for_each(Listed::clear);
        self.used = depth;
        if depth == 0 {
            return true;
        }
        if self.names.len() < depth {
            self.names.resize_with(depth, Listed::default);
        }
        // The walker's paths end in the entry's name: the bytes after the last `/`.
        let bytes = path.as_os_str().as_bytes();
        let name = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(bytes, |slash| &bytes[slash + 1..]);
        let first = self.names[depth - 1].insert(name, &self.keys);
        if !first && is_dir {
            self.repeated = Some((depth, path.to_path_buf()));
        }
        first
    }

    /// Whether the walker's error `err` is about what is beneath a directory listed twice.
    pub(super) fn beneath_repeated(&self, err: &ignore::Error) -> bool {
        let Some((at, dir)) = &self.repeated else {
            return false;
        };
        match err.depth() {
            Some(depth) if depth > *at => true,
            Some(depth) => depth == *at && error_path(err) == Some(dir.as_path()),
            None => false,
        }
    }
}

//! How many files a ring thread keeps in flight (its window), revised after every round: all
//! of its share while the device makes operations wait, and back to the few a cached tree
//! needs once every operation completes as it is submitted (see [`revised_window`]).

use super::RingThread;

impl RingThread<'_> {
    /// Revises the window after a round in which `sent` opens and reads were in flight
    /// ([`revised_window`]). Those that wait for the device are the ones still in flight a
    /// whole round after the one that sent them: an operation the kernel finishes without the
    /// device but not at once (a read that passes a read-ahead mark completes from a task
    /// work item, at the next round) has ended by then.
    pub(super) fn adapt(&mut self, sent: usize) {
        let round = self.round;
        let device = self
            .slots
            .iter()
            .filter_map(|slot| slot.reading.as_ref())
            .filter(|reading| reading.sent_in.is_some_and(|sent_in| sent_in + 1 < round))
            .count();
        self.window = revised_window(self.window, self.least_window(), self.share, sent, device);
    }

    /// The window on a cached tree: as many files as fit [`CACHED_WINDOW_BYTES`] of buffer
    /// (files of a few KiB touch a page or two of theirs), from [`MIN_WINDOW`] to
    /// [`MAX_CACHED_WINDOW`], within the thread's share.
    fn least_window(&self) -> usize {
        let per_file = self.recent_bytes.max(1);
        let files = usize::try_from(CACHED_WINDOW_BYTES / per_file).unwrap_or(MAX_CACHED_WINDOW);
        files.clamp(MIN_WINDOW, MAX_CACHED_WINDOW).min(self.share)
    }
}

/// A ring thread's window after a round: how many files it may have in flight, from `least`
/// (a cached tree's, [`RingThread::least_window`]) to `share` (all it may have), when `device`
/// of the `sent` operations that were in flight wait for the device (or a server).
///
/// When a quarter of them or more wait, the tree is read at the device's pace, and then every
/// file in flight the share allows pays, at once (growing by steps cost a cold `small` 25 %).
/// When fewer wait — files of a cached tree that the kernel has let go of — they get slots
/// beside the cached tree's window, and the rest goes on as cached. When none waits, the
/// window shrinks by one.
fn revised_window(window: usize, least: usize, share: usize, sent: usize, device: usize) -> usize {
    if device > 0 && device * 4 >= sent {
        return share;
    }
    let cached = (least + device).min(share);
    if window > cached { window - 1 } else { cached }
}

/// Files in flight a ring thread starts with, and comes back to on a cached tree of large
/// files: enough to batch the system calls, few enough that their buffers stay in the core's
/// cache.
pub(super) const MIN_WINDOW: usize = 4;

/// Files in flight on a cached tree of small files at most: past it, batching saves no more.
const MAX_CACHED_WINDOW: usize = 32;

/// Buffer the files in flight of a cached tree may fill: four buffers, well within a core's
/// L2 cache (measured on `small`, `seed-mixed` and `medium`: 4 files in flight cost small
/// files 12 %, 32 files cost large ones 14 %).
const CACHED_WINDOW_BYTES: u64 = 4 * 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_for_the_device_and_not_for_a_file_or_two_of_a_cached_tree() {
        let (least, share) = (8, 128);
        // A quarter of what was in flight waits or more: a cold tree, all of the share at once.
        assert_eq!(revised_window(8, least, share, 8, 2), share);
        assert_eq!(revised_window(share, least, share, 100, 90), share);
        // One file of sixteen waits: a slot for it beside the cached window.
        assert_eq!(revised_window(8, least, share, 16, 1), 9);
        // Nothing waits: back towards the cached window, one at a time.
        assert_eq!(revised_window(share, least, share, 20, 0), share - 1);
        assert_eq!(revised_window(9, least, share, 8, 0), 8);
        assert_eq!(revised_window(8, least, share, 8, 0), 8);
        // Never past the share.
        assert_eq!(revised_window(8, least, 10, 80, 12), 10);
    }
}

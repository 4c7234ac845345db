//! Revising the routing as the run goes: a tree can be half cached (a directory read a
//! minute ago beside one never read), so the probe of the first files can be wrong for the
//! rest of it.
//!
//! Where nothing was set by the caller and io_uring is to be had, the run starts on the
//! thread pool (cached) or on the rings (cold), as the first probe says. Then, every
//! [`EVERY`] files routed, the router probes [`PROBES`] files of the batch it is about to
//! send, with the same read of one byte that never does I/O ([`CacheProbe`]). When most of
//! them disagree with the routing in force, the rest of the tree goes the other way: cold
//! files to the rings, many in flight; cached ones to the pool. A probe that splits evenly,
//! or says nothing (empty files), changes nothing. Files already sent stay where they are.
//!
//! A look costs [`PROBES`] opens and one-byte reads a [`EVERY`] files: 0.4 % more opens, on a
//! cached tree of small files where the opens are most of the work.

use reader_core::FileJob;
use serde::Serialize;

use crate::Routing;
use crate::tune::CacheProbe;

/// Files routed between two looks at the cache.
pub(crate) const EVERY: usize = 1024;
/// Files probed at each look, spread over the batch about to be routed.
pub(crate) const PROBES: usize = 4;
/// Revisions the summary lists one by one; [`Reviser::revised`] counts them all.
const LISTED: usize = 16;

/// One change of routing during a run (the summary's `"revisions"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// Files routed before the change.
    pub after_files: usize,
    /// Where the files went from then on: [`Routing::Pool`] (the tree is cached there) or
    /// [`Routing::Ring`] (it is not).
    pub routing: Routing,
    /// Files the look probed.
    pub probed: usize,
    /// Probed files whose last page to read was in the page cache.
    pub cached: usize,
}

/// The router's side of the revisions: when to look, and whether what a look found changes
/// the routing.
#[derive(Debug)]
pub(crate) struct Reviser {
    /// Whether the routing in force is the cold one (the rings).
    cold: bool,
    routed: usize,
    next_look: usize,
    listed: Vec<Revision>,
    revised: usize,
}

impl Reviser {
    /// A reviser for a run whose first probe found the tree `cold` (or not).
    pub(crate) fn new(cold: bool) -> Reviser {
        Reviser {
            cold,
            routed: 0,
            next_look: EVERY,
            listed: Vec::new(),
            revised: 0,
        }
    }

    /// Takes note of `batch`, about to be routed; when it is time, looks at its cache state
    /// with `probe` and returns the routing from now on if it changes: `Some(true)` for the
    /// cold one. `allowed` says whether turning cold may happen (io_uring is to be had); it
    /// is asked only then.
    pub(crate) fn observe(
        &mut self,
        batch: &[FileJob],
        probe: impl FnOnce(&[FileJob]) -> CacheProbe,
        allowed: impl FnOnce() -> bool,
    ) -> Option<bool> {
        let before = self.routed;
        self.routed += batch.len();
        if self.routed < self.next_look || batch.is_empty() {
            return None;
        }
        self.next_look = self.routed + EVERY;
        let found = probe(batch);
        let turn = if self.cold {
            found.cached * 2 > found.probed
        } else {
            found.cold()
        };
        if !turn || (!self.cold && !allowed()) {
            return None;
        }
        self.cold = !self.cold;
        self.revised += 1;
        if self.listed.len() < LISTED {
            self.listed.push(Revision {
                after_files: before,
                routing: if self.cold {
                    Routing::Ring
                } else {
                    Routing::Pool
                },
                probed: found.probed,
                cached: found.cached,
            });
        }
        Some(self.cold)
    }

    /// How many times the routing changed, and the first [`LISTED`] changes.
    pub(crate) fn finish(self) -> (usize, Vec<Revision>) {
        (self.revised, self.listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(files: usize) -> Vec<FileJob> {
        vec![FileJob::new("f", None); files]
    }

    fn found(probed: usize, cached: usize) -> impl FnOnce(&[FileJob]) -> CacheProbe {
        move |_| CacheProbe {
            probed,
            cached,
            cost_us: 0,
        }
    }

    #[test]
    fn it_looks_once_every_so_many_files() {
        let mut reviser = Reviser::new(false);
        let mut looks = 0;
        for _ in 0..15 {
            let _ = reviser.observe(
                &batch(256),
                |_| {
                    looks += 1;
                    CacheProbe::default()
                },
                || true,
            );
        }
        assert_eq!(looks, 3, "at 1,024, 2,048 and 3,072 of 3,840 files");
        assert_eq!(reviser.finish(), (0, Vec::new()));
    }

    #[test]
    fn a_majority_that_disagrees_turns_the_routing_and_an_even_split_does_not() {
        let mut reviser = Reviser::new(false);
        assert_eq!(reviser.observe(&batch(EVERY), found(4, 2), || true), None);
        assert_eq!(
            reviser.observe(&batch(EVERY), found(4, 1), || true),
            Some(true)
        );
        assert_eq!(reviser.observe(&batch(EVERY), found(4, 1), || true), None);
        assert_eq!(reviser.observe(&batch(EVERY), found(4, 2), || true), None);
        assert_eq!(reviser.observe(&batch(EVERY), found(0, 0), || true), None);
        assert_eq!(
            reviser.observe(&batch(EVERY), found(4, 3), || true),
            Some(false)
        );
        let (revised, listed) = reviser.finish();
        assert_eq!(revised, 2);
        assert_eq!(
            listed,
            [
                Revision {
                    after_files: EVERY,
                    routing: Routing::Ring,
                    probed: 4,
                    cached: 1
                },
                Revision {
                    after_files: 5 * EVERY,
                    routing: Routing::Pool,
                    probed: 4,
                    cached: 3
                }
            ]
        );
    }

    #[test]
    fn it_turns_cold_only_where_allowed_and_lists_a_bounded_number() {
        let mut refused = Reviser::new(false);
        assert_eq!(refused.observe(&batch(EVERY), found(4, 0), || false), None);
        let mut flapping = Reviser::new(true);
        for i in 0..3 * LISTED {
            let cached = if i % 2 == 0 { 4 } else { 0 };
            assert!(
                flapping
                    .observe(&batch(EVERY), found(4, cached), || true)
                    .is_some()
            );
        }
        let (revised, listed) = flapping.finish();
        assert_eq!((revised, listed.len()), (3 * LISTED, LISTED));
    }
}

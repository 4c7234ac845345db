//! The size-routing policy of the hybrid model, as data and a pure function.

use std::fmt;

/// Where a file of a given size should be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// Small files: the async path.
    Async,
    /// Larger files: the thread pool.
    Threads,
    /// Very large files: read as several byte ranges in parallel.
    Split,
}

impl Route {
    /// The stable name used in summaries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Route::Async => "async",
            Route::Threads => "threads",
            Route::Split => "split",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sizes below `threshold` go to the async path, sizes at or above `split_at` are split,
/// everything between goes to the thread pool.
///
/// ```
/// use reader_hybrid::{Route, RoutePolicy};
/// let policy = RoutePolicy::default();
/// assert_eq!(policy.route(100), Route::Async);
/// assert_eq!(policy.route(10 * 1024), Route::Threads);
/// assert_eq!(policy.route(1 << 30), Route::Split);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Files smaller than this go to the async path.
    pub threshold: u64,
    /// Files at least this large are split into ranges read in parallel.
    pub split_at: u64,
}

impl RoutePolicy {
    /// The original design's threshold: 10 KiB.
    pub const DEFAULT_THRESHOLD: u64 = 10 * 1024;
    /// Files from 64 MiB up are split: below that, whole files already keep every core busy
    /// on any tree with more than a handful of them.
    pub const DEFAULT_SPLIT_AT: u64 = 64 * 1024 * 1024;

    /// Where a file of `size` bytes goes.
    pub fn route(&self, size: u64) -> Route {
        if size >= self.split_at {
            Route::Split
        } else if size < self.threshold {
            Route::Async
        } else {
            Route::Threads
        }
    }
}

impl Default for RoutePolicy {
    fn default() -> Self {
        RoutePolicy {
            threshold: Self::DEFAULT_THRESHOLD,
            split_at: Self::DEFAULT_SPLIT_AT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_of_the_policy() {
        let p = RoutePolicy {
            threshold: 10,
            split_at: 100,
        };
        assert_eq!(p.route(0), Route::Async);
        assert_eq!(p.route(9), Route::Async);
        assert_eq!(p.route(10), Route::Threads);
        assert_eq!(p.route(99), Route::Threads);
        assert_eq!(p.route(100), Route::Split);
        let everything_threads = RoutePolicy {
            threshold: 0,
            split_at: u64::MAX,
        };
        assert_eq!(everything_threads.route(0), Route::Threads);
    }
}

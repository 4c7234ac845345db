//! What `--version` says of a binary: its version, the git revision it was built from (when it
//! was built from a checkout, or from a crate packaged from one: see `build.rs`), and what it
//! can use on this machine, a line each.

use std::fmt::Write as _;

/// The readers' version, the same for every crate of the workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binary was built from, if it was built from a checkout.
pub const REVISION: Option<&str> = option_env!("READER_GIT_REVISION");

/// Something a binary can use when the machine allows it: a line of its `--version` each.
///
/// These are what a reader finds out from the machine at run time, not what it was built
/// with: the same binary says `avx512` on one CPU and `portable` on another. What a reader
/// computes besides the counts (digests, once there are any) is listed here too, each its own
/// variant.
#[derive(Debug, Clone, Copy)]
pub enum Uses {
    /// reader-core's counter, in the fastest kernel this CPU runs: `avx512`, `avx2` or
    /// `portable` (see [`reader_core::Kernel`]).
    Counter,
    /// A facility the kernel may refuse, by name, with the function that asks: why it cannot be
    /// used here, or `None` when it can (`reader_async::io_uring_refusal`).
    Refusable {
        /// Its name in the line: `io_uring`.
        name: &'static str,
        /// Why it cannot be used here, if it cannot.
        refusal: fn() -> Option<String>,
    },
}

impl Uses {
    /// io_uring, which the kernel may refuse; `refusal` says why
    /// (`reader_async::io_uring_refusal`).
    pub const fn io_uring(refusal: fn() -> Option<String>) -> Uses {
        Uses::Refusable {
            name: "io_uring",
            refusal,
        }
    }
}

/// The text `--version` prints for the binary `name` that uses `uses`: `name VERSION (rev
/// HASH)`, then a `what: state` line for each of `uses`.
///
/// ```text
/// reader-async 0.1.0 (rev 4584af0cde12)
/// counter: avx2
/// io_uring: yes
/// ```
pub fn text(name: &str, uses: &[Uses]) -> String {
    let mut text = format!("{name} {VERSION}");
    if let Some(revision) = REVISION {
        let _ = write!(text, " (rev {revision})");
    }
    for used in uses {
        let _ = match used {
            Uses::Counter => write!(text, "\ncounter: {}", reader_core::Kernel::best().name()),
            Uses::Refusable { name, refusal } => match refusal() {
                None => write!(text, "\n{name}: yes"),
                Some(why) => write!(text, "\n{name}: no ({why})"),
            },
        };
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_names_the_binary_and_each_use_has_its_own_line() {
        fn refused() -> Option<String> {
            Some("not in this kernel".into())
        }
        fn granted() -> Option<String> {
            None
        }
        let uses = [
            Uses::Counter,
            Uses::Refusable {
                name: "ring",
                refusal: refused,
            },
            Uses::Refusable {
                name: "other",
                refusal: granted,
            },
        ];
        let text = text("reader-test", &uses);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(&format!("reader-test {VERSION}")),
            "{text}"
        );
        let kernel = reader_core::Kernel::best().name();
        assert_eq!(
            lines[1..],
            [
                format!("counter: {kernel}").as_str(),
                "ring: no (not in this kernel)",
                "other: yes",
            ],
        );
        assert_eq!(super::text("reader-merge", &[]).lines().count(), 1);
    }
}

//! The readers the bench knows by name: ours, the reference and `wc`. This module owns what
//! each is called (its label in the tables, the reports and `--readers`), which program runs it
//! with which fixed arguments, the command line a recommendation gives for it, the order of the
//! tables, and which of them sweep `--jobs`. Variants and rows keep a label, which may also be
//! a digest tool's, a duplicate finder's or a Python reader's; whether one is the hybrid, the
//! sequential reader or the reference they answer through [`Reader::from_label`] (`is`).

use std::fmt;

/// A reader the bench runs and compares, as opposed to a digest tool, a duplicate finder or a
/// Python reader of the original (which are only labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The reference: `reader-read-only` reads every byte with the same walk and counts
    /// nothing, so its time is what the system calls alone cost. Every table shows it, with
    /// each reader's ratio to it; it is never ranked, recommended, or counted in the consensus.
    ReadOnly,
    /// The sequential baseline, `reader-seq`: each table's `vs seq` is over it, and it breaks
    /// ties in the consensus on a user's tree.
    Seq,
    /// `reader-threads`.
    Threads,
    /// `reader-async` on tokio.
    AsyncTokio,
    /// `reader-async` on async-std.
    AsyncStd,
    /// `reader-async` on io_uring.
    AsyncUring,
    /// `reader-hybrid`: the one recommended with its defaults when it is within noise.
    Hybrid,
    /// `reader-proc`.
    Proc,
    /// `LC_ALL=C xargs -0 wc -lwc`, for scale: ranked, never recommended.
    Wc,
}

impl Reader {
    /// Every reader, in table order (the reference first).
    pub const ALL: [Reader; 9] = [
        Reader::ReadOnly,
        Reader::Seq,
        Reader::Threads,
        Reader::AsyncTokio,
        Reader::AsyncStd,
        Reader::AsyncUring,
        Reader::Hybrid,
        Reader::Proc,
        Reader::Wc,
    ];

    /// Its name in the tables, the reports and `--readers`: `read-only`, `seq`, `async-tokio`…
    pub const fn label(self) -> &'static str {
        match self {
            Reader::ReadOnly => "read-only",
            Reader::Seq => "seq",
            Reader::Threads => "threads",
            Reader::AsyncTokio => "async-tokio",
            Reader::AsyncStd => "async-std",
            Reader::AsyncUring => "async-uring",
            Reader::Hybrid => "hybrid",
            Reader::Proc => "proc",
            Reader::Wc => "wc",
        }
    }

    /// The reader whose [`label`](Reader::label) this is, if any.
    pub fn from_label(label: &str) -> Option<Reader> {
        Reader::ALL.into_iter().find(|r| r.label() == label)
    }

    /// The program it runs: a binary of the workspace, or `xargs` for `wc`.
    pub const fn binary(self) -> &'static str {
        match self {
            Reader::ReadOnly => "reader-read-only",
            Reader::Seq => "reader-seq",
            Reader::Threads => "reader-threads",
            Reader::AsyncTokio | Reader::AsyncStd | Reader::AsyncUring => "reader-async",
            Reader::Hybrid => "reader-hybrid",
            Reader::Proc => "reader-proc",
            Reader::Wc => "xargs",
        }
    }

    /// The arguments it always runs with, before any the bench adds.
    pub const fn fixed_args(self) -> &'static [&'static str] {
        match self {
            Reader::AsyncTokio => &["--runtime", "tokio"],
            Reader::AsyncStd => &["--runtime", "async-std"],
            Reader::AsyncUring => &["--runtime", "io-uring"],
            Reader::Wc => &["-0", "wc", "-lwc"],
            Reader::ReadOnly | Reader::Seq | Reader::Threads | Reader::Hybrid | Reader::Proc => &[],
        }
    }

    /// Its command line without the tree, as a recommendation gives it:
    /// `reader-async --runtime tokio`, `xargs -0 wc -lwc`.
    pub fn command(self) -> String {
        std::iter::once(self.binary())
            .chain(self.fixed_args().iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether it runs once for each `--jobs` swept: the concurrent models, not the sequential
    /// reader, the reference or `wc`.
    pub const fn sweeps(self) -> bool {
        !matches!(self, Reader::ReadOnly | Reader::Seq | Reader::Wc)
    }
}

/// Its [`label`](Reader::label).
impl fmt::Display for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of readers before the enum: label, binary, fixed arguments, in table order.
    const OLD_READERS: [(&str, &str, &[&str]); 9] = [
        ("read-only", "reader-read-only", &[]),
        ("seq", "reader-seq", &[]),
        ("threads", "reader-threads", &[]),
        ("async-tokio", "reader-async", &["--runtime", "tokio"]),
        ("async-std", "reader-async", &["--runtime", "async-std"]),
        ("async-uring", "reader-async", &["--runtime", "io-uring"]),
        ("hybrid", "reader-hybrid", &[]),
        ("proc", "reader-proc", &[]),
        ("wc", "xargs", &[]),
    ];

    #[test]
    fn every_label_round_trips() {
        for r in Reader::ALL {
            assert_eq!(Reader::from_label(r.label()), Some(r));
            assert_eq!(r.to_string(), r.label());
        }
        for other in [
            "",
            "Seq",
            "py-threads",
            "b3sum",
            "jdupes",
            "async",
            "hybrid -j 4",
        ] {
            assert_eq!(Reader::from_label(other), None, "{other}");
        }
    }

    #[test]
    fn all_is_the_old_table_with_its_binaries_and_arguments() {
        let labels = Reader::ALL.map(Reader::label);
        assert_eq!(labels, OLD_READERS.map(|r| r.0));
        for (r, (label, binary, fixed)) in Reader::ALL.into_iter().zip(OLD_READERS) {
            assert_eq!(r.binary(), binary, "{label}");
            // wc's arguments were spelled where it runs, not in the table.
            if r != Reader::Wc {
                assert_eq!(r.fixed_args(), fixed, "{label}");
            }
        }
    }

    #[test]
    fn commands_are_those_recommended_before() {
        let commands = Reader::ALL.map(Reader::command);
        assert_eq!(
            commands,
            [
                "reader-read-only",
                "reader-seq",
                "reader-threads",
                "reader-async --runtime tokio",
                "reader-async --runtime async-std",
                "reader-async --runtime io-uring",
                "reader-hybrid",
                "reader-proc",
                "xargs -0 wc -lwc",
            ]
        );
    }

    #[test]
    fn only_the_concurrent_models_sweep_jobs() {
        let swept: Vec<&str> = Reader::ALL
            .into_iter()
            .filter(|r| r.sweeps())
            .map(Reader::label)
            .collect();
        assert_eq!(
            swept,
            [
                "threads",
                "async-tokio",
                "async-std",
                "async-uring",
                "hybrid",
                "proc"
            ]
        );
    }

    #[test]
    fn readers_takes_exactly_the_names_it_took_before() {
        // The list `--readers` printed when given an unknown name, before the enum.
        let before = "read-only, seq, threads, async-tokio, async-std, async-uring, hybrid, \
                      proc, wc, b3sum, rhash, hashdeep, sha256sum, xxhsum, py-threads, \
                      py-async, py-hybrid, py-proc, jdupes, fclones";
        assert_eq!(super::super::reader_names().join(", "), before);
    }
}

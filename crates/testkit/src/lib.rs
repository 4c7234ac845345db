//! # reader-testkit
//!
//! The conformance suite: one list of cases, each a real tree built in a temporary folder, run
//! against a reader *binary* through its command line. The cases live in [`cases`], a module a
//! theme; [`conformance!`] holds their list, and every reader crate runs the whole list with it.
//! A reader that agrees with the oracle here agrees with every other.
//!
//! ```ignore
//! // crates/reader-threads/tests/conformance.rs
//! reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-threads"), []);
//! // several configurations of one binary, each in its own module:
//! mod async_std {
//!     reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-async"), ["--runtime", "async-std"]);
//! }
//! // a reader that reads with child processes: the cases also check that none is left.
//! reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-proc"), [], processes);
//! ```
//!
//! Besides the cases, it is the one home of what the readers' own test suites need: running a
//! reader binary and checking its JSON run ([`Reader`], [`Run`]), temporary trees with special
//! entries ([`Tree`]), files in chosen page-cache states ([`cache`]), a look at `/proc` for child processes ([`procfs`]),
//! the shell and `man` for completion scripts and man pages ([`tools`]), and the oracle.
//!
//! The oracle ([`oracle`]) is the counting rule written the plainest way, independent of
//! reader-core's vectorised counter.
#![deny(missing_docs)]

pub mod cache;
pub mod cases;
pub mod hostile;
pub mod procfs;
mod run;
pub mod tools;
mod tree;

pub use run::{
    FAULTS_VAR, HANG, Reader, Run, collect, finish, finish_within, path_key, record_path,
};
/// The JSON value of a record or summary, as [`Run`] parses them.
pub use serde_json::Value;
pub use tree::{Deep, Tree, bytes_path};

/// The counting rule of docs/CONTRACT.md, one byte at a time: `(bytes, lines, words)`.
pub fn oracle(data: &[u8]) -> (u64, u64, u64) {
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let words = data
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .filter(|w| !w.is_empty())
        .count() as u64;
    (data.len() as u64, lines, words)
}

/// `len` deterministic bytes from `seed` (xorshift64*), rich in every kind of separator and
/// in bytes that are not ASCII.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8] = b"  \t\n\x0b\x0c\r\0abcXYZ\x80\xff.,";
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            ALPHABET[(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 59) as usize % ALPHABET.len()]
        })
        .collect()
}

/// The committed fixtures folder of the repository.
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

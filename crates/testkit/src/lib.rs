//! # reader-testkit
//!
//! The conformance suite: one list of cases, each a real tree built in a temporary folder, run
//! against a reader *binary* through its command line. Every reader crate runs the whole list
//! with [`conformance!`]; a reader that agrees with the oracle here agrees with every other.
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
pub mod digests;
pub mod duplicates;
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

/// Expands to one `#[test]` per conformance case for the reader binary `$bin` run with the
/// extra arguments `[$arg, …]`; add `processes` for a reader that reads with child processes.
#[macro_export]
macro_rules! conformance {
    ($bin:expr, $args:tt) => {
        $crate::conformance!(@all $bin, $args, false);
    };
    ($bin:expr, $args:tt, processes) => {
        $crate::conformance!(@all $bin, $args, true);
    };
    (@all $bin:expr, $args:tt, $processes:expr) => {
        $crate::conformance!(@cases $bin, $args, $processes;
            tricky_fixture_matches_the_oracle,
            generated_edge_cases_match_the_oracle,
            every_file_exactly_once,
            extension_filter,
            ignore_rules_and_name_filters,
            size_filters_report_what_they_skip,
            a_byte_cap_fails_larger_files_as_size_limit,
            gitignore_agrees_with_git,
            views_group_and_rank,
            files0_from_reads_a_list_like_paths,
            shards_together_are_the_whole_run,
            split_shards_cover_large_files_once,
            special_files_are_skipped_without_hanging,
            symlinks_without_follow_are_skipped,
            symlinks_with_follow_loop_safe,
            missing_path_exits_2_with_one_line,
            bad_arguments_exit_2_with_one_line,
            permission_denied_as_an_unprivileged_user,
            file_path_and_overlapping_paths,
            empty_directory,
            proc_file_with_size_zero,
            proc_self_finishes_and_pseudo_files_are_capped,
            sparse_file_exact_and_bounded_memory,
            awkward_names_keep_json_and_csv_valid,
            paths_longer_than_path_max,
            low_fd_limit_with_many_jobs,
            broken_pipe_is_quiet_success,
            output_to_a_full_disk_is_one_line_and_status_2,
            sigint_exits_130_and_leaves_no_process,
            files_changing_during_the_run,
            eight_readers_at_once_on_a_changing_tree,
            a_panic_while_reading_costs_one_file,
            a_thread_limit_ends_in_one_line_or_a_complete_run,
            a_read_that_never_ends_is_a_timeout_and_the_run_goes_on,
            a_hostile_file_system_is_read_to_its_end,
            a_listing_that_never_returns_costs_one_directory,
        );
        #[test]
        fn hundred_thousand_files() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::cases::hundred_thousand_files(&reader, ::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
        }
        #[test]
        fn digests_match_the_reference_crates() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::digests::digests_match_the_reference_crates(&reader);
        }
        #[test]
        fn sums_manifests_satisfy_the_reference_tools() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::digests::sums_manifests_satisfy_the_reference_tools(&reader);
        }
        #[test]
        fn split_shards_join_blake3_digests_with_reader_merge() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::digests::split_shards_join_blake3_digests_with_reader_merge(&reader);
        }
        #[test]
        fn check_reports_every_fault() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::digests::check_reports_every_fault(&reader);
        }
        #[test]
        fn duplicates_are_found_exactly() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::duplicates::duplicates_are_found_exactly(&reader);
        }
        #[test]
        fn duplicates_match_jdupes() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::duplicates::duplicates_match_jdupes(&reader);
        }
        #[test]
        fn partly_cached_files_are_read_whole() {
            let reader = $crate::conformance!(@reader $bin, $args, $processes);
            $crate::cases::partly_cached_files_are_read_whole(&reader, ::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
        }
    };
    (@cases $bin:expr, $args:tt, $processes:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let reader = $crate::conformance!(@reader $bin, $args, $processes);
                $crate::cases::$case(&reader);
            }
        )*
    };
    (@reader $bin:expr, $args:tt, $processes:expr) => {{
        let extra: &[&str] = &$args;
        let reader = $crate::Reader::new($bin, extra);
        if $processes { reader.with_processes() } else { reader }
    }};
}

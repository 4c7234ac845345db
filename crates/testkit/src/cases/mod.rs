//! The conformance cases, one file a theme, and [`conformance!`](crate::conformance), which
//! holds the one list of them. Each case takes a [`Reader`](crate::Reader) and panics (fails)
//! if the reader breaks the contract of docs/CONTRACT.md: counts against the
//! [`oracle`](crate::oracle), every entry exactly once, exit statuses, one-line errors, no hang,
//! bounded memory.

mod checks;

pub mod changing;
pub mod counts;
pub mod digests;
pub mod duplicates;
pub mod exits;
pub mod faults;
pub mod filters;
pub mod limits;
pub mod output;
pub mod paths;
pub mod shards;

/// Expands to one `#[test]` per conformance case for the reader binary `$bin` run with the
/// extra arguments `[$arg, …]`; add `processes` for a reader that reads with child processes.
///
/// This is the one list of the cases: each named by its theme (a module of
/// [`cases`](crate::cases)) and its function, whose name is the test's. A case marked
/// `(scratch)` is also given the test target's scratch folder (`CARGO_TARGET_TMPDIR`), for trees
/// kept between runs or that must sit on a disk.
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
            counts::tricky_fixture_matches_the_oracle,
            counts::generated_edge_cases_match_the_oracle,
            counts::every_file_exactly_once,
            counts::proc_file_with_size_zero,
            counts::partly_cached_files_are_read_whole(scratch),
            filters::extension_filter,
            filters::ignore_rules_and_name_filters,
            filters::size_filters_report_what_they_skip,
            filters::gitignore_agrees_with_git,
            output::views_group_and_rank,
            output::awkward_names_keep_json_and_csv_valid,
            paths::files0_from_reads_a_list_like_paths,
            paths::special_files_are_skipped_without_hanging,
            paths::symlinks_without_follow_are_skipped,
            paths::symlinks_with_follow_loop_safe,
            paths::permission_denied_as_an_unprivileged_user,
            paths::file_path_and_overlapping_paths,
            paths::empty_directory,
            paths::paths_longer_than_path_max,
            shards::shards_together_are_the_whole_run,
            shards::split_shards_cover_large_files_once,
            limits::a_byte_cap_fails_larger_files_as_size_limit,
            limits::proc_self_finishes_and_pseudo_files_are_capped,
            limits::sparse_file_exact_and_bounded_memory,
            limits::low_fd_limit_with_many_jobs,
            limits::a_thread_limit_ends_in_one_line_or_a_complete_run,
            limits::hundred_thousand_files(scratch),
            exits::missing_path_exits_2_with_one_line,
            exits::bad_arguments_exit_2_with_one_line,
            exits::broken_pipe_is_quiet_success,
            exits::output_to_a_full_disk_is_one_line_and_status_2,
            exits::sigint_exits_130_and_leaves_no_process,
            changing::files_changing_during_the_run,
            changing::eight_readers_at_once_on_a_changing_tree,
            faults::a_panic_while_reading_costs_one_file,
            faults::a_read_that_never_ends_is_a_timeout_and_the_run_goes_on,
            faults::a_hostile_file_system_is_read_to_its_end,
            faults::a_listing_that_never_returns_costs_one_directory,
            digests::digests_match_the_reference_crates,
            digests::sums_manifests_satisfy_the_reference_tools,
            digests::split_shards_join_blake3_digests_with_reader_merge,
            digests::check_reports_every_fault,
            duplicates::duplicates_are_found_exactly,
            duplicates::duplicates_match_jdupes,
        );
    };
    (@cases $bin:expr, $args:tt, $processes:expr;
        $($theme:ident :: $case:ident $(($scratch:ident))?),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let reader = $crate::conformance!(@reader $bin, $args, $processes);
                $crate::cases::$theme::$case(&reader $(, $crate::conformance!(@$scratch))?);
            }
        )*
    };
    (@scratch) => {
        ::std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
    };
    (@reader $bin:expr, $args:tt, $processes:expr) => {{
        let extra: &[&str] = &$args;
        let reader = $crate::Reader::new($bin, extra);
        if $processes { reader.with_processes() } else { reader }
    }};
}

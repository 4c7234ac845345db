//! The shared conformance suite, run against the `reader-hybrid` binary with every file sent
//! to the thread pool, with the defaults (on the suite's trees, all just written and so cached:
//! every file to the pool, sizes not looked up), with every file sent to the async path, and
//! with every non-empty file split into ranges.

mod threshold_zero {
    reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-hybrid"), ["--threshold", "0"]);
}

mod defaults {
    reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-hybrid"), []);
}

mod threshold_above_every_file {
    reader_testkit::conformance!(
        env!("CARGO_BIN_EXE_reader-hybrid"),
        ["--threshold", "1024G", "--split-at", "2048G"]
    );
}

mod split_everything {
    reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-hybrid"), ["--split-at", "1"]);
}

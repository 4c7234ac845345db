//! The shared conformance suite, run against the `reader-threads` binary.

reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-threads"), []);

//! The shared conformance suite, run against the sequential baseline `reader-seq`.

reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-seq"), []);

//! The conformance suite of reader-testkit, run against the `reader-proc` binary, whose
//! worker processes the cases check for.

reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-proc"), [], processes);

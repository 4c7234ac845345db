//! The shared conformance suite, run against the `reader-async` binary on each runtime.

mod tokio {
    reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-async"), []);
}

mod async_std {
    reader_testkit::conformance!(
        env!("CARGO_BIN_EXE_reader-async"),
        ["--runtime", "async-std"]
    );
}

/// With a timeout every hop is watched: the results must not change.
mod tokio_with_timeout {
    reader_testkit::conformance!(env!("CARGO_BIN_EXE_reader-async"), ["--timeout", "60s"]);
}

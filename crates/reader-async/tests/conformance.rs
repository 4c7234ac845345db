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

/// io_uring (where the kernel refuses it, the run falls back to tokio, and so would this).
mod io_uring {
    reader_testkit::conformance!(
        env!("CARGO_BIN_EXE_reader-async"),
        ["--runtime", "io-uring"]
    );
}

/// io_uring with every file watched: the results must not change.
mod io_uring_with_timeout {
    reader_testkit::conformance!(
        env!("CARGO_BIN_EXE_reader-async"),
        ["--runtime", "io-uring", "--timeout", "60s"]
    );
}

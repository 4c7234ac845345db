//! Dropping the future of an async read stops the run: no more files are started. Its own
//! test binary, because it slows every read of this process down with reader-core's fault
//! injection and counts what the process read.

use std::fs;
use std::time::Duration;

use reader_async::AsyncReader;
use reader_core::Walk;

/// Bytes this process has read so far (`rchar` of `/proc/self/io`).
fn bytes_read() -> u64 {
    let io = fs::read_to_string("/proc/self/io").expect("/proc/self/io"); // whole-file read ok: a small /proc file
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("rchar")
}

#[test]
fn dropping_the_read_future_stops_the_run() {
    // SAFETY: this binary's only test sets the variable before any thread of its own reads
    // the environment (the fault list is read at the first file).
    unsafe { std::env::set_var(reader_testkit::FAULTS_VAR, "sleep:5:slow") };
    const FILES: u64 = 2000;
    const SIZE: usize = 64 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..FILES {
        fs::write(dir.path().join(format!("slow{i:04}")), vec![b'x'; SIZE]).expect("write");
    }
    let walk = Walk::new([dir.path()]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let before = bytes_read();
    let seen = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut seen = 0;
        let reader = AsyncReader::new().max_in_flight(2).files_per_hop(1);
        tokio::select! {
            _ = reader.read(&walk, |_| {
                seen += 1;
                let _ = tx.try_send(());
            }) => {}
            _ = rx.recv() => {}
        }
        seen
    });
    // Dropping the runtime waits for its blocking threads: the reading side has ended.
    runtime.shutdown_timeout(Duration::from_secs(60));
    let files_read = (bytes_read() - before) / SIZE as u64;
    assert!(seen >= 1);
    // Reading everything, at 5 ms a file on two lanes, would take five seconds; the run
    // stopped within a few files of the drop.
    assert!(
        files_read < FILES / 10,
        "{files_read} of {FILES} files read after the future was dropped"
    );
}

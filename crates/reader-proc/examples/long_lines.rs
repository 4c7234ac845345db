//! A program that is its own reader-proc worker and runs a work of its own in it: for every
//! file under the PATHs (default `.`), how many of its lines are longer than 100 bytes,
//! counted in worker processes.
//!
//! `cargo run --example long_lines -p reader-proc -- DIR`

use std::process::ExitCode;

use reader_core::{FileWork, Record, Schedule, Walk, Work};
use reader_proc::ProcReader;

/// How many lines of a file are longer than 100 bytes.
struct LongLines;

/// [`LongLines`]' state of one file.
struct Lines {
    current: u64,
    long: u64,
}

impl Work for LongLines {
    type Output = u64;
    type File = Lines;

    fn start(&self) -> Lines {
        Lines {
            current: 0,
            long: 0,
        }
    }
}

impl FileWork for Lines {
    type Output = u64;

    fn update(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if byte == b'\n' {
                self.long += u64::from(self.current > 100);
                self.current = 0;
            } else {
                self.current += 1;
            }
        }
    }

    fn finish(self) -> u64 {
        self.long + u64::from(self.current > 100)
    }
}

fn main() -> ExitCode {
    if reader_proc::worker::started_as_worker() {
        return reader_proc::worker::main_with(LongLines);
    }
    let mut roots: Vec<String> = std::env::args().skip(1).collect();
    if roots.is_empty() {
        roots.push(".".into());
    }
    let pool = std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|me| {
            let reader = ProcReader::new().worker(me).output::<u64>();
            reader.start().map_err(|e| e.to_string())
        });
    let pool = match pool {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("long_lines: error: {err}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let finished = pool.read(&Walk::new(&roots), |record| {
        if let Record::File(file) = record {
            match (
                &file.outcome,
                file.output.as_ref().and_then(|o| o.get::<u64>()),
            ) {
                (Ok(_), Some(long)) => println!("{long} {}", file.path.display()),
                (Err(err), _) => {
                    eprintln!("long_lines: {err}");
                    failed = true;
                }
                (Ok(_), None) => {
                    eprintln!("long_lines: {}: no output", file.path.display());
                    failed = true;
                }
            }
        }
    });
    match finished {
        Ok(_) if !failed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            eprintln!("long_lines: error: {err}");
            ExitCode::from(2)
        }
    }
}

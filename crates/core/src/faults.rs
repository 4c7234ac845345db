//! Fault injection for tests: make the reading of chosen files sleep, hang, panic, abort, or
//! (in reader-proc's workers) answer with garbage — so the test suites can show, through the
//! real binaries, what every model does when a read goes wrong.
//!
//! It is compiled only with the cargo feature `fault-injection`, which the test builds of the
//! reader crates enable; without it every function here does nothing and costs nothing.
//! With it, the environment variable [`VAR`] (`READER_FAULTS`) is read once, at the first
//! file, as a `;`-separated list:
//!
//! | fault              | on a file whose path contains PATTERN (as bytes)                  |
//! |--------------------|--------------------------------------------------------------------|
//! | `sleep:MS:PATTERN` | sleeps MS milliseconds, then reads it normally                    |
//! | `hang:PATTERN`     | sleeps for ever, as a read stuck on a dead mount would            |
//! | `panic:PATTERN`    | panics in the reading code                                        |
//! | `abort:PATTERN`    | aborts the process (SIGABRT), as a crash in the reading code would |
//! | `garbage:PATTERN`  | reader-proc's worker sends bytes that do not decode instead of results |
//!
//! A value that does not parse is ignored with one warning on stderr.

use std::path::Path;

/// The environment variable that lists the faults to inject (tests only; see the module docs).
pub const VAR: &str = "READER_FAULTS";

/// Applies the faults that match `path` before it is read: sleeps, hangs, panics or aborts.
#[inline]
pub fn before_read(path: &Path) {
    #[cfg(feature = "fault-injection")]
    injected::before_read(path);
    #[cfg(not(feature = "fault-injection"))]
    let _ = path;
}

/// Whether a fault makes the read of `path` wait (`sleep`, `hang`): a read that must not
/// block ([`crate::read_cached`]) declines it, as it would decline a read that waits.
#[inline]
pub fn blocks(path: &Path) -> bool {
    #[cfg(feature = "fault-injection")]
    return injected::blocks(path);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = path;
        false
    }
}

/// Whether the result for `path` should be sent as garbage (reader-proc's workers).
#[inline]
pub fn garbles(path: &Path) -> bool {
    #[cfg(feature = "fault-injection")]
    return injected::garbles(path);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = path;
        false
    }
}

#[cfg(feature = "fault-injection")]
mod injected {
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::VAR;

    /// A deliberate misbehaviour.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum Fault {
        Sleep(Duration, Vec<u8>),
        Hang(Vec<u8>),
        Panic(Vec<u8>),
        Abort(Vec<u8>),
        Garbage(Vec<u8>),
    }

    impl Fault {
        fn pattern(&self) -> &[u8] {
            match self {
                Fault::Sleep(_, p)
                | Fault::Hang(p)
                | Fault::Panic(p)
                | Fault::Abort(p)
                | Fault::Garbage(p) => p,
            }
        }

        fn matches(&self, path: &Path) -> bool {
            let (path, pattern) = (path.as_os_str().as_bytes(), self.pattern());
            pattern.is_empty() || path.windows(pattern.len()).any(|w| w == pattern)
        }
    }

    fn faults() -> &'static [Fault] {
        static FAULTS: OnceLock<Vec<Fault>> = OnceLock::new();
        FAULTS.get_or_init(|| {
            let Some(value) = std::env::var_os(VAR) else {
                return Vec::new();
            };
            parse(value.as_bytes()).unwrap_or_else(|err| {
                eprintln!("{VAR} ignored: {err}");
                Vec::new()
            })
        })
    }

    pub(super) fn parse(value: &[u8]) -> Result<Vec<Fault>, String> {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        value
            .split(|&b| b == b';')
            .filter(|spec| !spec.is_empty())
            .map(|spec| {
                let (kind, rest) =
                    split(spec).ok_or_else(|| format!("'{}' is not KIND:PATTERN", lossy(spec)))?;
                Ok(match kind {
                    b"hang" => Fault::Hang(rest.to_vec()),
                    b"panic" => Fault::Panic(rest.to_vec()),
                    b"abort" => Fault::Abort(rest.to_vec()),
                    b"garbage" => Fault::Garbage(rest.to_vec()),
                    b"sleep" => {
                        let (ms, pattern) = split(rest).ok_or("sleep needs sleep:MS:PATTERN")?;
                        let ms: u64 = std::str::from_utf8(ms)
                            .ok()
                            .and_then(|ms| ms.parse().ok())
                            .ok_or_else(|| format!("'{}' is not milliseconds", lossy(ms)))?;
                        Fault::Sleep(Duration::from_millis(ms), pattern.to_vec())
                    }
                    other => {
                        return Err(format!(
                            "unknown fault '{}' (sleep, hang, panic, abort, garbage)",
                            lossy(other)
                        ));
                    }
                })
            })
            .collect()
    }

    fn split(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let at = bytes.iter().position(|&b| b == b':')?;
        Some((&bytes[..at], &bytes[at + 1..]))
    }

    pub(super) fn before_read(path: &Path) {
        for fault in faults().iter().filter(|f| f.matches(path)) {
            match fault {
                Fault::Sleep(delay, _) => std::thread::sleep(*delay),
                Fault::Hang(_) => loop {
                    std::thread::sleep(Duration::from_secs(3600));
                },
                Fault::Panic(_) => panic!("fault injected by {VAR}"),
                Fault::Abort(_) => std::process::abort(),
                Fault::Garbage(_) => {}
            }
        }
    }

    pub(super) fn blocks(path: &Path) -> bool {
        faults()
            .iter()
            .any(|f| matches!(f, Fault::Sleep(..) | Fault::Hang(_)) && f.matches(path))
    }

    pub(super) fn garbles(path: &Path) -> bool {
        faults()
            .iter()
            .any(|f| matches!(f, Fault::Garbage(_)) && f.matches(path))
    }
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::injected::{Fault, parse};
    use std::time::Duration;

    #[test]
    fn faults_parse_and_bad_ones_are_refused() {
        let faults = parse(b"abort:x;hang:y/z;sleep:25:w;garbage:;panic:p").expect("valid");
        assert_eq!(
            faults,
            [
                Fault::Abort(b"x".to_vec()),
                Fault::Hang(b"y/z".to_vec()),
                Fault::Sleep(Duration::from_millis(25), b"w".to_vec()),
                Fault::Garbage(Vec::new()),
                Fault::Panic(b"p".to_vec()),
            ]
        );
        assert_eq!(parse(b""), Ok(Vec::new()));
        for bad in ["abort", "explode:x", "sleep:x", "sleep:ten:x"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}

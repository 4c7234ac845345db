//! The errors a file can end in: a stable, machine-readable [`ErrorKind`] (the JSON
//! `error.kind`) and a [`FileError`] that carries the path and a message for people.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a file could not be read. The snake_case name is part of the output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The entry vanished between discovery and reading, or a symlink dangles.
    NotFound,
    /// The file or a directory on its path may not be read.
    PermissionDenied,
    /// A directory where a file was expected.
    IsDirectory,
    /// A symbolic link that leads back to one of its own ancestors.
    SymlinkLoop,
    /// The path is longer than the system accepts.
    NameTooLong,
    /// The entry was a regular file when discovered but is something else when opened.
    NotRegular,
    /// Any other I/O error.
    Io,
    /// The worker reading the file died (a crashed process, a panicked thread).
    WorkerCrashed,
    /// Reading the file took longer than the per-file timeout.
    Timeout,
    /// The file has more bytes than the reader takes from it: more than the cap the user set
    /// (`--max-bytes`), or a pseudo-file whose size the file system does not tell and whose
    /// content does not end (`/proc/self/pagemap`).
    SizeLimit,
}

impl ErrorKind {
    /// The stable name used in JSON and CSV output.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::IsDirectory => "is_directory",
            ErrorKind::SymlinkLoop => "symlink_loop",
            ErrorKind::NameTooLong => "name_too_long",
            ErrorKind::NotRegular => "not_regular",
            ErrorKind::Io => "io",
            ErrorKind::WorkerCrashed => "worker_crashed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::SizeLimit => "size_limit",
        }
    }

    /// The kind an I/O error belongs to.
    pub fn of_io(err: &io::Error) -> ErrorKind {
        match err.raw_os_error() {
            Some(libc::ELOOP) => return ErrorKind::SymlinkLoop,
            Some(libc::ENAMETOOLONG) => return ErrorKind::NameTooLong,
            Some(libc::EISDIR) => return ErrorKind::IsDirectory,
            _ => {}
        }
        match err.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            io::ErrorKind::IsADirectory => ErrorKind::IsDirectory,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file that could not be read: what went wrong, where, and a message for people.
///
/// `Display` gives `path: message`, the form used on stderr and in JSON.
///
/// ```
/// use reader_core::{ErrorKind, FileError};
/// let err = std::fs::File::open("no/such/file").unwrap_err();
/// let err = FileError::io("no/such/file", err);
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert!(err.to_string().starts_with("no/such/file: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    kind: ErrorKind,
    path: PathBuf,
    message: String,
    /// No reader tried it: the part of the model that would have read it stopped or failed.
    unread: bool,
}

impl FileError {
    /// An error of `kind` at `path` with a message for people (the path is added by `Display`).
    pub fn new(kind: ErrorKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FileError {
            kind,
            path: path.into(),
            message: message.into(),
            unread: false,
        }
    }

    /// An I/O error met while reading `path`.
    pub fn io(path: impl Into<PathBuf>, err: io::Error) -> Self {
        let kind = ErrorKind::of_io(&err);
        FileError::new(kind, path, err.to_string())
    }

    /// A file whose read had not finished when its time limit passed: `timeout`, with what
    /// was done about it (`the read was abandoned`, `the worker process … was killed`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use reader_core::{ErrorKind, FileError};
    /// let err = FileError::timeout("slow.txt", Duration::from_millis(1500), "the read was abandoned");
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert_eq!(err.to_string(), "slow.txt: no result within the 1.5 s timeout; the read was abandoned");
    /// ```
    pub fn timeout(path: impl Into<PathBuf>, limit: Duration, then: &str) -> Self {
        let message = format!(
            "no result within the {} s timeout; {then}",
            limit.as_secs_f64()
        );
        FileError::new(ErrorKind::Timeout, path, message)
    }

    /// A file of more than `cap` bytes, the most a reader takes from a file
    /// ([`Walk::max_bytes`](crate::Walk::max_bytes)): `size_limit`, and not counted.
    ///
    /// ```
    /// use reader_core::{ErrorKind, FileError};
    /// let err = FileError::over_cap("big.log", 1 << 20);
    /// assert_eq!(err.kind(), ErrorKind::SizeLimit);
    /// assert_eq!(err.to_string(), "big.log: more than 1048576 bytes (--max-bytes); not counted");
    /// ```
    pub fn over_cap(path: impl Into<PathBuf>, cap: u64) -> Self {
        let message = format!("more than {cap} bytes (--max-bytes); not counted");
        FileError::new(ErrorKind::SizeLimit, path, message)
    }

    /// A path that was a file at discovery and is a directory when opened: `is_directory`.
    pub fn is_directory(path: impl Into<PathBuf>) -> Self {
        FileError::new(ErrorKind::IsDirectory, path, "is a directory")
    }

    /// A path that was a regular file at discovery and is something else when opened (a FIFO,
    /// a device, a socket): `not_regular`, and not read.
    pub fn no_longer_regular(path: impl Into<PathBuf>) -> Self {
        FileError::new(
            ErrorKind::NotRegular,
            path,
            "no longer a regular file (changed after discovery); not read",
        )
    }

    /// A file whose reader died while reading it (a worker process crashed, or sent what
    /// cannot be understood): `worker_crashed`, with what happened.
    pub fn crashed(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        FileError::new(ErrorKind::WorkerCrashed, path, what)
    }

    /// A file whose reader panicked, with the panic's message: `worker_crashed`.
    ///
    /// ```
    /// use reader_core::{ErrorKind, FileError};
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let err = FileError::panicked("p", payload.as_ref());
    /// assert_eq!((err.kind(), err.to_string()), (ErrorKind::WorkerCrashed, "p: the reader panicked: boom".into()));
    /// ```
    pub fn panicked(path: impl Into<PathBuf>, payload: &(dyn std::any::Any + Send)) -> Self {
        FileError::crashed(
            path,
            format!("the reader panicked: {}", panic_message(payload)),
        )
    }

    /// A file that no reader is left to read, because the part of the model that would have
    /// read it stopped or failed: `worker_crashed`, with the message `not read: {why}`.
    pub fn not_read(path: impl Into<PathBuf>, why: &str) -> Self {
        FileError {
            unread: true,
            ..FileError::crashed(path, format!("not read: {why}"))
        }
    }

    /// Whether no reader tried the file ([`FileError::not_read`]): it says nothing about the
    /// file itself, only about the run.
    pub fn is_not_read(&self) -> bool {
        self.unread
    }

    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The path the error belongs to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The message without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for io::Error {
    fn from(err: FileError) -> io::Error {
        let kind = match err.kind {
            ErrorKind::NotFound => io::ErrorKind::NotFound,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::IsDirectory => io::ErrorKind::IsADirectory,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err.to_string())
    }
}

/// The message a panic was raised with (`unknown panic` if it has none), from the payload
/// [`std::panic::catch_unwind`] returns.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A model's own failure, in its own error type (a worker program that cannot run, a runtime
/// that does not start).
pub type ModelError = Box<dyn std::error::Error + Send + Sync>;

/// Why a run could not start: nothing was read and nothing was reported (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A PATH given on the command line does not exist or cannot be looked at.
    #[error("{}: {source}", path.display())]
    Path {
        /// The PATH as given.
        path: PathBuf,
        /// What looking at it said.
        source: io::Error,
    },
    /// A setting that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// A thread the run needs could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What it is for (`the discovery thread`).
        what: String,
        /// What the system said.
        source: io::Error,
    },
    /// The model could not start what it reads with (its worker processes).
    #[error(transparent)]
    Model(ModelError),
}

/// Why a run that had started could not finish its work. Every discovered entry is still
/// reported — what the failed part held as `worker_crashed`, `not read: …` — and the run ends
/// with its summary; the binaries then exit with status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A thread the schedule needs could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What it is for (`the hybrid's async path`).
        what: String,
        /// What the system said.
        source: io::Error,
    },
    /// A part of the schedule panicked.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// Which part.
        what: String,
        /// The panic's message.
        message: String,
    },
    /// The model's own failure (its runtime did not start, no worker process is left).
    #[error(transparent)]
    Model(ModelError),
}

impl RunError {
    /// A part of the schedule, `what`, panicked with `payload`.
    pub fn panicked(what: impl Into<String>, payload: &(dyn std::any::Any + Send)) -> RunError {
        RunError::Panicked {
            what: what.into(),
            message: panic_message(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_os_error() {
        let cases = [
            (libc::ENOENT, ErrorKind::NotFound),
            (libc::EACCES, ErrorKind::PermissionDenied),
            (libc::EISDIR, ErrorKind::IsDirectory),
            (libc::ELOOP, ErrorKind::SymlinkLoop),
            (libc::ENAMETOOLONG, ErrorKind::NameTooLong),
            (libc::EIO, ErrorKind::Io),
        ];
        for (errno, kind) in cases {
            assert_eq!(ErrorKind::of_io(&io::Error::from_raw_os_error(errno)), kind);
        }
    }

    #[test]
    fn kind_names_match_serde() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::WorkerCrashed,
            ErrorKind::SymlinkLoop,
        ] {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}

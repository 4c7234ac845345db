//! The errors a file can end in: a stable, machine-readable [`ErrorKind`] (the JSON
//! `error.kind`) and a [`FileError`] that carries the path and a message for people.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

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
}

impl FileError {
    /// An error of `kind` at `path` with a message for people (the path is added by `Display`).
    pub fn new(kind: ErrorKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FileError {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }

    /// An I/O error met while reading `path`.
    pub fn io(path: impl Into<PathBuf>, err: io::Error) -> Self {
        let kind = ErrorKind::of_io(&err);
        FileError::new(kind, path, err.to_string())
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

/// Why a run could not start (exit status 2).
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
    /// The workers or runtime could not be started.
    #[error("cannot start: {0}")]
    Spawn(String),
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

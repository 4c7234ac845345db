//! Your own work in worker processes: a worker program of your own runs a [`Work`] of yours
//! on every file ([`worker::main_with`](crate::worker::main_with)), its output travels back
//! encoded with bincode, and the parent, told the output's type
//! ([`ProcReader::output`](crate::ProcReader::output)), puts it on the file's record. The
//! handshake names the output type, so a parent never takes the outputs of another work.

use reader_core::{FileWork, Output, Work};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol;

/// What the parent expects its workers to run: the name of their work's output type ("" for
/// counting alone, the stock worker) and how to decode it.
#[derive(Clone, Copy)]
pub(crate) struct Expected {
    pub(crate) name: &'static str,
    pub(crate) decode: fn(&[u8]) -> Result<Output, String>,
}

impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expected")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Expected {
    /// Counting alone: the stock worker, no output.
    pub(crate) const NOTHING: Expected = Expected {
        name: "",
        decode: |_| Err("this run expects no output of its own".into()),
    };

    /// Outputs of type `T`.
    pub(crate) fn of<T: DeserializeOwned + Send + Sync + 'static>() -> Expected {
        Expected {
            name: std::any::type_name::<T>(),
            decode: |bytes| {
                protocol::decode::<T>(bytes, "work output")
                    .map(Output::new)
                    .map_err(|e| e.to_string())
            },
        }
    }
}

/// How a handshake names a work: its output type, or counting alone.
pub(crate) fn shown(name: &str) -> &str {
    if name.is_empty() {
        "counting alone"
    } else {
        name
    }
}

/// `W`, its output encoded for the trip to the parent.
pub(crate) struct Encoded<W>(pub(crate) W);

/// [`Encoded`]'s state of a file.
pub(crate) struct EncodedFile<F>(F);

impl<W> Work for Encoded<W>
where
    W: Work,
    W::Output: Serialize,
{
    type Output = Vec<u8>;
    type File = EncodedFile<W::File>;

    fn start(&self) -> EncodedFile<W::File> {
        EncodedFile(self.0.start())
    }
}

impl<F> FileWork for EncodedFile<F>
where
    F: FileWork,
    F::Output: Serialize,
{
    type Output = Vec<u8>;

    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    fn finish(self) -> Vec<u8> {
        // An output that cannot be encoded is this file's failure: the panic is caught where
        // the file is read and reported as `worker_crashed`.
        protocol::encode(&self.0.finish())
            .unwrap_or_else(|err| panic!("the work's output cannot be sent: {err}"))
    }
}

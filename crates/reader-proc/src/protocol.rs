//! The wire protocol between the parent and its workers: the message types, their bincode 2
//! encoding, and decoders that turn any byte string into a value or an error, never a panic.
//!
//! A session is:
//!
//! 1. the worker connects to the parent's one-shot server and sends a [`Connect`] carrying its
//!    two byte channels and a bincode-encoded [`Hello`] (protocol version and pid);
//! 2. the parent sends [`Batch`]es of paths; the worker answers each with one or more
//!    [`Reply`]s, in order, whose results follow the batch's paths in order;
//! 3. the parent closes its request channel; the worker exits.
//!
//! Paths travel as raw bytes (`OsStrExt`), so names that are not UTF-8 survive the trip. File
//! contents never cross the channel: only paths out and counts (and digests, or a part's
//! BLAKE3 subtrees) back.

use std::fmt;
use std::time::Duration;

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use reader_core::{Algorithms, Blake3Subtree, Counts, Digest, Edges, ErrorKind, Part};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The version of this protocol; parent and worker must agree on it exactly.
pub const PROTOCOL_VERSION: u32 = 6;

/// The largest message either side accepts (a batch of paths is a few KiB to a few hundred).
pub const MAX_MESSAGE: usize = 16 << 20;

type Wire = Configuration<LittleEndian, Varint, Limit<MAX_MESSAGE>>;

fn wire() -> Wire {
    config::standard().with_limit::<MAX_MESSAGE>()
}

/// The first message a worker sends, through the parent's one-shot server.
#[derive(Debug, Serialize, Deserialize)]
pub enum Connect {
    /// A worker ready to work.
    Worker {
        /// A bincode-encoded [`Hello`].
        hello: Vec<u8>,
        /// Where the parent sends [`Batch`]es.
        requests: IpcBytesSender,
        /// Where the parent receives [`Reply`]s.
        replies: IpcBytesReceiver,
    },
    /// Sent by the parent itself to release a server it gave up waiting on.
    Abort,
}

/// Who is speaking: checked before any work is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the worker's build.
    pub version: u32,
    /// The worker's process id.
    pub pid: u32,
    /// The work it runs on every file besides counting: the name of its output type, empty
    /// for counting alone (see `reader_proc::worker::main_with`).
    pub work: String,
}

/// A file's path as raw bytes, encoded as one length-prefixed byte string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathBytes(pub Vec<u8>);

impl Serialize for PathBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for PathBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = PathBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<PathBytes, E> {
                Ok(PathBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<PathBytes, E> {
                Ok(PathBytes(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PathBytes, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element()? {
                    bytes.push(b);
                }
                Ok(PathBytes(bytes))
            }
        }
        d.deserialize_byte_buf(BytesVisitor)
    }
}

/// Files for a worker to read, in order. A careful batch is acknowledged with an empty
/// [`Reply`] before its first file is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Chosen by the parent; every [`Reply`] to this batch names it.
    pub id: u64,
    /// Acknowledge the batch, then answer after every file (used for files retried after a
    /// failure, so that a second failure names the one file the worker was on).
    pub careful: bool,
    /// Otherwise, answer at the latest after this long (microseconds), so a batch of slow
    /// files still shows progress; and at the end of the batch.
    pub progress_every_us: u64,
    /// The files.
    pub paths: Vec<PathBytes>,
    /// The files of `paths` of which only a byte range is read (split over shards), by their
    /// place in `paths`; usually none.
    pub parts: Vec<(u32, Part)>,
    /// The most bytes to read of any file of the batch (the run's `--max-bytes`,
    /// [`FileJob::max_bytes`](reader_core::FileJob::max_bytes)).
    pub max_bytes: Option<u64>,
    /// The digests to compute of every file of the batch besides its counts (the run's
    /// `--digest`, [`FileJob::digests`](reader_core::FileJob::digests)).
    pub digests: Algorithms,
    /// The run has a time limit: name a file read for longer than the progress interval
    /// ([`Reply::reading`]). Without one nothing needs it, and the worker does not watch.
    pub watch: bool,
}

impl Batch {
    /// How often a worker reports progress within this batch.
    pub fn progress_every(&self) -> Duration {
        Duration::from_micros(self.progress_every_us)
    }
}

/// Results for the next files of one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The [`Batch::id`] these results belong to.
    pub batch: u64,
    /// One result per file, continuing where the previous reply to this batch stopped.
    pub results: Vec<WireResult>,
    /// Sent alone (no results) once a file takes longer than the batch's progress interval:
    /// the worker is on it, the files before it are read (their results may still be on
    /// their way). `None` in the usual replies.
    pub reading: Option<Reading>,
}

/// The file a worker has been reading for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// Its place in the batch's `paths`.
    pub index: u32,
    /// How long the worker has been on it, in microseconds.
    pub for_us: u64,
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireResult {
    /// Time spent reading it, in microseconds.
    pub elapsed_us: u64,
    /// Its counts or its error.
    pub outcome: WireOutcome,
    /// What the worker's own work made of it, encoded; `None` without one.
    pub output: Option<Vec<u8>>,
}

/// A file's counts, or why it could not be read (the parent adds the path back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireOutcome {
    /// Read to the end: its counts and the digests asked for.
    Counted(Counts, Vec<Digest>),
    /// A byte range read, with what joining it needs: its edges, and its BLAKE3 subtrees
    /// when BLAKE3 was asked for ([`FileResult::blake3_subtrees`](reader_core::FileResult)).
    CountedPart(Counts, Edges, Option<Vec<Blake3Subtree>>),
    /// Failed.
    Failed {
        /// The stable kind.
        kind: ErrorKind,
        /// The message without the path.
        message: String,
    },
}

/// A message that could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

/// Encodes one message.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(message, wire())
        .map_err(|e| WireError(format!("cannot encode a message: {e}")))
}

/// Decodes one whole message: bytes left over after it are an error too.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, WireError> {
    match bincode::serde::decode_from_slice::<T, _>(bytes, wire()) {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok((_, used)) => Err(WireError(format!(
            "undecodable {what}: {} stray bytes after the message",
            bytes.len() - used
        ))),
        Err(e) => Err(WireError(format!(
            "undecodable {what} ({} bytes): {e}",
            bytes.len()
        ))),
    }
}

/// Decodes a worker's [`Hello`] and checks its protocol version.
pub fn decode_hello(bytes: &[u8]) -> Result<Hello, WireError> {
    let hello: Hello = decode(bytes, "handshake")?;
    if hello.version != PROTOCOL_VERSION {
        return Err(WireError(format!(
            "the worker speaks protocol version {}, this program version {PROTOCOL_VERSION} \
             (parent and worker come from different builds)",
            hello.version
        )));
    }
    Ok(hello)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_reply() -> Reply {
        Reply {
            batch: 7,
            reading: Some(Reading {
                index: 2,
                for_us: 25_000,
            }),
            results: vec![
                WireResult {
                    elapsed_us: 12,
                    output: Some(vec![1, 2, 3]),
                    outcome: WireOutcome::Counted(
                        Counts {
                            bytes: 10,
                            lines: 1,
                            words: 2,
                        },
                        Vec::new(),
                    ),
                },
                WireResult {
                    elapsed_us: 30,
                    output: None,
                    outcome: WireOutcome::CountedPart(
                        Counts {
                            bytes: 3072,
                            lines: 0,
                            words: 1,
                        },
                        Edges {
                            starts_in_word: true,
                            ends_in_word: true,
                        },
                        Some(vec![
                            Blake3Subtree {
                                start: 1024,
                                len: 1024,
                                chaining_value: [0xab; 32],
                            },
                            Blake3Subtree {
                                start: 2048,
                                len: 2048,
                                chaining_value: [0x01; 32],
                            },
                        ]),
                    ),
                },
                WireResult {
                    elapsed_us: 1,
                    output: None,
                    outcome: WireOutcome::Failed {
                        kind: ErrorKind::PermissionDenied,
                        message: "Permission denied (os error 13)".into(),
                    },
                },
            ],
        }
    }

    #[test]
    fn messages_round_trip() {
        let batch = Batch {
            id: u64::MAX,
            careful: true,
            progress_every_us: 20_000,
            paths: vec![
                PathBytes(b"a/b.txt".to_vec()),
                PathBytes(b"bad\xffname".to_vec()),
            ],
            parts: vec![(1, Part::new(2, 3, 1 << 40))],
            max_bytes: Some(1 << 30),
            digests: "blake3,sha256".parse().expect("names"),
            watch: true,
        };
        let bytes = encode(&batch).expect("encode");
        assert_eq!(decode::<Batch>(&bytes, "batch"), Ok(batch));
        let reply = sample_reply();
        let bytes = encode(&reply).expect("encode");
        assert_eq!(decode::<Reply>(&bytes, "reply"), Ok(reply));
    }

    #[test]
    fn paths_are_length_prefixed_byte_strings() {
        let bytes = encode(&PathBytes(b"abc".to_vec())).expect("encode");
        assert_eq!(bytes, b"\x03abc");
    }

    #[test]
    fn truncated_extended_and_foreign_messages_are_errors() {
        let bytes = encode(&sample_reply()).expect("encode");
        for cut in 0..bytes.len() {
            assert!(
                decode::<Reply>(&bytes[..cut], "reply").is_err(),
                "cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = decode::<Reply>(&longer, "reply").expect_err("stray byte");
        assert!(err.to_string().contains("stray"), "{err}");
    }

    #[test]
    fn a_handshake_from_another_version_is_refused() {
        let ok = encode(&Hello {
            version: PROTOCOL_VERSION,
            pid: 42,
            work: String::new(),
        })
        .expect("encode");
        assert_eq!(decode_hello(&ok).map(|h| h.pid), Ok(42));
        let old = encode(&Hello {
            version: PROTOCOL_VERSION + 1,
            pid: 42,
            work: String::new(),
        })
        .expect("encode");
        let err = decode_hello(&old).expect_err("version");
        assert!(err.to_string().contains("protocol version"), "{err}");
    }

    #[test]
    fn a_huge_claimed_length_is_an_error_not_an_allocation() {
        // A byte string claiming u64::MAX bytes (varint tag 253 + 8 bytes).
        let mut bytes = vec![1, 0, 0, 253];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Batch>(&bytes, "batch").is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Batch>(&bytes, "batch");
            let _ = decode::<Reply>(&bytes, "reply");
            let _ = decode_hello(&bytes);
        }

        #[test]
        fn damaged_replies_never_panic_the_decoder(flip in 0usize..64, with in any::<u8>()) {
            let mut bytes = encode(&sample_reply()).expect("encode");
            let at = flip % bytes.len();
            bytes[at] = with;
            let _ = decode::<Reply>(&bytes, "reply");
        }

        #[test]
        fn any_batch_round_trips(id in any::<u64>(), careful in any::<bool>(),
                                 paths in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let batch = Batch {
                id,
                careful,
                progress_every_us: 1,
                paths: paths.into_iter().map(PathBytes).collect(),
                parts: Vec::new(),
                max_bytes: None,
                digests: Algorithms::NONE,
                watch: false,
            };
            let bytes = encode(&batch).expect("encode");
            prop_assert_eq!(decode::<Batch>(&bytes, "batch"), Ok(batch));
        }
    }
}

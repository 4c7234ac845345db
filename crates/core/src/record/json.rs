//! The JSON of a record (docs/CONTRACT.md, "JSON Lines"): the `Serialize` of [`Record`],
//! [`FileResult`] and [`Skipped`], the shape every reader writes. A path that is not UTF-8 is
//! written losslessly (see [`crate::names`]). The field names are a contract.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::{FileResult, Record, Skipped};
use crate::digest::Blake3Subtree;
use crate::names::Lossless;

/// The JSON of one file. `reader-cli` writes the common case (a whole file read, under a UTF-8
/// path) by hand, in `output.rs`, whose property test holds it to this, byte for byte: a change
/// of fields here shows there as a failing test.
impl Serialize for FileResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let counts = self.outcome.as_ref().ok();
        let fields = if self.part.is_some() { 15 } else { 8 }
            + self.digests.len()
            + usize::from(self.part.is_some() && self.blake3_subtrees.is_some());
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("type", if self.part.is_some() { "part" } else { "file" })?;
        map.serialize_entry("path", &Lossless(&self.path))?;
        map.serialize_entry("size", &counts.map(|c| c.bytes))?;
        map.serialize_entry("lines", &counts.map(|c| c.lines))?;
        map.serialize_entry("words", &counts.map(|c| c.words))?;
        for digest in &self.digests {
            map.serialize_entry(digest.algorithm().name(), &Shown(digest))?;
        }
        map.serialize_entry("elapsed_us", &duration_us(self.elapsed))?;
        map.serialize_entry("worker", &Shown(&self.worker))?;
        match &self.outcome {
            Ok(_) => map.serialize_entry("error", &())?,
            Err(err) => map.serialize_entry(
                "error",
                &ErrorJson {
                    kind: err.kind().as_str(),
                    message: err.to_string(),
                },
            )?,
        }
        if let Some(part) = &self.part {
            map.serialize_entry("part", &part.index)?;
            map.serialize_entry("parts", &part.parts)?;
            map.serialize_entry("start", &part.start)?;
            map.serialize_entry("end", &part.end)?;
            map.serialize_entry("file_size", &part.file_size)?;
            map.serialize_entry("starts_in_word", &part.edges.starts_in_word)?;
            map.serialize_entry("ends_in_word", &part.edges.ends_in_word)?;
            if let Some(subtrees) = &self.blake3_subtrees {
                map.serialize_entry("blake3_subtrees", &SubtreesJson(subtrees))?;
            }
        }
        map.end()
    }
}

/// A part's BLAKE3 subtrees as the contract writes them: `[[start, len, "<hex>"], …]`.
struct SubtreesJson<'a>(&'a [Blake3Subtree]);

impl Serialize for SubtreesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for subtree in self.0 {
            let chaining_value = Hex(&subtree.chaining_value);
            seq.serialize_element(&(subtree.start, subtree.len, Shown(&chaining_value)))?;
        }
        seq.end()
    }
}

/// Bytes shown in lower-case hexadecimal.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// A value serialized as the text its `Display` writes, without a `String` in between (one
/// record a file is serialized).
struct Shown<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Shown<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

#[derive(Serialize)]
struct ErrorJson {
    kind: &'static str,
    message: String,
}

impl Serialize for Skipped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("type", "skipped")?;
        map.serialize_entry("path", &Lossless(&self.path))?;
        map.serialize_entry("reason", self.reason.as_str())?;
        map.end()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::File(file) => file.serialize(s),
            Record::Skipped(skipped) => skipped.serialize(s),
        }
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::Counts;
    use crate::error::{ErrorKind, FileError};
    use crate::record::{SkipReason, Summary, Worker};
    use crate::shard::Part;

    #[test]
    fn file_json_has_the_contract_fields_in_order() {
        let ok = FileResult {
            digests: Vec::new(),
            output: None,
            path: "docs/a.txt".into(),
            outcome: Ok(Counts {
                bytes: 1234,
                lines: 40,
                words: 210,
            }),
            elapsed: Duration::from_micros(35),
            worker: Worker::Thread(2),
            part: None,
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap_or_default(),
            r#"{"type":"file","path":"docs/a.txt","size":1234,"lines":40,"words":210,"elapsed_us":35,"worker":"thread-2","error":null}"#
        );
        let failed = FileResult {
            digests: Vec::new(),
            output: None,
            path: "docs/gone.txt".into(),
            outcome: Err(FileError::new(
                ErrorKind::NotFound,
                "docs/gone.txt",
                "No such file or directory (os error 2)",
            )),
            elapsed: Duration::from_micros(3),
            worker: Worker::Process(4242),
            part: None,
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap_or_default(),
            r#"{"type":"file","path":"docs/gone.txt","size":null,"lines":null,"words":null,"elapsed_us":3,"worker":"pid-4242","error":{"kind":"not_found","message":"docs/gone.txt: No such file or directory (os error 2)"}}"#
        );
    }

    #[test]
    fn a_part_of_a_split_file_says_which_range_and_its_edges() {
        let mut part = Part::new(1, 3, 1 << 20);
        part.edges.starts_in_word = true;
        let result = FileResult {
            digests: Vec::new(),
            output: None,
            path: "big.log".into(),
            outcome: Ok(Counts {
                bytes: 349_184,
                lines: 2,
                words: 9,
            }),
            elapsed: Duration::from_micros(5),
            worker: Worker::Thread(0),
            part: Some(part),
            blake3_subtrees: None,
        };
        assert_eq!(
            serde_json::to_string(&result).unwrap_or_default(),
            r#"{"type":"part","path":"big.log","size":349184,"lines":2,"words":9,"elapsed_us":5,"worker":"thread-0","error":null,"part":1,"parts":3,"start":349184,"end":698368,"file_size":1048576,"starts_in_word":true,"ends_in_word":false}"#
        );
        let mut summary = Summary::new("threads");
        summary.add(&Record::File(result.clone()));
        assert_eq!((summary.files, summary.ok, summary.parts), (1, 1, 1));
        // With BLAKE3: the subtrees it holds, last.
        let mut chaining_value = [0; 32];
        chaining_value[0] = 0xab;
        chaining_value[31] = 0x01;
        let hashed = FileResult {
            blake3_subtrees: Some(vec![
                Blake3Subtree {
                    start: 349_184,
                    len: 1024,
                    chaining_value,
                },
                Blake3Subtree {
                    start: 350_208,
                    len: 348_160,
                    chaining_value: [0xff; 32],
                },
            ]),
            ..result
        };
        let json = serde_json::to_string(&hashed).unwrap_or_default();
        let tail = format!(
            r#""ends_in_word":false,"blake3_subtrees":[[349184,1024,"ab{}01"],[350208,348160,"{}"]]}}"#,
            "00".repeat(30),
            "ff".repeat(32)
        );
        assert!(json.ends_with(&tail), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(parsed.as_object().map(|o| o.len()), Some(16), "{json}");
    }

    #[test]
    fn skipped_json() {
        let s = Record::Skipped(Skipped {
            path: "docs/pipe.txt".into(),
            reason: SkipReason::Fifo,
        });
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            r#"{"type":"skipped","path":"docs/pipe.txt","reason":"fifo"}"#
        );
    }

    #[test]
    fn non_utf8_paths_are_written_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::OsStr::from_bytes(b"bad\xffname").into();
        let s = Skipped {
            path,
            reason: SkipReason::Socket,
        };
        let json = serde_json::to_string(&s).unwrap_or_default();
        // base64 of b"bad\xffname"
        assert!(
            json.contains(r#""path":{"bytes":"YmFk/25hbWU="}"#),
            "{json}"
        );
    }
}

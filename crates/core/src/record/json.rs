//! The JSON of a record (docs/CONTRACT.md, "JSON Lines"), both ways, in one place:
//!
//! - the `Serialize` of [`Record`], [`FileResult`] and [`Skipped`]: the line every reader
//!   writes, a path that is not UTF-8 written losslessly (see [`crate::names`]);
//! - [`Record::write_plain_json`], the same line written by hand for the record nearly every
//!   line of a run is (a whole file read, under a plain UTF-8 path), held to serde's bytes by
//!   a property test;
//! - the `Deserialize` of [`Record`], its inverse: the line read back as the record it was
//!   written from, for `reader-merge` and the tests.
//!
//! The field names are a contract: fields may be added, none renamed or removed.

use std::fmt;
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::names::{self, Lossless};
use super::{ErrorKind, FileError};
use super::{FileResult, Record, SkipReason, Skipped, Worker};
use crate::walk::Part;
use crate::work::{Algorithm, Blake3Subtree, Counts, Digest, Edges};

/// The JSON of one file. [`Record::write_plain_json`] writes the common case by hand; its
/// property test holds it to this, byte for byte: a change of fields here shows there as a
/// failing test.
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

impl Record {
    /// Appends the record's JSON to `line`, byte for byte as `serde_json` writes its
    /// `Serialize`, and returns `true`, if it is a plain file record: a whole file read, with
    /// its counts, under a UTF-8 path that JSON writes as it is (no `"`, `\` or control
    /// character) — nearly every record of a run, one a file. Any other record is left to
    /// serde: nothing is written, and `false` returned.
    ///
    /// Such a record's fields are fixed: their names need no escaping, nor the path, and the
    /// numbers need no formatting machinery, so the line costs a few copies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use reader_core::{Counts, FileJob, FileResult, Record, Worker};
    /// let counts = Counts { bytes: 12, lines: 1, words: 2 };
    /// let job = FileJob::new("docs/a.txt", Some(12));
    /// let read = FileResult::of(job, Ok(counts), Duration::from_micros(35), Worker::Thread(2));
    /// let record = Record::File(read);
    /// let mut line = Vec::new();
    /// assert!(record.write_plain_json(&mut line));
    /// assert_eq!(line, serde_json::to_vec(&record)?);
    /// assert_eq!(
    ///     String::from_utf8_lossy(&line),
    ///     r#"{"type":"file","path":"docs/a.txt","size":12,"lines":1,"words":2,"elapsed_us":35,"worker":"thread-2","error":null}"#
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn write_plain_json(&self, line: &mut Vec<u8>) -> bool {
        let Record::File(file) = self else {
            return false;
        };
        let (Ok(counts), None, Some(path)) = (&file.outcome, &file.part, file.path.to_str()) else {
            return false;
        };
        if path.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return false;
        }
        line.extend_from_slice(br#"{"type":"file","path":""#);
        line.extend_from_slice(path.as_bytes());
        line.extend_from_slice(br#"","size":"#);
        decimal(counts.bytes, line);
        line.extend_from_slice(br#","lines":"#);
        decimal(counts.lines, line);
        line.extend_from_slice(br#","words":"#);
        decimal(counts.words, line);
        for digest in &file.digests {
            line.extend_from_slice(br#",""#);
            line.extend_from_slice(digest.algorithm().name().as_bytes());
            line.extend_from_slice(br#"":""#);
            hex(digest.as_bytes(), line);
            line.push(b'"');
        }
        line.extend_from_slice(br#","elapsed_us":"#);
        decimal(duration_us(file.elapsed), line);
        line.extend_from_slice(br#","worker":""#);
        // Written into a `Vec`: it cannot fail.
        let _ = write!(line, "{}", file.worker);
        line.extend_from_slice(br#"","error":null}"#);
        true
    }
}

/// Appends `bytes` in lower-case hexadecimal.
fn hex(bytes: &[u8], line: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        line.push(DIGITS[usize::from(byte >> 4)]);
        line.push(DIGITS[usize::from(byte & 15)]);
    }
}

/// Appends `n` in decimal.
fn decimal(mut n: u64, line: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line.extend_from_slice(&digits[at..]);
}

/// A record read back from the JSON its `Serialize` writes: `serde_json::from_str::<Record>`
/// of a line gives back the record the line was written from.
///
/// The fields may come in any order, and those it does not know are passed over (the contract
/// adds fields). A failed file's error is read as the contract writes it: its kind, and its
/// message less the path in front (`path: message`); a `worker_crashed` whose message starts
/// with `not read: ` is a file no reader was left to read ([`FileError::is_not_read`]). What
/// the JSON does not carry comes back empty: a walk's own work's [`output`](FileResult::output).
/// A line that is not such a record is an error that says what is wrong, never a panic.
///
/// ```
/// use reader_core::{ErrorKind, Record};
/// let line = r#"{"type":"file","path":"docs/gone.txt","size":null,"lines":null,"words":null,"elapsed_us":3,"worker":"pid-4242","error":{"kind":"not_found","message":"docs/gone.txt: No such file or directory (os error 2)"}}"#;
/// let record: Record = serde_json::from_str(line)?;
/// let Record::File(file) = &record else { panic!("a file record") };
/// let err = file.outcome.as_ref().expect_err("it failed");
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert_eq!(err.message(), "No such file or directory (os error 2)");
/// assert_eq!(serde_json::to_string(&record)?, line);
///
/// let bad = serde_json::from_str::<Record>(r#"{"type":"file","path":"a.txt"}"#);
/// assert!(bad.is_err_and(|err| err.to_string().contains("without a worker")));
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Record, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record: an object of type file, part or skipped")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut fields = Fields::default();
        while let Some(field) = map.next_key()? {
            match field {
                Field::Type => fields.kind = Some(map.next_value()?),
                Field::Path => fields.path = Some(map.next_value::<PathJson>()?.0),
                Field::Size => fields.size = map.next_value_seed(Scalar::nullable("size"))?,
                Field::Lines => fields.lines = map.next_value_seed(Scalar::nullable("lines"))?,
                Field::Words => fields.words = map.next_value_seed(Scalar::nullable("words"))?,
                Field::Digest(at) => {
                    let digest = DigestJson(Algorithm::ALL[at]);
                    fields.digests[at] = Some(map.next_value_seed(digest)?);
                }
                Field::ElapsedUs => {
                    fields.elapsed_us = map.next_value_seed(Scalar::nullable("elapsed_us"))?;
                }
                Field::Worker => fields.worker = Some(map.next_value::<WorkerJson>()?.0),
                Field::Error => fields.error = map.next_value_seed(ErrorJsonSeed)?,
                Field::Part => fields.part = map.next_value_seed(Scalar::nullable("part"))?,
                Field::Parts => fields.parts = map.next_value_seed(Scalar::nullable("parts"))?,
                Field::Start => fields.start = map.next_value_seed(Scalar::nullable("start"))?,
                Field::End => fields.end = map.next_value_seed(Scalar::nullable("end"))?,
                Field::FileSize => {
                    fields.file_size = map.next_value_seed(Scalar::nullable("file_size"))?;
                }
                Field::StartsInWord => {
                    let flag = Scalar::nullable("starts_in_word");
                    fields.starts_in_word = map.next_value_seed(flag)?;
                }
                Field::EndsInWord => {
                    let flag = Scalar::nullable("ends_in_word");
                    fields.ends_in_word = map.next_value_seed(flag)?;
                }
                Field::Blake3Subtrees => {
                    fields.blake3_subtrees = map.next_value_seed(SubtreesSeed)?;
                }
                Field::Reason => fields.reason = Some(map.next_value_seed(ReasonSeed)?),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        fields.record().map_err(de::Error::custom)
    }
}

/// The fields of a record as they are read, in any order; `null` is `None`, as is a field
/// that is not there (a file record without `elapsed_us` took no time).
#[derive(Default)]
struct Fields {
    kind: Option<Kind>,
    path: Option<PathBuf>,
    size: Option<u64>,
    lines: Option<u64>,
    words: Option<u64>,
    /// By the algorithm's place in [`Algorithm::ALL`], the order of [`FileResult::digests`].
    digests: [Option<Digest>; Algorithm::ALL.len()],
    elapsed_us: Option<u64>,
    worker: Option<Worker>,
    error: Option<ErrorFields>,
    part: Option<u32>,
    parts: Option<u32>,
    start: Option<u64>,
    end: Option<u64>,
    file_size: Option<u64>,
    starts_in_word: Option<bool>,
    ends_in_word: Option<bool>,
    blake3_subtrees: Option<Vec<Blake3Subtree>>,
    reason: Option<SkipReason>,
}

impl Fields {
    /// The record these fields make, or what is missing.
    fn record(self) -> Result<Record, String> {
        let kind = self.kind.ok_or("a record without a type")?;
        let path = self.path.ok_or("a record without a path")?;
        let of = match kind {
            Kind::Skipped => {
                let reason = self.reason.ok_or("a skipped record without a reason")?;
                return Ok(Record::Skipped(Skipped { path, reason }));
            }
            Kind::File => "file",
            Kind::Part => "part",
        };
        let without = |field: &str| format!("a {of} record without {field}");
        let worker = self.worker.ok_or_else(|| without("a worker"))?;
        let outcome = match self.error {
            Some(error) => Err(error.at(&path)),
            None => Ok(Counts {
                bytes: self.size.ok_or_else(|| without("size"))?,
                lines: self.lines.ok_or_else(|| without("lines"))?,
                words: self.words.ok_or_else(|| without("words"))?,
            }),
        };
        let (part, blake3_subtrees) = match kind {
            Kind::Part => {
                let part = Part {
                    index: self.part.ok_or_else(|| without("part"))?,
                    parts: self.parts.ok_or_else(|| without("parts"))?,
                    start: self.start.ok_or_else(|| without("start"))?,
                    end: self.end.ok_or_else(|| without("end"))?,
                    file_size: self.file_size.ok_or_else(|| without("file_size"))?,
                    edges: Edges {
                        starts_in_word: self
                            .starts_in_word
                            .ok_or_else(|| without("starts_in_word"))?,
                        ends_in_word: self.ends_in_word.ok_or_else(|| without("ends_in_word"))?,
                    },
                };
                (Some(part), self.blake3_subtrees)
            }
            Kind::File | Kind::Skipped => (None, None),
        };
        Ok(Record::File(FileResult {
            path,
            outcome,
            digests: self.digests.into_iter().flatten().collect(),
            output: None,
            elapsed: Duration::from_micros(self.elapsed_us.unwrap_or(0)),
            worker,
            part,
            blake3_subtrees,
        }))
    }
}

/// A field of a record, by its name.
enum Field {
    Type,
    Path,
    Size,
    Lines,
    Words,
    /// A digest, by its algorithm's place in [`Algorithm::ALL`].
    Digest(usize),
    ElapsedUs,
    Worker,
    Error,
    Part,
    Parts,
    Start,
    End,
    FileSize,
    StartsInWord,
    EndsInWord,
    Blake3Subtrees,
    Reason,
    /// One this version does not know.
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        d.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field's name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "type" => Field::Type,
            "path" => Field::Path,
            "size" => Field::Size,
            "lines" => Field::Lines,
            "words" => Field::Words,
            "elapsed_us" => Field::ElapsedUs,
            "worker" => Field::Worker,
            "error" => Field::Error,
            "part" => Field::Part,
            "parts" => Field::Parts,
            "start" => Field::Start,
            "end" => Field::End,
            "file_size" => Field::FileSize,
            "starts_in_word" => Field::StartsInWord,
            "ends_in_word" => Field::EndsInWord,
            "blake3_subtrees" => Field::Blake3Subtrees,
            "reason" => Field::Reason,
            _ => Algorithm::ALL
                .iter()
                .position(|algorithm| algorithm.name() == name)
                .map_or(Field::Other, Field::Digest),
        })
    }
}

/// A record's `type`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    File,
    Part,
    Skipped,
}

/// A path as [`Lossless`] writes it: a string, or `{"bytes": "<base64>"}`.
struct PathJson(PathBuf);

impl<'de> Deserialize<'de> for PathJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathJson, D::Error> {
        d.deserialize_any(PathVisitor)
    }
}

struct PathVisitor;

impl<'de> Visitor<'de> for PathVisitor {
    type Value = PathJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a path: a string, or {"bytes": "<base64>"} for a name that is not UTF-8"#)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<PathJson, E> {
        Ok(PathJson(text.into()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<PathJson, E> {
        Ok(PathJson(text.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PathJson, A::Error> {
        let mut path = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "bytes" {
                return Err(de::Error::unknown_field(&key, &["bytes"]));
            }
            let encoded: String = map.next_value()?;
            let raw = names::from_base64(&encoded).ok_or_else(|| {
                de::Error::invalid_value(Unexpected::Str(&encoded), &"the base64 of a name")
            })?;
            path = Some(raw);
        }
        path.map(PathJson)
            .ok_or_else(|| de::Error::missing_field("bytes"))
    }
}

/// A worker as its `Display` shows it (`thread-2`), read by its `FromStr`.
struct WorkerJson(Worker);

impl<'de> Deserialize<'de> for WorkerJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WorkerJson, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(WorkerJson).map_err(de::Error::custom)
    }
}

/// A digest of `.0` in lower-case hexadecimal, as its `Display` shows it.
struct DigestJson(Algorithm);

impl<'de> DeserializeSeed<'de> for DigestJson {
    type Value = Digest;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Digest, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for DigestJson {
    type Value = Digest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = 2 * self.0.digest_len();
        write!(f, "a {} digest: {digits} hexadecimal digits", self.0)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Digest, E> {
        let mut bytes = [0; 32];
        let bytes = &mut bytes[..self.0.digest_len()];
        unhex(text, bytes)
            .and_then(|()| Digest::from_bytes(self.0, bytes))
            .ok_or_else(|| E::invalid_value(Unexpected::Str(text), &self))
    }
}

/// A failed file's `error` as the contract writes it: its kind, and its message with the
/// path in front.
struct ErrorFields {
    kind: ErrorKind,
    message: String,
}

impl ErrorFields {
    /// The error of the file at `path`: the message was written as `path: message`.
    fn at(self, path: &Path) -> FileError {
        let named = format!("{}: ", path.display());
        let message = self.message.strip_prefix(&named).unwrap_or(&self.message);
        match (self.kind, message.strip_prefix("not read: ")) {
            (ErrorKind::WorkerCrashed, Some(why)) => FileError::not_read(path, why),
            (kind, _) => FileError::new(kind, path, message),
        }
    }
}

/// A record's `error`: `null`, or `{"kind": …, "message": …}`.
struct ErrorJsonSeed;

impl<'de> DeserializeSeed<'de> for ErrorJsonSeed {
    type Value = Option<ErrorFields>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<ErrorFields>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ErrorJsonSeed {
    type Value = Option<ErrorFields>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"error: null, or {"kind": "<kind>", "message": "<path>: <message>"}"#)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<ErrorFields>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<ErrorFields>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<ErrorFields>, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<ErrorFields>, A::Error> {
        let (mut kind, mut message) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "kind" => kind = Some(map.next_value()?),
                "message" => message = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::custom("an error without a kind"))?;
        Ok(Some(ErrorFields {
            kind,
            message: message.unwrap_or_default(),
        }))
    }
}

/// A skipped entry's `reason`, by its name ([`SkipReason::as_str`]).
struct ReasonSeed;

impl<'de> DeserializeSeed<'de> for ReasonSeed {
    type Value = SkipReason;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SkipReason, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for ReasonSeed {
    type Value = SkipReason;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reason: why an entry was skipped (fifo, socket, symlink…)")
    }

    fn visit_str<E: de::Error>(self, reason: &str) -> Result<SkipReason, E> {
        SkipReason::deserialize(reason.into_deserializer())
    }
}

/// A part's `blake3_subtrees`: `null`, or `[[start, len, "<64 hex digits>"], …]`.
struct SubtreesSeed;

impl<'de> DeserializeSeed<'de> for SubtreesSeed {
    type Value = Option<Vec<Blake3Subtree>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for SubtreesSeed {
    type Value = Option<Vec<Blake3Subtree>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"blake3_subtrees: null, or [[start, len, "<64 hex digits>"], …]"#)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut subtrees = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(subtree) = seq.next_element_seed(SubtreeSeed)? {
            subtrees.push(subtree);
        }
        Ok(Some(subtrees))
    }
}

/// One of a part's `blake3_subtrees`: `[start, len, "<64 hex digits>"]`.
struct SubtreeSeed;

impl<'de> DeserializeSeed<'de> for SubtreeSeed {
    type Value = Blake3Subtree;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Blake3Subtree, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SubtreeSeed {
    type Value = Blake3Subtree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"one of blake3_subtrees: [start, len, "<64 hex digits>"]"#)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Blake3Subtree, A::Error> {
        let number = || Scalar::required("blake3_subtrees");
        let start = seq
            .next_element_seed(number())?
            .flatten()
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let len = seq
            .next_element_seed(number())?
            .flatten()
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let hex: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &self));
        }
        let mut chaining_value = [0; 32];
        unhex(&hex, &mut chaining_value)
            .ok_or_else(|| de::Error::invalid_value(Unexpected::Str(&hex), &self))?;
        Ok(Blake3Subtree {
            start,
            len,
            chaining_value,
        })
    }
}

/// A number or a flag in the field `field` of a record, `null` where `nullable`; an error
/// names the field.
struct Scalar<T> {
    field: &'static str,
    nullable: bool,
    of: PhantomData<T>,
}

impl<T: Plain> Scalar<T> {
    fn nullable(field: &'static str) -> Scalar<T> {
        Scalar {
            field,
            nullable: true,
            of: PhantomData,
        }
    }

    fn required(field: &'static str) -> Scalar<T> {
        Scalar {
            nullable: false,
            ..Scalar::nullable(field)
        }
    }
}

/// What a [`Scalar`] holds: a number or a flag.
trait Plain: Sized {
    /// What it is, for an error.
    const WHAT: &'static str;

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    fn from_bool(_: bool) -> Option<Self> {
        None
    }
}

impl Plain for u64 {
    const WHAT: &'static str = "a whole number";

    fn from_u64(n: u64) -> Option<u64> {
        Some(n)
    }
}

impl Plain for u32 {
    const WHAT: &'static str = "a whole number below 2^32";

    fn from_u64(n: u64) -> Option<u32> {
        u32::try_from(n).ok()
    }
}

impl Plain for bool {
    const WHAT: &'static str = "true or false";

    fn from_bool(flag: bool) -> Option<bool> {
        Some(flag)
    }
}

impl<'de, T: Plain> DeserializeSeed<'de> for Scalar<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Plain> Visitor<'de> for Scalar<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_null = if self.nullable { ", or null" } else { "" };
        write!(f, "{}: {}{or_null}", self.field, T::WHAT)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        if self.nullable {
            Ok(None)
        } else {
            Err(E::invalid_type(Unexpected::Unit, &self))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Option<T>, E> {
        match T::from_u64(n) {
            Some(value) => Ok(Some(value)),
            None => Err(E::invalid_value(Unexpected::Unsigned(n), &self)),
        }
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Option<T>, E> {
        match T::from_bool(flag) {
            Some(value) => Ok(Some(value)),
            None => Err(E::invalid_type(Unexpected::Bool(flag), &self)),
        }
    }
}

/// Fills `bytes` from `text`, their hexadecimal (in either case); `None` unless `text` is
/// exactly that.
fn unhex(text: &str, bytes: &mut [u8]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != 2 * bytes.len() {
        return None;
    }
    let value = |digit: u8| char::from(digit).to_digit(16);
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = u8::try_from(value(pair[0])? << 4 | value(pair[1])?).ok()?;
    }
    Some(())
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use proptest::prelude::*;

    use super::*;
    use crate::record::Summary;

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

    /// Names UTF-8 or not, with characters JSON escapes.
    fn path() -> impl Strategy<Value = PathBuf> {
        prop_oneof![
            "\\PC*|[\"\\\\\u{0}-\u{1f}a/é:]{0,12}".prop_map(PathBuf::from),
            prop::collection::vec(any::<u8>(), 0..12)
                .prop_map(|bytes| PathBuf::from(OsString::from_vec(bytes))),
        ]
    }

    fn worker() -> impl Strategy<Value = Worker> {
        (0u8..5, any::<u32>()).prop_map(|(kind, n)| match kind {
            0 => Worker::Main,
            1 => Worker::Thread(n),
            2 => Worker::Task(n),
            3 => Worker::Process(n),
            _ => Worker::Split(n),
        })
    }

    const KINDS: [ErrorKind; 10] = [
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::IsDirectory,
        ErrorKind::SymlinkLoop,
        ErrorKind::NameTooLong,
        ErrorKind::NotRegular,
        ErrorKind::Io,
        ErrorKind::WorkerCrashed,
        ErrorKind::Timeout,
        ErrorKind::SizeLimit,
    ];

    const REASONS: [SkipReason; 7] = [
        SkipReason::Fifo,
        SkipReason::Socket,
        SkipReason::BlockDevice,
        SkipReason::CharDevice,
        SkipReason::Symlink,
        SkipReason::TooSmall,
        SkipReason::TooLarge,
    ];

    /// What became of a file, before its path is known: its counts, an error of any kind,
    /// or no reader left to read it.
    #[derive(Debug, Clone)]
    enum Outcome {
        Read(Counts),
        Failed(ErrorKind, String),
        NotRead(String),
    }

    impl Outcome {
        fn of(self, path: &Path) -> Result<Counts, FileError> {
            match self {
                Outcome::Read(counts) => Ok(counts),
                Outcome::Failed(kind, message) => Err(FileError::new(kind, path, message)),
                Outcome::NotRead(why) => Err(FileError::not_read(path, &why)),
            }
        }
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        let message = "\\PC*|[\"\\\\\u{0}-\u{1f}a/é:]{0,12}";
        prop_oneof![
            any::<(u64, u64, u64)>().prop_map(|(bytes, lines, words)| Outcome::Read(Counts {
                bytes,
                lines,
                words
            })),
            (prop::sample::select(KINDS.to_vec()), message)
                .prop_map(|(kind, message)| Outcome::Failed(kind, message)),
            message.prop_map(Outcome::NotRead),
        ]
    }

    /// Some of the algorithms, each with a digest, in the order of [`Algorithm::ALL`].
    fn digests() -> impl Strategy<Value = Vec<Digest>> {
        (
            prop::sample::subsequence(Algorithm::ALL.to_vec(), 0..=Algorithm::ALL.len()),
            any::<[u8; 32]>(),
        )
            .prop_map(|(algorithms, bytes)| {
                algorithms
                    .into_iter()
                    .filter_map(|a| Digest::from_bytes(a, &bytes[..a.digest_len()]))
                    .collect()
            })
    }

    fn part() -> impl Strategy<Value = Part> {
        any::<(u32, u32, u64, u64, u64, bool, bool)>().prop_map(
            |(index, parts, start, end, file_size, starts_in_word, ends_in_word)| Part {
                index,
                parts,
                start,
                end,
                file_size,
                edges: Edges {
                    starts_in_word,
                    ends_in_word,
                },
            },
        )
    }

    fn subtrees() -> impl Strategy<Value = Vec<Blake3Subtree>> {
        prop::collection::vec(any::<(u64, u64, [u8; 32])>(), 0..4).prop_map(|list| {
            list.into_iter()
                .map(|(start, len, chaining_value)| Blake3Subtree {
                    start,
                    len,
                    chaining_value,
                })
                .collect()
        })
    }

    /// Any record a reader writes: files read or failed, whole or parts (with their BLAKE3
    /// subtrees or not), with any digests, time and worker; and entries skipped.
    fn record() -> impl Strategy<Value = Record> {
        let file = (
            path(),
            outcome(),
            digests(),
            any::<u64>(),
            worker(),
            prop::option::of((part(), prop::option::of(subtrees()))),
        )
            .prop_map(
                |(path, outcome, digests, micros, worker, part)| FileResult {
                    outcome: outcome.of(&path),
                    path,
                    digests,
                    output: None,
                    elapsed: Duration::from_micros(micros),
                    worker,
                    part: part.as_ref().map(|(part, _)| *part),
                    blake3_subtrees: part.and_then(|(_, subtrees)| subtrees),
                },
            )
            .prop_map(Record::File);
        let skipped = (path(), prop::sample::select(REASONS.to_vec()))
            .prop_map(|(path, reason)| Record::Skipped(Skipped { path, reason }));
        prop_oneof![3 => file, 1 => skipped]
    }

    /// A whole file read under a UTF-8 path, with characters JSON escapes or not.
    fn plain() -> impl Strategy<Value = Record> {
        (
            "\\PC*|[\"\\\\\u{0}-\u{1f}a/é]{0,12}",
            any::<(u64, u64, u64)>(),
            digests(),
            any::<u64>(),
            worker(),
        )
            .prop_map(|(path, (bytes, lines, words), digests, micros, worker)| {
                Record::File(FileResult {
                    path: path.into(),
                    outcome: Ok(Counts {
                        bytes,
                        lines,
                        words,
                    }),
                    digests,
                    output: None,
                    elapsed: Duration::from_micros(micros),
                    worker,
                    part: None,
                    blake3_subtrees: None,
                })
            })
    }

    /// Whether [`Record::write_plain_json`] is to write `record`.
    fn is_plain(record: &Record) -> bool {
        let Record::File(file) = record else {
            return false;
        };
        let plain_path = file
            .path
            .to_str()
            .is_some_and(|path| !path.contains(|c: char| c < ' ' || c == '"' || c == '\\'));
        file.outcome.is_ok() && file.part.is_none() && plain_path
    }

    proptest! {
        /// The hand-written line is serde_json's, byte for byte, for every record it writes,
        /// and it writes every plain one.
        #[test]
        fn the_plain_writer_writes_what_serde_writes(
            record in prop_oneof![plain(), record()],
        ) {
            let mut line = Vec::new();
            let written = record.write_plain_json(&mut line);
            prop_assert_eq!(written, is_plain(&record), "{:?}", record);
            if written {
                let serde = serde_json::to_vec(&record).expect("a record serializes");
                prop_assert_eq!(String::from_utf8_lossy(&line), String::from_utf8_lossy(&serde));
            } else {
                prop_assert!(line.is_empty());
            }
        }

        /// A record written and read back is the record written, whether its fields come in
        /// the order they are written or another (serde_json's `Value` sorts them).
        #[test]
        fn a_record_reads_back_as_it_was_written(record in record()) {
            let line = serde_json::to_string(&record).expect("a record serializes");
            let read: Record = serde_json::from_str(&line).expect("it reads back");
            prop_assert_eq!(&read, &record, "{}", line);
            let value = serde_json::to_value(&record).expect("a record serializes");
            let sorted: Record = serde_json::from_value(value).expect("it reads back");
            prop_assert_eq!(&sorted, &record);
        }
    }

    /// The error a line gives, which must be one line.
    fn refused(line: &str) -> String {
        let err = serde_json::from_str::<Record>(line)
            .map(|record| format!("read as {record:?}"))
            .expect_err(line)
            .to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    }

    #[test]
    fn a_line_that_is_no_record_says_what_is_wrong() {
        let file = r#""type":"file","path":"a","size":1,"lines":0,"words":1,"elapsed_us":2"#;
        for (line, says) in [
            ("[1]".to_string(), "expected a record"),
            (
                r#"{"type":"group","path":"a"}"#.into(),
                "unknown variant `group`, expected one of `file`, `part`, `skipped`",
            ),
            (r#"{"path":"a","reason":"fifo"}"#.into(), "without a type"),
            (
                r#"{"type":"skipped","reason":"fifo"}"#.into(),
                "without a path",
            ),
            (
                r#"{"type":"skipped","path":"a"}"#.into(),
                "without a reason",
            ),
            (
                r#"{"type":"skipped","path":"a","reason":"door"}"#.into(),
                "`door`",
            ),
            (format!("{{{file}}}"), "file record without a worker"),
            (
                format!(r#"{{{file},"worker":"fiber-1"}}"#),
                "'fiber-1' is not a worker",
            ),
            (
                format!(r#"{{{file},"worker":"main","size":"1"}}"#),
                r#"string "1", expected size: a whole number"#,
            ),
            (
                format!(r#"{{{file},"worker":"main","error":"gone"}}"#),
                "expected error: null, or {",
            ),
            (
                format!(r#"{{{file},"worker":"main","error":{{"message":"a: gone"}}}}"#),
                "an error without a kind",
            ),
            (
                format!(r#"{{{file},"worker":"main","sha256":"abcd"}}"#),
                "a sha256 digest: 64 hexadecimal digits",
            ),
            (
                format!(r#"{{{file},"worker":"main","error":{{"kind":"melted"}}}}"#),
                "`melted`",
            ),
            (
                r#"{"type":"file","path":"a","worker":"main","lines":0,"words":1}"#.into(),
                "file record without size",
            ),
            (
                r#"{"type":"part","path":"a","size":1,"lines":0,"words":1,"worker":"main"}"#.into(),
                "part record without part",
            ),
            (
                r#"{"type":"skipped","path":{"bytes":"!!"},"reason":"fifo"}"#.into(),
                "base64",
            ),
            (
                r#"{"type":"skipped","path":{"raw":"YQ=="},"reason":"fifo"}"#.into(),
                "`raw`",
            ),
            (
                r#"{"type":"skipped","path":7,"reason":"fifo"}"#.into(),
                "a path: a string",
            ),
            (
                r#"{"type":"skipped","path":"a","reason":7}"#.into(),
                "expected reason: why",
            ),
            (
                format!(r#"{{{file},"worker":"main","error":null,"parts":4294967296}}"#),
                "expected parts: a whole number below 2^32",
            ),
        ] {
            let err = refused(&line);
            assert!(err.contains(says), "{line}: {err}");
        }
        let part = r#"{"type":"part","path":"a","size":1,"lines":0,"words":1,"elapsed_us":2,"worker":"main","error":null,"part":0,"parts":2,"start":0,"end":1024,"file_size":2048,"starts_in_word":false,"ends_in_word":true"#;
        for (subtrees, says) in [
            (r#"[[0,1,"ab"]]"#, r#"string "ab""#),
            ("[[0,1]]", "invalid length 2"),
            (r#"[[0,1,"","x"]]"#, "invalid length 4"),
            ("7", "integer `7`, expected blake3_subtrees"),
            (r#"[["0",1,""]]"#, "string \"0\""),
        ] {
            let err = refused(&format!(r#"{part},"blake3_subtrees":{subtrees}}}"#));
            assert!(
                err.contains(says) && err.contains("blake3_subtrees"),
                "{err}"
            );
        }
    }

    #[test]
    fn fields_this_version_does_not_know_are_passed_over_and_a_file_record_has_no_part() {
        let line = r#"{"later":{"a":[1,2]},"type":"file","path":"a","size":1,"lines":0,"words":1,"elapsed_us":2,"worker":"main","error":null,"part":0,"blake3_subtrees":[]}"#;
        let Ok(Record::File(file)) = serde_json::from_str::<Record>(line) else {
            panic!("a file record: {line}");
        };
        assert_eq!((file.part, file.blake3_subtrees), (None, None));
        assert_eq!(file.elapsed, Duration::from_micros(2));
    }

    #[test]
    fn a_file_no_reader_was_left_to_read_reads_back_as_one() {
        let abandoned = FileResult::abandoned(
            crate::walk::FileJob::new("a.txt", Some(3)),
            "the model stopped",
        );
        let line = serde_json::to_string(&abandoned).expect("serializes");
        let Ok(Record::File(read)) = serde_json::from_str::<Record>(&line) else {
            panic!("a file record: {line}");
        };
        let err = read.outcome.as_ref().expect_err("failed");
        assert!(err.is_not_read() && err.message() == "not read: the model stopped");
        assert_eq!(read, abandoned);
    }
}

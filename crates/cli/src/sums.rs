//! Checksum manifests as `sha256sum`, `b3sum` and `xxhsum -H2` write them and read them back
//! with `-c`: one line a file, written by [`write_line`] and read by [`parse`]. Pure: it
//! neither opens files nor hashes anything; it only turns digests and names into lines and back.
//!
//! A line has one of two forms, and ends in a line feed:
//!
//! - plain (GNU): `DIGEST␠␠NAME`; on reading, ` *` (binary mode) may stand for the two spaces;
//! - tagged (BSD, `--tag`): `TAG (NAME) = DIGEST`, the tag being `BLAKE3`, `SHA256` or `XXH128`
//!   (the one `xxhsum --tag -H2` writes for XXH3-128).
//!
//! Digests are hexadecimal. A name is raw bytes, kept as they are, except that a name holding a
//! `\`, a line feed or a carriage return is written with those escaped (`\\`, `\n`, `\r`) and the
//! line then begins with a `\`, as coreutils 9 does. A plain BLAKE3 line is written as `b3sum`
//! writes it, so that `b3sum --check` reads it: a carriage return stays as it is, since b3sum
//! escapes only `\` and line feeds and rejects `\r` — except at the end of a name, where it
//! would read as the end of a CRLF line. (`b3sum --check` also refuses a manifest
//! that is not UTF-8; `xxhsum` 0.8.1 escapes nothing, and its `-c` reads no escaped line.)
//!
//! ```
//! use reader_cli::sums;
//! use reader_core::Algorithm;
//!
//! let mut manifest = Vec::new();
//! sums::write_line(&mut manifest, Algorithm::Xxh3, &[0xab; 16], b"a\nb", false)?;
//! assert_eq!(manifest, b"\\abababababababababababababababab  a\\nb\n");
//!
//! let entry = sums::parse(&manifest[..]).next().expect("one line")?.expect("well formed");
//! assert_eq!((entry.digest, entry.name), (vec![0xab; 16], b"a\nb".to_vec()));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::{self, BufRead, Write};

use reader_core::Algorithm;

/// The tag of `algorithm`'s lines in the tagged form.
fn tag(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Blake3 => "BLAKE3",
        Algorithm::Sha256 => "SHA256",
        Algorithm::Xxh3 => "XXH128",
    }
}

/// Writes the manifest line of the file `name` with the digest `digest` (its raw bytes, e.g.
/// [`reader_core::Digest::as_bytes`]; written in lower-case hex), tagged (`TAG (NAME) =
/// DIGEST`) or plain (`DIGEST  NAME`), in one `write_all`.
///
/// Fails with [`io::ErrorKind::InvalidInput`], writing nothing, when `digest` is not as long as
/// `algorithm`'s digests.
///
/// ```
/// use reader_cli::sums::write_line;
/// use reader_core::Algorithm;
///
/// let mut out = Vec::new();
/// write_line(&mut out, Algorithm::Sha256, &[0; 32], b"back\\slash", true)?;
/// let zeros = "0".repeat(64);
/// assert_eq!(out, format!("\\SHA256 (back\\\\slash) = {zeros}\n").as_bytes());
/// assert!(write_line(&mut out, Algorithm::Sha256, &[0; 16], b"a", true).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_line(
    out: &mut impl Write,
    algorithm: Algorithm,
    digest: &[u8],
    name: &[u8],
    tagged: bool,
) -> io::Result<()> {
    if digest.len() != algorithm.digest_len() {
        let (len, want) = (digest.len(), algorithm.digest_len());
        let why = format!("a {algorithm} digest has {want} bytes, not {len}");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = digest
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
    let mut line = Vec::with_capacity(2 * digest.len() + 2 * name.len() + 16);
    // b3sum's own lines leave a carriage return unescaped (see the module docs).
    let escape_cr = tagged || algorithm != Algorithm::Blake3 || name.last() == Some(&b'\r');
    let name = Escaped::of(name, escape_cr);
    if name.marked {
        line.push(b'\\');
    }
    if tagged {
        line.extend_from_slice(tag(algorithm).as_bytes());
        line.extend_from_slice(b" (");
    } else {
        line.extend(hex.clone());
        line.extend_from_slice(b"  ");
    }
    line.extend_from_slice(&name.text);
    if tagged {
        line.extend_from_slice(b") = ");
        line.extend(hex);
    }
    line.push(b'\n');
    out.write_all(&line)
}

/// A name as a manifest line holds it: `\\`, line feeds and (when `escape_cr`) carriage returns
/// escaped, and whether the line must begin with a `\\` to say so.
struct Escaped {
    marked: bool,
    text: Vec<u8>,
}

impl Escaped {
    fn of(name: &[u8], escape_cr: bool) -> Escaped {
        let mut text = Vec::with_capacity(name.len() + 8);
        let mut marked = false;
        for &byte in name {
            let escape: &[u8] = match byte {
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' if escape_cr => b"\\r",
                _ => {
                    text.push(byte);
                    continue;
                }
            };
            text.extend_from_slice(escape);
            marked = true;
        }
        Escaped { marked, text }
    }
}

/// Writes the line `sha256sum -c` writes for the file `name` of a manifest: `NAME: VERDICT`,
/// the name escaped as in [`write_line`] (and the line then beginning with a `\\`).
///
/// ```
/// let mut out = Vec::new();
/// reader_cli::sums::write_verdict(&mut out, b"a\nb", "FAILED")?;
/// reader_cli::sums::write_verdict(&mut out, b"c", "OK")?;
/// assert_eq!(out, b"\\a\\nb: FAILED\nc: OK\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_verdict(out: &mut impl Write, name: &[u8], verdict: &str) -> io::Result<()> {
    let name = Escaped::of(name, true);
    let mut line = Vec::with_capacity(name.text.len() + verdict.len() + 4);
    if name.marked {
        line.push(b'\\');
    }
    line.extend_from_slice(&name.text);
    line.extend_from_slice(b": ");
    line.extend_from_slice(verdict.as_bytes());
    line.push(b'\n');
    out.write_all(&line)
}

/// Reads a manifest a line at a time (only one line is held in memory): the iterator yields,
/// for each line that is not blank nor a comment (`#` first), an [`Entry`] or, for a line that
/// cannot be one, a [`Malformed`]; or, and then nothing more, the error of reading `input`.
///
/// A line may end in CRLF (one carriage return before the line feed is dropped), and the last
/// may have no line feed. Leading blanks are skipped, as `sha256sum -c` skips them. Hex digits
/// may be upper or lower case; tags are matched in any case. A whole manifest in memory is
/// read by passing it as a `&[u8]`.
///
/// ```
/// use reader_cli::sums::{Entry, Malformed, parse};
/// use reader_core::Algorithm;
///
/// let manifest = b"# made by xxhsum\r\nXXH128 (a) = 000102030405060708090A0B0C0D0E0F\r\n\nabc  b\n";
/// let lines: Vec<_> = parse(&manifest[..]).collect::<Result<_, _>>()?;
/// let (digest, name) = ((0..16).collect(), b"a".to_vec());
/// let entry = Entry { line: 2, algorithm: Some(Algorithm::Xxh3), digest, name };
/// let why = "a digest has 64 or 32 hex digits, not 3".to_string();
/// assert_eq!(lines, [Ok(entry), Err(Malformed { line: 4, why })]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn parse<R: BufRead>(input: R) -> Entries<R> {
    Entries {
        input,
        line: 0,
        buf: Vec::new(),
        failed: false,
    }
}

/// The lines of a manifest: see [`parse`], which makes it.
///
/// ```
/// let mut lines = reader_cli::sums::parse(&b"\n# nothing but a comment\n"[..]);
/// assert!(lines.next().is_none());
/// ```
#[derive(Debug)]
pub struct Entries<R> {
    input: R,
    /// The number of the last line read.
    line: usize,
    buf: Vec<u8>,
    /// Reading failed: the iterator has ended.
    failed: bool,
}

impl<R: BufRead> Iterator for Entries<R> {
    type Item = io::Result<Result<Entry, Malformed>>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
            }
            let text = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            let text = trim_start(text.strip_suffix(b"\r").unwrap_or(text));
            if text.is_empty() || text[0] == b'#' {
                continue;
            }
            let line = self.line;
            return Some(Ok(fields(text, line).map_err(|why| Malformed { line, why })));
        }
        None
    }
}

/// A manifest's line that names a file and its digest.
///
/// ```
/// use reader_cli::sums::parse;
/// use reader_core::Algorithm;
///
/// let manifest = b"\\SHA256 (a\\\\b) = 0000000000000000000000000000000000000000000000000000000000000000";
/// let entry = parse(&manifest[..]).next().expect("a line")?.expect("well formed");
/// assert_eq!((entry.line, entry.algorithm), (1, Some(Algorithm::Sha256)));
/// assert_eq!((entry.digest, entry.name), (vec![0; 32], b"a\\b".to_vec()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its line's number, from 1.
    pub line: usize,
    /// The algorithm its tag names; `None` on a plain line (see [`Entry::resolve`]).
    pub algorithm: Option<Algorithm>,
    /// The digest, decoded from hex: as many bytes as some algorithm's digest has, and as its
    /// tag's algorithm's on a tagged line.
    pub digest: Vec<u8>,
    /// The file's name, unescaped: raw bytes, never empty, without NUL.
    pub name: Vec<u8>,
}

impl Entry {
    /// The algorithm that made the digest: the tag's on a tagged line; on a plain line, the
    /// only algorithm whose digests are as long, or else the only one of those in `chosen`
    /// (the user's `--digest`s): a 32-digit digest is XXH3's, and a 64-digit digest BLAKE3's or
    /// SHA-256's, which only the user can tell apart. The error says so.
    ///
    /// ```
    /// use reader_cli::sums::parse;
    /// use reader_core::Algorithm::{Blake3, Sha256, Xxh3};
    ///
    /// let line = format!("{}  a\n{}  b\n", "0".repeat(64), "0".repeat(32));
    /// let entries: Vec<_> = parse(line.as_bytes()).flatten().flatten().collect();
    /// assert_eq!(entries[0].resolve(&[Sha256, Xxh3]), Ok(Sha256));
    /// assert!(entries[0].resolve(&[Sha256, Blake3]).unwrap_err().contains("--digest"));
    /// assert_eq!(entries[1].resolve(&[]), Ok(Xxh3));
    /// ```
    pub fn resolve(&self, chosen: &[Algorithm]) -> Result<Algorithm, String> {
        use Algorithm::{Blake3, Sha256, Xxh3};
        const AMBIGUOUS: &str = "a 64-digit digest may be BLAKE3 or SHA-256: choose one with \
                                 --digest blake3 or --digest sha256";
        match (self.algorithm, self.digest.len()) {
            (Some(algorithm), _) => Ok(algorithm),
            (None, 16) => Ok(Xxh3),
            (None, 32) => match (chosen.contains(&Blake3), chosen.contains(&Sha256)) {
                (true, false) => Ok(Blake3),
                (false, true) => Ok(Sha256),
                _ => Err(AMBIGUOUS.to_string()),
            },
            (None, len) => Err(format!("no algorithm has a digest of {len} bytes")),
        }
    }
}

/// A manifest's line that is neither an [`Entry`], blank nor a comment.
///
/// ```
/// use reader_cli::sums::parse;
///
/// let bad = parse(&b"\n\nMD5 (a) = 00\n"[..]).next().expect("a line")?.expect_err("malformed");
/// assert_eq!(bad.to_string(), "line 3: unknown tag `MD5` (known: BLAKE3, SHA256, XXH128)");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong with it, in a few words.
    pub why: String,
}

impl fmt::Display for Malformed {
    /// `line N: why`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// `text` without its leading spaces and tabs.
fn trim_start(mut text: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = text {
        text = rest;
    }
    text
}

/// The entry of line `line`, `text`, which is neither blank nor a comment, or why it is none.
fn fields(text: &[u8], line: usize) -> Result<Entry, String> {
    let (escaped, text) = match text.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let space = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let (head, rest) = text.split_at(space);
    let (algorithm, digits, name) = match rest.strip_prefix(b" (") {
        Some(rest) => {
            let known =
                |algorithm: &Algorithm| tag(*algorithm).as_bytes().eq_ignore_ascii_case(head);
            let Some(algorithm) = Algorithm::ALL.into_iter().find(known) else {
                let (head, tags) = (head.escape_ascii(), Algorithm::ALL.map(tag).join(", "));
                return Err(format!("unknown tag `{head}` (known: {tags})"));
            };
            // The name ends at the last `)`, as for `sha256sum -c`: a digest holds none.
            let close = rest.iter().rposition(|&b| b == b')');
            let digits = close.and_then(|close| trim_start(&rest[close + 1..]).strip_prefix(b"="));
            let (Some(close), Some(digits)) = (close, digits) else {
                return Err("no `) = ` after the name".to_string());
            };
            (Some(algorithm), trim_start(digits), &rest[..close])
        }
        None => match rest {
            [] => (None, head, &[][..]),
            [b' ', b' ' | b'*', name @ ..] => (None, head, name),
            _ => return Err("expected two spaces or ` *` between digest and name".to_string()),
        },
    };
    let digest = decode(digits)?;
    let fits = |algorithm: Algorithm| 2 * algorithm.digest_len() == digits.len();
    match algorithm {
        Some(algorithm) if !fits(algorithm) => {
            let (tag, len) = (tag(algorithm), 2 * algorithm.digest_len());
            let n = digits.len();
            return Err(format!("a {tag} digest has {len} hex digits, not {n}"));
        }
        None if !Algorithm::ALL.into_iter().any(fits) => {
            return Err(format!(
                "a digest has 64 or 32 hex digits, not {}",
                digits.len()
            ));
        }
        _ => {}
    }
    let name = unescape(name, escaped)?;
    Ok(Entry {
        line,
        algorithm,
        digest,
        name,
    })
}

/// The bytes of the hex `digits` (an odd last digit makes a byte alone).
fn decode(digits: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(bad) = digits.iter().find(|digit| !digit.is_ascii_hexdigit()) {
        let bad = bad.escape_ascii();
        return Err(format!("`{bad}` in the digest is no hex digit"));
    }
    let nibble = |digit: u8| match digit {
        b'0'..=b'9' => digit - b'0',
        _ => (digit | 0x20) - b'a' + 10,
    };
    let byte = |pair: &[u8]| pair.iter().fold(0, |byte, &d| byte << 4 | nibble(d));
    Ok(digits.chunks(2).map(byte).collect())
}

/// The file name `name` of a line, unescaped if the line began with a `\`.
fn unescape(name: &[u8], escaped: bool) -> Result<Vec<u8>, String> {
    if name.is_empty() {
        return Err("missing name".to_string());
    }
    if name.contains(&0) {
        return Err("the name holds a NUL byte".to_string());
    }
    if !escaped {
        return Ok(name.to_vec());
    }
    let mut unescaped = Vec::with_capacity(name.len());
    let mut bytes = name.iter();
    while let Some(&byte) = bytes.next() {
        if byte != b'\\' {
            unescaped.push(byte);
            continue;
        }
        unescaped.push(match bytes.next() {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(other) => {
                let other = other.escape_ascii();
                return Err(format!("unknown escape `\\{other}` in the name"));
            }
            None => return Err("the name ends in a lone `\\`".to_string()),
        });
    }
    Ok(unescaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The digests of the three bytes `abc`, as the tools print them.
    const SHA256: &[u8] = b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const BLAKE3: &[u8] = b"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
    const XXH3: &[u8] = b"06b05ab6733a618578af5f94892f3950";

    /// `line` with each `<sha>`, `<b3>`, `<xxh>` replaced by [`SHA256`], [`BLAKE3`], [`XXH3`].
    fn with_digests(line: &[u8]) -> Vec<u8> {
        let digests: [(&[u8], &[u8]); 3] =
            [(b"<sha>", SHA256), (b"<b3>", BLAKE3), (b"<xxh>", XXH3)];
        let mut out = line.to_vec();
        for (mark, hex) in digests {
            while let Some(at) = out.windows(mark.len()).position(|w| w == mark) {
                out.splice(at..at + mark.len(), hex.iter().copied());
            }
        }
        out
    }

    fn written(algorithm: Algorithm, hex: &[u8], name: &[u8], tagged: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let digest = decode(hex).expect("hex");
        write_line(&mut out, algorithm, &digest, name, tagged).expect("to a Vec");
        out
    }

    fn parsed(manifest: &[u8]) -> Vec<Result<Entry, Malformed>> {
        let lines = parse(manifest).collect::<io::Result<_>>();
        lines.expect("from a slice")
    }

    fn entry(line: usize, algorithm: Option<Algorithm>, hex: &[u8], name: &[u8]) -> Entry {
        let (digest, name) = (decode(hex).expect("hex"), name.to_vec());
        Entry {
            line,
            algorithm,
            digest,
            name,
        }
    }

    /// Names of files holding `abc`, and what `sha256sum` and `sha256sum --tag` (coreutils 9.1)
    /// wrote for them.
    const NAMES: [&[u8]; 7] = [
        b"plain", b"sp ace", b"(p) = x", b"a\nb", b"cr\rx", b"b\\s", b"\xff",
    ];
    const SHA256SUM: &[u8] = b"<sha>  plain\n<sha>  sp ace\n<sha>  (p) = x\n\\<sha>  a\\nb\n\
        \\<sha>  cr\\rx\n\\<sha>  b\\\\s\n<sha>  \xff\n";
    const SHA256SUM_TAG: &[u8] = b"SHA256 (plain) = <sha>\nSHA256 (sp ace) = <sha>\n\
        SHA256 ((p) = x) = <sha>\n\\SHA256 (a\\nb) = <sha>\n\\SHA256 (cr\\rx) = <sha>\n\
        \\SHA256 (b\\\\s) = <sha>\nSHA256 (\xff) = <sha>\n";

    #[test]
    fn writes_what_sha256sum_b3sum_and_xxhsum_write() {
        use Algorithm::{Blake3, Sha256, Xxh3};
        for (tagged, manifest) in [(false, SHA256SUM), (true, SHA256SUM_TAG)] {
            let lines = NAMES.map(|name| written(Sha256, SHA256, name, tagged));
            assert_eq!(lines.concat(), with_digests(manifest));
        }
        let lines = [
            written(Blake3, BLAKE3, b"a\nb", false),
            written(Blake3, BLAKE3, b"cr\rx", false),
            written(Blake3, BLAKE3, b"cr\rx", true),
            written(Blake3, BLAKE3, b"a", true),
            written(Xxh3, XXH3, b"a", false),
            written(Xxh3, XXH3, b"a", true),
        ];
        let expected = b"\\<b3>  a\\nb\n<b3>  cr\rx\n\\BLAKE3 (cr\\rx) = <b3>\n\
            BLAKE3 (a) = <b3>\n<xxh>  a\nXXH128 (a) = <xxh>\n";
        assert_eq!(lines.concat(), with_digests(expected));
    }

    #[test]
    fn parses_what_the_tools_write() {
        let (sha256, xxh3) = (Some(Algorithm::Sha256), Some(Algorithm::Xxh3));
        for (algorithm, manifest) in [(None, SHA256SUM), (sha256, SHA256SUM_TAG)] {
            let names = NAMES.iter().enumerate();
            let entries = names.map(|(i, name)| Ok(entry(i + 1, algorithm, SHA256, name)));
            assert_eq!(parsed(&with_digests(manifest)), entries.collect::<Vec<_>>());
        }
        // b3sum 1.2 escapes `\` and line feeds but not carriage returns.
        let b3sum = parsed(&with_digests(b"\\<b3>  a\\nb\n<b3>  cr\rx\n"));
        let names = [
            entry(1, None, BLAKE3, b"a\nb"),
            entry(2, None, BLAKE3, b"cr\rx"),
        ];
        assert_eq!(b3sum, names.map(Ok));
        // xxhsum 0.8.1 escapes nothing: a name with a line feed breaks its line in two.
        let xxhsum = parsed(&with_digests(b"XXH128 (x) = <xxh>\n<xxh>  a\nb\n"));
        let why = "a digest has 64 or 32 hex digits, not 1".to_string();
        let (x, a) = (entry(1, xxh3, XXH3, b"x"), entry(2, None, XXH3, b"a"));
        assert_eq!(xxhsum, [Ok(x), Ok(a), Err(Malformed { line: 3, why })]);
    }

    #[test]
    fn skips_comments_and_blank_lines_and_takes_crlf_binary_mode_and_any_case() {
        let upper = String::from_utf8_lossy(SHA256).to_uppercase();
        let manifest = [
            b"# sha256sum output\r\n\r\n".to_vec(),
            format!("{upper} *plain\r\n  \t\n").into_bytes(),
            // Only one carriage return is the line end's: line 6 is a lone `\r`.
            with_digests(b"\\<xxh>  cr\\r\\r\r\n\r\r\nsha256 (x) = <sha>\n"),
            with_digests(b" \t<xxh>  lead\n#\nblake3 (last) = <b3>"),
        ];
        let why = "`\\r` in the digest is no hex digit".to_string();
        let expected = [
            Ok(entry(3, None, SHA256, b"plain")),
            Ok(entry(5, None, XXH3, b"cr\r\r")),
            Err(Malformed { line: 6, why }),
            Ok(entry(7, Some(Algorithm::Sha256), SHA256, b"x")),
            Ok(entry(8, None, XXH3, b"lead")),
            Ok(entry(10, Some(Algorithm::Blake3), BLAKE3, b"last")),
        ];
        assert_eq!(parsed(&manifest.concat()), expected);
    }

    #[test]
    fn malformed_lines_say_why_with_their_numbers() {
        let manifest = b"abc  a\ng0  a\n<sha>  \n<sha>\n<sha> a\n<sha>  a\0b\n\\<sha>  a\\tb\n\
            \\<sha>  a\\\nMD5 (a) = 00\nSHA256 (a) = <xxh>\nSHA256 (a = <sha>\nSHA256 () = <sha>\n";
        let whys = [
            "a digest has 64 or 32 hex digits, not 3",
            "`g` in the digest is no hex digit",
            "missing name",
            "missing name",
            "expected two spaces or ` *` between digest and name",
            "the name holds a NUL byte",
            "unknown escape `\\t` in the name",
            "the name ends in a lone `\\`",
            "unknown tag `MD5` (known: BLAKE3, SHA256, XXH128)",
            "a SHA256 digest has 64 hex digits, not 32",
            "no `) = ` after the name",
            "missing name",
        ];
        let whys = whys.iter().enumerate();
        let expected = whys.map(|(i, why)| {
            Err(Malformed {
                line: i + 1,
                why: why.to_string(),
            })
        });
        assert_eq!(
            parsed(&with_digests(manifest)),
            expected.collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_read_error_ends_the_lines() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("the disk is gone"))
            }
        }
        let mut lines = parse(io::BufReader::new(Broken));
        assert!(lines.next().is_some_and(|line| line.is_err()));
        assert!(lines.next().is_none());
    }

    #[test]
    fn plain_lines_resolve_by_length_then_by_the_users_choice() {
        use Algorithm::{Blake3, Sha256, Xxh3};
        let wide = entry(1, None, SHA256, b"a");
        assert_eq!(wide.resolve(&[Blake3]), Ok(Blake3));
        assert_eq!(wide.resolve(&[Xxh3, Sha256]), Ok(Sha256));
        for chosen in [&[][..], &[Xxh3], &[Sha256, Blake3]] {
            let why = wide.resolve(chosen).expect_err("ambiguous");
            assert!(why.contains("may be BLAKE3 or SHA-256") && why.contains("--digest"));
        }
        assert_eq!(entry(1, None, XXH3, b"a").resolve(&[Sha256]), Ok(Xxh3));
        let tagged = entry(1, Some(Sha256), SHA256, b"a");
        assert_eq!(tagged.resolve(&[Blake3]), Ok(Sha256));
        let odd = entry(1, None, b"00", b"a").resolve(&[]);
        assert_eq!(odd, Err("no algorithm has a digest of 1 bytes".to_string()));
    }

    proptest! {
        /// Any name (bytes without NUL, rich in what is escaped) with any digest of any
        /// algorithm, written tagged or plain, parses back to itself.
        #[test]
        fn any_line_written_parses_back(
            name in prop::collection::vec(
                prop_oneof![Just(b'\\'), Just(b'\n'), Just(b'\r'), Just(b')'), 1u8..=255],
                1..40,
            ),
            algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
            digest in prop::collection::vec(any::<u8>(), 32),
            tagged in any::<bool>(),
        ) {
            let digest = digest[..algorithm.digest_len()].to_vec();
            let mut manifest = Vec::new();
            write_line(&mut manifest, algorithm, &digest, &name, tagged)?;
            write_line(&mut manifest, algorithm, &digest, &name, tagged)?;
            let algorithm_of_tag = tagged.then_some(algorithm);
            let first = Entry { line: 1, algorithm: algorithm_of_tag, digest, name };
            let second = Entry { line: 2, ..first.clone() };
            prop_assert_eq!(first.resolve(&[algorithm]), Ok(algorithm));
            prop_assert_eq!(parsed(&manifest), vec![Ok(first), Ok(second)]);
        }
    }
}

//! Paths written losslessly. A path that is valid UTF-8 is written as it is; one that is not
//! (Unix names are bytes) is written so that it maps back to exactly that file:
//!
//! * in JSON, as ripgrep writes it: `"path":{"bytes":"<base64 of the raw name>"}` (standard
//!   alphabet, with padding);
//! * in CSV, the `path` column shows the name with each byte that is not UTF-8 as `\xHH`, for
//!   people, and the `path_bytes` column holds the base64 of the raw name (empty for a UTF-8
//!   name), for programs.
//!
//! Two different names therefore never print the same, as they would if the invalid bytes were
//! replaced by `�`.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// A path that serialises losslessly: a string when it is UTF-8, `{"bytes": "<base64>"}`
/// otherwise.
///
/// ```
/// use std::os::unix::ffi::OsStrExt;
/// use reader_core::names::Lossless;
/// let plain = std::path::Path::new("docs/a.txt");
/// assert_eq!(serde_json::to_string(&Lossless(plain))?, r#""docs/a.txt""#);
/// let raw = std::path::Path::new(std::ffi::OsStr::from_bytes(b"\xff\xfe.txt"));
/// assert_eq!(serde_json::to_string(&Lossless(raw))?, r#"{"bytes":"//4udHh0"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Lossless<'a>(pub &'a Path);

impl Serialize for Lossless<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("bytes", &STANDARD.encode(self.0.as_os_str().as_bytes()))?;
                map.end()
            }
        }
    }
}

/// The base64 of the raw name when it is not UTF-8; `None` for a UTF-8 name.
///
/// ```
/// use std::os::unix::ffi::OsStrExt;
/// let raw = std::path::Path::new(std::ffi::OsStr::from_bytes(b"\xff\xfe.txt"));
/// assert_eq!(reader_core::names::raw_base64(raw).as_deref(), Some("//4udHh0"));
/// assert_eq!(reader_core::names::raw_base64("a.txt".as_ref()), None);
/// ```
pub fn raw_base64(path: &Path) -> Option<String> {
    match path.to_str() {
        Some(_) => None,
        None => Some(STANDARD.encode(path.as_os_str().as_bytes())),
    }
}

/// The raw name a [`raw_base64`] (or a JSON `{"bytes": …}` path) encodes; `None` if `text` is
/// not base64.
///
/// ```
/// use std::os::unix::ffi::OsStrExt;
/// let raw = std::path::Path::new(std::ffi::OsStr::from_bytes(b"\xff\xfe.txt"));
/// assert_eq!(reader_core::names::from_base64("//4udHh0").as_deref(), Some(raw));
/// ```
pub fn from_base64(text: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = STANDARD.decode(text).ok()?;
    Some(std::ffi::OsString::from_vec(bytes).into())
}

/// The name for people: as it is when it is UTF-8, else with each byte that is not UTF-8
/// written as `\xHH`.
///
/// ```
/// use std::os::unix::ffi::OsStrExt;
/// let raw = std::path::Path::new(std::ffi::OsStr::from_bytes(b"caf\xe9/\xff.txt"));
/// assert_eq!(reader_core::names::escaped(raw), r"caf\xe9/\xff.txt");
/// ```
pub fn escaped(path: &Path) -> Cow<'_, str> {
    if let Some(text) = path.to_str() {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn names_that_differ_in_invalid_bytes_never_print_the_same() {
        let a = Path::new(OsStr::from_bytes(b"\xff\xfe.txt"));
        let b = Path::new(OsStr::from_bytes(b"\xff\xfd.txt"));
        assert_ne!(escaped(a), escaped(b));
        assert_ne!(raw_base64(a), raw_base64(b));
        let json = |p| serde_json::to_string(&Lossless(p)).expect("serialises");
        assert_ne!(json(a), json(b));
    }

    #[test]
    fn base64_maps_back_to_the_raw_name() {
        let raw = b"dir/\x80\x81 name\xc3.txt";
        let encoded = raw_base64(Path::new(OsStr::from_bytes(raw))).expect("not UTF-8");
        assert_eq!(STANDARD.decode(encoded).expect("base64"), raw);
    }
}

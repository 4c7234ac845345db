//! Sizes and counts for people: parsing sizes given on the command line (`10KiB`, `64k`,
//! `1MB`, plain bytes) and time limits, and writing numbers and sizes the way the summaries
//! show them.

use std::time::Duration;

/// Parses a size: a whole number of bytes with an optional unit, case-insensitive.
///
/// Units follow GNU coreutils: `K`, `M`, `G` and `KiB`, `MiB`, `GiB` are powers of 1024;
/// `KB`, `MB`, `GB` are powers of 1000; `B` or nothing is bytes.
///
/// ```
/// use reader_core::units::parse_size;
/// assert_eq!(parse_size("10KiB"), Ok(10_240));
/// assert_eq!(parse_size("64k"), Ok(65_536));
/// assert_eq!(parse_size("1MB"), Ok(1_000_000));
/// assert_eq!(parse_size("4096"), Ok(4096));
/// assert!(parse_size("abc").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "'{text}' is not a size (try 4096, 64k, 10KiB or 1MB)"
        ));
    }
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is too large"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}' (use B, K/KiB, M/MiB, G/GiB, KB, MB or GB)"
            ));
        }
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses a time limit: plain seconds (`2`, `0.5`) or with a unit (`2s`, `500ms`, `1.5min`),
/// positive and finite.
///
/// ```
/// use std::time::Duration;
/// use reader_core::units::parse_timeout;
/// assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
/// assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_timeout("1min"), Ok(Duration::from_secs(60)));
/// assert!(parse_timeout("0").is_err());
/// assert!(parse_timeout("2h").is_err());
/// ```
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = if let Some(ms) = trimmed.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(min) = trimmed.strip_suffix("min") {
        (min, 60.0)
    } else if let Some(s) = trimmed.strip_suffix('s') {
        (s, 1.0)
    } else {
        (trimmed, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a time (for example: 2, 2s, 500ms, 1.5min)"))?;
    let secs = value * scale;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err("must be a positive time".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// `1234567` → `1,234,567`.
///
/// ```
/// assert_eq!(reader_core::units::grouped(1234567), "1,234,567");
/// ```
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number of bytes in binary units: `1536` → `1.5 KiB`.
///
/// ```
/// assert_eq!(reader_core::units::bytes(1536.0), "1.5 KiB");
/// ```
pub fn bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A time in milliseconds for people: `12.5 ms` below a second, `27.9 s` below a minute, then
/// `4 min 12 s`.
///
/// ```
/// assert_eq!(reader_core::units::millis(27_942.0), "27.9 s");
/// ```
pub fn millis(ms: f64) -> String {
    if ms < 1e3 {
        format!("{ms:.1} ms")
    } else if ms < 60e3 {
        format!("{:.1} s", ms / 1e3)
    } else {
        let secs = (ms / 1e3).round() as u64;
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1 KB"), Ok(1000));
        assert_eq!(parse_size("2gib"), Ok(2 << 30));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("10XB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn times_for_people() {
        assert_eq!(millis(1.25), "1.2 ms");
        assert_eq!(millis(999.0), "999.0 ms");
        assert_eq!(millis(27_942.0), "27.9 s");
        assert_eq!(millis(252_400.0), "4 min 12 s");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(100), "100");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}

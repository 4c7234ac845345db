//! What the output says: the views (`--by`, `--sort`, `--top`), and names that JSON and CSV
//! must carry byte for byte.

use std::collections::HashMap;

use super::checks::assert_read;
use crate::run::Reader;
use crate::tree::{Tree, bytes_path};
use crate::{noise, oracle};

/// `--by`, `--sort` and `--top`: group records whose sums equal the records', a ranked file
/// listing that keeps the largest, and a human table whose `total` line is the summary's.
pub fn views_group_and_rank(reader: &Reader) {
    let tree = Tree::new();
    let mut want: HashMap<String, (u64, u64, u64, u64)> = HashMap::new();
    for i in 0..60usize {
        let ext = ["rs", "RS", "md", "txt", ""][i % 5];
        let name = if ext.is_empty() {
            format!("d{}/f{i}", i % 4)
        } else {
            format!("d{}/f{i}.{ext}", i % 4)
        };
        let data = noise(i * 37 % 900, i as u64 + 7);
        tree.file(&name, &data);
        let (b, l, w) = oracle(&data);
        let e = want.entry(ext.to_ascii_lowercase()).or_default();
        *e = (e.0 + 1, e.1 + b, e.2 + l, e.3 + w);
    }
    tree.fifo("d0/pipe");
    let root = tree.path().as_os_str();
    let grouped = reader.json(&["--by".as_ref(), "ext".as_ref(), root]);
    assert_eq!(grouped.code(), Some(0), "stderr: {}", grouped.stderr);
    assert_eq!(
        grouped.records().len(),
        61,
        "every entry still has its record"
    );
    let groups: HashMap<String, (u64, u64, u64, u64)> = grouped
        .lines()
        .iter()
        .filter(|r| r["type"] == "group")
        .map(|g| {
            assert_eq!(g["by"], "ext", "{g}");
            let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("{k} in {g}"));
            let key = g["key"].as_str().expect("a key").to_string();
            (key, (n("files"), n("bytes"), n("lines"), n("words")))
        })
        .collect();
    assert_eq!(groups, want);
    let top = reader.json(&[
        "--top".as_ref(),
        "5".as_ref(),
        "--sort".as_ref(),
        "bytes".as_ref(),
        root,
    ]);
    assert_eq!(top.code(), Some(0), "stderr: {}", top.stderr);
    let lines = top.lines();
    let sizes: Vec<u64> = lines
        .iter()
        .filter(|r| r["type"] == "file")
        .map(|r| r["size"].as_u64().expect("a read file"))
        .collect();
    let mut all: Vec<u64> = (0..60usize).map(|i| (i * 37 % 900) as u64).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sizes, all[..5], "the five largest, largest first");
    assert!(
        lines.iter().any(|r| r["type"] == "skipped"),
        "skipped entries are still reported"
    );
    assert_eq!(lines.last().map(|s| s["files"].clone()), Some(60.into()));
    let table = reader.run(&[
        "--by".as_ref(),
        "dir".as_ref(),
        "--sort".as_ref(),
        "lines".as_ref(),
        "--progress".as_ref(),
        "never".as_ref(),
        root,
    ]);
    assert_eq!(table.code(), Some(0), "stderr: {}", table.stderr);
    let out = String::from_utf8_lossy(&table.stdout);
    let total = out
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .unwrap_or_else(|| panic!("a total line: {out}"));
    let lines_total: u64 = want.values().map(|v| v.2).sum();
    let shown: Vec<String> = total
        .split_whitespace()
        .map(|f| f.replace(',', ""))
        .collect();
    assert_eq!(shown[0], "60", "{total}");
    assert_eq!(shown[1], lines_total.to_string(), "{total}");
    assert_eq!(
        out.lines().filter(|l| l.contains("/d")).count(),
        4,
        "one row a directory: {out}"
    );
}

/// Minimal RFC 4180 reader: rows of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "CSV ends with a complete row"
    );
    rows
}

/// Names with newlines, quotes, commas, tabs, backslashes and bytes that are not UTF-8: JSON and
/// CSV stay valid and parseable, one record each, and every record maps back to its file byte
/// for byte (JSON `{"bytes": base64}`, CSV `path_bytes`), so that two names that differ only in
/// invalid bytes never print the same.
pub fn awkward_names_keep_json_and_csv_valid(reader: &Reader) {
    use base64::Engine as _;
    use std::os::unix::ffi::OsStringExt;
    let tree = Tree::new();
    let names: Vec<std::path::PathBuf> = vec![
        "new\nline.txt".into(),
        "quote\"s.txt".into(),
        "comma,semi;.txt".into(),
        "tab\tname.txt".into(),
        "space name.txt".into(),
        r"back\xffslash.txt".into(),
        bytes_path(b"bad\xff\xfe.txt"),
        bytes_path(b"\xff\xfe.txt"),
        bytes_path(b"\xff\xfd.txt"),
        bytes_path(b"caf\xe9/\x80.txt"),
    ];
    for name in &names {
        tree.file(name, "a b c\n");
    }
    let mut want: Vec<std::path::PathBuf> = names.iter().map(|n| tree.join(n)).collect();
    want.sort_unstable();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), names.len());
    for name in &names {
        assert_read(&records, &tree.join(name), b"a b c\n");
    }
    let mut from_json: Vec<std::path::PathBuf> = run.lines()[..names.len()]
        .iter()
        .map(crate::record_path)
        .collect();
    from_json.sort_unstable();
    assert_eq!(from_json, want, "JSON paths map back to the files");
    let csv = reader.run(&["--format".as_ref(), "csv".as_ref(), tree.path().as_os_str()]);
    assert_eq!(csv.code(), Some(0));
    let text = std::str::from_utf8(&csv.stdout).expect("CSV output is UTF-8");
    let rows = parse_csv(text);
    assert_eq!(rows.len(), names.len() + 1, "header and one row a file");
    assert_eq!(rows[0][..2], ["type", "path"]);
    let raw_column = rows[0]
        .iter()
        .position(|c| c == "path_bytes")
        .expect("a path_bytes column");
    let mut from_csv: Vec<std::path::PathBuf> = rows[1..]
        .iter()
        .map(|row| match row[raw_column].as_str() {
            "" => std::path::PathBuf::from(&row[1]),
            encoded => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("path_bytes is base64");
                std::path::PathBuf::from(std::ffi::OsString::from_vec(raw))
            }
        })
        .collect();
    from_csv.sort_unstable();
    assert_eq!(from_csv, want, "CSV rows map back to the files");
    let mut shown: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    shown.sort_unstable();
    shown.dedup();
    assert_eq!(shown.len(), names.len(), "no two names print the same");
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.len() == rows[0].len() && r[0] == "file" && r[4] == "3")
    );
}

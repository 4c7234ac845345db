//! `cargo xtask bench --original`: the original project's four Python readers (`original/` at
//! the top of the repository), run in the same interleaved rounds as ours on the same trees.
//!
//! Here: the virtual environment they run in (under `target/`, with `aiofiles` and `blake3`
//! from PyPI), their variants, what their totals must be under the original's own counting
//! rule ([`expected`]), and the ratio of each of our models to its Python counterpart.
//!
//! The original reads a file in text mode and counts `content.split()` on the text, so its
//! figures are not our contract's: a file that is not UTF-8 fails, a lone `\r` is a line end
//! (text mode turns it into `\n`), and words split on Unicode whitespace. Its runs are checked
//! against totals counted here under that rule, never against the manifest's: on the ASCII
//! fixtures the words agree with the manifest, and the lines differ by the files that end in
//! the `\r` of a CRLF cut in two.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::reader::Reader;
use super::run::{Program, Variant};
use super::stats::{Cache, Expected, Table, Verdict};
use super::work::Work;
use reader_core::Algorithm;

/// The Python readers: their label in the tables, the model `original/run.py` takes, and the
/// reader of ours each is compared with.
pub const READERS: [(&str, &str, Reader); 4] = [
    ("py-threads", "threads", Reader::Threads),
    ("py-async", "async", Reader::AsyncTokio),
    ("py-hybrid", "hybrid", Reader::Hybrid),
    ("py-proc", "proc", Reader::Proc),
];

/// The packages the readers need, installed from PyPI into the virtual environment.
const PACKAGES: [&str; 2] = ["aiofiles", "blake3"];

/// Whether `reader` is one of the original's Python readers.
pub fn is_python(reader: &str) -> bool {
    READERS.iter().any(|r| r.0 == reader)
}

/// Whether the original's readers can do `work`: counting, and the digests of `hashlib` and of
/// the `blake3` package; not XXH3, which neither has.
pub fn can_do(work: Work) -> bool {
    work != Work::Digest(Algorithm::Xxh3)
}

/// A Python ready to run the readers.
#[derive(Debug, Clone)]
pub struct Python {
    /// The virtual environment's interpreter.
    pub interpreter: PathBuf,
    /// `original/run.py`.
    pub script: PathBuf,
    /// `Python 3.11.7, aiofiles 24.1.0, blake3 1.0.0`, for the report.
    pub versions: String,
}

/// Makes (or reuses) the virtual environment `target/original/venv` with the packages the
/// readers need. `Err` says in a few words why the readers cannot run here: no `python3`, no
/// `venv` module, or no way to the registry.
pub fn prepare(root: &Path, target: &Path) -> Result<Python, String> {
    let script = root.join("original/run.py");
    if !script.is_file() {
        return Err(format!("{}: not found", script.display()));
    }
    let system = Command::new("python3")
        .arg("--version")
        .output()
        .map_err(|_| "python3 not found".to_string())?;
    if !system.status.success() {
        return Err("python3 does not run".into());
    }
    let venv = target.join("original/venv");
    let interpreter = venv.join("bin/python");
    let imports = format!("import {}", PACKAGES.join(", "));
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", &imports])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready(&interpreter) {
        eprintln!(
            "bench: making {} with {} from PyPI",
            venv.display(),
            PACKAGES.join(" and ")
        );
        run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            "python3 -m venv failed",
        )?;
        run(
            Command::new(&interpreter)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--retries", "1", "--timeout", "20"])
                .args(PACKAGES),
            &format!("cannot install {} from PyPI", PACKAGES.join(" and ")),
        )?;
    }
    let versions = Command::new(&interpreter)
        .args([
            "-c",
            "import sys, importlib.metadata as m; \
             print(f'Python {sys.version.split()[0]}, aiofiles {m.version(\"aiofiles\")}, \
             blake3 {m.version(\"blake3\")}')",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .ok_or_else(|| format!("{}: the packages do not import", venv.display()))?;
    Ok(Python {
        interpreter,
        script,
        versions,
    })
}

/// Runs `command`; on failure, `what` and the last line it wrote on stderr.
fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.output().map_err(|err| format!("{what}: {err}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(match last {
        Some(line) => format!("{what}: {}", line.trim()),
        None => what.to_string(),
    })
}

/// The Python readers' variants: each of [`READERS`] `wanted` under each of `works` it can
/// do, in the order of the works. Every run is `python -X utf8 run.py MODEL [--digest ALGO]`:
/// UTF-8 whatever the locale, so that text mode decodes the same on every machine.
pub fn variants(python: &Python, works: &[Work], wanted: impl Fn(&str) -> bool) -> Vec<Variant> {
    let mut out = Vec::new();
    for &work in works.iter().filter(|w| can_do(**w)) {
        for &(label, model, _) in READERS.iter().filter(|r| wanted(r.0)) {
            let mut args: Vec<String> = vec!["-X".into(), "utf8".into()];
            args.push(python.script.to_string_lossy().into_owned());
            args.push(model.into());
            args.extend(work.reader_args());
            out.push(Variant {
                label: label.into(),
                reader: label.into(),
                work,
                jobs: None,
                threshold: None,
                program: Program::Reader {
                    path: python.interpreter.clone(),
                    args,
                },
            });
        }
    }
    out
}

/// Whether `c` is whitespace to Python's `str.split()`: Unicode's White_Space, and the four
/// ASCII separators `\x1c`–`\x1f`.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// What the original finds in one file's bytes, fed in pieces.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TextCount {
    /// Bytes.
    pub bytes: u64,
    /// `\n` in the text text mode reads: each `\n`, and each `\r` that no `\n` follows.
    pub lines: u64,
    /// Runs of characters that are not [`is_python_space`].
    pub words: u64,
    pending_cr: bool,
    in_word: bool,
}

impl TextCount {
    /// Counts the characters of `text`, which follows what was counted before.
    pub fn update(&mut self, text: &str) {
        self.bytes += text.len() as u64;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = match bytes[i] {
                b if b.is_ascii() => char::from(b),
                _ => text[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
            };
            i += c.len_utf8();
            if self.pending_cr && c != '\n' {
                self.lines += 1;
            }
            self.pending_cr = c == '\r';
            self.lines += u64::from(c == '\n');
            let space = is_python_space(c);
            self.words += u64::from(!space && !self.in_word);
            self.in_word = !space;
        }
    }

    /// The counts once the file has ended (a last `\r` is a line end too).
    pub fn finish(mut self) -> TextCount {
        self.lines += u64::from(std::mem::take(&mut self.pending_cr));
        self
    }
}

/// What the original counts in `reader`'s bytes, or `None` when they are not UTF-8 (it
/// fails on such a file).
pub fn count_text(mut reader: impl Read) -> io::Result<Option<TextCount>> {
    let mut count = TextCount::default();
    let mut buf = vec![0u8; 1 << 16];
    // Bytes of a character cut by the end of the last read, moved to the front.
    let mut carried = 0;
    loop {
        let n = match reader.read(&mut buf[carried..]) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let filled = carried + n;
        if n == 0 {
            return Ok((carried == 0).then(|| count.finish()));
        }
        let valid = match std::str::from_utf8(&buf[..filled]) {
            Ok(text) => text.len(),
            // A character cut at the end waits for the next read; anything else is not UTF-8.
            Err(err) if err.error_len().is_none() => err.valid_up_to(),
            Err(_) => return Ok(None),
        };
        let text = std::str::from_utf8(&buf[..valid]).unwrap_or_default();
        count.update(text);
        buf.copy_within(valid..filled, 0);
        carried = filled - valid;
    }
}

/// The totals the original's readers must report for `files`: each counted under its rule
/// ([`count_text`]). A file that is not UTF-8 is left out of the totals (the original fails on
/// it, and so its run, with status 1, is judged FAILED). Errors name the file.
pub fn expected(files: &[PathBuf]) -> anyhow::Result<Expected> {
    use anyhow::Context as _;
    let mut total = Expected {
        files: files.len() as u64,
        bytes: 0,
        lines: 0,
        words: 0,
    };
    for path in files {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let counted =
            count_text(file).with_context(|| format!("{}: cannot read", path.display()))?;
        if let Some(c) = counted {
            total.bytes += c.bytes;
            total.lines += c.lines;
            total.words += c.words;
        }
    }
    Ok(total)
}

/// One of our models against its Python counterpart on one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The tree.
    pub target: String,
    /// Warm or cold.
    pub cache: Cache,
    /// The work (`None`: counting, without `--work`).
    pub work: Option<Work>,
    /// Our model.
    pub ours: Reader,
    /// The Python reader's label.
    pub python: &'static str,
    /// Our median ÷ the Python reader's: below 1, ours is faster.
    pub ratio: f64,
}

/// Every ratio the tables allow: for each table, each pair of [`READERS`] whose both rows
/// are correct (a WRONG or FAILED run has no time to compare).
pub fn ratios(tables: &[Table]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for t in tables {
        for &(python, _, ours) in &READERS {
            let median = |label: &str| {
                t.rows
                    .iter()
                    .find(|r| r.label == label && r.verdict == Verdict::Ok && r.median_ms > 0.0)
                    .map(|r| r.median_ms)
            };
            if let (Some(o), Some(p)) = (median(ours.label()), median(python)) {
                out.push(Ratio {
                    target: t.target.clone(),
                    cache: t.cache,
                    work: t.work,
                    ours,
                    python,
                    ratio: o / p,
                });
            }
        }
    }
    out
}

/// The group a ratio belongs to: `seed-mixed · warm · counting`.
pub fn group(r: &Ratio) -> String {
    format!(
        "{} · {} · {}",
        r.target,
        r.cache.as_str(),
        r.work.unwrap_or_default().describe()
    )
}

/// The ratios as rows: one a tree, cache state and work, one column a pair of [`READERS`]
/// (`-` where a pair has no ratio). The header first.
pub fn rows(ratios: &[Ratio]) -> Vec<Vec<String>> {
    let mut header = vec!["tree · cache · work".to_string()];
    header.extend(READERS.iter().map(|r| format!("{} ÷ {}", r.2, r.0)));
    let mut groups: Vec<String> = Vec::new();
    for r in ratios {
        let g = group(r);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let mut out = vec![header];
    for g in groups {
        let mut row = vec![g.clone()];
        for &(python, _, _) in &READERS {
            let found = ratios.iter().find(|r| group(r) == g && r.python == python);
            row.push(found.map_or("-".into(), |r| ratio_text(r.ratio)));
        }
        out.push(row);
    }
    out
}

/// A ratio for people: `0.042×` (or `1.3×` when ours is the slower).
pub fn ratio_text(ratio: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.2}×")
    } else {
        format!("{ratio:.3}×")
    }
}

/// What the ratios mean, for every output.
pub const EXPLAIN: &str = "our model's median wall time ÷ that of the original's Python reader \
     of the same model, on the same tree in the same rounds: below 1× ours is faster (0.10×: ten \
     times as fast)";

/// The ratios for the terminal: a title, the columns aligned, and what they mean. Empty
/// without ratios.
pub fn console(ratios: &[Ratio]) -> String {
    if ratios.is_empty() {
        return String::new();
    }
    let rows = rows(ratios);
    let mut widths = vec![0; rows[0].len()];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::from("\nOUR MODELS ÷ THE ORIGINAL'S PYTHON READERS\n");
    for row in &rows {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if i == 0 {
                let _ = write!(line, "{c}{pad}  ");
            } else {
                let _ = write!(line, "{pad}{c}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "({EXPLAIN})");
    out
}

/// The ratios as a Markdown section. Empty without ratios.
pub fn markdown(ratios: &[Ratio]) -> String {
    if ratios.is_empty() {
        return String::new();
    }
    let rows = rows(ratios);
    let mut out = String::from("## Our models ÷ the original's Python readers\n\n");
    let _ = writeln!(out, "{}.\n", capitalized(EXPLAIN));
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "| {} |", row.join(" | "));
        if i == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
    out.push('\n');
    out
}

/// `text` with its first letter in upper case, to open a sentence.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(pieces: &[&[u8]]) -> Option<(u64, u64, u64)> {
        let joined: Vec<u8> = pieces.concat();
        // Every way of cutting it in two reads gives the same counts.
        let whole = count_text(joined.as_slice()).ok()?;
        for cut in 0..=joined.len() {
            let (a, b) = joined.split_at(cut);
            let split = count_text(a.chain(b)).ok()?;
            assert_eq!(split, whole, "cut at {cut} of {joined:?}");
        }
        whole.map(|c| (c.bytes, c.lines, c.words))
    }

    #[test]
    fn text_is_counted_as_python_reads_it_in_text_mode() {
        // CRLF is one line end; a lone CR is one too (text mode makes it \n), also at the end.
        assert_eq!(counted(&[b"a b\r\nc\rd\r"]), Some((9, 3, 4)));
        assert_eq!(counted(&[b""]), Some((0, 0, 0)));
        // The six ASCII blanks of our contract, and Python's others: \x1c-\x1f, NEL, NBSP,
        // the ideographic space.
        assert_eq!(counted(&[b"a\tb\x0bc\x0cd e\n"]), Some((10, 1, 5)));
        assert_eq!(counted(&[b"a\x1cb\x1fc"]), Some((5, 0, 3)));
        assert_eq!(
            counted(&["x\u{85}y\u{a0}z\u{3000}w".as_bytes()]),
            Some((11, 0, 4))
        );
        // A zero-width space and a BOM are not whitespace; é is a letter.
        assert_eq!(
            counted(&["\u{feff}caf\u{e9}\u{200b}x".as_bytes()]),
            Some((12, 0, 1))
        );
        // Not UTF-8: the original fails on the file.
        assert_eq!(counted(&[b"ok \x80 no"]), None);
        assert_eq!(counted(&[b"cut \xe2\x80"]), None);
    }

    #[test]
    fn pythons_whitespace_is_unicodes_and_the_four_separators() {
        // `[hex(c) for c in range(0x110000) if chr(c).isspace()]` in Python 3.11.
        let python: Vec<u32> = [
            0x9..=0xd,
            0x1c..=0x20,
            0x85..=0x85,
            0xa0..=0xa0,
            0x1680..=0x1680,
            0x2000..=0x200a,
            0x2028..=0x2029,
            0x202f..=0x202f,
            0x205f..=0x205f,
            0x3000..=0x3000,
        ]
        .into_iter()
        .flatten()
        .collect();
        let ours: Vec<u32> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| is_python_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
    }

    #[test]
    fn the_expected_totals_name_a_file_that_cannot_be_read() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-original-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("a"), "one two\r\nthree\r")?;
        std::fs::write(dir.join("b"), b"\xff\n")?;
        let files = [dir.join("a"), dir.join("b")];
        let total = expected(&files)?;
        let missing = expected(&[dir.join("gone")]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            total,
            Expected {
                files: 2,
                bytes: 15,
                lines: 2,
                words: 3
            }
        );
        let err = missing.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("gone: cannot open"), "{err}");
        Ok(())
    }

    #[test]
    fn the_python_readers_output_is_read_and_checked_as_ours() -> anyhow::Result<()> {
        // The threads and proc readers need nothing but Python; without it there is nothing
        // to run (CI needs no Python).
        if Command::new("python3").arg("--version").output().is_err() {
            eprintln!("skipped: no python3");
            return Ok(());
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("xtask-py-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub"))?;
        std::fs::write(dir.join("a.txt"), "one two\r\nthree\r")?;
        std::fs::write(dir.join("sub/b.txt"), "x ".repeat(6000))?;
        let files = [dir.join("a.txt"), dir.join("sub/b.txt")];
        let want = expected(&files)?;
        let digests = super::super::digests::compute(&dir, &files, &[Algorithm::Sha256]);
        for model in ["threads", "proc"] {
            let out = Command::new("python3")
                .args(["-X", "utf8"])
                .arg(root.join("original/run.py"))
                .args([model, "--digest", "sha256", "--format", "json"])
                .args(["--progress", "never"])
                .arg(&dir)
                .output()?;
            assert!(out.status.success(), "{model}: {out:?}");
            let mut m = super::super::run::Measurement {
                exit_code: Some(0),
                ..Default::default()
            };
            let summary = super::super::run::last_line(out.stdout.as_slice())?;
            super::super::run::parse_summary(&summary, &mut m);
            let rules = super::super::stats::Rules {
                allow_failed_files: false,
                check_words: true,
                check_lines: true,
            };
            assert_eq!(
                super::super::stats::check(&m, &want, rules),
                Verdict::Ok,
                "{model}"
            );
            let got = super::super::digests::from_records(&out.stdout, Algorithm::Sha256, &dir);
            let check = super::super::digests::compare(&got, &digests[&Algorithm::Sha256]);
            assert_eq!(
                check,
                super::super::digests::DigestCheck::Agree { files: 2 },
                "{model}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((want.lines, want.words), (2, 6003));
        Ok(())
    }

    #[test]
    fn python_readers_run_each_work_they_can_through_the_venv() {
        let python = Python {
            interpreter: "/venv/bin/python".into(),
            script: "/w/original/run.py".into(),
            versions: String::new(),
        };
        let works = [
            Work::Count,
            Work::Digest(Algorithm::Xxh3),
            Work::Digest(Algorithm::Sha256),
        ];
        let vs = variants(&python, &works, |name| name != "py-proc");
        let labels: Vec<(String, Work)> = vs.iter().map(|v| (v.label.clone(), v.work)).collect();
        let sha = Work::Digest(Algorithm::Sha256);
        assert_eq!(
            labels,
            [
                ("py-threads".into(), Work::Count),
                ("py-async".into(), Work::Count),
                ("py-hybrid".into(), Work::Count),
                ("py-threads".into(), sha),
                ("py-async".into(), sha),
                ("py-hybrid".into(), sha),
            ]
        );
        assert_eq!(
            vs[4].program,
            Program::Reader {
                path: "/venv/bin/python".into(),
                args: [
                    "-X",
                    "utf8",
                    "/w/original/run.py",
                    "async",
                    "--digest",
                    "sha256"
                ]
                .map(String::from)
                .to_vec(),
            }
        );
        assert!(is_python("py-hybrid") && !is_python("hybrid"));
    }
}

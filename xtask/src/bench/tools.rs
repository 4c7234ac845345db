//! The digest tools people use, run beside the readers on the same trees and in the same
//! rounds when a digest work is asked for: `b3sum`, `rhash`, `hashdeep`, `sha256sum` and
//! `xxhsum`. How each is found, how it is run on a tree with every core, and how its output is
//! read back into per-file digests, which are then checked as the readers' are.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use reader_core::Algorithm;

use super::digests::{FileDigests, in_tree};
use super::run::Target;

/// A digest tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// BLAKE3's own: `xargs -0 -P CORES b3sum` over the file list; a single file whole, which
    /// b3sum hashes on every core. Every tool run through `xargs` writes a line at a time
    /// (`stdbuf -oL`), so that the lines of its processes never interleave.
    B3sum,
    /// `rhash -r --simple --ALGO TREE`, for the algorithms its `--list-hashes` names.
    Rhash,
    /// `hashdeep -r -j CORES -c sha256 TREE`.
    Hashdeep,
    /// GNU coreutils: `xargs -0 -P CORES sha256sum`.
    Sha256sum,
    /// `xargs -0 -P CORES xxhsum -H2`: XXH3-128.
    Xxhsum,
}

/// How to run a tool on one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Whether it reads the tree's NUL-separated file list on its standard input.
    pub reads_list: bool,
}

/// `xargs` hands each tool this many files at most, so that every core gets batches.
const MAX_BATCH: usize = 64;

impl Tool {
    /// Every tool, in table order.
    pub const ALL: [Tool; 5] = [
        Tool::B3sum,
        Tool::Rhash,
        Tool::Hashdeep,
        Tool::Sha256sum,
        Tool::Xxhsum,
    ];

    /// Its program's name, which the tables show.
    pub fn name(self) -> &'static str {
        match self {
            Tool::B3sum => "b3sum",
            Tool::Rhash => "rhash",
            Tool::Hashdeep => "hashdeep",
            Tool::Sha256sum => "sha256sum",
            Tool::Xxhsum => "xxhsum",
        }
    }

    /// The tool of that name.
    pub fn named(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The algorithms it may compute (rhash: those of them its version has).
    fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Tool::B3sum => &[Algorithm::Blake3],
            Tool::Rhash => &[Algorithm::Blake3, Algorithm::Sha256],
            Tool::Hashdeep | Tool::Sha256sum => &[Algorithm::Sha256],
            Tool::Xxhsum => &[Algorithm::Xxh3],
        }
    }

    /// The arguments that make it print its version (rhash: its algorithms) and succeed.
    fn probe_args(self) -> &'static [&'static str] {
        match self {
            Tool::Rhash => &["--list-hashes"],
            Tool::Hashdeep => &["-V"],
            Tool::B3sum | Tool::Sha256sum | Tool::Xxhsum => &["--version"],
        }
    }

    /// How to run it for `algorithm` on `target` with `jobs` at once.
    pub fn invocation(self, algorithm: Algorithm, target: &Target, jobs: usize) -> Invocation {
        let through_xargs = |command: &[&str]| {
            let mut args: Vec<OsString> = ["-0", "-r", "-P"].map(OsString::from).to_vec();
            args.push(jobs.to_string().into());
            args.push("-n".into());
            args.push(batch(target.files.len(), jobs).to_string().into());
            // A line at a time: the processes share one output, and a block-buffered one
            // flushes in the middle of a line, where another's lines then land.
            args.extend(["stdbuf", "-oL"].map(OsString::from));
            args.extend(command.iter().map(OsString::from));
            Invocation {
                program: "xargs".into(),
                args,
                reads_list: true,
            }
        };
        let on_tree = |args: Vec<OsString>| Invocation {
            program: self.name().into(),
            args,
            reads_list: false,
        };
        match self {
            Tool::B3sum => match target.files.as_slice() {
                [one] => on_tree(vec![one.clone().into_os_string()]),
                _ => through_xargs(&["b3sum"]),
            },
            Tool::Rhash => on_tree(vec![
                "-r".into(),
                "--simple".into(),
                format!("--{}", algorithm.name()).into(),
                target.tree.clone().into_os_string(),
            ]),
            Tool::Hashdeep => on_tree(vec![
                "-r".into(),
                "-j".into(),
                jobs.to_string().into(),
                "-c".into(),
                algorithm.name().into(),
                target.tree.clone().into_os_string(),
            ]),
            Tool::Sha256sum => through_xargs(&["sha256sum"]),
            Tool::Xxhsum => through_xargs(&["xxhsum", "-H2"]),
        }
    }

    /// The per-file digests in its output on `tree`, or what in the output cannot be read.
    pub fn parse(self, output: &str, tree: &Path) -> Result<FileDigests, String> {
        let entries = match self {
            Tool::Hashdeep => parse_hashdeep(output)?,
            Tool::B3sum | Tool::Rhash | Tool::Sha256sum | Tool::Xxhsum => parse_sums(output)?,
        };
        let mut out = FileDigests::new();
        for (path, digest) in entries {
            let key = in_tree(&path, tree);
            if out.insert(key, digest).is_some() {
                return Err(format!("{}: listed twice", path.display()));
            }
        }
        Ok(out)
    }
}

/// Files `xargs` hands each run of a tool: about four batches a core, so that the cores stay
/// busy to the end, and at most [`MAX_BATCH`].
pub fn batch(files: usize, jobs: usize) -> usize {
    files.div_ceil(4 * jobs.max(1)).clamp(1, MAX_BATCH)
}

/// The algorithms `rhash --list-hashes` names (one a line, `SHA-256`, `BLAKE3`…) among ours.
pub fn rhash_algorithms(list: &str) -> Vec<Algorithm> {
    let names: Vec<String> = list
        .lines()
        .map(|l| l.trim().replace('-', "").to_ascii_lowercase())
        .collect();
    Algorithm::ALL
        .into_iter()
        .filter(|a| names.iter().any(|n| n == a.name()))
        .collect()
}

/// The tools to run for `algorithms`, each with the algorithm it computes, in table order;
/// and the tools that would have run but are not installed, named once each. `probe` runs a
/// program with arguments and gives its standard output when it succeeds.
pub fn find(
    algorithms: &[Algorithm],
    probe: impl Fn(&str, &[&str]) -> Option<String>,
) -> (Vec<(Tool, Algorithm)>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for tool in Tool::ALL {
        let wanted: Vec<Algorithm> = algorithms
            .iter()
            .copied()
            .filter(|a| tool.algorithms().contains(a))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(output) = probe(tool.name(), tool.probe_args()) else {
            missing.push(format!("{} (not installed)", tool.name()));
            continue;
        };
        let has = match tool {
            Tool::Rhash => rhash_algorithms(&output),
            _ => tool.algorithms().to_vec(),
        };
        found.extend(
            wanted
                .into_iter()
                .filter(|a| has.contains(a))
                .map(|a| (tool, a)),
        );
    }
    (found, missing)
}

/// Lines as `sha256sum`, `b3sum`, `xxhsum` and `rhash --simple` print them: `HEX  NAME`, with
/// a leading `\` when the name has a backslash or a newline, escaped as `\\` and `\n`; or
/// tagged, as with `--tag`: `ALGO (NAME) = HEX`.
pub fn parse_sums(output: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let is_hex = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || format!("cannot read the line '{line}'");
        let (escaped, rest) = match line.strip_prefix('\\') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        // Two spaces in text mode, a space and `*` in binary mode.
        let plain = rest.split_once(' ').and_then(|(digest, name)| {
            let name = name.strip_prefix(' ').or_else(|| name.strip_prefix('*'))?;
            is_hex(digest).then_some((digest, name))
        });
        let tagged = || {
            let (head, digest) = line.rsplit_once(") = ")?;
            let (_, name) = head.split_once(" (")?;
            is_hex(digest.trim()).then(|| (name.to_string(), digest.trim()))
        };
        let (name, digest) = match plain {
            Some((digest, name)) if escaped => (unescape(name).ok_or_else(bad)?, digest),
            Some((digest, name)) => (name.to_string(), digest),
            None => tagged().ok_or_else(bad)?,
        };
        out.push((PathBuf::from(name), digest.to_string()));
    }
    Ok(out)
}

/// A name as the coreutils escape it: `\\` for a backslash, `\n` for a newline.
fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            _ => return None,
        }
    }
    Some(out)
}

/// `hashdeep` output: a header of `%%%%` and `##` lines, then `SIZE,HEX,NAME` (the name may
/// hold commas).
pub fn parse_hashdeep(output: &str) -> Result<Vec<(PathBuf, String)>, String> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("%%%%") && !l.starts_with("##"))
        .map(|line| {
            let mut fields = line.splitn(3, ',');
            match (fields.next(), fields.next(), fields.next()) {
                (Some(size), Some(digest), Some(name))
                    if size.parse::<u64>().is_ok()
                        && !digest.is_empty()
                        && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    Ok((PathBuf::from(name), digest.to_string()))
                }
                _ => Err(format!("cannot read the line '{line}'")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(files: &[&str]) -> Target {
        Target {
            name: "t".into(),
            tree: "/t".into(),
            file_list: "/out/t.files0".into(),
            files: files.iter().map(PathBuf::from).collect(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        list.iter()
            .map(|(p, d)| (PathBuf::from(p), d.to_string()))
            .collect()
    }

    #[test]
    fn checksum_lines_are_read_plain_binary_escaped_and_tagged() {
        let out = "ba78  /t/a.txt\n\
                   0123 */t/b c.bin\n\
                   \\fd83  /t/back\\\\slash\\nline\n\
                   SHA256 (/t/tagged (1).txt) = 9f86\n\n";
        assert_eq!(
            parse_sums(out),
            Ok(pairs(&[
                ("/t/a.txt", "ba78"),
                ("/t/b c.bin", "0123"),
                ("/t/back\\slash\nline", "fd83"),
                ("/t/tagged (1).txt", "9f86"),
            ]))
        );
        for bad in [
            "b3sum: /t/x: No such file or directory",
            "zz  /t/a",
            "ab /t/a",
            "\\ab  /t/a\\q",
        ] {
            assert!(parse_sums(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashdeep_output_is_read_past_its_header() {
        let out = "%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n## Invoked from: /w\n\
                   ## # hashdeep -r -j 2 -c sha256 /t\n## \n\
                   3,ba78,/t/a.txt\n6,5891,/t/sub/b,c.txt\n";
        assert_eq!(
            parse_hashdeep(out),
            Ok(pairs(&[("/t/a.txt", "ba78"), ("/t/sub/b,c.txt", "5891")]))
        );
        assert!(parse_hashdeep("x,ba78,/t/a\n").is_err());
        assert!(parse_hashdeep("3,,/t/a\n").is_err());
        assert!(parse_hashdeep("3,ba78\n").is_err());
    }

    #[test]
    fn a_tools_paths_are_keyed_inside_the_tree_and_a_file_listed_twice_is_an_error() {
        let tree = Path::new("/t");
        let got = Tool::Sha256sum.parse("aa  /t/x/a\nbb  /t/b\n", tree);
        assert_eq!(
            got,
            Ok(FileDigests::from([
                (PathBuf::from("x/a"), "aa".into()),
                (PathBuf::from("b"), "bb".into())
            ]))
        );
        assert_eq!(
            Tool::Hashdeep.parse("1,aa,/t/a\n", tree),
            Ok(FileDigests::from([(PathBuf::from("a"), "aa".into())]))
        );
        assert!(Tool::B3sum.parse("aa  /t/a\naa  /t/a\n", tree).is_err());
    }

    #[test]
    fn tools_run_over_the_file_list_on_every_core_or_on_the_tree() {
        let many = target(&["/t/a", "/t/b", "/t/c"]);
        let sha = Tool::Sha256sum.invocation(Algorithm::Sha256, &many, 2);
        assert_eq!(sha.program, "xargs");
        assert_eq!(
            sha.args,
            [
                "-0",
                "-r",
                "-P",
                "2",
                "-n",
                "1",
                "stdbuf",
                "-oL",
                "sha256sum"
            ]
        );
        assert!(sha.reads_list);
        let xxh = Tool::Xxhsum.invocation(Algorithm::Xxh3, &many, 4);
        assert_eq!(xxh.args[6..], ["stdbuf", "-oL", "xxhsum", "-H2"]);
        let one = Tool::B3sum.invocation(Algorithm::Blake3, &target(&["/t/big"]), 2);
        assert_eq!(one.program, "b3sum");
        assert_eq!(one.args, ["/t/big"]);
        assert!(!one.reads_list);
        let rhash = Tool::Rhash.invocation(Algorithm::Sha256, &many, 2);
        assert_eq!(rhash.args, ["-r", "--simple", "--sha256", "/t"]);
        let deep = Tool::Hashdeep.invocation(Algorithm::Sha256, &many, 2);
        assert_eq!(deep.args, ["-r", "-j", "2", "-c", "sha256", "/t"]);
        assert_eq!(batch(20_000, 2), 64);
        assert_eq!(batch(1_000, 2), 64);
        assert_eq!(batch(300, 2), 38);
        assert_eq!(batch(4, 2), 1);
        assert_eq!(batch(0, 0), 1);
    }

    #[test]
    fn tools_are_found_for_the_digests_asked_and_the_missing_named_once() {
        let list = "CRC32\nMD5\nSHA-256\nSHA-512\nBLAKE2B\n";
        assert_eq!(rhash_algorithms(list), [Algorithm::Sha256]);
        assert_eq!(
            rhash_algorithms("BLAKE3\nSHA-256\n"),
            [Algorithm::Blake3, Algorithm::Sha256]
        );
        let installed = |program: &str, _: &[&str]| match program {
            "rhash" => Some(list.to_string()),
            "hashdeep" => None,
            _ => Some("v1".to_string()),
        };
        let (found, missing) = find(&[Algorithm::Blake3, Algorithm::Sha256], installed);
        assert_eq!(
            found,
            [
                (Tool::B3sum, Algorithm::Blake3),
                (Tool::Rhash, Algorithm::Sha256),
                (Tool::Sha256sum, Algorithm::Sha256),
            ]
        );
        assert_eq!(missing, ["hashdeep (not installed)"]);
        let (found, missing) = find(&[Algorithm::Xxh3], |_, _| None);
        assert!(found.is_empty());
        assert_eq!(missing, ["xxhsum (not installed)"]);
        assert_eq!(find(&[], installed), (Vec::new(), Vec::new()));
        assert_eq!(Tool::named("rhash"), Some(Tool::Rhash));
        assert_eq!(Tool::named("wc"), None);
    }
}

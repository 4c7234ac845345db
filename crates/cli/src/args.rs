//! The command line every reader binary shares: the clap [`Args`] that the frame
//! ([`crate::main`]) parses beside each binary's own flags.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;
use reader_core::units::{parse_size, parse_timeout};
use reader_core::{Algorithms, Shard, StartError, Walk};

use crate::views::{GroupBy, SortKey, View};

/// The options of docs/CONTRACT.md that every reader takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Files and directories to read (directories recursively).
    #[arg(value_name = "PATH", required_unless_present_any = ["files0_from", "check"])]
    pub paths: Vec<PathBuf>,

    /// Read the files and directories named in FILE, separated by NUL bytes (as `find -print0`,
    /// `fd -0` and `git ls-files -z` write them; `-` for stdin), instead of PATHs.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub files0_from: Option<PathBuf>,

    /// Only files with these extensions, comma-separated, case-insensitive (default: every
    /// regular file).
    #[arg(short = 'e', long = "ext", value_name = "EXT,...", value_delimiter = ',', value_parser = parse_extension, help_heading = "Filters")]
    pub ext: Vec<String>,

    /// Threads, processes or files in flight (default: derived from the machine).
    #[arg(short, long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,

    /// Report a file whose read, or a directory whose listing, takes longer than TIME (2, 2s,
    /// 500ms) as `timeout` and go on without it (default: no limit). A read or listing stuck in
    /// the kernel cannot be interrupted: its thread is left to it (reader-proc: a reading
    /// worker is killed and replaced).
    #[arg(long, value_name = "TIME", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// Read at most SIZE of any file (10k, 1MiB…): a larger one is reported as failed,
    /// `size_limit`, and not counted (default: no cap; a pseudo-file whose size says 0 stops at
    /// 16 MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_bytes: Option<u64>,

    /// Output: a summary for people, JSON Lines, CSV with one row a file, or a checksum
    /// manifest of the --digest (default: human, or what the `--output` file's name ends in:
    /// `.jsonl`/`.json`, `.csv`).
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Also compute these digests of every file, in the same read: blake3, sha256, xxh3
    /// (XXH3-128), comma-separated. JSON records get a field each, CSV a column each, and the
    /// summary one digest of the whole tree.
    #[arg(long, value_name = "ALGO,...", value_parser = parse_digests, help_heading = "Digests")]
    pub digest: Option<Algorithms>,

    /// With --format sums: lines in the BSD form `SHA256 (NAME) = HEX`, which name their
    /// algorithm (needed for more than one digest), instead of coreutils' `HEX  NAME`.
    #[arg(long, requires = "digest", help_heading = "Digests")]
    pub tag: bool,

    /// Verify the digests MANIFEST lists (`sha256sum`, `b3sum`, `xxhsum -H2` or --format sums
    /// output, plain or tagged; `-`: stdin), reading the files concurrently: `NAME: OK`,
    /// `NAME: FAILED`, `NAME: FAILED open or read`. With PATHs, audit them: files not listed
    /// are `new`, listed files not found there `missing`. Repeatable.
    #[arg(short = 'c', long, value_name = "MANIFEST", help_heading = "Check",
          conflicts_with_all = ["files0_from", "format", "by", "sort", "top", "shard", "output", "tag"])]
    pub check: Vec<PathBuf>,

    /// With --check: no `OK` lines.
    #[arg(long, requires = "check", help_heading = "Check")]
    pub quiet: bool,

    /// With --check: nothing on stdout or stderr; the exit status says it all.
    #[arg(long, requires = "check", help_heading = "Check")]
    pub status: bool,

    /// With --check: exit 1 on improperly formatted lines too.
    #[arg(long, requires = "check", help_heading = "Check")]
    pub strict: bool,

    /// Find the files that hold the same bytes and write them in groups, the most wasted
    /// space first (with --format fdupes as fdupes writes them). Files are compared by size,
    /// then by BLAKE3 of a prefix, of a large file's end, and of all of it, each stage
    /// reading only what is still in doubt; hard links are one file. Nothing is deleted.
    /// With --shard, each shard compares the files of the sizes it owns (reader-merge joins
    /// the shards' groups).
    #[arg(long, help_heading = "Duplicates",
          conflicts_with_all = ["check", "digest", "tag", "by", "sort", "top", "max_bytes"])]
    pub duplicates: bool,

    /// With --duplicates: report the empty files as a group of their own.
    #[arg(long, requires = "duplicates", help_heading = "Duplicates")]
    pub include_empty: bool,

    /// A progress bar on stderr (auto: only when stderr is a terminal).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "WHEN")]
    pub progress: ProgressMode,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow: bool,

    /// Honour .gitignore, .ignore, .git/info/exclude and git's global excludes, and leave
    /// .git out (default: every regular file).
    #[arg(long, help_heading = "Filters")]
    pub gitignore: bool,

    /// Leave out hidden files and directories (names starting with a dot).
    #[arg(long, help_heading = "Filters")]
    pub no_hidden: bool,

    /// Leave out entries matching GLOB, in gitignore syntax (`target/`, `*.log`, `!keep.log`);
    /// repeatable.
    #[arg(long, value_name = "GLOB", help_heading = "Filters")]
    pub exclude: Vec<String>,

    /// Descend at most N directories below each PATH (1: only the files directly in it).
    #[arg(long, value_name = "N", help_heading = "Filters")]
    pub max_depth: Option<usize>,

    /// Skip files smaller than SIZE (reported as skipped, `too_small`); 10k, 1MiB… accepted.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Filters")]
    pub min_size: Option<u64>,

    /// Skip files larger than SIZE (reported as skipped, `too_large`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Filters")]
    pub max_size: Option<u64>,

    /// Totals per extension or per directory (dir=DEPTH: DEPTH levels below each PATH), as a
    /// table, JSON `group` records or CSV `group` rows.
    #[arg(long, value_name = "ext|dir[=DEPTH]", help_heading = "Views")]
    pub by: Option<GroupBy>,

    /// Rank the groups, or the files read, by this (largest first; names in order).
    #[arg(long, value_enum, value_name = "KEY", help_heading = "Views")]
    pub sort: Option<SortKey>,

    /// Keep the first N groups or files of the ranking (by bytes unless --sort says).
    #[arg(long, value_name = "N", value_parser = parse_top, help_heading = "Views")]
    pub top: Option<usize>,

    /// Per-file log lines on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// Read only shard K of N (K from 0): the entries whose path below its PATH hashes to K,
    /// so that N instances read every entry once between them (with --duplicates: the files
    /// whose size hashes to K). `auto`: K and N from the launcher (Slurm, Open MPI, PMI).
    #[arg(long, value_name = "K/N|auto", value_parser = parse_shard, help_heading = "Shards")]
    pub shard: Option<ShardArg>,

    /// With --shard: cut every file larger than SIZE into byte ranges spread over the shards,
    /// so that a huge file is read by many instances; its ranges come out as `part` records
    /// that reader-merge joins (with --digest blake3, its digest too; with sha256 or xxh3 a
    /// file is read whole). Needs --format json.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Shards")]
    pub shard_split: Option<u64>,

    /// Write the output to FILE instead of stdout: under a temporary name, renamed to FILE
    /// once the run is complete (a run that fails leaves no FILE). `{shard}` stands for K.
    #[arg(short, long, value_name = "FILE", help_heading = "Shards")]
    pub output: Option<PathBuf>,
}

/// What `--shard` says: a shard, or to ask the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Given(Shard),
    /// `auto`: from the launcher's environment ([`Shard::from_launcher`]).
    Auto,
}

fn parse_shard(text: &str) -> Result<ShardArg, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(ShardArg::Auto);
    }
    text.parse::<Shard>()
        .map(ShardArg::Given)
        .map_err(|err| err.to_string())
}

impl Args {
    /// The shard `--shard` names, if any; `auto` fails to start when no launcher says.
    pub fn shard(&self) -> Result<Option<Shard>, StartError> {
        match self.shard {
            None => Ok(None),
            Some(ShardArg::Given(shard)) => Ok(Some(shard)),
            Some(ShardArg::Auto) => Shard::from_launcher(|name| std::env::var(name).ok()).map(Some),
        }
    }

    /// The output format: `--format`, else the one the `--output` file's extension names
    /// (`.jsonl`, `.json`, `.csv`), else [`Format::Human`].
    pub fn format(&self) -> Format {
        let by_name = self.output.as_ref().and_then(|file| {
            let ext = file.extension()?.to_str()?.to_ascii_lowercase();
            match ext.as_str() {
                "jsonl" | "json" | "ndjson" => Some(Format::Json),
                "csv" => Some(Format::Csv),
                _ => None,
            }
        });
        self.format.or(by_name).unwrap_or(Format::Human)
    }

    /// The file `--output` names, with `{shard}` replaced by this run's shard; a `{shard}`
    /// without `--shard` fails to start.
    pub fn output_file(&self, shard: Option<Shard>) -> Result<Option<PathBuf>, StartError> {
        let Some(template) = &self.output else {
            return Ok(None);
        };
        let find = |bytes: &[u8]| {
            bytes
                .windows(SHARD_FIELD.len())
                .position(|w| w == SHARD_FIELD)
        };
        let mut rest = template.as_os_str().as_bytes();
        if find(rest).is_none() {
            return Ok(Some(template.clone()));
        }
        let Some(shard) = shard else {
            return Err(StartError::Invalid(format!(
                "--output {}: {{shard}} needs --shard",
                template.display()
            )));
        };
        let number = shard.index().to_string();
        let mut name = Vec::with_capacity(rest.len());
        while let Some(at) = find(rest) {
            name.extend_from_slice(&rest[..at]);
            name.extend_from_slice(number.as_bytes());
            rest = &rest[at + SHARD_FIELD.len()..];
        }
        name.extend_from_slice(rest);
        Ok(Some(PathBuf::from(OsString::from_vec(name))))
    }

    /// The discovery these arguments ask for: the PATHs, or the list of `--files0-from`
    /// (which fails to start when the list cannot be read).
    pub fn walk(&self) -> Result<Walk, StartError> {
        self.check_digests()?;
        if self.format() == Format::Fdupes && !self.duplicates {
            return Err(StartError::Invalid(
                "--format fdupes writes groups of duplicate files: it needs --duplicates".into(),
            ));
        }
        if self.shard_split.is_some() {
            if self.duplicates {
                return Err(StartError::Invalid(
                    "--shard-split cuts files into byte ranges, but --duplicates compares whole files, each on the one shard that owns its size: they do not combine".into(),
                ));
            }
            if self.shard.is_none() {
                return Err(StartError::Invalid(
                    "--shard-split splits files over shards: it needs --shard".into(),
                ));
            }
            if self.format() != Format::Json {
                return Err(StartError::Invalid(
                    "--shard-split writes byte ranges that only reader-merge can join: it needs --format json (or an --output FILE.jsonl)".into(),
                ));
            }
        }
        let walk = match &self.files0_from {
            Some(list) => Walk::new(read_list(list)?).listed(true),
            None => Walk::new(&self.paths),
        };
        self.filtered(walk)
    }

    /// `walk` with the filters, shard, cap and digests these arguments ask for.
    pub(crate) fn filtered(&self, walk: Walk) -> Result<Walk, StartError> {
        Ok(walk
            .extensions(&self.ext)
            .follow_links(self.follow)
            .gitignore(self.gitignore)
            .skip_hidden(self.no_hidden)
            .exclude(&self.exclude)
            .max_depth(self.max_depth)
            .size_range(self.min_size, self.max_size)
            .shard(self.shard()?)
            .split_above(self.shard_split)
            .max_bytes(self.max_bytes)
            .digests(self.digests())
            .timeout(self.timeout))
    }

    /// The digests `--digest` asks for (none without it).
    pub fn digests(&self) -> Algorithms {
        self.digest.unwrap_or_default()
    }

    /// `--format sums` writes the digests of `--digest`, one line each, which must say their
    /// algorithm (`--tag`) when there are several; it has no groups.
    fn check_digests(&self) -> Result<(), StartError> {
        if self.format() != Format::Sums {
            return Ok(());
        }
        let invalid = |why: &str| Err(StartError::Invalid(why.into()));
        match self.digests().iter().count() {
            0 => {
                invalid("--format sums writes the digests of --digest: name one (--digest sha256)")
            }
            1 => Ok(()),
            _ if self.tag => Ok(()),
            _ => invalid(
                "--format sums with several digests needs --tag, so that each line names its algorithm",
            ),
        }?;
        if self.by.is_some() {
            return invalid("--format sums lists files, not groups: it has no --by");
        }
        Ok(())
    }
}

fn parse_digests(text: &str) -> Result<Algorithms, String> {
    let digests: Algorithms = text.parse()?;
    if digests.is_empty() {
        return Err("name at least one digest: blake3, sha256, xxh3".into());
    }
    Ok(digests)
}

/// What `--output` replaces with the shard's number.
const SHARD_FIELD: &[u8] = b"{shard}";

/// The file a list or a manifest is read from: `path`, or stdin for `-`; buffered.
pub(crate) fn input(path: &Path) -> Result<BufReader<Box<dyn Read>>, StartError> {
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|source| failed_input(path, source))?)
    };
    Ok(BufReader::new(reader))
}

/// The start error of an input that cannot be read.
pub(crate) fn failed_input(path: &Path, source: io::Error) -> StartError {
    StartError::Path {
        path: path.to_path_buf(),
        source,
    }
}

/// The paths of a `--files0-from` list (`-`: stdin), separated by NUL bytes; empty names (a
/// trailing NUL) are passed over. The list is held in memory, a path at a time.
fn read_list(list: &Path) -> Result<Vec<PathBuf>, StartError> {
    let mut paths = Vec::new();
    for name in input(list)?.split(0) {
        let name = name.map_err(|source| failed_input(list, source))?;
        if !name.is_empty() {
            paths.push(PathBuf::from(OsString::from_vec(name)));
        }
    }
    Ok(paths)
}

impl Args {
    /// The listing `--by`, `--sort` and `--top` ask for, if any.
    pub(crate) fn view(&self) -> Option<View> {
        // A listed path is its own root: a file's group is its directory.
        let roots: &[PathBuf] = match self.files0_from {
            Some(_) => &[],
            None => &self.paths,
        };
        View::new(self.by, self.sort, self.top, roots)
    }
}

/// How results are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary for people; failures as one line each on stderr.
    Human,
    /// JSON Lines: a record for every entry, then the summary.
    Json,
    /// CSV: a header, then one row for every entry.
    Csv,
    /// A checksum manifest of the --digest, as `sha256sum` and `b3sum` write it (`HEX  NAME`,
    /// or `ALGO (NAME) = HEX` with --tag), that they and --check verify; failures on stderr.
    Sums,
    /// With --duplicates: each group's paths a line each, then a blank line, as fdupes and
    /// jdupes write them; failures on stderr.
    Fdupes,
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Only when stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A clap usage error on one line: what is wrong, clap's own hints (the missing argument,
/// "a similar argument exists", the possible values), and how to get help; the usage block
/// is left out.
pub(crate) fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    let Some((first, hints)) = parts.split_first() else {
        return "error: invalid arguments; try '--help'".into();
    };
    let mut line = if first.starts_with("error:") {
        first.to_string()
    } else {
        format!("error: {first}")
    };
    if !hints.is_empty() {
        let separator = if line.ends_with(':') { " " } else { "; " };
        line.push_str(separator);
        line.push_str(&hints.join("; "));
    }
    line.push_str("; try '--help'");
    line
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n <= 4096 => Ok(n),
        Ok(_) => Err("must be at most 4096".into()),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

fn parse_top(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

fn parse_extension(text: &str) -> Result<String, String> {
    let ext = text.trim().trim_start_matches('.');
    if ext.is_empty() {
        Err("an extension may not be empty (for example: --ext txt,md)".into())
    } else {
        Ok(ext.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "reader-test")]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn try_parse(args: &[&str]) -> Result<Cli, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("reader-test").chain(args.iter().copied()))
    }

    #[test]
    fn every_option_parses() {
        let cli = try_parse(&[
            "-e",
            "txt,.MD",
            "-j",
            "8",
            "--format",
            "json",
            "--progress",
            "never",
            "--follow",
            "-v",
            "a",
            "b",
        ])
        .expect("valid");
        let a = cli.args;
        assert_eq!(a.ext, ["txt", "MD"]);
        assert_eq!(a.jobs, Some(8));
        assert_eq!(a.format(), Format::Json);
        assert_eq!(a.progress, ProgressMode::Never);
        assert!(a.follow && a.verbose);
        assert_eq!(a.paths, [PathBuf::from("a"), PathBuf::from("b")]);
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in [
            &["-j", "0", "x"][..],
            &["--jobs", "many", "x"],
            &["--ext", "", "x"],
            &["--format", "xml", "x"],
            &["--nope", "x"],
            &[],
        ] {
            assert!(try_parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shards_and_output_files() {
        let a = try_parse(&[
            "--shard",
            "2/4",
            "-o",
            "out/{shard}-of-4.{shard}.jsonl",
            "x",
        ])
        .expect("valid")
        .args;
        let shard = a.shard().expect("given");
        assert_eq!(shard.map(|s| s.to_string()).as_deref(), Some("2/4"));
        assert_eq!(
            a.output_file(shard).expect("a name"),
            Some(PathBuf::from("out/2-of-4.2.jsonl"))
        );
        assert_eq!(a.format(), Format::Json, "from the name");
        let csv = try_parse(&["-o", "counts.CSV", "x"]).expect("valid").args;
        assert_eq!(csv.format(), Format::Csv);
        let told = try_parse(&["-o", "counts.csv", "--format", "human", "x"]).expect("valid");
        assert_eq!(told.args.format(), Format::Human, "--format wins");
        let auto = try_parse(&["--shard", "AUTO", "x"]).expect("valid").args;
        assert_eq!(auto.shard, Some(ShardArg::Auto));
        let plain = try_parse(&["-o", "out.jsonl", "x"]).expect("valid").args;
        assert_eq!(
            plain.output_file(None).expect("a name"),
            Some("out.jsonl".into())
        );
        let needs = try_parse(&["-o", "{shard}.jsonl", "x"])
            .expect("valid")
            .args;
        let err = needs.output_file(None).expect_err("no shard").to_string();
        assert!(err.contains("needs --shard"), "{err}");
        for bad in ["4/4", "1", "x/2", "1/0"] {
            assert!(try_parse(&["--shard", bad, "x"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_take_shards_but_not_split_files() {
        let sharded = try_parse(&["--duplicates", "--shard", "1/3", "--format", "json", "x"])
            .expect("valid")
            .args;
        assert!(
            sharded.walk().is_ok_and(|walk| walk.check().is_err()),
            "x is no PATH"
        );
        let split = try_parse(&[
            "--duplicates",
            "--shard",
            "1/3",
            "--shard-split",
            "1MiB",
            "--format",
            "json",
            "x",
        ])
        .expect("parsed")
        .args;
        let err = split.walk().map(|_| ()).expect_err("refused").to_string();
        assert!(
            err.contains("--shard-split") && err.contains("whole files") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn errors_become_one_line() {
        let err = try_parse(&["--jobs", "0", "x"]).expect_err("invalid");
        let line = one_line(&err.to_string());
        assert!(
            line.starts_with("error: ") && !line.contains('\n'),
            "{line}"
        );
        assert!(line.contains("--jobs"), "{line}");
    }

    #[test]
    fn one_line_errors_keep_clap_hints() {
        let line = |args: &[&str]| {
            let err = try_parse(args).expect_err("invalid");
            let line = one_line(&err.to_string());
            assert!(
                !line.contains('\n') && line.ends_with("try '--help'"),
                "{line}"
            );
            line
        };
        let missing = line(&[]);
        assert!(missing.contains("not provided: <PATH>..."), "{missing}");
        let typo = line(&["--formt", "json", "x"]);
        assert!(
            typo.contains("similar argument exists: '--format'"),
            "{typo}"
        );
        let value = line(&["--format", "xml", "x"]);
        assert!(
            value.contains("[possible values: human, json, csv, sums, fdupes]"),
            "{value}"
        );
    }
}

//! `--check MANIFEST`: the digests a manifest lists (the output of `sha256sum`, `b3sum`,
//! `xxhsum -H2` or `--format sums`, plain or tagged) verified by reading the files with the
//! binary's own model, concurrently, and reported as `sha256sum -c` reports them: `NAME: OK`,
//! `NAME: FAILED`, `NAME: FAILED open or read`.
//!
//! Given PATHs as well, it audits a tree as `hashdeep -a` does: the files under the PATHs are
//! read, a file the manifests do not list is `NAME: new`, and a listed file not found under
//! the PATHs is `NAME: missing`. Names match as bytes, less any leading `./`.
//!
//! Exit status: 0 when every listed file matched (and, auditing, nothing is new or missing);
//! 1 on any mismatch, unreadable, new or missing file, and on malformed lines with `--strict`;
//! 2 when a manifest cannot be read, holds no line that names a file, or the run fails.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reader_core::{
    Algorithm, Algorithms, FileResult, Finished, Record, Schedule, Sink, StartError, Walk,
};

use crate::args::{Args, failed_input, input};
use crate::sums;

/// One digest a manifest expects.
#[derive(Debug, Clone)]
struct Expected {
    /// The name as the manifest writes it, for the verdict line.
    name: Vec<u8>,
    algorithm: Algorithm,
    digest: Vec<u8>,
}

/// What the manifests expect, by name less any leading `./`.
#[derive(Debug, Default)]
struct Manifests {
    expected: HashMap<Vec<u8>, Vec<Expected>>,
    /// The names in the order they were first listed.
    names: Vec<PathBuf>,
    /// The algorithms the lines use.
    algorithms: Algorithms,
    /// Lines that name no file and digest.
    malformed: u64,
}

/// `name` less any leading `./` (and the slashes after it).
fn key(name: &[u8]) -> &[u8] {
    let mut rest = name;
    while let Some(after) = rest.strip_prefix(b"./") {
        rest = after;
        while let Some(after) = rest.strip_prefix(b"/") {
            rest = after;
        }
    }
    rest
}

/// Reads every manifest of `args.check` (`-` is stdin). A malformed line is named on stderr
/// with its manifest and line number (unless `--status`); a manifest that cannot be read, a
/// plain line whose algorithm only `--digest` can tell, or no line naming a file at all fails
/// to start.
fn read_manifests(program: &str, args: &Args) -> Result<Manifests, StartError> {
    let chosen: Vec<Algorithm> = args.digests().iter().collect();
    let mut manifests = Manifests::default();
    for manifest in &args.check {
        for line in sums::parse(input(manifest)?) {
            let entry = match line.map_err(|source| failed_input(manifest, source))? {
                Ok(entry) => entry,
                Err(malformed) => {
                    manifests.malformed += 1;
                    if !args.status {
                        eprintln!(
                            "{program}: {}: {malformed}: improperly formatted checksum line",
                            manifest.display()
                        );
                    }
                    continue;
                }
            };
            let algorithm = entry.resolve(&chosen).map_err(|why| {
                StartError::Invalid(format!(
                    "{}: line {}: {why}",
                    manifest.display(),
                    entry.line
                ))
            })?;
            manifests.algorithms = manifests.algorithms.with(algorithm);
            let listed = manifests.expected.entry(key(&entry.name).to_vec());
            let expected = listed.or_insert_with(|| {
                let name = std::ffi::OsStr::from_bytes(&entry.name);
                manifests.names.push(PathBuf::from(name));
                Vec::new()
            });
            expected.push(Expected {
                name: entry.name,
                algorithm,
                digest: entry.digest,
            });
        }
    }
    if manifests.names.is_empty() {
        let named: Vec<String> = args.check.iter().map(|m| m.display().to_string()).collect();
        return Err(StartError::Invalid(format!(
            "{}: no properly formatted checksum lines found",
            named.join(", ")
        )));
    }
    Ok(manifests)
}

/// Runs `--check`: reads the manifests, reads the files they list (or, with PATHs, the files
/// under them) with `schedule`, and writes a verdict for each; see the module docs.
pub(crate) fn run<S: Schedule>(program: &str, args: &Args, schedule: &S) -> ExitCode {
    let manifests = match read_manifests(program, args) {
        Ok(manifests) => manifests,
        Err(err) => return failed_to_start(program, &err),
    };
    let audit = !args.paths.is_empty();
    let roots = if audit {
        Walk::new(&args.paths)
    } else {
        Walk::new(&manifests.names).listed(true)
    };
    let walk = match args.filtered(roots) {
        Ok(walk) => walk.digests(manifests.algorithms),
        Err(err) => return failed_to_start(program, &err),
    };
    let mut checker = Checker {
        program: program.to_string(),
        expected: manifests.expected,
        audit,
        seen: HashSet::new(),
        quiet: args.quiet,
        status: args.status,
        out: BufWriter::with_capacity(64 * 1024, io::stdout()),
        broken: None,
        tally: Tally {
            malformed: manifests.malformed,
            ..Tally::default()
        },
    };
    match schedule.read(&walk, &mut checker) {
        Ok(finished) => checker.finish(finished, args.strict),
        Err(err) => failed_to_start(program, &err),
    }
}

fn failed_to_start(program: &str, err: &StartError) -> ExitCode {
    eprintln!("{program}: error: {err}");
    ExitCode::from(2)
}

/// What the verdicts came to.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    malformed: u64,
    mismatched: u64,
    unreadable: u64,
    new: u64,
    missing: u64,
}

/// The sink of a `--check` run: a verdict for each record as it comes.
struct Checker {
    program: String,
    expected: HashMap<Vec<u8>, Vec<Expected>>,
    audit: bool,
    /// The names of the manifests that a record has answered.
    seen: HashSet<Vec<u8>>,
    quiet: bool,
    status: bool,
    out: BufWriter<io::Stdout>,
    /// The write that failed and stopped the run.
    broken: Option<io::Error>,
    tally: Tally,
}

impl Sink for &mut Checker {
    fn record(&mut self, record: Record) -> ControlFlow<()> {
        let written = match record {
            Record::File(file) => self.file(file),
            Record::Skipped(skipped) => {
                let name = skipped.path.as_os_str().as_bytes();
                match self.expected.remove(key(name)) {
                    Some(expected) => {
                        self.seen.insert(key(name).to_vec());
                        let why = format!("skipped: {}", skipped.reason.as_str());
                        self.unreadable(&expected, &skipped.path, &why)
                    }
                    None => Ok(()),
                }
            }
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                self.broken = Some(err);
                ControlFlow::Break(())
            }
        }
    }
}

impl Checker {
    fn file(&mut self, file: FileResult) -> io::Result<()> {
        let name = file.path.as_os_str().as_bytes();
        let Some(expected) = self.expected.remove(key(name)) else {
            // On disk, not in the manifests (or listed twice under one name: answered once).
            if self.seen.contains(key(name)) {
                return Ok(());
            }
            if let Err(err) = &file.outcome {
                self.tally.unreadable += 1;
                self.note(&format!("{err}"));
            }
            self.tally.new += 1;
            return self.verdict(name, "new");
        };
        self.seen.insert(key(name).to_vec());
        if let Err(err) = &file.outcome {
            return self.unreadable(&expected, &file.path, err.message());
        }
        for each in &expected {
            let found = file
                .digests
                .iter()
                .find(|d| d.algorithm() == each.algorithm);
            if found.is_some_and(|digest| digest.as_bytes() == each.digest) {
                if !self.quiet {
                    self.verdict(&each.name, "OK")?;
                }
            } else {
                self.tally.mismatched += 1;
                self.verdict(&each.name, "FAILED")?;
            }
        }
        Ok(())
    }

    /// The files of `expected` could not be read, for `why`.
    fn unreadable(&mut self, expected: &[Expected], path: &Path, why: &str) -> io::Result<()> {
        self.note(&format!("{}: {why}", path.display()));
        for each in expected {
            self.tally.unreadable += 1;
            self.verdict(&each.name, "FAILED open or read")?;
        }
        Ok(())
    }

    /// A line on stderr, unless `--status`.
    fn note(&self, line: &str) {
        if !self.status {
            eprintln!("{}: {line}", self.program);
        }
    }

    /// `NAME: VERDICT` on stdout, unless `--status`.
    fn verdict(&mut self, name: &[u8], verdict: &str) -> io::Result<()> {
        if self.status {
            return Ok(());
        }
        sums::write_verdict(&mut self.out, name, verdict)
    }

    /// The listed files no record answered (auditing: not found under the PATHs), the
    /// warnings, and the exit status.
    fn finish<S>(mut self, finished: Finished<S>, strict: bool) -> ExitCode {
        let program = self.program.clone();
        if self.audit && self.broken.is_none() && !finished.stopped {
            let mut missing: Vec<Expected> = self.expected.drain().flat_map(|(_, e)| e).collect();
            missing.sort_by(|a, b| a.name.cmp(&b.name));
            for each in &missing {
                self.tally.missing += 1;
                if let Err(err) = self.verdict(&each.name, "missing") {
                    self.broken = Some(err);
                    break;
                }
            }
        }
        if let Err(err) = self.out.flush() {
            self.broken.get_or_insert(err);
        }
        if let Some(err) = self.broken.take() {
            if err.kind() == io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("{program}: error: cannot write output: {err}");
            return ExitCode::from(2);
        }
        let t = self.tally;
        let warnings = [
            (
                t.malformed,
                "line is improperly formatted",
                "lines are improperly formatted",
            ),
            (
                t.unreadable,
                "listed file could not be read",
                "listed files could not be read",
            ),
            (
                t.mismatched,
                "computed checksum did NOT match",
                "computed checksums did NOT match",
            ),
            (
                t.new,
                "file is not in the manifest (new)",
                "files are not in the manifest (new)",
            ),
            (
                t.missing,
                "listed file is missing",
                "listed files are missing",
            ),
        ];
        for (n, one, many) in warnings {
            if n > 0 {
                self.note(&format!("WARNING: {n} {}", if n == 1 { one } else { many }));
            }
        }
        if let Some(err) = &finished.error {
            eprintln!("{program}: error: {err}");
            return ExitCode::from(2);
        }
        let faults = t.mismatched + t.unreadable + t.new + t.missing;
        if faults > 0 || (strict && t.malformed > 0) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_less_their_leading_dot_slashes() {
        assert_eq!(key(b"./a/b.txt"), b"a/b.txt");
        assert_eq!(key(b"././/a"), b"a");
        assert_eq!(key(b"a/./b"), b"a/./b");
        assert_eq!(key(b"../a"), b"../a");
        assert_eq!(key(b".hidden"), b".hidden");
    }
}

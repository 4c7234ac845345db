//! The man page of a binary: name, synopsis, description and options from its clap command
//! (`clap_mangen`), then what docs/CONTRACT.md promises of every reader binary — the records
//! of its output and its exit statuses — and the other binaries.

use std::io::{self, Write};

use clap::Command;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use reader_core::{ErrorKind, SkipReason};

/// The exit statuses of docs/CONTRACT.md.
const EXIT_STATUSES: &[(&str, &str)] = &[
    (
        "0",
        "Every file was read (skipped entries are not failures); also when the reader of the \
         output closed it early (reader | head).",
    ),
    (
        "1",
        "One or more files failed; every other file is still reported. With --check: a file \
         did not match, could not be read, or (auditing PATHs) is new or missing; with --strict \
         also a malformed manifest line.",
    ),
    (
        "2",
        "The run could not start (a usage error, a PATH that does not exist, a filter that cannot \
         work, a model that cannot start) or could not finish (its output could not be written, \
         a part of the model failed): one line on stderr. A run that could not finish still \
         writes its summary when its output is writable.",
    ),
    (
        "130",
        "Interrupted (SIGINT); no worker process outlives the reader.",
    ),
];

/// The records of `--format json`, by their `type`: what each is and its fields.
const RECORDS: &[(&str, &str)] = &[
    (
        "file",
        "A file read, or one that failed: path, size (the bytes read), lines (the newline \
         bytes), words (the runs of bytes that are not ASCII whitespace), with --digest a field \
         for each digest (blake3, sha256, xxh3: lower-case hex, as b3sum, sha256sum and \
         xxhsum -H2 print them), elapsed_us, worker (main, thread-N, task-N, pid-N, split-N), \
         error (null, or an object of kind and message; size, lines and words are then null, \
         and there is no digest).",
    ),
    (
        "part",
        "A byte range of a file cut by --shard-split: the fields of a file record counted over \
         the range, then part, parts, start, end, file_size, starts_in_word and ends_in_word, \
         and with --digest blake3 blake3_subtrees (the subtrees of BLAKE3's tree the range \
         holds, each [start, len, chaining value]). reader-merge joins the parts of a file \
         into one file record, its BLAKE3 digest included.",
    ),
    ("skipped", "An entry not read: path and reason."),
    (
        "duplicates",
        "With --duplicates: a group of files that hold the same bytes, the most wasted space \
         first: size, wasted (the bytes all copies but one take), blake3 (null for empty \
         files), paths (a name of each file, in byte order), and links when a file has other \
         names ([name, other names…] each). The summary then says files, failed, skipped, \
         groups, duplicates, wasted, hard_links, bytes_read, bytes_needed and elapsed_ms; with \
         --shard, each shard compares the files of the sizes it owns, its summary says the \
         shard and the search it belongs to, and reader-merge joins the shards' groups.",
    ),
    (
        "hard_links",
        "With --duplicates: the names of one file (hard links) that has no copy: paths.",
    ),
    (
        "group",
        "A group of --by (the extension, or the directory): by, key, files, bytes, lines, words.",
    ),
    (
        "summary",
        "Last: strategy, jobs, files (= ok + failed), ok, failed, skipped, bytes, lines, words, \
         elapsed_ms, cpu_user_ms, cpu_sys_ms, peak_rss_kib, threads, then the model's own \
         figures; with --shard, the shard and the run it belongs to; with --digest, \
         tree_digest: one digest of the whole tree for each algorithm (docs/CONTRACT.md), null \
         when a file could not be read.",
    ),
];

/// The `error.kind` of a file that failed, with what it means.
const ERROR_KINDS: &[(ErrorKind, &str)] = &[
    (
        ErrorKind::NotFound,
        "it vanished before it was read, or a symbolic link dangles",
    ),
    (ErrorKind::PermissionDenied, "it may not be read"),
    (
        ErrorKind::IsDirectory,
        "a directory where a file was expected",
    ),
    (
        ErrorKind::SymlinkLoop,
        "a symbolic link back to one of its own ancestors (--follow)",
    ),
    (
        ErrorKind::NameTooLong,
        "a name longer than the file system takes (a path longer than PATH_MAX is reached \
         in pieces, and read)",
    ),
    (
        ErrorKind::NotRegular,
        "a regular file when found, something else when opened",
    ),
    (ErrorKind::Io, "any other I/O error"),
    (
        ErrorKind::WorkerCrashed,
        "the worker reading it died, or no worker was left to read it (the message starts with \
         \"not read:\")",
    ),
    (
        ErrorKind::Timeout,
        "its read, or for a directory its listing, did not finish within --timeout",
    ),
    (
        ErrorKind::SizeLimit,
        "larger than --max-bytes, or a pseudo-file that does not end; not counted",
    ),
];

/// The `reason` of an entry not read, with what it means.
const SKIP_REASONS: &[(SkipReason, &str)] = &[
    (
        SkipReason::Fifo,
        "a named pipe: opening one can block forever",
    ),
    (SkipReason::Socket, "a Unix socket"),
    (SkipReason::BlockDevice, "a block device"),
    (SkipReason::CharDevice, "a character device"),
    (
        SkipReason::Symlink,
        "a symbolic link, not followed without --follow",
    ),
    (SkipReason::TooSmall, "smaller than --min-size"),
    (SkipReason::TooLarge, "larger than --max-size"),
];

/// Every binary with a man page, for SEE ALSO.
const BINARIES: &[&str] = &[
    "reader-seq",
    "reader-threads",
    "reader-async",
    "reader-hybrid",
    "reader-proc",
    "reader-merge",
    "reader-read-only",
];

/// Writes the man page of `cmd` to `out`.
pub(crate) fn render(cmd: &Command, out: &mut dyn Write) -> io::Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    contract(cmd.get_name()).to_writer(out)?;
    if cmd.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The sections from the contract, and the other binaries of the project.
fn contract(name: &str) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["OUTPUT"]);
    roff.text([roman(
        "Every entry found yields exactly one record: read, failed with its reason, or \
         skipped. By default a summary for people is written to stdout and each failure as one \
         line on stderr. With ",
    )]);
    roff.text([
        bold("--format json"),
        roman(
            ", one JSON object a line: the records as files complete, then the groups of --by, \
             then the summary, last. Each has a ",
        ),
        bold("type"),
        roman(":"),
    ]);
    for (kind, what) in RECORDS {
        tagged(&mut roff, kind, what);
    }
    roff.control("PP", []);
    roff.text([
        roman("The "),
        bold("error.kind"),
        roman(" of a file that failed:"),
    ]);
    for (kind, what) in ERROR_KINDS {
        tagged(&mut roff, kind.as_str(), what);
    }
    roff.control("PP", []);
    roff.text([
        roman("The "),
        bold("reason"),
        roman(" of an entry not read:"),
    ]);
    for (reason, what) in SKIP_REASONS {
        tagged(&mut roff, reason.as_str(), what);
    }
    roff.control("PP", []);
    roff.text([roman(
        "A path that is not UTF-8 is written as {\"bytes\": \"<base64 of the raw name>\"}. With \
         --format csv, the same records are RFC 4180 rows under the header type, path, size, \
         lines, words, elapsed_us, worker, error_kind, error_message, path_bytes, files; there \
         is no summary row.",
    )]);

    roff.control("SH", ["EXIT STATUS"]);
    for (status, what) in EXIT_STATUSES {
        tagged(&mut roff, status, what);
    }

    roff.control("SH", ["SEE ALSO"]);
    let others: Vec<String> = BINARIES
        .iter()
        .filter(|other| **other != name)
        .map(|other| format!("{other}(1)"))
        .collect();
    roff.text([roman(others.join(", "))]);
    roff.control("PP", []);
    roff.text([
        roman("The whole contract, with an example of every record: "),
        italic("docs/CONTRACT.md"),
        roman(" in the source of the readers."),
    ]);
    roff
}

/// A tagged paragraph: `tag` in bold, then `what`.
fn tagged(roff: &mut Roff, tag: &str, what: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(what)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(name: &'static str) -> String {
        let mut out = Vec::new();
        render(&Command::new(name).about("Reads."), &mut out).expect("to memory");
        String::from_utf8(out).expect("roff is UTF-8")
    }

    #[test]
    fn the_page_has_the_contracts_sections_and_names_the_others() {
        let page = page("reader-threads");
        for section in [
            ".SH NAME",
            ".SH OUTPUT",
            ".SH \"EXIT STATUS\"",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(section), "{section} in\n{page}");
        }
        assert!(page.contains("reader\\-merge(1)"), "{page}");
        assert!(!page.contains("reader\\-threads(1)"), "not itself:\n{page}");
    }
}

//! The frame every reader binary runs in: parse the command line, build the reader, read with
//! it into the report, and return the exit status (see docs/CONTRACT.md: 0, 1, 2). Parsing
//! answers `--help`, `--version` and `--generate` on its own, for `reader-merge` too.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Args as ClapArgs, Command, FromArgMatches};
use reader_core::{Schedule, StartError};

use crate::args::{Args, one_line};
use crate::generate::{self, Generate};
use crate::report::Report;
use crate::version::{self, Uses};

/// What a reader binary says of itself in `--help` and `--version`.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// Its name: `reader-threads`.
    pub name: &'static str,
    /// One line on what it does.
    pub about: &'static str,
    /// What it can use on this machine, a line each of `--version`: `[Uses::Counter]` for a
    /// reader that counts.
    pub uses: &'static [Uses],
}

/// `reader` with `set` applied to `value` when there is one: how a binary's `build` passes on
/// a flag the user may leave out.
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct Reader {
///     threads: usize,
/// }
/// impl Reader {
///     fn jobs(self, threads: usize) -> Reader {
///         Reader { threads }
///     }
/// }
/// let set = reader_cli::apply(Reader { threads: 1 }, Some(3), Reader::jobs);
/// assert_eq!(set, Reader { threads: 3 });
/// let unset = reader_cli::apply(Reader { threads: 1 }, None, Reader::jobs);
/// assert_eq!(unset, Reader { threads: 1 });
/// ```
pub fn apply<R, T>(reader: R, value: Option<T>, set: impl FnOnce(R, T) -> R) -> R {
    match value {
        Some(value) => set(reader, value),
        None => reader,
    }
}

/// The flags of a binary that has none beyond the shared [`Args`].
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct NoFlags {}

/// Runs one reader binary: parses the process's arguments into the shared [`Args`] and the
/// binary's own flags `F`, builds the reader with `build`, reads everything the PATHs name,
/// and writes the records and summary as the arguments ask.
///
/// `--help`, `--version` and `--generate` print and give status 0. Usage errors, a PATH that
/// does not exist, and a reader that cannot start are one line on stderr and status 2, before
/// anything is written to stdout.
///
/// ```no_run
/// use reader_cli::{Binary, NoFlags, Uses};
/// use reader_core::SequentialReader;
///
/// fn main() -> std::process::ExitCode {
///     let binary = Binary {
///         name: "my-reader",
///         about: "Reads every file, one after another.",
///         uses: &[Uses::Counter],
///     };
///     reader_cli::main(binary, |_, _: &NoFlags| Ok(SequentialReader::new()))
/// }
/// ```
pub fn main<F, S>(
    binary: Binary,
    build: impl FnOnce(&Args, &F) -> Result<S, StartError>,
) -> ExitCode
where
    F: ClapArgs + FromArgMatches,
    S: Schedule,
{
    reader_core::defaults::fit_address_space_limit();
    let (args, flags) = match parse::<F, _>(binary, std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let program = program_name();
    let reader = match build(&args, &flags) {
        Ok(reader) => reader,
        Err(err) => return start_failed(&program, &err),
    };
    if !args.check.is_empty() {
        let status = crate::check::run(&program, &args, &reader);
        let_go_of_stuck_calls(&program);
        return status;
    }
    if args.duplicates {
        let status = crate::duplicates::run(&program, &args, &reader);
        let_go_of_stuck_calls(&program);
        return status;
    }
    let walk = match args.walk() {
        Ok(walk) => walk,
        Err(err) => return start_failed(&program, &err),
    };
    let mut report = match Report::new(&program, &args) {
        Ok(report) => report,
        Err(err) => return start_failed(&program, &err),
    };
    match reader.read(&walk, &mut report) {
        Ok(finished) => {
            let status = report.finish(finished);
            let_go_of_stuck_calls(&program);
            status
        }
        Err(err) => start_failed(&program, &err),
    }
}

/// Once everything is written: if reads or directory listings given up on after the timeout
/// are still stuck in the kernel, says so on stderr and puts `/dev/null` in place of stdout and
/// stderr. A thread stuck in an uninterruptible call keeps the process's descriptors open until
/// the call ends — and with them the pipe whoever reads our output waits on — and keeps the
/// exited process from being reaped. Its output, at least, ends now.
fn let_go_of_stuck_calls(program: &str) {
    let (reads, listings) = (reader_core::stuck_reads(), reader_core::stuck_listings());
    if reads + listings == 0 {
        return;
    }
    let count = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    let calls: Vec<String> = [
        count(reads, "read", "reads"),
        count(listings, "directory listing", "directory listings"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verb = if reads + listings == 1 { "is" } else { "are" };
    eprintln!(
        "{program}: {} given up on after the timeout {verb} still stuck in the kernel: the \
         program ends now, but the system can reap it only once they end (a stalled mount: \
         abort it to end them)",
        calls.join(" and ")
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    if let Ok(null) = std::fs::File::open("/dev/null") {
        use std::os::unix::io::AsRawFd;
        // SAFETY: dup2 onto the standard descriptors, which stay open (now on /dev/null) for
        // whatever the runtime still writes at exit.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
            libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO);
        }
    }
}

/// The command line of `binary`: the shared arguments and its own flags.
fn command<F: ClapArgs>(binary: Binary) -> Command {
    // The flags' doc comments would name the command's purpose: say it last.
    F::augment_args(Args::augment_args(Command::new(binary.name)))
        .version(version::VERSION)
        .about(binary.about)
}

/// Parses `argv` (the first is the program name) for `binary`; see [`matches`].
fn parse<F, I>(binary: Binary, argv: I) -> Result<(Args, F), ExitCode>
where
    F: ClapArgs + FromArgMatches,
    I: IntoIterator,
    I::Item: Into<OsString> + Clone,
{
    let matches = matches(command::<F>(binary), binary.uses, argv)?;
    let parsed = Args::from_arg_matches(&matches)
        .and_then(|args| Ok((args, F::from_arg_matches(&matches)?)));
    parsed.map_err(|err| usage_error(binary.name, &err))
}

/// Parses `argv` (the first is the program name) with `cmd`, a binary's whole command line,
/// to which it adds `--version` and `--generate`. When the program has nothing more to do,
/// the result is `Err` with its exit status: help, the version (with what `uses` says of this
/// machine) and what `--generate` asks for go to stdout with status 0; a usage error is one
/// line on stderr (`<bin>: error: …`) and status 2.
pub(crate) fn matches<I>(cmd: Command, uses: &[Uses], argv: I) -> Result<ArgMatches, ExitCode>
where
    I: IntoIterator,
    I::Item: Into<OsString> + Clone,
{
    let version = Arg::new("version")
        .short('V')
        .long("version")
        .action(ArgAction::Version)
        .help("Print the version, the git revision and what this program can use on this machine");
    let mut cmd = cmd
        .disable_version_flag(true)
        .arg(version)
        .arg(generate::arg());
    let name = cmd.get_name().to_string();
    let matches = match cmd.try_get_matches_from_mut(argv) {
        Ok(matches) => matches,
        Err(err) if err.kind() == ErrorKind::DisplayVersion => {
            return Err(print(&name, |out| {
                out.write_all(version::text(&name, uses).as_bytes())
            }));
        }
        Err(err) => return Err(usage_error(&name, &err)),
    };
    match matches.get_one::<Generate>(generate::ARG_ID) {
        Some(&kind) => Err(print(&name, |out| generate::write(kind, &mut cmd, out))),
        None => Ok(matches),
    }
}

/// Writes to stdout with `write`: status 0 once written (or when the reader of our output has
/// closed it), else one line on stderr and status 2.
fn print(name: &str, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> ExitCode {
    let mut out = io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: error: cannot write to stdout: {err}");
            ExitCode::from(2)
        }
    }
}

/// What a clap error ends in: help goes to stdout with status 0; a usage error is one line on
/// stderr and status 2.
pub(crate) fn usage_error(name: &str, err: &clap::Error) -> ExitCode {
    if err.use_stderr() {
        eprintln!("{name}: {}", one_line(&err.to_string()));
        ExitCode::from(2)
    } else {
        let _ = err.print();
        ExitCode::SUCCESS
    }
}

/// The name this binary was started as (`reader-threads`…), for messages.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "reader".into())
}

/// Prints `program: error: …` on stderr and gives exit status 2.
fn start_failed(program: &str, err: &StartError) -> ExitCode {
    eprintln!("{program}: error: {err}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINARY: Binary = Binary {
        name: "reader-test",
        about: "A test.",
        uses: &[Uses::Counter],
    };

    /// A binary's own flags.
    #[derive(Debug, clap::Args)]
    struct Flags {
        #[arg(long)]
        deep: bool,
    }

    fn try_parse<F: ClapArgs + FromArgMatches>(argv: &[&str]) -> Result<(Args, F), ExitCode> {
        parse::<F, _>(
            BINARY,
            std::iter::once("reader-test").chain(argv.iter().copied()),
        )
    }

    #[test]
    fn shared_arguments_and_a_binarys_own_flags_parse_together() {
        let (args, flags) = try_parse::<Flags>(&["--deep", "-j", "3", "dir"]).expect("valid");
        assert!(flags.deep);
        assert_eq!((args.jobs, args.paths.len()), (Some(3), 1));
        let (args, NoFlags {}) = try_parse::<NoFlags>(&["a", "b"]).expect("valid");
        assert_eq!(args.paths.len(), 2);
        assert!(
            try_parse::<NoFlags>(&["--deep", "x"]).is_err(),
            "not its flag"
        );
    }

    #[test]
    fn help_is_status_0_and_errors_status_2() {
        let help = try_parse::<NoFlags>(&["--help"]).map(|_| ());
        assert_eq!(help, Err(ExitCode::SUCCESS));
        let bad = try_parse::<NoFlags>(&["--jobs", "x", "p"]).map(|_| ());
        assert_eq!(bad, Err(ExitCode::from(2)));
        let both = try_parse::<NoFlags>(&["--generate", "man", "dir"]).map(|_| ());
        assert_eq!(both, Err(ExitCode::from(2)), "--generate goes alone");
        let command = command::<Flags>(BINARY);
        assert_eq!(command.get_name(), "reader-test");
        assert_eq!(
            command.get_about().map(|a| a.to_string()).as_deref(),
            Some("A test.")
        );
    }
}

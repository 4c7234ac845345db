//! `--generate KIND`: a binary's man page or a shell's completion script, written from the
//! binary's own clap command, so that neither can differ from what it parses. Every binary of
//! the frame ([`crate::main`]) and `reader-merge` takes it; `cargo xtask dist` writes them all.

use std::io::{self, Write};

use clap::{Arg, Command, ValueEnum, value_parser};
use clap_complete::{Generator, Shell};

use crate::manual;

/// The id of the `--generate` argument in a command's matches.
pub(crate) const ARG_ID: &str = "generate";

/// What `--generate` writes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page, in roff: the options, then the records and exit statuses of the contract.
    Man,
    /// The completion script for bash.
    CompleteBash,
    /// The completion script for zsh.
    CompleteZsh,
    /// The completion script for fish.
    CompleteFish,
    /// The completion script for elvish.
    CompleteElvish,
    /// The completion script for PowerShell.
    CompletePowershell,
}

impl Generate {
    /// The shell whose completion script this is, if it is one.
    fn shell(self) -> Option<Shell> {
        match self {
            Generate::Man => None,
            Generate::CompleteBash => Some(Shell::Bash),
            Generate::CompleteZsh => Some(Shell::Zsh),
            Generate::CompleteFish => Some(Shell::Fish),
            Generate::CompleteElvish => Some(Shell::Elvish),
            Generate::CompletePowershell => Some(Shell::PowerShell),
        }
    }
}

/// The `--generate KIND` argument: given alone, so that it needs no PATH.
pub(crate) fn arg() -> Arg {
    Arg::new(ARG_ID)
        .long("generate")
        .value_name("KIND")
        .value_parser(value_parser!(Generate))
        .exclusive(true)
        .help("Print this program's man page or a shell's completion script, and exit")
}

/// Writes what `kind` asks for of the command `cmd` (the whole command line of a binary, as
/// it parses) to `out`.
pub(crate) fn write(kind: Generate, cmd: &mut Command, out: &mut dyn Write) -> io::Result<()> {
    match kind.shell() {
        Some(shell) => {
            // As `clap_complete::generate`, but a write that fails is an error, not a panic.
            let name = cmd.get_name().to_string();
            cmd.set_bin_name(name);
            cmd.build();
            shell.try_generate(cmd, out)
        }
        None => manual::render(cmd, out),
    }
}

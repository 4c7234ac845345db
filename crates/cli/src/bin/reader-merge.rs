//! `reader-merge`: the outputs of the shards of one run (`--shard K/N --format json`) as one
//! result, checked to be the whole run. See `reader_cli::merge`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    reader_cli::merge::main()
}

//! The chapter 1 runtime: `uts run [--hostname NAME] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own UTS namespace, with its own hostname.
#[derive(Parser)]
#[command(name = "uts", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(uts::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(&args.spawn.command, &uts::layers(&args)?)?),
    })
}

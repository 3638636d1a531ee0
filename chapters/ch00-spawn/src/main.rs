//! The chapter 0 runtime: `spawn run [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in a child process and relays its exit code.
#[derive(Parser)]
#[command(name = "spawn", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND and exit with its exit code.
    Run(spawn::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(&args.command, &spawn::layers(&args)?)?),
    })
}

//! The chapter 2 runtime: `pid run [--hostname NAME] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own PID and UTS namespaces, under a minimal init.
#[derive(Parser)]
#[command(name = "pid", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(pid::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(args.command(), &pid::layers(&args)?)?),
    })
}

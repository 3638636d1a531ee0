//! The chapter 4 runtime: `net run [--net none|bridge] [--bridge NAME] [--subnet A.B.C.D/N] [--rootfs DIR …] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own namespaces, with its own network stack.
#[derive(Parser)]
#[command(name = "net", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(net::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(args.command(), &net::layers(&args)?)?),
    })
}

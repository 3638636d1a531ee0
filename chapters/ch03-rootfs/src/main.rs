//! The chapter 3 runtime: `rootfs run [--rootfs DIR [--read-only]] [--hostname NAME] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own namespaces, inside its own root file system.
#[derive(Parser)]
#[command(name = "rootfs", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(rootfs::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(args.command(), &rootfs::layers(&args)?)?),
    })
}

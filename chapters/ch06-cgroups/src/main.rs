//! The chapter 6 runtime: `cgroups run [--memory SIZE] [--pids N] [--cpus FRACTION] [--cgroup-parent PATH] [chapter 5's options] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own namespaces and a cgroup of its own, with limits.
#[derive(Parser)]
#[command(name = "cgroups", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(cgroups::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(args.command(), &cgroups::layers(&args)?)?),
    })
}

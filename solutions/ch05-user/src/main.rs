//! The chapter 5 runtime: `user run [--uid-map C:H:N]… [--gid-map C:H:N]… [--net none|bridge] [--rootfs DIR …] [--] CMD ARGS…`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs a command in its own namespaces, a user namespace among them.
#[derive(Parser)]
#[command(name = "user", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND in a container and exit with its exit code.
    Run(user::RunArgs),
}

fn main() -> ExitCode {
    spawn::cli::main(|cli: Cli| match cli.command {
        Command::Run(args) => Ok(spawn::run(args.command(), &user::layers(&args)?)?),
    })
}

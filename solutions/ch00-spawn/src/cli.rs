//! The command line every chapter's runtime shares: `run [--] CMD ARGS…`.
//!
//! Each chapter adds its own flags by flattening the previous chapter's
//! [`RunArgs`] into its own, so chapter 3's `run` still accepts chapter 1's
//! `--hostname`.

use std::process::ExitCode;

use clap::{Args, Parser};

/// Chapter 0's arguments to `run`: the command, and the environment it gets
/// (chapter 0's challenge).
#[derive(Debug, Clone, Args)]
#[group(id = "spawn")]
pub struct RunArgs {
    /// Set KEY to VALUE in the command's environment; repeatable, a later
    /// one wins.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = crate::env::EnvVar::parse)]
    pub env: Vec<crate::env::EnvVar>,

    /// Start the command's environment empty (then add each --env).
    #[arg(long = "clear-env")]
    pub clear_env: bool,

    /// The command to run in the container, and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Parses the command line as `C`, runs it with `run`, and turns the outcome
/// into the process exit code. Usage errors and runtime errors end with
/// 125 so they cannot be mistaken for the command's own exit code; `--help`
/// ends with 0.
pub fn main<C: Parser>(run: impl FnOnce(C) -> anyhow::Result<u8>) -> ExitCode {
    // STARTER: todo!(
    // STARTER:     "parse the command line, run it, and turn every way it can end (help, a usage \
    // STARTER:      error, the command's code, a runtime error) into the runtime's exit code \
    // STARTER:      (book: chapter 0, \"The command line\")"
    // STARTER: )
    // SOLUTION BEGIN
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 125 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("greenroom: {err:#}");
            let code = err.downcast_ref::<crate::Error>().map_or(125, crate::Error::exit_code);
            ExitCode::from(code)
        }
    }
    // SOLUTION END
}

//! The chapter 7 runtime: `oci [--root DIR] create|start|state|kill|delete|run|list|spec|exec …`,
//! the command line podman and conmon drive (runc's and crun's).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use oci::exec::ExecOptions;
use oci::lifecycle::{self, CreateOptions, LifecycleError};
use oci::state::StateRoot;

/// An OCI runtime: the containers of chapters 0–6, from a bundle.
#[derive(Parser)]
#[command(name = "oci", version = concat!(env!("CARGO_PKG_VERSION"), " (greenroom, OCI runtime spec ", "1.1.0", ")"))]
struct Cli {
    /// The state directory (default: $XDG_RUNTIME_DIR/greenroom, or /run/greenroom).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Also write errors to this file (conmon reads it).
    #[arg(long, global = true, value_name = "PATH")]
    log: Option<PathBuf>,

    /// The log's format: text or json.
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text")]
    log_format: String,

    /// Accepted for compatibility: cgroups are always managed as cgroupfs paths.
    #[arg(long, global = true)]
    systemd_cgroup: bool,

    /// Accepted for compatibility.
    #[arg(long, global = true)]
    debug: bool,

    #[command(subcommand)]
    command: Command,
}

/// The options `create` and `run` share.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The bundle: a directory with config.json and the root file system.
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    bundle: PathBuf,

    /// Write the container process's host pid to this file.
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,

    /// Send the pseudo-terminal's master to this unix socket.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,

    /// Accepted for compatibility: the runtime always uses pivot_root.
    #[arg(long)]
    no_pivot: bool,

    /// Accepted for compatibility: no session keyring is made.
    #[arg(long)]
    no_new_keyring: bool,

    /// Pass this many descriptors from 3 on to the container.
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,

    /// The container's id.
    id: String,
}

impl CreateArgs {
    fn options(&self) -> CreateOptions {
        CreateOptions {
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a container from a bundle; it waits until `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// The container's id.
        id: String,
    },
    /// Print a container's state as JSON.
    State {
        /// The container's id.
        id: String,
    },
    /// Send a signal to a container's process (default TERM).
    Kill {
        /// Signal every process in the container's cgroup.
        #[arg(long, short = 'a')]
        all: bool,
        /// The container's id.
        id: String,
        /// A number (15) or a name (TERM, SIGTERM).
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Challenge: freeze every process of a running container.
    Pause {
        /// The container's id.
        id: String,
    },
    /// Challenge: let a paused container's processes go on.
    Resume {
        /// The container's id.
        id: String,
    },
    /// Delete a stopped container (with --force, kill it first).
    Delete {
        /// Kill the container if it still runs.
        #[arg(long, short = 'f')]
        force: bool,
        /// The container's id.
        id: String,
    },
    /// Create, start, wait for, and delete a container; exit with its code.
    Run(CreateArgs),
    /// List the containers.
    List {
        /// `table` or `json`.
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
    },
    /// Run another process in a running container.
    Exec {
        /// The process to run, as JSON (podman writes it).
        #[arg(long, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Write the new process's host pid to this file.
        #[arg(long, value_name = "PATH")]
        pid_file: Option<PathBuf>,
        /// Return once the process runs.
        #[arg(long, short = 'd')]
        detach: bool,
        /// Accepted for compatibility: the terminal comes with --console-socket.
        #[arg(long, short = 't')]
        tty: bool,
        /// Send the pseudo-terminal's master to this unix socket.
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// The container's id.
        id: String,
        /// The command, when there is no --process.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Write a default config.json for a root file system named `rootfs`.
    Spec {
        /// Where to write config.json.
        #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 125 } else { 0 });
        }
    };
    let root = StateRoot::choose(cli.root.as_deref(), std::env::var_os("XDG_RUNTIME_DIR"));
    match run(&root, cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.downcast_ref::<LifecycleError>().map_or(125, LifecycleError::exit_code);
            eprintln!("greenroom: {err:#}");
            if let Some(log) = &cli.log {
                log_error(log, &cli.log_format, &format!("{err:#}"));
            }
            ExitCode::from(code)
        }
    }
}

fn run(root: &StateRoot, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Create(args) => {
            lifecycle::create(root, &args.id, &args.bundle, &args.options())?;
        }
        Command::Start { id } => lifecycle::start(root, &id)?,
        Command::State { id } => out(&serde_json::to_string_pretty(&lifecycle::printed_state(root, &id)?)?),
        Command::Kill { all, id, signal } => lifecycle::kill(root, &id, lifecycle::parse_signal(&signal)?, all)?,
        Command::Delete { force, id } => lifecycle::delete(root, &id, force)?,
        Command::Pause { id } => lifecycle::pause_or_resume(root, &id, true)?,
        Command::Resume { id } => lifecycle::pause_or_resume(root, &id, false)?,
        Command::Run(args) => return Ok(lifecycle::run(root, &args.id, &args.bundle, &args.options())?),
        Command::List { format } => list(root, &format)?,
        Command::Exec { process, pid_file, detach, tty: _, console_socket, id, command } => {
            let options = ExecOptions { process, command, pid_file, detach, console_socket };
            return Ok(oci::exec::exec(root, &id, &options)?);
        }
        Command::Spec { bundle } => oci::spec::write_default(&bundle)?,
    }
    Ok(0)
}

fn list(root: &StateRoot, format: &str) -> anyhow::Result<()> {
    let states = lifecycle::list(root)?;
    if format == "json" {
        out(&serde_json::to_string(&states)?);
        return Ok(());
    }
    out(&format!("{:<24} {:<8} {:<8} BUNDLE", "ID", "PID", "STATUS"));
    for state in states {
        let pid = state.pid().map_or("-".to_string(), |pid| pid.to_string());
        let status = state.status().to_string();
        out(&format!("{:<24} {:<8} {:<8} {}", state.id(), pid, status, state.bundle().display()));
    }
    Ok(())
}

/// Prints a line on stdout. A reader that went away (`oci list | head`)
/// is no error of ours: `println!` would panic on EPIPE.
fn out(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Appends `message` to the log file as runc does (a JSON line with
/// `--log-format json`); a log that cannot be written is no new error.
fn log_error(path: &Path, format: &str, message: &str) {
    let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) else { return };
    let line = match format {
        "json" => serde_json::json!({ "level": "error", "msg": message }).to_string(),
        _ => format!("error: {message}"),
    };
    let _ = writeln!(file, "{line}");
}

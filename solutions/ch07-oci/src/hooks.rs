//! Hooks: programs the config names, which the runtime runs at six points
//! of the container's life, each with the container's state on stdin.
//!
//! An engine uses them to do what the runtime knows nothing of: podman's
//! netavark (or the older CNI plugins) wires a network namespace to the
//! host's bridge once it exists and before the command runs; the NVIDIA
//! container toolkit mounts the GPU's devices and driver libraries into the
//! root before `pivot_root`. The runtime only has to run them at the right
//! moment, in the right namespaces, and say when one fails:
//!
//! | hook | when | in which namespaces | a failure |
//! |---|---|---|---|
//! | `prestart` (deprecated), `createRuntime` | `create`, once the namespaces exist, before the container sets itself up | the runtime's | stops the container: `create` fails |
//! | `createContainer` | `create`, in the container, before its mounts and `pivot_root` | the container's | stops the container: `create` fails |
//! | `startContainer` | `start`, in the container, just before its command | the container's (and its root) | stops the container: `start` fails |
//! | `poststart` | `start`, once the command runs | the runtime's | a warning |
//! | `poststop` | `delete`, once the container is gone | the runtime's | a warning |

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Hook, Hooks, State};

/// Why a hook failed, or cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The spec wants an absolute path: a relative one would resolve
    /// against whatever directory the runtime happens to be in.
    #[error("{stage} hook {path}: the path must be absolute")]
    RelativePath {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
    },
    /// A timeout of zero or less, which the spec forbids.
    #[error("{stage} hook {path}: timeout {timeout} must be more than 0 seconds")]
    BadTimeout {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
        /// The timeout asked for.
        timeout: i64,
    },
    /// The state could not be encoded (never happens with a valid state).
    #[error("encode the state for the hooks")]
    Encode(#[source] serde_json::Error),
    /// The program could not be started.
    #[error("{stage} hook {path}: start it")]
    Spawn {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing the state to its stdin, or waiting for it, failed.
    #[error("{stage} hook {path}: talk to it")]
    Io {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It ended with a code other than 0, or was killed.
    #[error("{stage} hook {path} failed ({status})")]
    Failed {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
        /// How it ended.
        status: ExitStatus,
    },
    /// It ran past its timeout, and was killed.
    #[error("{stage} hook {path} ran past its timeout of {seconds} s: killed")]
    TimedOut {
        /// Which hook.
        stage: Stage,
        /// Its path.
        path: PathBuf,
        /// The timeout.
        seconds: i64,
    },
}

/// The six points of the lifecycle where hooks run, named as in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `prestart`: deprecated, run with `createRuntime` (first).
    Prestart,
    /// `createRuntime`.
    CreateRuntime,
    /// `createContainer`.
    CreateContainer,
    /// `startContainer`.
    StartContainer,
    /// `poststart`.
    Poststart,
    /// `poststop`.
    Poststop,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Prestart => "prestart",
            Stage::CreateRuntime => "createRuntime",
            Stage::CreateContainer => "createContainer",
            Stage::StartContainer => "startContainer",
            Stage::Poststart => "poststart",
            Stage::Poststop => "poststop",
        })
    }
}

impl Stage {
    /// Every stage, in the order of the lifecycle.
    pub const ALL: [Stage; 6] = [
        Stage::Prestart,
        Stage::CreateRuntime,
        Stage::CreateContainer,
        Stage::StartContainer,
        Stage::Poststart,
        Stage::Poststop,
    ];

    /// This stage's hooks in `hooks` (none if the config has none).
    pub fn of(self, hooks: Option<&Hooks>) -> Vec<Hook> {
        let Some(hooks) = hooks else { return Vec::new() };
        #[allow(deprecated)] // prestart is deprecated, and still used.
        let list = match self {
            Stage::Prestart => hooks.prestart(),
            Stage::CreateRuntime => hooks.create_runtime(),
            Stage::CreateContainer => hooks.create_container(),
            Stage::StartContainer => hooks.start_container(),
            Stage::Poststart => hooks.poststart(),
            Stage::Poststop => hooks.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

/// Checks every hook of the config, before anything is created: an
/// absolute path, and a timeout, if any, of more than 0 seconds.
pub fn check(hooks: Option<&Hooks>) -> Result<(), HookError> {
    for stage in Stage::ALL {
        for hook in stage.of(hooks) {
            let path = hook.path().clone();
            if !path.is_absolute() {
                return Err(HookError::RelativePath { stage, path });
            }
            if let Some(timeout) = hook.timeout().filter(|t| *t <= 0) {
                return Err(HookError::BadTimeout { stage, path, timeout });
            }
        }
    }
    Ok(())
}

/// One stage's hooks, with the state they are given.
#[derive(Debug, Clone)]
pub struct StageHooks {
    stage: Stage,
    hooks: Vec<Hook>,
    state: State,
}

impl StageHooks {
    /// `stage`'s hooks of `hooks`, to be given `state` (its status and pid
    /// as they are when they run: see [`StageHooks::run`]).
    pub fn new(stage: Stage, hooks: Option<&Hooks>, state: State) -> StageHooks {
        StageHooks { stage, hooks: stage.of(hooks), state }
    }

    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Runs each hook in turn, with the state (of `status`, and `pid` if
    /// given) on stdin; stops at the first that fails, which the caller
    /// turns into the container's failure.
    pub fn run(&self, status: ContainerState, pid: Option<Pid>) -> Result<(), HookError> {
        let input = self.input(status, pid)?;
        self.hooks.iter().try_for_each(|hook| run_hook(self.stage, hook, &input))
    }

    /// Runs every hook, whatever the others did: a failure is a warning on
    /// stderr (`poststart` and `poststop`, whose container has started or
    /// is gone already: failing the command would undo nothing).
    pub fn run_warning(&self, status: ContainerState) {
        let input = match self.input(status, None) {
            Ok(input) => input,
            Err(err) => return warn(&err),
        };
        for hook in &self.hooks {
            if let Err(err) = run_hook(self.stage, hook, &input) {
                warn(&err);
            }
        }
    }

    /// The state document, as `state` prints it, as JSON.
    fn input(&self, status: ContainerState, pid: Option<Pid>) -> Result<Vec<u8>, HookError> {
        let mut state = self.state.clone();
        state.set_status(status);
        if let Some(pid) = pid {
            state.set_pid(Some(pid.as_raw()));
        }
        serde_json::to_vec(&state).map_err(HookError::Encode)
    }
}

/// Says `err` on stderr, with its causes, as a warning.
fn warn(err: &HookError) {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("greenroom: warning: {text}");
}

/// The host's number of the calling process, read from the host's `/proc`
/// (`/proc/self` names the reader as the `/proc` mount's PID namespace
/// sees it). In the container's process before its own `/proc` is mounted,
/// `getpid()` would say 1 (its new PID namespace's number), and the state
/// a hook reads holds the pid the runtime's side sees.
pub fn host_pid() -> Option<Pid> {
    let link = std::fs::read_link("/proc/self").ok()?;
    link.to_str()?.parse().ok().map(Pid::from_raw)
}

/// How often a running hook is checked for its end and its timeout.
const POLL: Duration = Duration::from_millis(10);

// ANCHOR: run_hook
/// Runs one `hook` of `stage` and waits for it: the state `input` on its
/// stdin, its `args` (the first is its `argv[0]`) and only its `env`, killed
/// past its `timeout`. Fails unless it exits 0 in time.
pub fn run_hook(stage: Stage, hook: &Hook, input: &[u8]) -> Result<(), HookError> {
    let path = hook.path().clone();
    let io = |source| HookError::Io { stage, path: path.clone(), source };
    // STARTER: todo!(
    // STARTER:     "start the hook's path with its args (the first as argv[0]) and only its env, give it \
    // STARTER:      `input` on stdin (then end of file), wait for it; past hook.timeout() seconds kill it \
    // STARTER:      and what it started; fail unless it exits 0 in time (book: chapter 7, \"The bundle and \
    // STARTER:      the lifecycle\", \"Hooks\")"
    // STARTER: )
    // SOLUTION BEGIN
    let mut command = Command::new(&path);
    if let Some((first, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        command.arg0(first).args(rest);
    }
    command.env_clear().envs(hook.env().iter().flatten().filter_map(|pair| pair.split_once('=')));
    // Its own process group: a timeout kills what it started too, or a
    // child it left would hold the runtime's stdout open.
    command.stdin(Stdio::piped()).stdout(stderr()).process_group(0);
    let mut child = command.spawn().map_err(|source| HookError::Spawn { stage, path: path.clone(), source })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ends without reading its stdin is no failure: only
        // its exit code says.
        match stdin.write_all(input) {
            Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
                kill_group(&mut child);
                return Err(io(err));
            }
            _ => {}
        }
        // Dropped here: the hook reads end of file after the state.
    }
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            return match status.success() {
                true => Ok(()),
                false => Err(HookError::Failed { stage, path, status }),
            };
        }
        if let Some(seconds) = hook.timeout().filter(|s| started.elapsed() >= Duration::from_secs(*s as u64)) {
            kill_group(&mut child);
            return Err(HookError::TimedOut { stage, path, seconds });
        }
        std::thread::sleep(POLL);
    }
    // SOLUTION END
}
// ANCHOR_END: run_hook

/// Kills `child` and every process of its group (the hook runs in a
/// group of its own, which its children join), and reaps it.
fn kill_group(child: &mut Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
}

/// The hook's stdout: the runtime's stderr, so that what a hook prints
/// never mixes with the container's output, or `state`'s JSON.
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    match io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

// ANCHOR: hook_layers
/// `prestart` and `createRuntime`, as the last layer of a container: its
/// parent-side step runs once every other layer's has (the namespaces
/// exist, the uid maps and the cgroup are in place) and before the
/// container's process may go on to its mounts and `pivot_root`. The
/// hooks run here, in the runtime, in the runtime's namespaces.
pub struct RuntimeHooks {
    /// `prestart`, then `createRuntime`.
    pub stages: [StageHooks; 2],
}

impl spawn::Layer for RuntimeHooks {
    fn name(&self) -> &'static str {
        "hooks"
    }

    /// A failure here makes the core kill the process and clean up every
    /// layer: `create` fails and leaves nothing.
    fn prepare_parent(&self, child: Pid) -> Result<(), spawn::BoxError> {
        for stage in &self.stages {
            stage.run(ContainerState::Creating, Some(child))?;
        }
        Ok(())
    }
}

/// `createContainer`, as a layer that enters before the mounts: in the
/// container's process, so in its namespaces, while the host's files
/// (the hook's path) are still in view, before `pivot_root`.
pub struct ContainerHooks(pub StageHooks);

impl spawn::Layer for ContainerHooks {
    fn name(&self) -> &'static str {
        "hooks"
    }

    fn enter_child(&self) -> Result<(), spawn::BoxError> {
        self.0.run(ContainerState::Creating, host_pid())?;
        Ok(())
    }
}
// ANCHOR_END: hook_layers

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).expect("a hook")
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("greenroom-hooks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn relative_paths_and_timeouts_of_zero_are_refused() {
        let hooks = |json| serde_json::from_value::<Hooks>(json).expect("hooks");
        let relative = hooks(serde_json::json!({"poststop": [{"path": "bin/true"}]}));
        assert!(matches!(check(Some(&relative)), Err(HookError::RelativePath { stage: Stage::Poststop, .. })));
        let zero = hooks(serde_json::json!({"createRuntime": [{"path": "/bin/true", "timeout": 0}]}));
        assert!(matches!(check(Some(&zero)), Err(HookError::BadTimeout { timeout: 0, .. })));
        let fine = hooks(serde_json::json!({"prestart": [{"path": "/bin/true", "timeout": 5}]}));
        assert!(check(Some(&fine)).is_ok());
        assert!(check(None).is_ok());
    }

    #[test]
    fn a_hook_gets_the_state_its_args_and_only_its_env() {
        let dir = scratch("stdin");
        let out = dir.join("out");
        let script = "cat > \"$1\"; echo \"$0 $GREENROOM_HOOK ${HOME:-no-home}\" >> \"$1\"";
        let hook = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", script, "named", out],
            "env": ["GREENROOM_HOOK=yes"],
        }));
        run_hook(Stage::Prestart, &hook, b"{\"id\":\"c1\"}\n").expect("the hook runs");
        let text = std::fs::read_to_string(&out).expect("the hook wrote");
        assert_eq!(text, "{\"id\":\"c1\"}\nnamed yes no-home\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failing_hook_or_one_past_its_timeout_fails() {
        let failing = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}));
        let failed = run_hook(Stage::CreateRuntime, &failing, b"{}");
        assert!(matches!(failed, Err(HookError::Failed { status, .. }) if status.code() == Some(3)));
        let slow = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 30; true"], "timeout": 1}));
        let late = run_hook(Stage::CreateRuntime, &slow, b"{}");
        assert!(matches!(late, Err(HookError::TimedOut { seconds: 1, .. })), "{late:?}");
        // One that never reads its stdin is no failure.
        let deaf = hook(serde_json::json!({"path": "/bin/true"}));
        run_hook(Stage::Poststop, &deaf, &vec![b' '; 1 << 20]).expect("a hook that ignores stdin");
    }
}

//! `checker dev capstone-guest 'CMD'`: boots chapter 7's guest (podman,
//! conmon, crun and runc on the capstone's disk, see
//! `greenroom_vm::capstone`) and runs a shell command in it as root, to try
//! by hand what chapter 7's tests do, or a page's "Try it by hand" (its
//! busybox, and the user `greenroom`, are a grading guest's). The command's output comes back
//! through the results port; the exit code is the command's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use greenroom_vm::{BootRequest, FileSource, GuestFile, Verdict};

use crate::grade::Mode;

/// Time allowed for the whole boot: podman is slow under emulation.
const DEADLINE: Duration = Duration::from_secs(600);

/// Boots the capstone's guest with `files` in `/greenroom/bin/` and runs
/// `sh -c command` in it, printing what it writes.
pub fn run(command: &str, files: &[PathBuf], mode: &Mode, progress: &mut dyn FnMut(&str)) -> Result<ExitCode> {
    let Mode::Vm { kernel, accel, .. } = mode else { bail!("the capstone's guest is a VM: --host does not apply") };
    let cache = greenroom_vm::default_cache_dir();
    greenroom_vm::find_qemu()?;
    let assets = greenroom_vm::ensure_assets(&cache, kernel.as_deref(), progress)?;
    let accel = greenroom_vm::choose_accel(&cache, &assets, *accel, progress)?;
    let profile = greenroom_vm::capstone::ensure_capstone(&cache, &assets, accel, progress)?;
    let mut guest_files = Vec::new();
    for host in files {
        let Some(name) = host.file_name() else { bail!("{} is not a file", host.display()) };
        let source = FileSource::Path(host.clone());
        guest_files.push(GuestFile {
            guest_path: format!("/greenroom/bin/{}", name.to_string_lossy()),
            source,
            mode: 0o755,
        });
    }
    // The unprivileged user `greenroom` and newuidmap, as in every grading
    // guest (chapter 7's too), so that `su greenroom` works as the book says.
    guest_files.extend(greenroom_vm::rootless::guest_files(&cache, progress)?);
    let log = cache.join("capstone").join("dev-console.log");
    let mut request = BootRequest {
        assets: &assets,
        cache: &cache,
        files: guest_files,
        // Both streams to the results port, which may be opened once; a
        // last newline so that the end marker starts a line of its own.
        command: vec![
            "sh".into(),
            "-c".into(),
            format!("exec >\"$GREENROOM_RESULTS\" 2>&1\n(\n{command}\n)\ncode=$?\necho\nexit $code"),
        ],
        env: vec![("PATH".into(), "/greenroom/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())],
        deadline: DEADLINE,
        log_path: log.clone(),
        accel,
        memory_mib: 512,
        disks: Vec::new(),
    };
    profile.apply(&mut request);
    let mut outcome = greenroom_vm::boot(&request)?;
    // The newline added after the command ends an empty line if its output
    // already ended with one.
    if outcome.lines.last().is_some_and(String::is_empty) {
        outcome.lines.pop();
    }
    for line in &outcome.lines {
        outln!("{line}");
    }
    match outcome.verdict {
        Verdict::Completed { exit_code } => {
            eprintln!("exit code {exit_code} ({:.1} s, console log {})", outcome.total.as_secs_f64(), log.display());
            Ok(ExitCode::from(u8::try_from(exit_code).unwrap_or(1)))
        }
        verdict => bail!("the guest did not finish the command: {verdict:?} (see {})", log.display()),
    }
}

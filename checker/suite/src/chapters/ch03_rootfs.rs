//! Chapter 3 — rootfs: a mount namespace, pivot_root, /proc, /sys, /dev.

use std::path::Path;

use contract::{DevEntry, DevKind, Errno, Escape, Report, Touched};

use crate::ctx::{clip, expect_eq, Ctx, Failure, ProbeCall, ROOTFS_PROBE};
use crate::TestCase;

/// Chapter 3's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(3);
    vec![
        test(
            "mounts-inside",
            2,
            "inside, the mount table holds the new root, /proc, /sys, /dev, /dev/pts, /dev/shm and nothing of the host",
            "the new root needs its own /proc, /sys and /dev, and nothing of the host's left under it",
            "ch03-rootfs.md#inside-the-new-root",
            mounts_inside,
        ),
        test(
            "host-root-unreachable",
            3,
            "the host's files cannot be reached: not through /proc/1/root or /proc/1/cwd, not by the chroot escape",
            "chroot is not enough: the old root must be gone from the container's mount table, so that no \
             path leads back",
            "ch03-rootfs.md#pivot_root-step-by-step",
            host_root_unreachable,
        ),
        test(
            "dev-has-only-safe-devices",
            2,
            "/dev holds null, zero, full, random, urandom, tty (right major:minor), pts, shm and the standard links",
            "the container's /dev must be its own, with only the harmless devices: never the host's",
            "ch03-rootfs.md#a-minimal-dev",
            dev_has_only_safe_devices,
        ),
        test(
            "sys-read-only",
            1,
            "/sys is mounted read-only",
            "the container may read /sys, never write it",
            "ch03-rootfs.md#inside-the-new-root",
            sys_read_only,
        ),
        test(
            "read-only-root",
            2,
            "--read-only makes writes to / fail with EROFS; without it / is writable",
            "with --read-only, the root must refuse writes once everything else is mounted",
            "ch03-rootfs.md#--read-only",
            read_only_root,
        ),
        test(
            "starts-in-the-new-root",
            1,
            "the command starts in / of the new root, with the container's own pids in /proc",
            "after the switch, the process must stand in the new root, with a /proc of its own PID \
             namespace",
            "ch03-rootfs.md#pivot_root-step-by-step",
            starts_in_the_new_root,
        ),
        test(
            "cwd-and-root-inside",
            1,
            "the command's working directory and root are the container's /, not the host directory the runtime ran in",
            "the runtime runs from a directory of the host's: after pivot_root and unmounting the old root, \
             chdir(\"/\") so the working directory is inside the new root",
            "ch03-rootfs.md#pivot_root-step-by-step",
            cwd_and_root_inside,
        ),
        test(
            "mount-flags",
            2,
            "/proc, /sys, /dev, /dev/pts and /dev/shm carry the flags and modes the chapter gives them",
            "pass SAFE (nosuid, nodev, noexec) to every mount but /dev and /dev/pts (no nodev there), MS_RDONLY to \
             /sys, and the mode= options in the data argument",
            "ch03-rootfs.md#a-minimal-dev",
            mount_flags,
        ),
        test(
            "host-mounts-unchanged",
            1,
            "the host's mount table is the same before and after the container ran",
            "the container's mounts must not propagate to the host: make them private before mounting \
             anything",
            "ch03-rootfs.md#why-ms_private",
            host_mounts_unchanged,
        )
        .run_alone(),
        test(
            "bad-rootfs-refused",
            2,
            "a relative, missing or non-directory --rootfs is refused with 125, before anything is mounted",
            "a --rootfs that cannot work must be refused before anything is created",
            "ch03-rootfs.md#the---rootfs-argument",
            bad_rootfs_refused,
        )
        .run_alone(),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "volumes-bound",
            2,
            "--volume DIR:/data and --volume FILE:/etc/greeting:ro: the container reads both, writes to /data (the \
             host sees it), and cannot write to the file",
            "challenge: the goal and its rules are in the book; mount(2) on bind mounts, and on what a remount of \
             one can change",
            "ch03-rootfs.md#challenge-volumes",
            volumes_bound,
        )
        .as_challenge(),
        test(
            "volume-target-stays-inside",
            2,
            "a volume whose target is an absolute symbolic link of the rootfs lands where the link leads inside the \
             container, not where it would lead on the host",
            "challenge: the container's paths mean what they mean inside the container",
            "ch03-rootfs.md#challenge-volumes",
            volume_target_stays_inside,
        )
        .as_challenge(),
        test(
            "bad-volumes-refused",
            1,
            "a --volume that is not HOST:CONTAINER[:ro], has a relative path or \"..\", a missing host path, or / as \
             its target is refused with 125, before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch03-rootfs.md#challenge-volumes",
            bad_volumes_refused,
        )
        .as_challenge(),
    ]
}

/// Writes `text` to `path`, as a test's error if it cannot.
fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::error(format!("write {}: {e}", path.display())))
}

fn volumes_bound(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let dir = ctx.scratch.join("volume-dir");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::error(format!("create {}: {e}", dir.display())))?;
    write_file(&dir.join("in"), "from the host's directory\n")?;
    let file = ctx.scratch.join("volume-file");
    write_file(&file, "from the host's file\n")?;
    let script = "cat /data/in; echo from the container > /data/out; cat /etc/greeting; \
                  if echo overwritten 2>/dev/null > /etc/greeting; then echo written; else echo refused; fi";
    let dir_volume = format!("{}:/data", dir.display());
    let file_volume = format!("{}:/etc/greeting:ro", file.display());
    let flags = ["--rootfs", &rootfs, "--volume", &dir_volume, "--volume", &file_volume];
    let run = ctx.run(&flags, &["/bin/sh", "-c", script])?;
    run.expect_code(0, &format!("the container should run with {}", flags[2..].join(" ")))?;
    let wanted = "from the host's directory\nfrom the host's file\nrefused\n";
    if run.stdout != wanted {
        let why = if run.stdout.ends_with("written\n") && !run.stdout.ends_with("refused\n") {
            "the container could write to a volume asked read-only (:ro): a bind takes MS_RDONLY only from a \
             remount of itself"
        } else {
            "inside, /data and /etc/greeting should show the host's directory and file"
        };
        return Err(Failure::fail(why).compare(wanted, run.stdout.clone()));
    }
    let out = std::fs::read_to_string(dir.join("out")).unwrap_or_default();
    expect_eq("what the container wrote to /data, read on the host", "from the container\n", out.as_str())?;
    let kept = std::fs::read_to_string(&file).unwrap_or_default();
    expect_eq("the read-only volume's file on the host", "from the host's file\n", kept.as_str())
}

fn volume_target_stays_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    // An absolute link of the image: inside, it leads to the container's
    // own /srv/NAME; resolved on the host, to the host's, which is made
    // too, as the decoy a wrong resolution lands on.
    let name = format!("greenroom-volume-{}", std::process::id());
    let inside = Path::new("/srv").join(&name);
    let decoy = inside.clone();
    let in_rootfs = Path::new(&rootfs).join(inside.strip_prefix("/").unwrap_or(&inside));
    let srv_was_there = Path::new("/srv").exists();
    for dir in [&decoy, &in_rootfs] {
        std::fs::create_dir_all(dir).map_err(|e| Failure::error(format!("create {}: {e}", dir.display())))?;
    }
    let link = Path::new(&rootfs).join("link");
    std::os::unix::fs::symlink(&inside, &link).map_err(|e| Failure::error(format!("make the link: {e}")))?;
    let dir = ctx.scratch.join("volume-dir");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::error(format!("create {}: {e}", dir.display())))?;
    write_file(&dir.join("in"), "through the link\n")?;
    let volume = format!("{}:/link", dir.display());
    let script = format!("cat {}/in", inside.display());
    let run = ctx.run(&["--rootfs", &rootfs, "--volume", &volume], &["/bin/sh", "-c", &script]);
    let _ = std::fs::remove_dir_all(&decoy);
    if !srv_was_there {
        let _ = std::fs::remove_dir(Path::new("/srv"));
    }
    let run = run?;
    if run.code == Some(0) && run.stdout == "through the link\n" {
        return Ok(());
    }
    Err(Failure::fail(format!(
        "the volume is not at {}, inside the container, where the rootfs's /link leads: was /link resolved on the \
         host, before pivot_root, where the link leads to the host's {}?",
        inside.display(),
        decoy.display()
    ))
    .compare("through the link", run.describe()))
}

fn bad_volumes_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let dir = ctx.scratch_path("volume-dir");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::error(format!("create {dir}: {e}")))?;
    let missing = ctx.scratch_path("no-such-dir");
    let cases = [
        (dir.clone(), "it has no container path"),
        (format!("{dir}:/data:rx"), "the option is ro or rw"),
        ("relative:/data".to_string(), "the host path is relative"),
        (format!("{dir}:data"), "the container path is relative"),
        (format!("{dir}:/data/../etc"), "a path may not climb with .."),
        (format!("{missing}:/data"), "the host path does not exist"),
        (format!("{dir}:/"), "the container's / is its root file system"),
    ];
    for (volume, why) in &cases {
        ctx.expect_refused_up_front(&["--rootfs", &rootfs, "--volume", volume], why)?;
    }
    Ok(())
}

/// The likely mistake behind a runtime's own EBUSY error in chapter 3's
/// steps (found by the step its error names), which alone says only
/// "Device or resource busy".
pub(crate) fn busy_hint(stderr: &str) -> Option<&'static str> {
    if !(stderr.contains("EBUSY") || stderr.contains("resource busy")) {
        return None;
    }
    let line = stderr.lines().find(|line| line.contains("EBUSY") || line.contains("resource busy"))?.to_lowercase();
    if line.contains("cgroup") {
        // Chapter 6's own EBUSY (a cgroup with processes in it) is no mount's.
        None
    } else if line.contains("pivot_root") {
        Some(
            "pivot_root refused (EBUSY) a new root on the same mount as the current root: bind the rootfs onto \
             itself first (MS_BIND), which makes it a mount point of its own, and chdir into it before \
             pivot_root(\".\", \".\")",
        )
    } else if line.contains("unmount") || line.contains("umount") {
        Some(
            "the old root could not be unmounted (EBUSY): the host's mounts under it are in use — detach it \
             (umount2 with MNT_DETACH), which unmounts it as soon as nothing uses it",
        )
    } else if line.contains("remove") || line.contains("rmdir") {
        Some(
            "a directory could not be removed (EBUSY): it is still a mount point — unmount (MNT_DETACH) what is \
             mounted there before removing it",
        )
    } else {
        None
    }
}

/// `(mount point, file system type)` of each line of a mountinfo.
fn mount_points(mountinfo: &[String]) -> Vec<(String, String)> {
    let parsed = mountinfo.iter().filter_map(|line| crate::mountinfo::parse_line(line));
    parsed.map(|m| (m.point.to_string(), m.fstype.to_string())).collect()
}

/// The report of a container of this test's own in a fresh rootfs, for the
/// tests that compare it with what only their own run shows (the host
/// before and after, the directory the runtime ran from); the others read
/// [`Ctx::shared_report_in_rootfs`].
fn report_in_rootfs(ctx: &mut Ctx, extra: &[&str]) -> Result<Report, Failure> {
    let rootfs = ctx.rootfs()?;
    let mut flags = vec!["--rootfs", rootfs.as_str()];
    flags.extend_from_slice(extra);
    ctx.report(&flags)
}

fn mounts_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report_in_rootfs(&[])?;
    let mounts = mount_points(&report.filesystem.mountinfo.unwrap_or_default());
    let want = [("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")];
    for (point, fstype) in want {
        if !mounts.iter().any(|(p, f)| p == point && f == fstype) {
            return Err(Failure::fail(format!("no {fstype} mounted on {point} inside the container"))
                .compare(format!("{point} ({fstype})"), format!("{mounts:?}")));
        }
    }
    let allowed = |point: &str| {
        point == "/"
            || want.iter().any(|(p, _)| *p == point)
            || point.starts_with("/proc/")
            || point.starts_with("/sys/")
    };
    if let Some((point, fstype)) = mounts.iter().find(|(point, _)| !allowed(point)) {
        return Err(Failure::fail(format!(
            "a mount that does not belong inside: {point} ({fstype}) — is the old root still mounted?"
        ))
        .compare("/, /proc, /sys, /dev, /dev/pts, /dev/shm", format!("{mounts:?}")));
    }
    Ok(())
}

fn host_root_unreachable(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let marker = ctx.scratch_path("host-marker");
    std::fs::write(&marker, "the host's file").map_err(|e| Failure::error(format!("write {marker}: {e}")))?;
    let call = ProbeCall::<Escape>::new(ROOTFS_PROBE, &[&marker])?;
    let escape = ctx.ask(&["--rootfs", &rootfs], &call)?;
    for (reached, what) in [
        (escape.proc1_root, "/proc/1/root"),
        (escape.proc1_cwd, "/proc/1/cwd (PID 1's working directory is outside the container's root)"),
        (escape.chroot_escape, "a chroot escape (chroot into a subdirectory, then cd .. until the top)"),
    ] {
        if reached {
            let found = serde_json::to_string(&escape).unwrap_or_default();
            return Err(Failure::fail(format!("the container reached the host's file {marker} through {what}"))
                .compare("the host's files out of reach", found));
        }
    }
    Ok(())
}

fn dev_has_only_safe_devices(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report_in_rootfs(&[])?;
    let device = |name: &str, major, minor| DevEntry {
        name: name.into(),
        kind: DevKind::Char,
        major: Some(major),
        minor: Some(minor),
        target: None,
    };
    let dir = |name: &str| DevEntry { name: name.into(), kind: DevKind::Dir, major: None, minor: None, target: None };
    let link = |name: &str, target: &str| DevEntry {
        name: name.into(),
        kind: DevKind::Link,
        major: None,
        minor: None,
        target: Some(target.into()),
    };
    let mut want = vec![
        link("fd", "/proc/self/fd"),
        device("full", 1, 7),
        device("null", 1, 3),
        dir("pts"),
        device("random", 1, 8),
        dir("shm"),
        link("stderr", "/proc/self/fd/2"),
        link("stdin", "/proc/self/fd/0"),
        link("stdout", "/proc/self/fd/1"),
        device("tty", 5, 0),
        device("urandom", 1, 9),
        device("zero", 1, 5),
    ];
    let mut have = report.filesystem.dev.unwrap_or_default();
    // /dev/ptmx may be a link to pts/ptmx or the 5:2 device itself.
    have.retain(|e| {
        !(e.name == "ptmx" && (e.target.as_deref() == Some("pts/ptmx") || (e.major, e.minor) == (Some(5), Some(2))))
    });
    want.sort_by(|a, b| a.name.cmp(&b.name));
    let show = |entries: &[DevEntry]| {
        entries
            .iter()
            .map(|e| match (&e.target, e.major) {
                (Some(t), _) => format!("{} -> {t}", e.name),
                (None, Some(major)) => format!("{} {major}:{}", e.name, e.minor.unwrap_or(0)),
                _ => format!("{}/", e.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if have != want {
        return Err(Failure::fail("/dev should hold exactly the safe devices, pts, shm, ptmx and the fd links")
            .compare(show(&want), show(&have)));
    }
    Ok(())
}

fn sys_read_only(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report_in_rootfs(&[])?;
    let mountinfo = report.filesystem.mountinfo.unwrap_or_default();
    let sys = mountinfo.iter().filter_map(|line| crate::mountinfo::parse_line(line)).find(|m| m.point == "/sys");
    let options = sys.map_or("", |m| m.options);
    expect_eq("/sys's mount options start with", "ro", options.split(',').next().unwrap_or(""))
}

fn read_only_root(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let outcome = |errno: Option<Errno>| errno.map_or("created".to_string(), |errno| errno.to_string());
    let call = ProbeCall::<Touched>::new(ROOTFS_PROBE, &["/writable"])?;
    let writable = ctx.ask(&["--rootfs", &rootfs], &call)?;
    if writable.errno.is_some() {
        return Err(Failure::fail("without --read-only, the container's root should be writable")
            .compare("created", outcome(writable.errno)));
    }
    let call = ProbeCall::<Touched>::new(ROOTFS_PROBE, &["/read-only"])?;
    let read_only = ctx.ask(&["--rootfs", &rootfs, "--read-only"], &call)?;
    if read_only.errno != Some(Errno::EROFS) {
        return Err(Failure::fail("with --read-only, creating a file in / should fail with EROFS")
            .compare(outcome(Some(Errno::EROFS)), outcome(read_only.errno)));
    }
    Ok(())
}

fn starts_in_the_new_root(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report_in_rootfs(&[])?;
    expect_eq("the command's working directory", Some("/"), report.process.cwd.as_deref())?;
    expect_eq("the pids listed in the container's /proc", Some(vec![1, 2]), report.process.visible_pids)
}

fn cwd_and_root_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = report_in_rootfs(ctx, &[])?;
    let inherited = report.inherited;
    let host_dir = ctx.scratch.display().to_string();
    if !inherited.cwd_reachable {
        return Err(Failure::fail(
            "the command's working directory is outside its root: it is still the host's directory the runtime \
             ran in",
        )
        .compare("/", inherited.cwd_link.unwrap_or_else(|| host_dir.clone())));
    }
    expect_eq("the command's working directory (readlink /proc/self/cwd)", Some("/"), inherited.cwd_link.as_deref())?;
    expect_eq("the command's root (readlink /proc/self/root)", Some("/"), inherited.root_link.as_deref())
}

/// What a chapter asks of one mount: its type, the per-mount options it
/// must have, the file system options it must show, and its root's mode.
pub(crate) struct WantedMount {
    /// Where it is mounted, inside the container.
    pub point: &'static str,
    /// Its file system type.
    pub fstype: &'static str,
    /// Per-mount options it must have (`ro`, `nosuid`, …).
    pub options: &'static [&'static str],
    /// File system options it must show (`ptmxmode=666`).
    pub super_options: &'static [&'static str],
    /// `mode=` among the file system's options; tmpfs shows none for its
    /// default, 1777.
    pub mode: Option<&'static str>,
}

/// The mounts chapter 3 makes in every container, as it asks for them.
pub(crate) const WANTED_MOUNTS: [WantedMount; 5] = [
    WantedMount {
        point: "/proc",
        fstype: "proc",
        options: &["nosuid", "nodev", "noexec"],
        super_options: &[],
        mode: None,
    },
    WantedMount {
        point: "/sys",
        fstype: "sysfs",
        options: &["ro", "nosuid", "nodev", "noexec"],
        super_options: &[],
        mode: None,
    },
    WantedMount {
        point: "/dev",
        fstype: "tmpfs",
        options: &["nosuid", "noexec"],
        super_options: &[],
        mode: Some("755"),
    },
    WantedMount {
        point: "/dev/pts",
        fstype: "devpts",
        options: &["nosuid", "noexec"],
        super_options: &["ptmxmode=666"],
        mode: Some("620"),
    },
    WantedMount {
        point: "/dev/shm",
        fstype: "tmpfs",
        options: &["nosuid", "nodev", "noexec"],
        super_options: &[],
        mode: Some("1777"),
    },
];

/// Fails unless each of `wanted` is mounted in `mountinfo` (a container's,
/// as the probe read it) with all its options and its mode; `fix` ends the
/// message, saying what gives a mount its flags.
pub(crate) fn expect_mounts(mountinfo: &[String], wanted: &[WantedMount], fix: &str) -> Result<(), Failure> {
    let mounts: Vec<_> = mountinfo.iter().filter_map(|line| crate::mountinfo::parse_line(line)).collect();
    for want in wanted {
        // The last mount on a point is the one in use.
        let Some(mount) = mounts.iter().rev().find(|m| m.point == want.point && m.fstype == want.fstype) else {
            return Err(Failure::fail(format!("no {} mounted on {}", want.fstype, want.point)));
        };
        let options: Vec<&str> = mount.options.split(',').collect();
        let super_options: Vec<&str> = mount.super_options.split(',').collect();
        let mut missing: Vec<String> = (want.options.iter().filter(|o| !options.contains(o)))
            .chain(want.super_options.iter().filter(|o| !super_options.contains(o)))
            .map(|o| o.to_string())
            .collect();
        if let Some(mode) = want.mode {
            let default = (want.fstype == "tmpfs").then_some("1777");
            let shown = super_options.iter().find_map(|o| o.strip_prefix("mode=")).or(default);
            if shown != Some(mode) {
                missing.push(format!("mode={mode}"));
            }
        }
        if !missing.is_empty() {
            let mut wanted: Vec<String> =
                want.options.iter().chain(want.super_options).map(|o| o.to_string()).collect();
            wanted.extend(want.mode.map(|mode| format!("mode={mode}")));
            return Err(Failure::fail(format!("{} ({}) lacks {}: {fix}", want.point, want.fstype, missing.join(", ")))
                .compare(wanted.join(","), format!("{} - {}", mount.options, mount.super_options)));
        }
    }
    Ok(())
}

fn mount_flags(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report_in_rootfs(&[])?;
    let mountinfo = report.filesystem.mountinfo.unwrap_or_default();
    expect_mounts(&mountinfo, &WANTED_MOUNTS, "each mount gets exactly the flags and mode the chapter gives it")
}

fn host_mounts_unchanged(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = crate::ctx::host_mountinfo()?;
    let report = report_in_rootfs(ctx, &["--read-only"])?;
    let after = crate::ctx::host_mountinfo()?;
    if report.filesystem.mountinfo.is_none() {
        return Err(Failure::fail("the probe could not read its mount table"));
    }
    if before != after {
        return Err(Failure::fail("the host's mount table changed: mounts leaked out of the container")
            .compare(clip(&before, 600), clip(&after, 600)));
    }
    Ok(())
}

fn bad_rootfs_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("command-ran");
    let a_file = ctx.scratch_path("a-file");
    std::fs::write(&a_file, "").map_err(|e| Failure::error(format!("write {a_file}: {e}")))?;
    let missing = ctx.scratch_path("no-such-rootfs");
    // A relative path that happens to name a real rootfs from the
    // runtime's working directory (the scratch directory) is refused all the
    // same: the chapter promises absolute paths only.
    ctx.rootfs()?;
    let before = crate::ctx::host_mountinfo()?;
    for rootfs in ["relative/rootfs", "rootfs", missing.as_str(), a_file.as_str()] {
        let touch = ctx.call::<Touched>(&[&marker])?;
        let run = ctx.run(&["--rootfs", rootfs], &touch.command())?;
        let why = if rootfs == "rootfs" {
            format!(
                "--rootfs rootfs is relative, though it names a real rootfs from the runtime's working directory \
                 ({}): it should be refused with exit code 125, not resolved",
                ctx.scratch.display()
            )
        } else {
            format!("--rootfs {rootfs} should be refused with exit code 125")
        };
        run.expect_code(125, &why)?;
        if Path::new(&marker).exists() {
            return Err(Failure::fail(format!("the command ran although --rootfs {rootfs} is unusable")));
        }
        if !run.stderr.contains("rootfs") {
            return Err(
                Failure::fail("the error message should name --rootfs").compare("a message about --rootfs", run.stderr)
            );
        }
    }
    let after = crate::ctx::host_mountinfo()?;
    expect_eq("the host's mount table after the refusals", before, after)
}

#[cfg(test)]
mod tests {
    use super::busy_hint;

    #[test]
    fn an_ebusy_is_named_by_the_step_that_met_it() {
        let pivot = busy_hint("greenroom: rootfs layer: pivot_root into /tmp/room: EBUSY: Device or resource busy");
        assert!(pivot.is_some_and(|hint| hint.contains("bind the rootfs onto itself")), "{pivot:?}");
        let unmount = busy_hint("greenroom: rootfs layer: unmount the old root: EBUSY: Device or resource busy");
        assert!(unmount.is_some_and(|hint| hint.contains("MNT_DETACH")), "{unmount:?}");
        // Other errors, and a cgroup's EBUSY, are left as they are.
        assert_eq!(busy_hint("greenroom: pivot_root into /tmp/room: EINVAL: Invalid argument"), None);
        assert_eq!(
            busy_hint("greenroom: remove the cgroup /sys/fs/cgroup/x: Device or resource busy (os error 16)"),
            None
        );
    }
}

//! `checker doctor`: can this machine grade? One line per thing grading
//! needs, with what was found and, when something is wrong, the one step
//! that fixes it.
//!
//! Doctor only looks. It downloads nothing, boots nothing and writes
//! nothing, so it is safe to run first, on any machine. Every check reads
//! the machine through [`Machine`], whose paths (`/proc`, `/sys`,
//! `/dev/kvm`, the cache, `PATH`, …) are parameters: the tests at the end of
//! this file build whole fake machines in a temporary folder and break them
//! one piece at a time.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use greenroom_vm::Accel;

use crate::compile::TARGET;

/// How a finding affects grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Worth knowing; grading still works.
    Warn,
    /// Grading cannot work until it is fixed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, in a word or two.
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found, in one line.
    pub found: String,
    /// The one step that fixes it, for a warning or a failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, found: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, found: found.into(), fix: None }
    }

    fn warn(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, found: found.into(), fix: Some(fix.into()) }
    }

    fn fail(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, found: found.into(), fix: Some(fix.into()) }
    }

    /// The same finding, which can make doctor fail only if it `counts`:
    /// a check for a way of grading that is not the one asked about is
    /// shown, but as a warning at worst.
    fn counts_if(mut self, counts: bool) -> Check {
        if !counts && self.status == Status::Fail {
            self.status = Status::Warn;
        }
        self
    }
}

/// A group of checks under a heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading.
    pub title: &'static str,
    /// Its checks, in order.
    pub checks: Vec<Check>,
}

/// Free space on one file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged user may still write.
    pub free: u64,
    /// Identifies the file system, to report a shared one once.
    pub filesystem: u64,
}

/// Everything the checks look at. [`Machine::this`] describes the machine
/// doctor runs on; tests describe fake ones.
pub struct Machine {
    /// Where procfs is mounted (`/proc`).
    pub proc: PathBuf,
    /// Where sysfs is mounted (`/sys`).
    pub sys: PathBuf,
    /// The KVM device (`/dev/kvm`).
    pub dev_kvm: PathBuf,
    /// The guest's cache (`greenroom_vm::default_cache_dir()`).
    pub cache: PathBuf,
    /// The repository's `target/`, where the checker builds.
    pub target: PathBuf,
    /// The `PATH` programs are looked up in.
    pub path: OsString,
    /// The cargo that runs us (`$CARGO`), if any.
    pub cargo: Option<PathBuf>,
    /// Where `--host` looks for busybox, in order (as `suite::rootfs::find_busybox`).
    pub busybox: Vec<PathBuf>,
    /// Our effective user id.
    pub euid: u32,
    /// `GREENROOM_ACCEL`, if set.
    pub accel_override: Option<String>,
    /// Measures free space on the file system holding a path.
    pub space: fn(&Path) -> std::io::Result<Space>,
    /// Asks an open `/dev/kvm` for its API version.
    pub kvm_api: fn(&File) -> nix::Result<i32>,
}

impl Machine {
    /// The machine doctor runs on.
    pub fn this() -> Machine {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut busybox = vec![PathBuf::from("/bin/busybox"), PathBuf::from("/usr/bin/busybox")];
        busybox.extend(std::env::split_paths(&path).map(|dir| dir.join("busybox")));
        Machine {
            proc: "/proc".into(),
            sys: "/sys".into(),
            dev_kvm: "/dev/kvm".into(),
            cache: greenroom_vm::default_cache_dir(),
            target: crate::compile::repo_root().join("target"),
            path,
            cargo: std::env::var_os("CARGO").map(PathBuf::from),
            busybox,
            euid: nix::unistd::geteuid().as_raw(),
            accel_override: std::env::var("GREENROOM_ACCEL").ok().filter(|v| !v.is_empty()),
            space: statvfs_space,
            kvm_api: kvm_api_version,
        }
    }

    /// Finds a program on `PATH` the way `greenroom_vm::find_qemu` does.
    fn which(&self, program: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    }
}

/// Prints the report for this machine; exits 0 unless something fails.
/// With `host`, the checks for `--host` count and those for the VM are
/// advisory; without it, the other way round.
pub fn run(host: bool) -> anyhow::Result<ExitCode> {
    let sections = examine(&Machine::this(), host);
    let colour = crate::report::Style::for_stdout().is_on();
    print!("{}", render(&sections, host, colour));
    Ok(if failures(&sections) == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs every check.
pub fn examine(machine: &Machine, host: bool) -> Vec<Section> {
    let mounts = fs::read_to_string(machine.proc.join("self/mountinfo")).unwrap_or_default();
    vec![
        Section {
            title: if host { "the VM (not used with --host)" } else { "the VM (where grading runs)" },
            checks: [qemu(machine), guest_files(machine), kvm(machine)]
                .into_iter()
                .map(|c| c.counts_if(!host))
                .collect(),
        },
        Section {
            title: "building your runtime",
            checks: [vec![rust(machine), static_libc(machine)], free_space(machine)].concat(),
        },
        Section {
            title: if host {
                "--host (this machine, as root)"
            } else {
                "--host (optional: only if you grade with --host)"
            },
            checks: [
                root(machine, host),
                user_namespaces(machine),
                cgroups(machine, &mounts),
                propagation(&mounts),
                host_busybox(machine),
            ]
            .into_iter()
            .map(|c| c.counts_if(host))
            .collect(),
        },
    ]
}

/// How many checks fail.
pub fn failures(sections: &[Section]) -> usize {
    sections.iter().flat_map(|s| &s.checks).filter(|c| c.status == Status::Fail).count()
}

/// The report, in colour only when `colour`.
pub fn render(sections: &[Section], host: bool, colour: bool) -> String {
    let paint = |code: &str, text: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    let mut out = String::from("greenroom doctor: what grading needs on this machine\n");
    for section in sections {
        let _ = writeln!(out, "\n{}", section.title);
        for check in &section.checks {
            let mark = match check.status {
                Status::Ok => paint("32", "✓"),
                Status::Warn => paint("33", "!"),
                Status::Fail => paint("31", "✗"),
            };
            let _ = writeln!(out, "  {mark} {:<15} {}", check.name, check.found);
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "    {:<15} {} {fix}", "", paint("2", "fix:"));
            }
        }
    }
    let warnings = sections.iter().flat_map(|s| &s.checks).filter(|c| c.status == Status::Warn).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (flag, grade) = if host {
        (" --host", "sudo -E env PATH=$PATH cargo run -p checker -- chapter0 --host")
    } else {
        ("", "cargo run -p checker -- chapter0")
    };
    let _ = match (failures(sections), warnings) {
        (0, 0) => writeln!(out, "\nall good: grade with `{grade}`"),
        (0, w) => writeln!(out, "\nnothing blocks grading ({} above): grade with `{grade}`", plural(w, "warning")),
        (f, _) => writeln!(
            out,
            "\n{} to fix (✗ above), then run `cargo run -p checker -- doctor{flag}` again",
            plural(f, "problem")
        ),
    };
    out
}

// ---------------------------------------------------------------- the VM

/// The QEMU binary the checker runs.
const QEMU: &str = "qemu-system-x86_64";

fn qemu(m: &Machine) -> Check {
    const NAME: &str = "QEMU";
    let Some(qemu) = m.which(QEMU) else {
        return Check::fail(NAME, format!("{QEMU} is not on PATH"), "sudo apt-get install qemu-system-x86");
    };
    let text = match output(&qemu, &["--version"]) {
        Ok(text) => text,
        Err(why) => {
            let found = format!("{} does not run: {why}", qemu.display());
            return Check::fail(NAME, found, "sudo apt-get install --reinstall qemu-system-x86");
        }
    };
    let version = text.lines().next().unwrap_or("").trim_start_matches("QEMU emulator version ").to_owned();
    let found = format!("{version} at {}", qemu.display());
    match version.split('.').next().and_then(|major| major.parse::<u32>().ok()) {
        Some(major) if major < 6 => Check::warn(
            NAME,
            format!("{found}: older than QEMU 6, which may refuse the microvm options greenroom uses"),
            "upgrade QEMU (greenroom is tested with 7.2, Debian 12's)",
        ),
        _ => Check::ok(NAME, found),
    }
}

/// The kernel metapackage the checker fetches (see `vm/src/assets.rs`).
const KERNEL_META: &str = "linux-image-cloud-amd64";

fn guest_files(m: &Machine) -> Check {
    const NAME: &str = "guest kernel";
    let kernel = cached_kernel(&m.cache);
    let busybox = m.cache.join("busybox").is_file();
    if let (Some((kernel, modules)), true) = (&kernel, busybox) {
        let plural = if *modules == 1 { "" } else { "s" };
        let found = format!("{} with {modules} module{plural}, and busybox, cached", kernel.display());
        return Check::ok(NAME, found);
    }
    let fallback = format!(
        "grade in the Vagrant box (vm/Vagrantfile), or pass --kernel PATH and copy a static busybox to {}",
        m.cache.join("busybox").display()
    );
    for tool in ["apt-get", "apt-cache", "dpkg-deb"] {
        if m.which(tool).is_none() {
            return Check::fail(NAME, format!("not cached yet, and there is no {tool} to fetch it with"), fallback);
        }
    }
    let mut packages = Vec::new();
    if kernel.is_none() {
        match kernel_package(m) {
            Ok(package) => packages.push(package),
            Err(why) => {
                let found = format!("not cached yet, and apt cannot name the {KERNEL_META} package: {why}");
                return Check::fail(NAME, found, format!("on Debian: sudo apt-get update; elsewhere: {fallback}"));
            }
        }
    }
    if !busybox {
        packages.push("busybox-static".to_owned());
    }
    let found = format!(
        "not cached yet: will be fetched on first run (needs apt-get download {} into {}, network, no root)",
        packages.join(" "),
        m.cache.display()
    );
    Check::ok(NAME, found)
}

/// The cached kernel and its number of modules, if the cache is complete
/// (the same test as `read_manifest` in `vm/src/assets.rs`).
fn cached_kernel(cache: &Path) -> Option<(PathBuf, usize)> {
    let text = fs::read_to_string(cache.join("kernel.txt")).ok()?;
    let mut paths = text.lines().map(PathBuf::from);
    let kernel = paths.next()?;
    let modules: Vec<PathBuf> = paths.collect();
    (kernel.is_file() && modules.iter().all(|m| m.is_file())).then_some((kernel, modules.len()))
}

/// Asks apt (locally, from its package lists) which kernel package the
/// first run would download, as `vm/src/assets.rs` does.
fn kernel_package(m: &Machine) -> Result<String, String> {
    let apt_cache = m.which("apt-cache").ok_or("no apt-cache")?;
    let text = output(&apt_cache, &["depends", KERNEL_META])?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|dep| dep.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{KERNEL_META} depends on no linux-image package"))
}

fn kvm(m: &Machine) -> Check {
    const NAME: &str = "KVM";
    let usable = kvm_usable(m);
    if let Some(forced) = &m.accel_override {
        return match (forced.parse::<Accel>(), usable) {
            (Ok(Accel::Kvm), Err((why, _))) => Check::fail(
                NAME,
                format!("GREENROOM_ACCEL={forced} forces KVM, but {why}"),
                "unset GREENROOM_ACCEL: the checker then falls back to TCG by itself",
            ),
            (Ok(accel), _) => Check::ok(NAME, format!("GREENROOM_ACCEL={forced} forces {accel}, without a test boot")),
            (Err(_), _) => Check::fail(
                NAME,
                format!("GREENROOM_ACCEL={forced:?} is neither kvm nor tcg"),
                "unset GREENROOM_ACCEL, or set it to kvm or tcg",
            ),
        };
    }
    if let Err((why, fix)) = usable {
        return Check::warn(NAME, format!("{why}: the VM runs under TCG emulation instead (slower, works)"), fix);
    }
    let dev = m.dev_kvm.display();
    match last_verdict(&m.cache) {
        Some(Accel::Kvm) => Check::ok(NAME, format!("{dev} works: the last test boot under KVM completed")),
        Some(Accel::Tcg) => Check::warn(
            NAME,
            format!("{dev} answers, but the test boot under it did not finish in 8 s: the checker uses TCG"),
            format!(
                "nothing needed; to test KVM again delete {}/accel-*.txt, or force it with GREENROOM_ACCEL=kvm",
                m.cache.display()
            ),
        ),
        None => Check::ok(
            NAME,
            format!("{dev} answers; the first run test-boots under it once and falls back to TCG if that hangs"),
        ),
    }
}

/// Opens `/dev/kvm` and asks its API version: `Err((why not, fix))`.
fn kvm_usable(m: &Machine) -> Result<(), (String, String)> {
    let dev = m.dev_kvm.display();
    let kvm = File::options().read(true).write(true).open(&m.dev_kvm).map_err(|e| kvm_open_problem(&m.dev_kvm, &e))?;
    match (m.kvm_api)(&kvm) {
        Ok(KVM_API_VERSION) => Ok(()),
        Ok(other) => Err((format!("{dev} reports KVM API {other}, not {KVM_API_VERSION}"), KVM_HARDWARE_FIX.into())),
        Err(errno) => Err((format!("{dev} does not answer like KVM ({errno})"), KVM_HARDWARE_FIX.into())),
    }
}

/// The API version every KVM since Linux 2.6.22 reports.
const KVM_API_VERSION: i32 = 12;
/// What to do about a machine without a working KVM.
const KVM_HARDWARE_FIX: &str =
    "optional, for speed: enable VT-x/AMD-V in the firmware, or nested virtualisation in your hypervisor";

fn kvm_open_problem(dev: &Path, error: &std::io::Error) -> (String, String) {
    let dev = dev.display();
    match error.kind() {
        std::io::ErrorKind::NotFound => (format!("no {dev}"), KVM_HARDWARE_FIX.into()),
        std::io::ErrorKind::PermissionDenied => (
            format!("{dev} is not readable and writable by you"),
            "sudo usermod -aG kvm \"$USER\", then log out and in again".into(),
        ),
        _ => (format!("cannot open {dev}: {error}"), KVM_HARDWARE_FIX.into()),
    }
}

/// The newest cached KVM verdict (`accel-<key>.txt`, written by
/// `greenroom_vm::choose_accel`). The key hashes the host kernel, QEMU and
/// the guest kernel; the newest file is the one the current set wrote.
fn last_verdict(cache: &Path) -> Option<Accel> {
    fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("accel-") && n.ends_with(".txt")))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .and_then(|(_, path)| fs::read_to_string(path).ok()?.parse().ok())
}

fn kvm_api_version(kvm: &File) -> nix::Result<i32> {
    greenroom_vm::accel::kvm_api_version(kvm)
}

// ------------------------------------------------------------- building

/// The oldest Rust the workspace builds with (its `rust-version`).
const MIN_RUST: (u32, u32) = (1, 85);

fn rust(m: &Machine) -> Check {
    const NAME: &str = "Rust";
    let rustup = "install Rust with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh";
    let Some(cargo) = m.cargo.clone().filter(|p| p.is_file()).or_else(|| m.which("cargo")) else {
        return Check::fail(NAME, "cargo is not installed", rustup);
    };
    // The rustc of the same toolchain as cargo, as cargo itself would pick.
    let rustc = cargo.parent().map(|dir| dir.join("rustc")).filter(|p| p.is_file()).or_else(|| m.which("rustc"));
    let Some(rustc) = rustc else {
        return Check::fail(NAME, format!("cargo at {}, but no rustc", cargo.display()), rustup);
    };
    let info = match output(&rustc, &["-vV"]) {
        Ok(info) => info,
        Err(why) => return Check::fail(NAME, format!("{} -vV failed: {why}", rustc.display()), rustup),
    };
    let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).unwrap_or("?").trim().to_owned();
    let (release, host) = (field("release:"), field("host:"));
    let mut numbers = release.split(['.', '-']).map(|n| n.parse::<u32>().unwrap_or(0));
    if (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) < MIN_RUST {
        let found = format!("rustc {release} is older than {}.{}, which greenroom needs", MIN_RUST.0, MIN_RUST.1);
        return Check::fail(NAME, found, "rustup update stable");
    }
    if host == TARGET {
        return Check::ok(NAME, format!("rustc {release} for {TARGET}, cargo at {}", cargo.display()));
    }
    let sysroot = output(&rustc, &["--print", "sysroot"]).unwrap_or_default();
    if Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET).is_dir() {
        Check::ok(NAME, format!("rustc {release} on {host}, with the {TARGET} target installed"))
    } else {
        let found = format!("rustc {release} on {host} cannot build for {TARGET}, the guest's target");
        Check::fail(NAME, found, format!("rustup target add {TARGET} (and a linker for it)"))
    }
}

fn static_libc(m: &Machine) -> Check {
    const NAME: &str = "static libc";
    let fix = "sudo apt-get install build-essential";
    let Some(cc) = m.which("cc") else {
        return Check::fail(NAME, "no C compiler (cc) on PATH: Rust links with it", fix);
    };
    // The checker links statically (the guest has no C library), which
    // needs libc.a; cc prints the bare name back when it has none.
    let found = output(&cc, &["-print-file-name=libc.a"]).unwrap_or_default();
    let libc = Path::new(found.trim());
    if libc.is_absolute() && libc.is_file() {
        let libc = fs::canonicalize(libc).unwrap_or_else(|_| libc.to_path_buf());
        Check::ok(NAME, format!("{}: static linking works", libc.display()))
    } else {
        Check::fail(NAME, "cc finds no libc.a, so the static build of your runtime cannot link", fix)
    }
}

/// Below this, warn: a cold build of the workspaces and the guest image take about this much.
const RECOMMENDED_FREE: u64 = 2 << 30;
/// Below this, a build is likely to fail.
const MINIMUM_FREE: u64 = 512 << 20;

fn free_space(m: &Machine) -> Vec<Check> {
    let target = (m.space)(&existing_ancestor(&m.target));
    let cache = (m.space)(&existing_ancestor(&m.cache));
    if let (Ok(t), Ok(c)) = (&target, &cache) {
        if t.filesystem == c.filesystem {
            let place = format!("{} and the cache {}", m.target.display(), m.cache.display());
            return vec![space_check(place, target, "free some space on that disk")];
        }
    }
    vec![
        space_check(m.target.display().to_string(), target, "free some space on that disk"),
        space_check(
            format!("the cache {}", m.cache.display()),
            cache,
            "free some space, or set GREENROOM_CACHE to a folder on a larger disk",
        ),
    ]
}

fn space_check(place: String, space: std::io::Result<Space>, fix: &str) -> Check {
    const NAME: &str = "free space";
    let gib = |bytes: u64| format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64);
    match space {
        Err(e) => Check::warn(NAME, format!("cannot measure the free space for {place}: {e}"), fix),
        Ok(s) if s.free < MINIMUM_FREE => {
            Check::fail(NAME, format!("only {} free for {place}; grading needs about 2 GiB", gib(s.free)), fix)
        }
        Ok(s) if s.free < RECOMMENDED_FREE => {
            Check::warn(NAME, format!("{} free for {place}; 2 GiB is recommended", gib(s.free)), fix)
        }
        Ok(s) => Check::ok(NAME, format!("{} free for {place}", gib(s.free))),
    }
}

/// `path`, or its closest ancestor that exists (the cache may not, yet).
fn existing_ancestor(path: &Path) -> PathBuf {
    path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/")).to_path_buf()
}

fn statvfs_space(path: &Path) -> std::io::Result<Space> {
    let stat = nix::sys::statvfs::statvfs(path)?;
    Ok(Space { free: stat.blocks_available() * stat.fragment_size(), filesystem: stat.filesystem_id() })
}

// ---------------------------------------------------------------- --host

fn root(m: &Machine, host: bool) -> Check {
    const NAME: &str = "root";
    match (m.euid, host) {
        (0, _) => Check::ok(NAME, "running as root"),
        (uid, false) => Check::ok(NAME, format!("running as uid {uid}: the VM needs no root, only --host does")),
        (uid, true) => Check::fail(
            NAME,
            format!("running as uid {uid}: --host runs the tests as root"),
            "sudo -E env PATH=$PATH cargo run -p checker -- doctor --host",
        ),
    }
}

fn user_namespaces(m: &Machine) -> Check {
    const NAME: &str = "user namespaces";
    let read = |name: &str| fs::read_to_string(m.proc.join("sys").join(name)).ok().map(|t| t.trim().to_owned());
    let Some(max) = read("user/max_user_namespaces") else {
        return Check::fail(
            NAME,
            "this kernel has no user namespaces (CONFIG_USER_NS)",
            "grade in the VM (drop --host)",
        );
    };
    if max == "0" {
        return Check::fail(
            NAME,
            "disabled: user.max_user_namespaces = 0 (chapter 5 needs them)",
            "sudo sysctl -w user.max_user_namespaces=15000",
        );
    }
    if read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Check::warn(
            NAME,
            "only root may create them (kernel.unprivileged_userns_clone = 0): chapter 5's rootless test fails",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        );
    }
    if read("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Check::warn(
            NAME,
            "AppArmor restricts unprivileged ones (kernel.apparmor_restrict_unprivileged_userns = 1)",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        );
    }
    Check::ok(NAME, format!("allowed (user.max_user_namespaces = {max})"))
}

/// The controllers a cgroup v1 mount can hold (its other options are flags).
const V1_CONTROLLERS: &str =
    "cpu cpuacct cpuset memory devices freezer net_cls net_prio blkio perf_event hugetlb pids rdma misc";

fn cgroups(m: &Machine, mountinfo: &str) -> Check {
    const NAME: &str = "cgroup v2";
    let fix = "grade chapter 6 in the VM (drop --host), or boot this machine with systemd.unified_cgroup_hierarchy=1";
    let mounts = suite::mountinfo::parse(mountinfo);
    let v2: Vec<&str> = mounts.iter().filter(|mt| mt.fstype == "cgroup2").map(|mt| mt.point).collect();
    let v1: Vec<&str> = mounts
        .iter()
        .filter(|mt| mt.fstype == "cgroup")
        .flat_map(|mt| mt.super_options.split(',').filter(|o| V1_CONTROLLERS.split(' ').any(|c| c == *o)))
        .collect();
    match (v2.contains(&"/sys/fs/cgroup"), v2.first(), v1.is_empty()) {
        (true, _, true) => {
            let controllers = fs::read_to_string(m.sys.join("fs/cgroup/cgroup.controllers")).unwrap_or_default();
            let controllers = controllers.trim();
            let missing: Vec<&str> =
                ["cpu", "memory", "pids"].into_iter().filter(|c| !controllers.split(' ').any(|x| x == *c)).collect();
            if missing.is_empty() {
                Check::ok(NAME, format!("unified at /sys/fs/cgroup, controllers: {controllers}"))
            } else {
                let found =
                    format!("unified at /sys/fs/cgroup, but without {}: chapter 6 needs them", missing.join(", "));
                Check::warn(NAME, found, "grade chapter 6 in the VM (drop --host)")
            }
        }
        (_, Some(point), false) => Check::warn(
            NAME,
            format!(
                "hybrid layout: v1 holds the controllers ({}), v2 at {point} has none: chapter 6 cannot pass here",
                v1.join(" ")
            ),
            fix,
        ),
        (_, None, false) => {
            Check::fail(NAME, format!("cgroup v1 only ({}): chapter 6's limits need v2", v1.join(" ")), fix)
        }
        (_, _, true) => Check::fail(NAME, "no cgroup file system is mounted", fix),
    }
}

fn propagation(mountinfo: &str) -> Check {
    const NAME: &str = "/ propagation";
    let mounts = suite::mountinfo::parse(mountinfo);
    // The last mount on `/` is the one this process sees.
    let Some(root) = mounts.iter().rev().find(|mt| mt.point == "/") else {
        return Check::warn(NAME, "cannot find / in /proc/self/mountinfo", "make sure /proc is mounted");
    };
    let found = match root.optional.iter().find(|o| o.starts_with("shared:") || o.starts_with("master:")) {
        Some(o) if o.starts_with("shared:") => {
            "shared (systemd's default): your runtime makes its mounts private first, as chapter 3 teaches"
        }
        Some(_) => "a slave mount: your runtime makes its mounts private first, as chapter 3 teaches",
        None => "private",
    };
    Check::ok(NAME, found)
}

fn host_busybox(m: &Machine) -> Check {
    const NAME: &str = "busybox";
    let fix = "sudo apt-get install busybox-static";
    let Some(busybox) = m.busybox.iter().find(|p| p.is_file()) else {
        return Check::fail(NAME, "none found: --host builds the containers' root file systems from it", fix);
    };
    match is_dynamic_elf(busybox) {
        Ok(false) => Check::ok(NAME, format!("{}, statically linked", busybox.display())),
        Ok(true) => Check::fail(
            NAME,
            format!("{} is dynamically linked: it cannot run in a bare root file system", busybox.display()),
            format!("{fix} (it replaces the dynamic busybox package)"),
        ),
        Err(why) => Check::fail(NAME, format!("{}: {why}", busybox.display()), fix),
    }
}

/// Does this 64-bit little-endian ELF executable ask for a dynamic loader
/// (has a `PT_INTERP` program header)?
fn is_dynamic_elf(path: &Path) -> Result<bool, String> {
    const PT_INTERP: u32 = 3;
    let bytes = fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let read = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at + len)?;
        Some(field.iter().rev().fold(0, |n, b| (n << 8) | u64::from(*b)))
    };
    let header = || -> Option<(usize, usize, usize)> {
        Some((read(0x20, 8)? as usize, read(0x36, 2)? as usize, read(0x38, 2)? as usize))
    };
    let (phoff, phentsize, phnum) = header().ok_or("truncated ELF header")?;
    (0..phnum)
        .map(|i| read(phoff + i * phentsize, 4).ok_or("truncated program headers"))
        .try_fold(false, |dynamic, p_type| Ok(dynamic || p_type? == u64::from(PT_INTERP)))
}

/// Runs a program and returns its stdout, or a one-line reason it failed.
fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut busy_retries = 50;
    loop {
        match Command::new(program).args(args).stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
                return Err(last.map_or_else(|| format!("it failed ({})", out.status), str::to_owned));
            }
            // A program written a moment ago can be "busy" while another
            // thread forks; it clears at once.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) && busy_retries > 0 => {
                busy_retries -= 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;

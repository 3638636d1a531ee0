//! The checks for building the learner's runtime: a recent Rust that can
//! build for the guest, a C library to link statically, and disk space.

use std::fs;
use std::path::{Path, PathBuf};

use crate::compile::target;

use super::machine::{output, Machine, Space};
use super::report::Check;

/// The oldest Rust the workspace builds with (its `rust-version`).
const MIN_RUST: (u32, u32) = (1, 85);

/// Is there a cargo and its rustc, recent enough, able to build for the guest?
pub(super) fn rust(m: &Machine) -> Check {
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
    let target = target();
    if host == target {
        return Check::ok(NAME, format!("rustc {release} for {target}, cargo at {}", cargo.display()));
    }
    let sysroot = output(&rustc, &["--print", "sysroot"]).unwrap_or_default();
    if Path::new(sysroot.trim()).join("lib/rustlib").join(target).is_dir() {
        Check::ok(NAME, format!("rustc {release} on {host}, with the {target} target installed"))
    } else {
        let found = format!("rustc {release} on {host} cannot build for {target}, the guest's target");
        Check::fail(NAME, found, format!("rustup target add {target} (and a linker for it)"))
    }
}

/// Can `cc` link a static executable, that is, is there a `libc.a`?
pub(super) fn static_libc(m: &Machine) -> Check {
    const NAME: &str = "static libc";
    // A guest of another architecture links with that architecture's cross
    // compiler (see `compile::cargo_build`).
    let arch = greenroom_vm::Arch::guest();
    let (cc_name, fix) = if arch.is_host() {
        ("cc", "sudo apt-get install build-essential".to_string())
    } else {
        let (linker, packages) = arch.cross_linker();
        (linker, format!("sudo apt-get install {packages}"))
    };
    let Some(cc) = m.which(cc_name) else {
        return Check::fail(NAME, format!("no C compiler ({cc_name}) on PATH: Rust links with it"), fix);
    };
    // The checker links statically (the guest has no C library), which
    // needs libc.a; cc prints the bare name back when it has none.
    let found = output(&cc, &["-print-file-name=libc.a"]).unwrap_or_default();
    let libc = Path::new(found.trim());
    if libc.is_absolute() && libc.is_file() {
        let libc = fs::canonicalize(libc).unwrap_or_else(|_| libc.to_path_buf());
        Check::ok(NAME, format!("{}: static linking works", libc.display()))
    } else {
        Check::fail(NAME, format!("{cc_name} finds no libc.a, so the static build of your runtime cannot link"), fix)
    }
}

/// Below this, warn: a cold build of the workspaces and the guest image take about this much.
const RECOMMENDED_FREE: u64 = 2 << 30;
/// Below this, a build is likely to fail.
const MINIMUM_FREE: u64 = 512 << 20;

/// Free space for `target/` and the cache: one line if they share a file
/// system, else one each.
pub(super) fn free_space(m: &Machine) -> Vec<Check> {
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
pub(super) fn existing_ancestor(path: &Path) -> PathBuf {
    path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/")).to_path_buf()
}

//! Which apt fetches the guest's packages: the machine's own, or — where
//! the machine's apt does not know Debian's cloud kernel, as on Ubuntu — a
//! private configuration in the cache that reads Debian bookworm's archive.
//!
//! The private configuration needs no root: its package lists, lock and
//! downloads all live in the cache directory, and nothing is installed.
//! Packages are still verified, with Debian's archive keyring.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::arch::Arch;

/// Debian's signing keys; the `debian-archive-keyring` package (Ubuntu has
/// it too) puts them here.
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Package lists older than this are fetched again.
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// How to run apt: with the machine's configuration, or with ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apt {
    config: Option<PathBuf>,
}

/// Why the private configuration could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// The keyring to verify Debian's packages with is missing.
    #[error(
        "this machine's apt does not know Debian's {package}, and Debian's archive keyring is missing: \
         sudo apt-get install debian-archive-keyring (or pass --kernel PATH)"
    )]
    NoKeyring {
        /// The package that was looked for.
        package: String,
    },
    /// A file of the configuration could not be written.
    #[error("could not write {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `apt-get update` on Debian's archive failed.
    #[error("could not read Debian's archive with `apt-get update`: {0} — check the network, or pass --kernel PATH")]
    Update(String),
}

impl Apt {
    /// The machine's own apt.
    pub fn system() -> Apt {
        Apt { config: None }
    }

    /// The machine's apt if it knows `package`; else (or when
    /// `GREENROOM_DEBIAN_APT=1`, or for a guest of another architecture than
    /// the machine's) a private configuration reading Debian bookworm, kept
    /// in `cache/debian-apt`.
    pub fn for_package(cache: &Path, package: &str, progress: &mut dyn FnMut(&str)) -> Result<Apt, AptError> {
        let usable = Arch::guest().is_host() && Apt::system().knows(package);
        Apt::choose(cache, package, usable, progress)
    }

    /// Like [`Apt::for_package`], but the machine's apt must offer a version
    /// of `package` that starts with `version` (another release names its
    /// libraries' packages differently).
    pub fn for_version(
        cache: &Path,
        package: &str,
        version: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Apt, AptError> {
        let offered =
            Arch::guest().is_host() && Apt::system().candidate(package).is_some_and(|v| v.starts_with(version));
        Apt::choose(cache, &format!("{package} {version}"), offered, progress)
    }

    fn choose(
        cache: &Path,
        package: &str,
        system_has_it: bool,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Apt, AptError> {
        let forced = std::env::var_os("GREENROOM_DEBIAN_APT").is_some_and(|v| v == "1");
        if !forced && system_has_it {
            return Ok(Apt::system());
        }
        if !Path::new(DEBIAN_KEYRING).is_file() {
            return Err(AptError::NoKeyring { package: package.to_string() });
        }
        let arch = Arch::guest();
        if arch.is_host() {
            progress(&format!("this machine's apt has no {package}: reading Debian bookworm's archive instead"));
        } else {
            progress(&format!("reading Debian bookworm's {} archive for the {arch} guest's {package}", arch.debian()));
        }
        Apt::debian(&cache.join("debian-apt"), arch)
    }

    /// A private configuration in `dir` for Debian bookworm's archive of
    /// `arch`'s packages, with fresh package lists. (Downloading another
    /// architecture's `.deb` needs no multiarch setup: nothing is installed.)
    pub fn debian(dir: &Path, arch: Arch) -> Result<Apt, AptError> {
        for sub in ["lists/partial", "cache/archives/partial", "sources.d", "preferences.d"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| AptError::Write { path, source })?;
        }
        let sources = format!(
            "deb [signed-by={DEBIAN_KEYRING}] http://deb.debian.org/debian bookworm main\n\
             deb [signed-by={DEBIAN_KEYRING}] http://deb.debian.org/debian bookworm-updates main\n\
             deb [signed-by={DEBIAN_KEYRING}] http://deb.debian.org/debian-security bookworm-security main\n"
        );
        let d = dir.display();
        let debian = arch.debian();
        let config = format!(
            "Dir::Etc::SourceList \"{d}/sources.list\";\n\
             Dir::Etc::SourceParts \"{d}/sources.d\";\n\
             Dir::Etc::PreferencesParts \"{d}/preferences.d\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::Cache \"{d}/cache\";\n\
             APT::Architecture \"{debian}\";\n\
             APT::Architectures {{ \"{debian}\"; }};\n\
             Acquire::Languages \"none\";\n"
        );
        write(&dir.join("sources.list"), &sources)?;
        write(&dir.join("apt.conf"), &config)?;
        let apt = Apt { config: Some(dir.join("apt.conf")) };
        if lists_are_stale(&dir.join("lists")) {
            let out = apt.command("apt-get").args(["update", "-q"]).output();
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed");
                    return Err(AptError::Update(last.to_string()));
                }
                Err(e) => return Err(AptError::Update(e.to_string())),
            }
        }
        Ok(apt)
    }

    /// `program` (apt-get, apt-cache), set up to use this configuration.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        if let Some(config) = &self.config {
            command.env("APT_CONFIG", OsString::from(config));
        }
        command
    }

    /// The version of `package` this apt would download, if it knows it.
    pub fn candidate(&self, package: &str) -> Option<String> {
        let out = self.command("apt-cache").args(["show", "--no-all-versions", package]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().find_map(|line| line.strip_prefix("Version:"))?;
        out.status.success().then(|| version.trim().to_owned())
    }

    /// Does this apt know `package`?
    pub fn knows(&self, package: &str) -> bool {
        self.command("apt-cache")
            .args(["show", "--no-all-versions", package])
            .output()
            .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
    }
}

fn write(path: &Path, text: &str) -> Result<(), AptError> {
    std::fs::write(path, text).map_err(|source| AptError::Write { path: path.to_owned(), source })
}

/// True when the lists are missing or older than [`LISTS_MAX_AGE`].
fn lists_are_stale(lists: &Path) -> bool {
    let newest = std::fs::read_dir(lists)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max();
    newest.is_none_or(|time| SystemTime::now().duration_since(time).unwrap_or_default() > LISTS_MAX_AGE)
}

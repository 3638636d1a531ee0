//! The course's chapters: one table, [`CHAPTERS`], and one module of graded
//! tests per chapter.
//!
//! The table is the one place a chapter is described. The checker reads it
//! to build, grade and list chapters; the suite reads it for the catalog;
//! and `checker dev check` holds the rest of the course to it: the
//! workspace members, the crates' package names, the book's pages and
//! anchors, the README's chapter table.

use crate::TestCase;

pub mod ch00_spawn;
pub mod ch01_uts;
pub mod ch02_pid;
pub mod ch03_rootfs;
pub mod ch04_net;
pub mod ch05_user;
pub mod ch06_cgroups;
pub mod ch07_oci;

/// One chapter of the course.
#[derive(Debug, Clone, Copy)]
pub struct Chapter {
    /// Its number, 0 upwards.
    pub number: u8,
    /// The crate's folder in `chapters/` and `solutions/`.
    pub dir: &'static str,
    /// The crate's package name, which is also its binary's name.
    pub package: &'static str,
    /// The layer it adds, in a few words.
    pub title: &'static str,
    /// Its page in the book, relative to `book/src/`.
    pub book: &'static str,
    /// The tests that grade it (its module's `tests`).
    pub tests: fn() -> Vec<TestCase>,
    /// How the suite starts its runtime: the tests of earlier chapters
    /// run on it too only if they start it the same way.
    pub interface: Interface,
}

/// The command line a chapter's runtime answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// `RUNTIME run [FLAGS] -- COMMAND…`: chapters 0 to 6, each adding
    /// flags to the one before.
    Run,
    /// The OCI runtime command line (`create --bundle DIR ID`, `start`,
    /// `state`, …): chapter 7, whose containers come from a bundle's
    /// config.json. It carries every earlier layer, which its own tests
    /// reach through the config.
    Oci,
}

/// Every chapter that exists so far, in order. Adding a chapter is adding
/// a row here, its crate, its module of tests and its book page; `checker
/// dev check` says what else is missing.
pub const CHAPTERS: &[Chapter] = &[
    Chapter {
        number: 0,
        dir: "ch00-spawn",
        package: "spawn",
        title: "clone, exec, wait",
        book: "ch00-spawn.md",
        tests: ch00_spawn::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 1,
        dir: "ch01-uts",
        package: "uts",
        title: "UTS and IPC namespaces, hostname",
        book: "ch01-uts.md",
        tests: ch01_uts::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 2,
        dir: "ch02-pid",
        package: "pid",
        title: "PID namespace, /proc, init",
        book: "ch02-pid.md",
        tests: ch02_pid::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 3,
        dir: "ch03-rootfs",
        package: "rootfs",
        title: "mount namespace, pivot_root",
        book: "ch03-rootfs.md",
        tests: ch03_rootfs::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 4,
        dir: "ch04-net",
        package: "net",
        title: "network namespace, veth, bridge (netlink)",
        book: "ch04-net.md",
        tests: ch04_net::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 5,
        dir: "ch05-user",
        package: "user",
        title: "user namespace, uid/gid maps, rootless",
        book: "ch05-user.md",
        tests: ch05_user::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 6,
        dir: "ch06-cgroups",
        package: "cgroups",
        title: "cgroups v2: memory, pids, cpu",
        book: "ch06-cgroups.md",
        tests: ch06_cgroups::tests,
        interface: Interface::Run,
    },
    Chapter {
        number: 7,
        dir: "ch07-oci",
        package: "oci",
        title: "the capstone: a hardened OCI runtime that podman drives",
        book: "ch07-0-capstone.md",
        tests: ch07_oci::tests,
        interface: Interface::Oci,
    },
];

/// Looks a chapter up by number.
pub fn chapter(number: u8) -> Option<&'static Chapter> {
    CHAPTERS.iter().find(|c| c.number == number)
}

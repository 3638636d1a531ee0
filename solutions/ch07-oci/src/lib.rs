//! Chapter 7 — the capstone: an OCI runtime.
//!
//! The runtime of chapters 0–6 learns the interface every container engine
//! speaks: it reads a bundle (a root file system and its `config.json`),
//! follows the OCI lifecycle (`create`, `start`, `state`, `kill`,
//! `delete`), and hardens the container process the way production
//! runtimes do (capabilities, `no_new_privs`, seccomp, masked and read-only
//! paths, the configured user). podman drives it.

// STARTER: // While functions are still `todo!`, some arguments and items are unused:
// STARTER: // this keeps the compiler quiet about them. Delete it when you are done.
// STARTER: #![allow(unused_variables, unused_mut, dead_code, unused_imports)]

// The bundle and the lifecycle.
pub mod bundle;
pub mod console;
pub mod exec;
pub mod freeze;
pub mod gate;
pub mod hooks;
pub mod lifecycle;
pub mod mounts;
pub mod namespaces;
pub mod plan;
pub mod resources;
pub mod spec;
pub mod state;
pub mod sysctl;

// Hardening: what the container process may still do.
pub mod caps;
pub mod harden;
pub mod identity;
pub mod limits;
pub mod lsm;
pub mod paths;
pub mod seccomp;

//! The graded tests, one module per chapter.

pub mod ch00_spawn;
pub mod ch01_uts;
pub mod ch02_pid;
pub mod ch03_rootfs;
pub mod ch04_net;

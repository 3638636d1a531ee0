//! Tells the checker's tests whether this copy of the course has the
//! reference solution. A student copy (`checker dev export-student`) has
//! none, and the tests that need it are ignored there, each saying why,
//! rather than failing on a missing folder or passing without testing.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(student_copy)");
    // Build scripts run in the package's folder, checker/.
    let solutions = Path::new("../solutions/Cargo.toml");
    if solutions.is_file() {
        // Deleting solutions/ makes this file missing, which runs the
        // script again.
        println!("cargo::rerun-if-changed=../solutions/Cargo.toml");
    } else {
        println!("cargo::rustc-cfg=student_copy");
        println!("cargo::rerun-if-changed=build.rs");
    }
}

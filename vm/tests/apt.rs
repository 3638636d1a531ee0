//! Fetching from Debian's archive where the machine's apt does not know the
//! guest's packages (Ubuntu): a private configuration, no root.

use greenroom_vm::apt::{Apt, DEBIAN_KEYRING};

#[test]
fn debians_archive_is_read_through_a_private_configuration() {
    if !std::path::Path::new(DEBIAN_KEYRING).is_file() {
        eprintln!("note: skipped: no {DEBIAN_KEYRING} on this machine");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let apt = Apt::debian(&dir.path().join("debian-apt"), greenroom_vm::Arch::host())
        .expect("apt-get update on Debian's archive");
    assert!(apt.knows("linux-image-cloud-amd64"), "Debian's archive has the cloud kernel");
    assert!(!apt.knows("no-such-package-greenroom"));
    let status = apt
        .command("apt-get")
        .args(["download", "-q", "busybox-static"])
        .current_dir(dir.path())
        .status()
        .expect("run apt-get");
    assert!(status.success());
    let debs = std::fs::read_dir(dir.path()).expect("list").flatten();
    assert!(debs.into_iter().any(|e| e.file_name().to_string_lossy().starts_with("busybox-static_")));
}

#[test]
fn the_machines_own_apt_is_used_when_it_knows_the_package() {
    if !Apt::system().knows("busybox-static") {
        eprintln!("note: skipped: this machine's apt does not know busybox-static");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let apt = Apt::for_package(dir.path(), "busybox-static", &mut |_| {}).expect("an apt");
    assert_eq!(apt, Apt::system());
    assert!(!dir.path().join("debian-apt").exists(), "no private configuration was needed");
}

#[test]
fn the_candidate_version_is_what_apt_would_download() {
    let apt = Apt::system();
    if !apt.knows("busybox-static") {
        eprintln!("note: skipped: this machine's apt does not know busybox-static");
        return;
    }
    let version = apt.candidate("busybox-static").expect("a version");
    assert!(version.starts_with(|c: char| c.is_ascii_digit()), "{version}");
    assert_eq!(apt.candidate("no-such-package-greenroom"), None);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let same = Apt::for_version(dir.path(), "busybox-static", &version, &mut |_| {}).expect("an apt");
    assert_eq!(same, Apt::system(), "the machine's apt offers that version");
}

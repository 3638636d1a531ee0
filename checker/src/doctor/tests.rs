//! Doctor's checks on simulated machines, one failure at a time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use greenroom_vm::accel::KVM_API_VERSION;

use super::{host_checks::*, machine::*, report::*, toolchain::*, vm_checks::*, *};

/// A fake machine in a temporary folder, removed when dropped.
struct Fake {
    dir: PathBuf,
    machine: Machine,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Fake {
    /// A machine on which everything works: root, KVM, cgroup v2,
    /// user namespaces, a cached guest, a static busybox.
    fn passing() -> Fake {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("greenroom-doctor-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let machine = Machine {
            proc: dir.join("proc"),
            sys: dir.join("sys"),
            dev_kvm: dir.join("dev/kvm"),
            cache: dir.join("cache"),
            target: dir.join("repo/target"),
            path: dir.join("bin").into_os_string(),
            cargo: None,
            busybox: vec![dir.join("bin/busybox")],
            admin_dirs: vec![dir.join("sbin")],
            euid: 0,
            accel_override: None,
            space: |_| Ok(Space { free: 40 << 30, filesystem: 1 }),
            kvm_api: |_| Ok(KVM_API_VERSION),
        };
        let fake = Fake { dir, machine };
        fake.write("proc/sys/user/max_user_namespaces", "15000\n");
        fake.write("proc/self/mountinfo", MOUNTS_V2_SHARED);
        fake.write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        fake.write("dev/kvm", "");
        fake.write("repo/target/.keep", "");
        let cache = fake.dir.join("cache");
        fake.write("cache/linux-image-6.1.0-57-cloud-amd64/vmlinux", "kernel");
        fake.write("cache/linux-image-6.1.0-57-cloud-amd64/01-virtio.ko", "module");
        let kernel_dir = cache.join("linux-image-6.1.0-57-cloud-amd64");
        let manifest =
            format!("{}\n{}\n", kernel_dir.join("vmlinux").display(), kernel_dir.join("01-virtio.ko").display());
        fake.write("cache/kernel.txt", &manifest);
        fake.write("cache/busybox", "static busybox");
        fake.write("cache/accel-0123456789abcdef.txt", "kvm");
        fake.program("qemu-system-x86_64", "echo 'QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)'");
        fake.program("rustc", "printf 'rustc 1.85.0\\nhost: x86_64-unknown-linux-gnu\\nrelease: 1.85.0\\n'");
        fake.program("cargo", "echo cargo 1.85.0");
        fake.write("lib/libc.a", "archive");
        fake.program("cc", &format!("echo {}", fake.dir.join("lib/libc.a").display()));
        fake.program("apt-get", "exit 0");
        fake.program("dpkg-deb", "exit 0");
        fake.program("apt-cache", "printf 'linux-image-cloud-amd64\\n  Depends: linux-image-6.1.0-57-cloud-amd64\\n'");
        fs::write(fake.dir.join("bin/busybox"), fake_elf(false)).expect("write busybox");
        fake.write("sbin/mkfs.ext4", "");
        fake
    }

    /// A machine on which everything that can fail does.
    fn failing() -> Fake {
        let mut fake = Fake::passing();
        for program in ["qemu-system-x86_64", "rustc", "cargo", "cc", "apt-get", "dpkg-deb", "apt-cache"] {
            fake.remove(&format!("bin/{program}"));
        }
        fake.remove("cache");
        fake.remove("sbin/mkfs.ext4");
        fake.remove("dev/kvm");
        fake.write("proc/sys/user/max_user_namespaces", "0\n");
        fake.write("proc/self/mountinfo", MOUNTS_V1);
        fs::write(fake.dir.join("bin/busybox"), fake_elf(true)).expect("write busybox");
        fake.machine.euid = 1000;
        fake.machine.space = |_| Ok(Space { free: 100 << 20, filesystem: 1 });
        fake
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.dir.join(relative);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create the fake's folders");
        fs::write(&path, text).expect("write a fake file");
    }

    fn program(&self, name: &str, script: &str) {
        self.write(&format!("bin/{name}"), &format!("#!/bin/sh\n{script}\n"));
        let path = self.dir.join("bin").join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod a fake program");
    }

    fn remove(&self, relative: &str) {
        let path = self.dir.join(relative);
        let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
    }

    /// The report, with the fake's folder shown as `[machine]`.
    fn render(&self, host: bool) -> String {
        render(&examine(&self.machine, host), host, false).replace(&self.dir.display().to_string(), "[machine]")
    }
}

const MOUNTS_V2_SHARED: &str = "\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
";

/// From the development machines: a hybrid layout, `/` private.
const MOUNTS_HYBRID: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const MOUNTS_V1: &str = "\
27 1 254:0 / / rw,relatime master:1 - ext4 /dev/vda rw
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";

/// A minimal ELF header with one program header: `PT_INTERP` (dynamic)
/// or `PT_LOAD` (static).
fn fake_elf(dynamic: bool) -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 56];
    elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
    elf[0x20] = 64; // e_phoff
    elf[0x36] = 56; // e_phentsize
    elf[0x38] = 1; // e_phnum
    elf[64] = if dynamic { 3 } else { 1 }; // p_type
    elf
}

fn find<'a>(sections: &'a [Section], name: &str) -> &'a Check {
    sections.iter().flat_map(|s| &s.checks).find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}"))
}

fn check(fake: &Fake, host: bool, name: &str) -> Check {
    find(&examine(&fake.machine, host), name).clone()
}

#[test]
fn a_working_machine_passes_every_check() {
    let fake = Fake::passing();
    let sections = examine(&fake.machine, true);
    for check in sections.iter().flat_map(|s| &s.checks) {
        assert_eq!(check.status, Status::Ok, "{check:?}");
    }
    insta::assert_snapshot!("passing_machine", fake.render(true));
}

#[test]
fn a_broken_machine_fails_with_a_fix_for_each_problem() {
    let fake = Fake::failing();
    let sections = examine(&fake.machine, true);
    assert!(failures(&sections) >= 7, "{sections:#?}");
    for check in sections.iter().flat_map(|s| &s.checks).filter(|c| c.status != Status::Ok) {
        assert!(check.fix.as_deref().is_some_and(|f| !f.is_empty()), "{check:?} has no fix");
    }
    insta::assert_snapshot!("failing_machine_host", fake.render(true));
    // Without --host, the VM's problems are the ones that count.
    assert_eq!(failures(&examine(&fake.machine, false)), 5);
    insta::assert_snapshot!("failing_machine", fake.render(false));
}

#[test]
fn no_qemu_on_path_fails_with_the_package_to_install() {
    let fake = Fake::passing();
    let qemu = check(&fake, false, "QEMU");
    let binary = fake.dir.join("bin/qemu-system-x86_64");
    assert_eq!(qemu.found, format!("7.2.19 (Debian 1:7.2+dfsg-7+deb12u18) at {}", binary.display()));
    fake.remove("bin/qemu-system-x86_64");
    let qemu = check(&fake, false, "QEMU");
    assert_eq!(qemu.status, Status::Fail);
    assert_eq!(qemu.fix.as_deref(), Some("sudo apt-get install qemu-system-x86"));
}

#[test]
fn an_old_qemu_is_a_warning() {
    let fake = Fake::passing();
    fake.program("qemu-system-x86_64", "echo 'QEMU emulator version 4.2.1'");
    assert_eq!(check(&fake, false, "QEMU").status, Status::Warn);
}

#[test]
fn qemu_is_only_advisory_with_host() {
    let fake = Fake::passing();
    fake.remove("bin/qemu-system-x86_64");
    assert_eq!(check(&fake, true, "QEMU").status, Status::Warn);
    assert_eq!(failures(&examine(&fake.machine, true)), 0);
}

#[test]
fn an_empty_cache_is_fetched_on_first_run() {
    let fake = Fake::passing();
    fake.remove("cache");
    let guest = check(&fake, false, "guest kernel");
    assert_eq!(guest.status, Status::Ok);
    assert!(guest.found.contains("will be fetched on first run"), "{}", guest.found);
    assert!(
        guest.found.contains("apt-get download linux-image-6.1.0-57-cloud-amd64 busybox-static"),
        "{}",
        guest.found
    );
    assert!(!fake.dir.join("cache").exists(), "doctor must not create the cache");
}

#[test]
fn a_cache_with_a_missing_module_is_not_complete() {
    let fake = Fake::passing();
    fake.remove("cache/linux-image-6.1.0-57-cloud-amd64/01-virtio.ko");
    assert!(check(&fake, false, "guest kernel").found.contains("not cached yet"));
}

#[test]
fn an_empty_cache_without_apt_fails() {
    let fake = Fake::passing();
    fake.remove("cache");
    fake.remove("bin/apt-get");
    let guest = check(&fake, false, "guest kernel");
    assert_eq!(guest.status, Status::Fail);
    assert!(guest.found.contains("no apt-get"), "{}", guest.found);
    assert!(guest.fix.as_deref().is_some_and(|f| f.contains("Vagrant") && f.contains("--kernel")));
}

#[test]
fn apt_without_the_cloud_kernel_fails() {
    // Ubuntu's archive, for one, has no linux-image-cloud-amd64.
    let fake = Fake::passing();
    fake.remove("cache/kernel.txt");
    fake.program("apt-cache", "echo 'E: No packages found' >&2; exit 100");
    let guest = check(&fake, false, "guest kernel");
    assert_eq!(guest.status, Status::Fail);
    assert!(guest.found.contains("E: No packages found"), "{}", guest.found);
}

#[test]
fn no_dev_kvm_warns_and_falls_back_to_tcg() {
    let fake = Fake::passing();
    fake.remove("dev/kvm");
    let kvm = check(&fake, false, "KVM");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.found.contains("TCG"), "{}", kvm.found);
}

#[test]
fn a_dev_kvm_that_does_not_answer_warns() {
    let mut fake = Fake::passing();
    fake.machine.kvm_api = greenroom_vm::accel::kvm_api_version; // the real ioctl, on a regular file
    let kvm = check(&fake, false, "KVM");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.found.contains("does not answer like KVM"), "{}", kvm.found);
}

#[test]
fn permission_on_dev_kvm_is_fixed_by_the_kvm_group() {
    let error = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let (why, fix) = kvm_open_problem(Path::new("/dev/kvm"), &error);
    assert!(why.contains("not readable and writable"), "{why}");
    assert!(fix.contains("usermod -aG kvm"), "{fix}");
}

#[test]
fn a_cached_tcg_verdict_says_kvm_hangs() {
    let fake = Fake::passing();
    fake.write("cache/accel-0123456789abcdef.txt", "tcg");
    let kvm = check(&fake, false, "KVM");
    assert_eq!(kvm.status, Status::Warn);
    assert!(kvm.fix.as_deref().is_some_and(|f| f.contains("accel-*.txt")));
    fake.remove("cache/accel-0123456789abcdef.txt");
    assert!(check(&fake, false, "KVM").found.contains("first run test-boots"));
}

#[test]
fn greenroom_accel_overrides_the_probe() {
    let mut fake = Fake::passing();
    fake.machine.accel_override = Some("tcg".into());
    assert!(check(&fake, false, "KVM").found.contains("forces tcg"));
    fake.machine.accel_override = Some("hvf".into());
    assert_eq!(check(&fake, false, "KVM").status, Status::Fail);
    fake.machine.accel_override = Some("kvm".into());
    fake.remove("dev/kvm");
    assert_eq!(check(&fake, false, "KVM").status, Status::Fail);
}

#[test]
fn low_disk_warns_then_fails() {
    let mut fake = Fake::passing();
    fake.machine.space = |_| Ok(Space { free: 1 << 30, filesystem: 1 });
    assert_eq!(check(&fake, false, "free space").status, Status::Warn);
    fake.machine.space = |_| Ok(Space { free: 100 << 20, filesystem: 1 });
    let space = check(&fake, false, "free space");
    assert_eq!(space.status, Status::Fail);
    assert!(space.found.contains("only 0.1 GiB"), "{}", space.found);
}

#[test]
fn two_file_systems_get_a_line_each() {
    let mut fake = Fake::passing();
    fake.machine.space = |path| {
        let cache = path.ends_with("cache");
        Ok(Space { free: if cache { 100 << 20 } else { 40 << 30 }, filesystem: u64::from(cache) })
    };
    let disk: Vec<Check> = free_space(&fake.machine);
    assert_eq!(disk.len(), 2);
    assert_eq!((disk[0].status, disk[1].status), (Status::Ok, Status::Fail));
    assert!(disk[1].fix.as_deref().is_some_and(|f| f.contains("GREENROOM_CACHE")));
}

#[test]
fn the_missing_cache_is_measured_where_it_will_be() {
    assert_eq!(existing_ancestor(Path::new("/nonexistent/greenroom/cache")), Path::new("/"));
    assert!(statvfs_space(Path::new("/")).is_ok_and(|s| s.free > 0));
}

#[test]
fn an_old_rust_or_a_missing_target_fails() {
    let fake = Fake::passing();
    fake.program("rustc", "printf 'host: x86_64-unknown-linux-gnu\\nrelease: 1.75.0\\n'");
    let rust = check(&fake, false, "Rust");
    assert_eq!((rust.status, rust.fix.as_deref()), (Status::Fail, Some("rustup update stable")));
    fake.program(
        "rustc",
        "case $1 in -vV) printf 'host: aarch64-unknown-linux-gnu\\nrelease: 1.90.0\\n';; *) echo /nowhere;; esac",
    );
    let rust = check(&fake, false, "Rust");
    assert_eq!(rust.status, Status::Fail);
    assert!(rust.fix.as_deref().is_some_and(|f| f.starts_with("rustup target add x86_64-unknown-linux-gnu")));
}

#[test]
fn cargo_comes_from_the_cargo_variable_first() {
    let mut fake = Fake::passing();
    fake.remove("bin/cargo");
    assert_eq!(check(&fake, false, "Rust").status, Status::Fail);
    fake.program("toolchain/cargo", "exit 0"); // no rustc beside it: PATH's is used
    fake.machine.cargo = Some(fake.dir.join("bin/toolchain/cargo"));
    assert_eq!(check(&fake, false, "Rust").status, Status::Ok);
}

#[test]
fn no_static_libc_fails() {
    let fake = Fake::passing();
    fake.program("cc", "echo libc.a");
    let libc = check(&fake, false, "static libc");
    assert_eq!((libc.status, libc.fix.as_deref()), (Status::Fail, Some("sudo apt-get install build-essential")));
}

#[test]
fn not_root_fails_only_with_host() {
    let mut fake = Fake::passing();
    fake.machine.euid = 1000;
    assert_eq!(check(&fake, false, "root").status, Status::Ok);
    let root = check(&fake, true, "root");
    assert_eq!(root.status, Status::Fail);
    assert!(root.fix.as_deref().is_some_and(|f| f.starts_with("sudo -E env PATH=$PATH")));
}

#[test]
fn user_namespaces_disabled_fail_and_restricted_warn() {
    let fake = Fake::passing();
    fake.write("proc/sys/user/max_user_namespaces", "0\n");
    assert_eq!(check(&fake, true, "user namespaces").status, Status::Fail);
    assert_eq!(check(&fake, false, "user namespaces").status, Status::Warn, "advisory without --host");
    fake.write("proc/sys/user/max_user_namespaces", "100\n");
    fake.write("proc/sys/kernel/unprivileged_userns_clone", "0\n");
    let userns = check(&fake, true, "user namespaces");
    assert_eq!(userns.status, Status::Warn);
    assert!(userns.fix.as_deref().is_some_and(|f| f.contains("unprivileged_userns_clone=1")));
    fake.remove("proc/sys/user/max_user_namespaces");
    assert_eq!(check(&fake, true, "user namespaces").status, Status::Fail);
}

#[test]
fn cgroup_layouts_are_told_apart() {
    let fake = Fake::passing();
    let cgroup = |mounts: &str| cgroups(&fake.machine, mounts);
    assert_eq!(cgroup(MOUNTS_V2_SHARED).status, Status::Ok);
    let hybrid = cgroup(MOUNTS_HYBRID);
    assert_eq!(hybrid.status, Status::Warn);
    assert!(hybrid.found.contains("(memory pids), v2 at /sys/fs/cgroup/unified"), "{}", hybrid.found);
    let v1 = cgroup(MOUNTS_V1);
    assert_eq!(v1.status, Status::Fail);
    assert!(v1.found.contains("v1 only (memory pids)"), "{}", v1.found);
    assert_eq!(cgroup("").status, Status::Fail);
    fake.write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io\n");
    assert!(cgroup(MOUNTS_V2_SHARED).found.contains("without memory, pids"));
}

#[test]
fn propagation_of_root_is_reported_and_never_fails() {
    assert!(propagation(MOUNTS_V2_SHARED).found.starts_with("shared"));
    assert_eq!(propagation(MOUNTS_HYBRID).found, "private");
    assert!(propagation(MOUNTS_V1).found.starts_with("a slave"));
    assert_eq!(propagation("").status, Status::Warn);
    for mounts in [MOUNTS_V2_SHARED, MOUNTS_HYBRID, MOUNTS_V1] {
        assert_eq!(propagation(mounts).status, Status::Ok);
    }
}

#[test]
fn a_dynamic_or_missing_busybox_fails() {
    let mut fake = Fake::passing();
    fs::write(fake.dir.join("bin/busybox"), fake_elf(true)).expect("write busybox");
    let busybox = check(&fake, true, "busybox");
    assert_eq!(busybox.status, Status::Fail);
    assert!(busybox.found.contains("dynamically linked"), "{}", busybox.found);
    fake.machine.busybox = vec![fake.dir.join("nowhere/busybox")];
    assert!(check(&fake, true, "busybox").found.starts_with("none found"));
    fs::write(fake.dir.join("bin/busybox"), "#!/bin/sh\n").expect("write busybox");
    fake.machine.busybox = vec![fake.dir.join("bin/busybox")];
    assert!(check(&fake, true, "busybox").found.contains("not a 64-bit"));
}

#[test]
fn this_machines_busybox_and_qemu_are_found_like_the_suite_and_the_vm_do() {
    let machine = Machine::this();
    assert_eq!(machine.which(greenroom_vm::qemu::qemu_program()), greenroom_vm::find_qemu().ok());
    assert_eq!(machine.busybox.iter().find(|p| p.is_file()).cloned(), suite::rootfs::find_busybox());
}

#[test]
fn colour_only_when_asked() {
    let fake = Fake::failing();
    let sections = examine(&fake.machine, false);
    assert!(!render(&sections, false, false).contains('\x1b'));
    assert!(render(&sections, false, true).contains("\x1b[31m✗\x1b[0m"));
}

#[test]
fn the_last_line_says_what_to_do_next() {
    let fake = Fake::passing();
    assert!(fake.render(false).ends_with("all good: grade with `cargo run -p checker -- chapter0`\n"));
    fake.remove("dev/kvm");
    assert!(fake.render(false).contains("nothing blocks grading (1 warning above)"));
    let failing = Fake::failing();
    assert!(failing.render(true).contains("then run `cargo run -p checker -- doctor --host` again"));
}

#[test]
fn chapter_7s_disk_needs_mkfs_until_it_is_built() {
    let fake = Fake::passing();
    let found = check(&fake, false, "capstone disk");
    assert_eq!(found.status, Status::Ok, "{found:?}");
    assert!(found.found.contains("sbin/mkfs.ext4"), "{found:?}");
    fake.remove("sbin/mkfs.ext4");
    let missing = check(&fake, false, "capstone disk");
    assert_eq!(missing.status, Status::Warn, "{missing:?}");
    assert_eq!(missing.fix.as_deref(), Some("sudo apt-get install e2fsprogs"));
    fake.write("cache/capstone/disk-0123456789abcdef.ext4", "");
    assert_eq!(check(&fake, false, "capstone disk").status, Status::Ok);
}

#!/usr/bin/env bash
# Container start latency in the capstone's guest: chapter 7's runtime
# (`oci`, the solution) against crun and runc, side by side in the same
# guest and the same session, each running /bin/true from the same bundle.
#
#     benches/start-latency-guest.sh            # RUNS=30 per runtime
#     RUNS=60 benches/start-latency-guest.sh
#
# The host cannot make this comparison (crun refuses its hybrid cgroups,
# podman's runtimes fail at setrlimit there); the capstone's guest has
# cgroup v2 and Debian's crun and runc. It runs under emulation (TCG) on
# this project's machine, so absolute times mean little: the runtimes take
# turns, one run each per round, and the ratios are what to record.
#
# What is built, all static (the guest's programs must be):
#   oci          the chapter 7 solution as the checker builds it for
#                grading (`guest` profile: opt-level 1, stripped);
#   oci-release  the same sources at opt-level 3 (`release`);
#   start-latency  the measuring program (benches/start-latency).
# The bundle is a busybox rootfs (`checker rootfs`) and the config.json
# written below, the same file for all three runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-30}
warmup=${WARMUP:-3}
target=x86_64-unknown-linux-gnu
work=$(mktemp -d /tmp/greenroom-bench-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The flags of checker/src/compile.rs: static, and not position-independent
# (a static-pie program relocates itself at every start, which is costly
# under emulation).
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static"
# The checker's own target directory for the solutions, so a graded build
# is reused (and this one reused by the next grading).
solutions_target=target/greenroom/cargo/solutions
for profile in guest release; do
    CARGO_TARGET_DIR=$solutions_target cargo build --quiet --profile "$profile" --target "$target" \
        --manifest-path solutions/Cargo.toml -p oci
done
cp "$solutions_target/$target/guest/oci" "$work/oci"
cp "$solutions_target/$target/release/oci" "$work/oci-release"
CARGO_TARGET_DIR=target/greenroom/cargo/tools cargo build --quiet --release --target "$target" -p greenroom-start-latency
cp "target/greenroom/cargo/tools/$target/release/start-latency" "$work/start-latency"

# The bundle: busybox (and the probe, unused here) as the rootfs.
cargo run --quiet -p checker -- rootfs "$work/bundle/rootfs" >/dev/null
# `crun spec`'s defaults, with three edits, so that all three runtimes do
# the same work and that work is podman's kind:
# - args /bin/true and no terminal (nothing to attach one to);
# - linux.cgroupsPath, so every runtime makes (and removes) a cgroup for
#   the container: crun and runc would make one anyway, and chapter 7's
#   runtime makes one only when asked;
# - no linux.resources.devices (crun spec's deny-all device rule): on
#   cgroup v2 a device rule is an eBPF program, which chapter 7's runtime
#   does not load (crun and runc may still load one for their default
#   device list; see BENCHMARKS.md).
# No seccomp profile: crun spec writes none.
cat >"$work/bundle/config.json" <<'EOF'
{
    "ociVersion": "1.0.2",
    "process": {
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": ["/bin/true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": [],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": true
    },
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "bench",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ],
    "linux": {
        "cgroupsPath": "/greenroom-bench",
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    }
}
EOF
tar -C "$work" -cf "$work/bundle.tar" bundle

# What runs in the guest: unpack the bundle, run each runtime once by hand
# (a runtime that refuses the bundle shows why, before any timing), then
# the measured session. `true` (busybox's, no container) is the floor: the
# cost of starting any program, and the measuring program's own share of
# each RSS figure (a forked child starts with the parent's dirty pages).
cat >"$work/in-guest.sh" <<EOF
set -e
mkdir -p /tmp/bench && tar -C /tmp/bench -xf /greenroom/bin/bundle.tar
b=/tmp/bench/bundle
echo "guest: \$(uname -r), \$(nproc) CPUs, \$(crun --version | head -1), \$(runc --version | head -1)"
for runtime in oci oci-release crun runc; do
    \$runtime run --bundle \$b check-\$runtime || { echo "\$runtime cannot run the bundle" >&2; exit 1; }
done
ls /sys/fs/cgroup | grep -q greenroom-bench && { echo "a runtime left /sys/fs/cgroup/greenroom-bench behind" >&2; exit 1; }
start-latency --runs $runs --warmup $warmup --reference crun --reference runc \\
    "oci=oci run --bundle \$b oci-{run}" \\
    "oci-release=oci-release run --bundle \$b ocir-{run}" \\
    "crun=crun run --bundle \$b crun-{run}" \\
    "runc=runc run --bundle \$b runc-{run}" \\
    "true=/bin/true"
EOF

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), host load: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo run --quiet -p checker -- dev capstone-guest \
    --file "$work/oci" --file "$work/oci-release" --file "$work/start-latency" --file "$work/bundle.tar" \
    --file "$work/in-guest.sh" 'sh /greenroom/bin/in-guest.sh'

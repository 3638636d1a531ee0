#!/usr/bin/env bash
# Container start latency in the capstone's guest: chapter 7's runtime
# (`oci`, the solution) against crun and runc, side by side in the same
# guest and the same session, each running /bin/true from the same bundle.
#
#     benches/start-latency-guest.sh            # RUNS=30 per runtime
#     RUNS=60 benches/start-latency-guest.sh
#     PAUSE_MS=100 benches/start-latency-guest.sh # a pause before each run
#
# The host cannot make this comparison (crun refuses its hybrid cgroups,
# podman's runtimes fail at setrlimit there); the capstone's guest has
# cgroup v2 and Debian's crun and runc. It runs under emulation (TCG) on
# this project's machine, so absolute times mean little: the runtimes take
# turns, one run each per round in a shuffled order, and the ratios are
# what to record.
#
# What is built, all static (the guest's programs must be):
#   oci          the chapter 7 solution as the checker builds it for
#                grading (`guest` profile: opt-level 1, stripped);
#   oci-release  the same sources as one would ship them (`release`:
#                optimised for size, fat LTO, one codegen unit, stripped;
#                solutions/Cargo.toml says why);
#   start-latency  the measuring program (benches/start-latency).
# The bundle is a busybox rootfs (`checker rootfs`) and
# benches/true-bundle.json, the same config for all three runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-30}
warmup=${WARMUP:-3}
pause_ms=${PAUSE_MS:-0}
target=x86_64-unknown-linux-gnu
work=$(mktemp -d /tmp/greenroom-bench-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The flags of checker/src/compile.rs: static, and not position-independent
# (a static-pie program relocates itself at every start, which is costly
# under emulation). Only for these builds: without --target, cargo would
# apply them to the checker's proc macros too, which cannot be static.
static_flags="-C target-feature=+crt-static -C relocation-model=static"
guest_build() {
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=$static_flags cargo build --quiet --target "$target" "$@"
}
# The checker's own target directory for the solutions, so a graded build
# is reused (and this one reused by the next grading).
solutions_target=target/greenroom/cargo/solutions
for profile in guest release; do
    CARGO_TARGET_DIR=$solutions_target guest_build --profile "$profile" --manifest-path solutions/Cargo.toml -p oci
done
cp "$solutions_target/$target/guest/oci" "$work/oci"
cp "$solutions_target/$target/release/oci" "$work/oci-release"
runtimes="oci oci-release"
CARGO_TARGET_DIR=target/greenroom/cargo/tools guest_build --release -p greenroom-start-latency
cp "target/greenroom/cargo/tools/$target/release/start-latency" "$work/start-latency"

# The bundle: busybox (and the probe, unused here) as the rootfs.
cargo run --quiet -p checker -- rootfs "$work/bundle/rootfs" >/dev/null
# The config, the same file for all three runtimes (and for
# start-latency.sh on the host): benches/true-bundle.json, which is
# `crun spec`'s defaults with four edits, so that the three do the same
# work and that work is podman's kind:
# - args /bin/true and no terminal (nothing to attach one to);
# - linux.cgroupsPath, so that every runtime makes (and removes) a cgroup
#   for the container: crun and runc would make one anyway, chapter 7's
#   runtime makes one only when asked;
# - no linux.resources.devices (crun spec's deny-all rule): on cgroup v2
#   a device rule is an eBPF program, which chapter 7's runtime does not
#   load (runc still loads one, for its default device list);
# - no ambient (and so no inheritable) capabilities: crun spec asks for
#   three ambient ones without making them inheritable, which the kernel
#   refuses (an ambient capability must be permitted and inheritable),
#   and chapter 7's runtime refuses up front. podman's configs have no
#   ambient set either.
# No seccomp profile: crun spec writes none.
cp benches/true-bundle.json "$work/bundle/config.json"
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
for runtime in $runtimes crun runc; do
    \$runtime run --bundle \$b check-\$runtime || { echo "\$runtime cannot run the bundle" >&2; exit 1; }
done
ls /sys/fs/cgroup | grep -q greenroom-bench && { echo "a runtime left /sys/fs/cgroup/greenroom-bench behind" >&2; exit 1; }
start-latency --runs $runs --warmup $warmup --pause-ms $pause_ms --reference crun --reference runc \\
$(for runtime in $runtimes; do echo "    \"$runtime=$runtime run --bundle \$b $runtime-{run}\" \\"; done)
    "crun=crun run --bundle \$b crun-{run}" \\
    "runc=runc run --bundle \$b runc-{run}" \\
    "true=/bin/true"
EOF

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), host load: $(cut -d' ' -f1-3 /proc/loadavg)"
files=()
for runtime in $runtimes; do files+=(--file "$work/$runtime"); done
cargo run --quiet -p checker -- dev capstone-guest "${files[@]}" \
    --file "$work/start-latency" --file "$work/bundle.tar" --file "$work/in-guest.sh" 'sh /greenroom/bin/in-guest.sh'

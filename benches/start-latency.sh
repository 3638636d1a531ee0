#!/usr/bin/env bash
# Container start latency, side by side: greenroom's chapter N runtime (the
# solution) against crun, runc and unshare, each running /bin/true in the
# same busybox rootfs. Run as root on the host (the runtimes need it):
#
#     sudo benches/start-latency.sh [CHAPTER]      # default: the last chapter
#
# Needs hyperfine, crun and runc (apt-get install hyperfine crun runc).
# Prints hyperfine's table; the ratios against crun are what to record.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine crun runc unshare; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install hyperfine crun runc util-linux" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root: the runtimes create namespaces" >&2; exit 1; }

chapter=${1:-$(ls solutions | grep -E '^ch[0-9]+' | sort | tail -1 | sed -E 's/^ch0?([0-9]+).*/\1/')}
crate_dir=$(ls -d solutions/ch0"$chapter"-* | head -1)
package=$(sed -n 's/^name = "\(.*\)"/\1/p' "$crate_dir/Cargo.toml" | head -1)

work=$(mktemp -d /tmp/greenroom-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release --manifest-path solutions/Cargo.toml -p "$package"
runtime=solutions/target/release/$package
cargo run --quiet -p checker -- rootfs "$work/bundle/rootfs" >/dev/null

# An OCI bundle for crun and runc (and chapter 7's runtime): crun spec's
# defaults running /bin/true, the same config as in the capstone's guest
# (benches/start-latency-guest.sh says what was changed and why).
cp benches/true-bundle.json "$work/bundle/config.json"

# Chapters 3–6 take a rootfs on their command line; chapter 7 is an OCI
# runtime and takes the bundle.
if [ "$chapter" -ge 7 ]; then
    greenroom="$runtime run --bundle $work/bundle gr-bench-oci"
elif [ "$chapter" -ge 3 ]; then
    greenroom="$runtime run --rootfs $work/bundle/rootfs -- /bin/true"
else
    greenroom="$runtime run -- /bin/true"
fi
candidates=(
    "greenroom ch$chapter|$greenroom"
    "crun|crun run --bundle $work/bundle gr-bench-crun"
    "runc|runc run --bundle $work/bundle gr-bench-runc"
    "unshare|unshare --fork --pid --mount --uts --ipc --net --root=$work/bundle/rootfs /bin/true"
    "bare /bin/true|/bin/true"
)
# A reference that cannot run here is left out with its reason (crun, for
# one, refuses hosts with a hybrid cgroup v1/v2 layout).
args=()
for candidate in "${candidates[@]}"; do
    name=${candidate%%|*} command=${candidate#*|}
    if output=$($command 2>&1); then
        args+=(-n "$name" "$command")
    else
        echo "note: leaving out $name, which fails here: $(echo "$output" | tail -1)" >&2
    fi
done
hyperfine --warmup 5 --runs "${RUNS:-50}" -N "${args[@]}"

#!/bin/sh
# /init of the greenroom guest. The kernel runs it as PID 1 from the
# initramfs. Stage 1 moves the root filesystem to a tmpfs; stage 2 sets the
# machine up like a small Linux host, runs the command the host asked for
# (/greenroom/run), reports its exit code and powers off. Everything printed
# here ends up in the console log on the host.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /
# A guest of another architecture than the host's comes with /bin/sh only
# (the host could not run its busybox to list the applets): make the rest.
[ -e /bin/mount ] || /bin/busybox --install -s

if [ "$1" != stage2 ]; then
    # pivot_root(2) cannot move the initramfs (it fails with EINVAL), and
    # the container runtimes under test need pivot_root. So copy the files
    # to a tmpfs and make that the root; switch_root frees the initramfs.
    mount -t tmpfs -o mode=0755 root /newroot
    for entry in /*; do
        [ "$entry" = /newroot ] || cp -a "$entry" /newroot/
    done
    exec switch_root /newroot /init stage2
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# The host wrote the modules with numbered names, so the glob's order is
# the dependency order.
for module in /lib/modules/greenroom/*.ko; do
    [ -e "$module" ] || continue
    insmod "$module" || echo "greenroom-init: could not load $module"
done

# A clean cgroup v2 hierarchy, every controller delegated to child cgroups
# (as systemd does on a host), so chapter 6 can set memory/pids/cpu limits.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
sed 's/[^ ][^ ]*/+&/g' /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control

mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
ip link set lo up
hostname greenroom-guest

# systemd makes every mount shared, and so do we: a runtime that forgets
# MS_PRIVATE must fail here as it would on a learner's machine (pivot_root
# gives EINVAL, and its mounts leak into the host's mount table).
mount --make-rshared /

# The host named its results port; find the device node the kernel made
# for it. The name arrives a moment after the driver loads, so wait for it.
find_results_port() {
    for name in /sys/class/virtio-ports/*/name; do
        [ "$(cat "$name" 2>/dev/null)" = greenroom.results ] || continue
        port=${name%/name}
        [ -c "/dev/${port##*/}" ] && echo "/dev/${port##*/}" && return 0
    done
    return 1
}
tries=0
until results=$(find_results_port); do
    tries=$((tries + 1))
    if [ "$tries" -gt 500 ]; then
        echo "greenroom-init: the results port never appeared"
        poweroff -f
    fi
    usleep 10000
done

echo '{"greenroom":"ready"}' > "$results"
GREENROOM_RESULTS=$results sh /greenroom/run < /dev/null
code=$?
echo "{\"greenroom\":\"done\",\"exit\":$code}" > "$results"
sync
poweroff -f

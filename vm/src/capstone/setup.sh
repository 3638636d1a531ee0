#!/bin/sh
# Sets the guest up for the capstone (chapter 7), then runs the command
# it is given: `sh setup.sh DEVICE COMMAND...`. DEVICE is the disk image
# with podman, conmon, crun, runc and the libraries they load (built by
# vm/src/capstone.rs); this script puts them where programs look for them.
set -e
device=$1
shift
disk=/capstone

# The virtio block driver is a module in Debian's cloud kernel; the host
# sends it (and anything it needs that the guest lacks) with this script.
for module in /greenroom/capstone/modules/*.ko; do
    if [ -e "$module" ]; then
        insmod "$module"
    fi
done
# The device node appears once the driver has probed the disk.
tries=0
until [ -b "$device" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 500 ]; then
        echo "capstone setup: $device never appeared: is the disk attached?" >&2
        exit 125
    fi
    usleep 10000
done
mkdir -p "$disk"
mount -t ext4 -o "${GREENROOM_CAPSTONE_MOUNT:-ro}" "$device" "$disk"

# One C library for every dynamically linked program of the guest: the
# disk's library folder covers the guest's own helpers too (newuidmap), so
# it replaces the initramfs's, and so does its loader, built with that libc.
# (@MULTIARCH@, @LOADER@ and @LOADER_PATH@ are the architecture's, filled
# in by the host: x86_64-linux-gnu, ld-linux-x86-64.so.2 in /lib64 on x86_64.)
mkdir -p /lib/@MULTIARCH@ "$(dirname @LOADER_PATH@)"
mount --bind "$disk/lib/@MULTIARCH@" /lib/@MULTIARCH@
[ -e @LOADER_PATH@ ] || touch @LOADER_PATH@
mount --bind "$disk/lib/@MULTIARCH@/@LOADER@" @LOADER_PATH@
for program in "$disk"/usr/bin/*; do
    [ -e "/usr/bin/${program##*/}" ] || ln -s "$program" /usr/bin/
done

# What podman expects of a host: its state folders (the guest's root is a
# tmpfs, so containers start from nothing at every boot), a world-writable
# /var/tmp, and the files it copies into every container.
mkdir -p /var/lib/containers/storage /run/containers/storage /var/tmp
chmod 1777 /var/tmp
printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost\n' "$(hostname)" > /etc/hosts
# The guest has no network: no name server to point at.
echo 'nameserver 127.0.0.1' > /etc/resolv.conf

exec "$@"

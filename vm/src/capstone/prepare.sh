#!/bin/sh
# Runs once, when the host builds the capstone's disk image, with the disk
# mounted read-write (GREENROOM_CAPSTONE_MOUNT=rw): imports a busybox root
# filesystem as the image localhost/busybox into the disk's /storage. Every
# later guest mounts the disk read-only and podman reads /storage as an
# additional image store (see storage.conf): no import at each boot.
set -e
rootfs=/tmp/busybox-rootfs
for dir in bin dev etc proc root sys tmp var; do
    mkdir -p "$rootfs/$dir"
done
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/"
/bin/busybox --install -s "$rootfs/bin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
tar -C "$rootfs" -cf /tmp/busybox.tar .

# Storage written straight to the disk, without the read-only store.
cat > /tmp/prepare-storage.conf <<CONF
[storage]
driver = "overlay"
runroot = "/run/capstone-prepare"
graphroot = "/capstone/storage"
CONF
CONTAINERS_STORAGE_CONF=/tmp/prepare-storage.conf podman import --quiet /tmp/busybox.tar localhost/busybox
# podman's own database (its containers, not its images) is not part of
# an image store: the guests keep theirs on the tmpfs.
rm -rf /capstone/storage/libpod
ls /capstone/storage

# Unmount, so that the file system is left clean for the read-only mounts.
umount @LOADER_PATH@ /lib/@MULTIARCH@
umount /capstone

#!/bin/busybox sh
# /sbin/init of the e2e base image: PID 1 after switch-root into the overlay
# root reliant-overlay assembled. It checks what a normal boot must look like,
# starts a "VM" through Qubes' create-snapshot path (which reliant replaced),
# writes a report onto the marker disk and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
out=/run/reliant-test-report
mkdir -p "$out"
echo base > "$out/stage"
exec > "$out/init.log" 2>&1
set -x

# The root is the overlay; lower and upper stay reachable under /run/reliant.
awk '$2 == "/" { print $3 }' /proc/mounts | tail -n 1 > "$out/root-fstype"
for path in /run/reliant/lower /run/reliant/rw/upper /run/reliant/rw/work; do
    [ -d "$path" ] && echo "$path"
done > "$out/run-reliant"
cp /run/reliant/verified-base "$out/verified-base"
awk '$2 == "/run/reliant/lower" { print $1, $3, $4 }' /proc/mounts > "$out/lower-mount"
awk '$2 == "/run/reliant/rw" { print $3, $4 }' /proc/mounts > "$out/upper-mount"

# Writes land in the tmpfs upper, never in the base.
echo volatile > /etc/written-in-normal-boot
{
    [ -f /run/reliant/rw/upper/etc/written-in-normal-boot ] && echo upper-has-it
    [ -f /run/reliant/lower/etc/written-in-normal-boot ] || echo lower-has-not
} > "$out/write"

# protect: the base partition and the other disk read-only, the Shufflecake
# partition and its disk writable.
name() { basename "$(readlink -f "$1")"; }
for device in virtio-disk virtio-disk-part1 virtio-disk-part2 virtio-other; do
    echo "$device $(cat /sys/class/block/$(name /dev/disk/by-id/$device)/ro)"
done > "$out/read-only"
sflc=/dev/disk/by-id/virtio-disk-part2
if echo shufflecake-write | dd of="$sflc" bs=512 conv=sync,fsync 2> /dev/null; then
    echo written > "$out/sflc-write"
else
    echo refused > "$out/sflc-write"
fi
if echo base-write | dd of=/dev/disk/by-id/virtio-disk-part1 bs=512 conv=sync,fsync 2> /dev/null; then
    echo written > "$out/base-write"
else
    echo refused > "$out/base-write"
fi

# Template images: the loop map, and the loop device read-only.
cp /run/reliant/loops "$out/loops"
loop=$(cut -f 2 /run/reliant/loops | head -n 1)
echo "$(cat /sys/block/$(basename "$loop")/ro)" > "$out/template-loop-ro"
grep -c ' /var/lib/qubes/vm-templates/tpl/root.img ' /proc/self/mountinfo > "$out/template-bind"
if echo x > /var/lib/qubes/vm-templates/tpl/root.img; then
    echo written > "$out/template-write"
else
    echo refused > "$out/template-write"
fi

# Every byte of the template comes through the verified base (a tampered
# block must fail the read, never return other data).
if cat /var/lib/qubes/vm-templates/tpl/root.img > /dev/null; then
    echo ok > "$out/template-read"
else
    echo failed > "$out/template-read"
    dmesg | grep -i verity > "$out/verity-kmsg"
fi

# A VM start through Qubes' file driver path: create-snapshot with the
# template's image, its source COW and the AppVM's COW (sparse, as file.py).
used() { df -k /run/reliant/rw | awk 'NR == 2 { print $3 }'; }
mkdir -p /var/lib/qubes/appvms/app
# dom0 runs udev; this test root does not, and the initramfs's udev left its
# control socket behind, which would make dmsetup wait for udev forever.
rm -rf /run/udev
truncate -s 16M /var/lib/qubes/appvms/app/root-cow.img
before=$(used)
/usr/lib/qubes/create-snapshot snapshot-app \
    /var/lib/qubes/vm-templates/tpl/root.img \
    /var/lib/qubes/vm-templates/tpl/root-cow.img \
    /var/lib/qubes/appvms/app/root-cow.img
echo $? > "$out/create-snapshot-status"
dmsetup table > "$out/dm-tables"
dmsetup mknodes  # what udev does in dom0
[ -b /dev/mapper/snapshot-app ] || echo "no /dev/mapper/snapshot-app" > "$out/snapshot-missing"
# The "VM" reads its whole root and writes into it.
cmp /dev/mapper/snapshot-app /var/lib/qubes/vm-templates/tpl/root.img && echo same > "$out/snapshot-content"
echo app-write | dd of=/dev/mapper/snapshot-app bs=4096 conv=sync,fsync 2> /dev/null && echo written > "$out/snapshot-write"
after=$(used)
echo $((after - before)) > "$out/tmpfs-growth-kib"
head -c 9 /dev/mapper/snapshot-app > "$out/snapshot-head"
head -c 9 /var/lib/qubes/vm-templates/tpl/root.img > "$out/template-head"

# The base partition's bytes, to compare with the host's.
sha256sum /dev/disk/by-id/virtio-disk-part1 | cut -d ' ' -f 1 > "$out/base-sha256"

set +x
exec > /dev/console 2>&1
marker=$(readlink -f /dev/disk/by-id/virtio-marker)
blockdev --setrw "$marker"  # protect made the test's marker disk read-only as well
tar -cf "$marker" -C "$out" .
sync
echo "reliant-test: base init report written"
poweroff -f

#!/bin/sh
# TEST ONLY (sourced by dracut-emergency with rd.shell=0): the boot stopped in
# the initramfs. Report what the console and the units said to the marker
# disk, at offset 0, where a normal boot's root would write its own report.
out=/run/reliant-test-report
mkdir -p "$out"
echo emergency > "$out/stage"
journalctl -b -o short-monotonic --no-pager > "$out/journal.txt" 2>&1
systemctl list-units --all --no-legend --plain 'reliant*' > "$out/units.txt" 2>&1
systemctl --failed --no-legend --plain > "$out/failed-units.txt" 2>&1
grep ' /sysroot ' /proc/self/mountinfo > "$out/sysroot-mounts" 2>&1
ls /run/shufflecake > "$out/run-shufflecake" 2>&1
grep ' /run/shufflecake' /proc/self/mountinfo > "$out/shufflecake-mounts" 2>&1
cat /sys/block/dm-*/dm/name > "$out/dm-names" 2>&1
dmesg > "$out/kmsg.txt" 2>&1
marker=$(readlink -f /dev/disk/by-id/virtio-marker)
blockdev --setrw "$marker"  # protect made the marker read-only too
tar -cf "$marker" -C "$out" .
sync
echo "reliant-test: emergency report written" > /dev/console

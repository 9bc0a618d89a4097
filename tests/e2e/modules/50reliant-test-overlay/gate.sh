#!/bin/bash
# Runs after protect and verify, before prepare. When either failed, the boot
# must stop before the base is used: record what the units said, write it to
# the marker disk and power off at once.
failed=""
for unit in protect verify; do
    systemctl -q is-failed "reliant-test-$unit.service" && failed="$failed $unit"
done
[ -z "$failed" ] && exit 0
out=/run/reliant-test-report
mkdir -p "$out"
echo initramfs > "$out/stage"
echo $failed > "$out/failed"
journalctl -b -o cat --no-pager > "$out/journal.txt" 2>&1
ls /run/reliant > "$out/run-reliant" 2>&1
grep -c ' /sysroot ' /proc/self/mountinfo > "$out/sysroot-mounts"
ls /dev/mapper > "$out/dev-mapper" 2>&1
marker=$(readlink -f /dev/disk/by-id/virtio-marker)
blockdev --setrw "$marker"  # protect made the test's own marker disk read-only too
tar -cf "$marker" -C "$out" .
sync
echo "reliant-test: stopped after$failed failed; report written" > /dev/console
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
sleep 30

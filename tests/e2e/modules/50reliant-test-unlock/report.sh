#!/bin/bash
# Collects what the unlock left behind and writes it as a tar archive onto
# the marker disk, which the host reads (tests/e2e/harness/e2e.py), then
# powers off at once.
out=/run/reliant-test-report
mkdir -p "$out"
systemctl show -p ExecMainStatus --value reliant-unlock-test.service > "$out/unlock-status"
journalctl -b -o cat -u reliant-unlock-test.service --no-pager > "$out/unlock-output" 2>&1
# Mount points under /run/shufflecake, and what each volume says it is.
: > "$out/volume-ids"
while read -r _ _ _ _ point _; do
    case "$point" in
        /run/shufflecake/*)
            echo "$point" >> "$out/mounts.unsorted"
            echo "${point##*/} $(cat "$point/id" 2>/dev/null)" >> "$out/volume-ids"
            ;;
    esac
done < /proc/self/mountinfo
sort "$out/mounts.unsorted" > "$out/mounts" 2>/dev/null || : > "$out/mounts"
rm -f "$out/mounts.unsorted"
cat /sys/block/dm-*/dm/name 2>/dev/null | sort > "$out/dm-names"
ls /run/shufflecake 2>/dev/null | sort > "$out/run-shufflecake"
cp /run/fake-shufflecake/probe-report /run/fake-shufflecake/memscan-report "$out/" 2>/dev/null
cp /run/reliant-test-timing/timing.tsv /run/reliant-test-timing/raw.tsv /run/reliant-test-timing/timing-status "$out/" 2>/dev/null
systemctl show -p ExecMainStatus --value reliant-test-timing.service > "$out/timing-unit-status"
if [ -d /run/cores ]; then
    sleep 2  # a core pipe handler may still be writing
    ls -l /run/cores > "$out/cores"
    cp /run/cores/core.* "$out/" 2>/dev/null
fi
journalctl -b -o short-monotonic --no-pager > "$out/journal.txt" 2>&1
dmesg > "$out/kmsg.txt" 2>&1
echo "reliant-test: report written" > /dev/console
tar -cf /dev/disk/by-id/virtio-marker -C "$out" .
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger

#!/bin/bash
# Reads the seal from the kernel command line (reliant_bench.roothash=,
# reliant_bench.sha256=), runs the benchmark, reports on the marker disk.
out=/run/reliant-bench
mkdir -p "$out"
udevadm settle
modprobe -a dm_mod dm_verity
for argument in $(cat /proc/cmdline); do
    case "$argument" in
        reliant_bench.roothash=*) root_hash=${argument#*=} ;;
        reliant_bench.sha256=*) sha256=${argument#*=} ;;
        reliant_bench.rounds=*) rounds=${argument#*=} ;;
    esac
done
echo "cpus $(nproc)" > "$out/bench.txt"
/usr/libexec/reliant-bench/integrity-bench --data "$(readlink -f /dev/disk/by-id/virtio-base)" \
    --hash "$(readlink -f /dev/disk/by-id/virtio-hash)" --root-hash "$root_hash" --sha256 "$sha256" \
    --rounds "${rounds:-3}" 2>&1 | tee -a "$out/bench.txt" > /dev/console
echo "status ${PIPESTATUS[0]}" >> "$out/bench.txt"
tar -cf "$(readlink -f /dev/disk/by-id/virtio-marker)" -C "$out" .
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger

#!/bin/bash
# BENCHMARK-ONLY dracut module: runs integrity-bench on the guest's disks
# (tests/bench/integrity), writes its output onto the marker disk and powers off.
# Input (environment): RELIANT_BENCH_INTEGRITY, the integrity-bench binary.

check() {
    return 255
}

depends() {
    echo systemd dm
    return 0
}

installkernel() {
    hostonly='' instmods dm_mod dm_verity virtio_blk virtio_pci sha256_generic
}

install() {
    if [[ ! -x $RELIANT_BENCH_INTEGRITY ]]; then
        derror "reliant-bench-integrity: missing binary '$RELIANT_BENCH_INTEGRITY'"
        return 1
    fi
    inst_binary "$RELIANT_BENCH_INTEGRITY" /usr/libexec/reliant-bench/integrity-bench
    inst_multiple tar sync cat mkdir modprobe udevadm readlink tee nproc
    inst_script "$moddir/run-bench.sh" /usr/libexec/reliant-bench/run
    inst_simple "$moddir/reliant-bench-integrity.service" "$systemdsystemunitdir/reliant-bench-integrity.service"
    $SYSTEMCTL -q --root "$initdir" enable reliant-bench-integrity.service
}

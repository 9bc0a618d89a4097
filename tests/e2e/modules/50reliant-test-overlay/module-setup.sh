#!/bin/bash
# TEST-ONLY dracut module for the overlay e2e scenarios (tests/e2e/overlay).
# Runs reliant-overlay the way the production module will (dracut issue):
# protect first, verify, prepare before a generator-written sysroot.mount of
# type overlay, loops before switch-root. The base's own /sbin/init then
# checks the result and reports. If protect or verify fails, a gate unit
# reports and powers off before anything would mount the base.
# Input (environment): RELIANT_E2E_OVERLAY, the reliant-overlay binary.

check() {
    return 255
}

depends() {
    echo systemd dm
    return 0
}

installkernel() {
    hostonly='' instmods loop overlay dm_mod dm_verity dm_snapshot virtio_blk virtio_pci ext4 sha256_generic
}

install() {
    if [[ ! -x $RELIANT_E2E_OVERLAY ]]; then
        derror "reliant-test-overlay: missing binary '$RELIANT_E2E_OVERLAY'"
        return 1
    fi
    inst_binary "$RELIANT_E2E_OVERLAY" /usr/libexec/reliant/reliant-overlay
    inst_multiple tar sync cat grep ls sort dmesg mkdir modprobe blockdev journalctl udevadm readlink
    inst_script "$moddir/overlay-generator.sh" "$systemdutildir/system-generators/reliant-test-overlay-generator"
    inst_script "$moddir/gate.sh" /usr/libexec/reliant-test/gate
    local unit
    for unit in reliant-test-protect.service reliant-test-verify.service reliant-test-gate.service \
        reliant-test-prepare.service reliant-test-loops.service; do
        inst_simple "$moddir/$unit" "$systemdsystemunitdir/$unit"
    done
    for unit in reliant-test-protect.service reliant-test-verify.service reliant-test-gate.service \
        reliant-test-loops.service; do
        $SYSTEMCTL -q --root "$initdir" enable "$unit"
    done
}

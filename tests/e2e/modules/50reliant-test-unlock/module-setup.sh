#!/bin/bash
# TEST-ONLY dracut module for the unlock e2e scenarios (tests/e2e/unlock).
# Installs reliant-unlock, fake-shufflecake as the `shufflecake` command, a
# unit that runs reliant-unlock before cryptsetup.target, and a report unit
# that writes what happened onto the marker disk and powers off.
# Inputs (environment): RELIANT_E2E_UNLOCK, RELIANT_E2E_SHUFFLECAKE,
# RELIANT_E2E_TIMING (unlock-timing, for the timing scenario, which runs it
# instead of the unlock unit when reliant_test.timing=N is on the command line).

check() {
    return 255
}

depends() {
    echo systemd systemd-ask-password dm
    return 0
}

installkernel() {
    hostonly='' instmods dm_mod dm_crypt xts aes_generic aesni_intel virtio_blk virtio_pci ext4
}

install() {
    local binary unit
    for binary in "$RELIANT_E2E_UNLOCK" "$RELIANT_E2E_SHUFFLECAKE" "$RELIANT_E2E_TIMING"; do
        if [[ ! -x $binary ]]; then
            derror "reliant-test-unlock: missing binary '$binary'"
            return 1
        fi
    done
    inst_binary "$RELIANT_E2E_UNLOCK" /usr/libexec/reliant/reliant-unlock
    inst_binary "$RELIANT_E2E_SHUFFLECAKE" /usr/bin/shufflecake
    inst_binary "$RELIANT_E2E_TIMING" /usr/libexec/reliant-test/unlock-timing
    inst_multiple e2fsck tar sync cat grep ls sort dmesg mkdir modprobe sleep dd journalctl
    inst_script "$moddir/prepare.sh" /usr/libexec/reliant-test/prepare
    inst_script "$moddir/report.sh" /usr/libexec/reliant-test/report
    for unit in reliant-test-prepare.service reliant-unlock-test.service reliant-test-timing.service \
        reliant-test-report.service; do
        inst_simple "$moddir/$unit" "$systemdsystemunitdir/$unit"
        $SYSTEMCTL -q --root "$initdir" enable "$unit"
    done
}

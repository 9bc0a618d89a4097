#!/bin/bash
# TEST-ONLY dracut module for the boot scenarios (tests/e2e/boot), added on
# top of the PRODUCTION module 50reliant. It changes only what the test
# environment needs:
#   - reliant-unlock accepts fake-shufflecake's dm-crypt volumes
#     (--volume-target=crypt; docs/shufflecake.md), also when it closes them
#     after a failed step (reliant-close.service);
#   - the kernel modules of the VM's disks and of dm-crypt's cipher, the disk
#     driver loaded by systemd-modules-load at once rather than by udev's
#     coldplug (seconds earlier under TCG);
#   - when the boot stops in emergency mode, a report on the marker disk
#     (dracut's shutdown-emergency hook, run with rd.shell=0).
# Everything else (units, generator, binaries) is the production module's.

check() {
    return 255
}

depends() {
    echo reliant
    return 0
}

installkernel() {
    hostonly='' instmods virtio_blk virtio_pci xts aes_generic aesni_intel
}

install() {
    mkdir -p "$initdir$systemdsystemunitdir/reliant-unlock.service.d"
    inst_simple "$moddir/unlock-test.conf" "$systemdsystemunitdir/reliant-unlock.service.d/90-test.conf"
    mkdir -p "$initdir$systemdsystemunitdir/reliant-close.service.d"
    inst_simple "$moddir/close-test.conf" "$systemdsystemunitdir/reliant-close.service.d/90-test.conf"
    mkdir -p "$initdir/etc/modules-load.d"
    echo virtio_blk > "$initdir/etc/modules-load.d/reliant-test.conf"
    inst_multiple tar sync cat ls grep dmesg journalctl systemctl blockdev readlink mkdir
    inst_hook shutdown-emergency 10 "$moddir/emergency-report.sh"
}

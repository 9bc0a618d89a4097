#!/bin/bash
# dracut module "reliant": a deniable dom0 boot (docs/boot.md).
#
# Installs reliant's static binaries under /usr/libexec/reliant, the
# `shufflecake` command, native systemd units and a generator. The units have
# no [Install] section: reliant-generator pulls them in at boot only when the
# kernel command line has rd.reliant=1, and chooses a normal boot (protect,
# unlock, verify, overlay root, heal, loops) or maintenance mode (the base
# writable, nothing unlocked). No shell runs in the boot path.
#
# Enabled explicitly (dracut --add reliant, or add_dracutmodules+=" reliant "
# in /etc/dracut.conf.d): check() returns 255.
#
# Environment (optional, for builds from a source tree):
#   RELIANT_LIBEXEC_DIR   where the built binaries are (default /usr/libexec/reliant)
#   RELIANT_SHUFFLECAKE   the shufflecake command to install (default: `shufflecake` on PATH)
#   RELIANT_VOLUME_MODULE the kernel module of Shufflecake's device-mapper target
#                         (default dm_sflc; the test stand-in's volumes need dm_crypt)

reliant_libexec_dir() {
    echo "${RELIANT_LIBEXEC_DIR:-/usr/libexec/reliant}"
}

reliant_tools() {
    echo reliant-boot reliant-healer reliant-overlay reliant-unlock
}

reliant_shufflecake() {
    if [[ -n $RELIANT_SHUFFLECAKE ]]; then
        echo "$RELIANT_SHUFFLECAKE"
    else
        find_binary shufflecake
    fi
}

reliant_volume_module() {
    echo "${RELIANT_VOLUME_MODULE:-dm_sflc}"
}

# called by dracut; only looks, never changes anything
check() {
    local dir tool
    dir=$(reliant_libexec_dir)
    for tool in $(reliant_tools); do
        require_binaries "$dir/$tool" || return 1
    done
    if [[ -z $(reliant_shufflecake) ]]; then
        derror "reliant: the shufflecake command is not installed"
        return 1
    fi
    require_binaries "$(reliant_shufflecake)" || return 1
    return 255
}

# called by dracut
depends() {
    echo systemd systemd-initrd systemd-ask-password dm
    return 0
}

# called by dracut
installkernel() {
    hostonly='' instmods -c dm_mod dm_verity loop overlay || return 1
    # Shufflecake's module is required: an image without it could open no
    # volume, and every passphrase would look wrong. A kernel update without a
    # module built for the new kernel stops here, naming the kernel.
    local module
    module=$(reliant_volume_module)
    if ! hostonly='' instmods -c "$module"; then
        derror "reliant: kernel $kernel has no $module module (Shufflecake's dm-sflc.ko): build and install it" \
            "for this kernel first (docs/install.md); the initramfs was not built"
        return 1
    fi
    # ext4 is the default filesystem of base and volumes; dm_crypt is the
    # usual companion target. Optional.
    hostonly='' instmods ext4 dm_crypt
    # xfs and btrfs volumes work too: included when the host uses them (hostonly)
    # or always in a generic initramfs.
    instmods xfs btrfs
    return 0
}

# called by dracut
install() {
    local dir tool unit shufflecake
    dir=$(reliant_libexec_dir)
    for tool in $(reliant_tools); do
        inst_binary "$dir/$tool" "/usr/libexec/reliant/$tool" || return 1
    done
    shufflecake=$(reliant_shufflecake)
    if [[ -n $RELIANT_SHUFFLECAKE ]]; then
        inst_binary "$shufflecake" /usr/sbin/shufflecake || return 1
    else
        inst_binary "$shufflecake" || return 1
    fi
    # Filesystem checks of the volumes, used only with rd.reliant.fsck=1.
    inst_multiple -o e2fsck xfs_repair btrfs

    inst_dir "$systemdutildir/system-generators"
    ln_r /usr/libexec/reliant/reliant-boot "$systemdutildir/system-generators/reliant-generator"

    for unit in reliant-protect.service reliant-unlock.service reliant-verify.service \
        reliant-prepare.service reliant-heal.service reliant-loops.service reliant-failed@.service \
        reliant-close.service; do
        inst_simple "$moddir/$unit" "$systemdsystemunitdir/$unit" || return 1
    done

    # Shufflecake's kernel module, loaded before the prompt. A failure to load
    # it does not fail the unit: reliant-unlock then finds no Shufflecake
    # target and says so on the console (not "passphrase not accepted").
    mkdir -p "$initdir$systemdsystemunitdir/reliant-unlock.service.d"
    printf '%s\n' "# Shufflecake's kernel module (reliant's dracut module, RELIANT_VOLUME_MODULE)." \
        "[Service]" "ExecStartPre=-/usr/sbin/modprobe $(reliant_volume_module)" \
        > "$initdir$systemdsystemunitdir/reliant-unlock.service.d/50-volume-module.conf"
    return 0
}

#!/bin/bash
# TEST ONLY: a scratch system tree that dracut can run in with chroot,
# without writing to the host: /usr, /etc and /var are overlays of the
# host's (writes land in a tmpfs), /proc, /sys and /dev are bound in, the
# kernel's modules are bound from the e2e kernel cache.
#   scratch-system.sh up ROOT KVER MODULES_DIR VMLINUZ
#   scratch-system.sh down ROOT
set -euo pipefail

up() {
    local root=$1 kver=$2 modules=$3 vmlinuz=$4 dir link
    mkdir -p "$root" "$root.layers"
    mount -t tmpfs -o mode=0755,size=1g reliant-test "$root.layers"
    for dir in usr etc var; do
        mkdir -p "$root/$dir" "$root.layers/$dir/upper" "$root.layers/$dir/work"
        mount -t overlay overlay \
            -o "lowerdir=/$dir,upperdir=$root.layers/$dir/upper,workdir=$root.layers/$dir/work" "$root/$dir"
    done
    for link in bin sbin lib lib32 lib64 libx32; do
        if [[ -L /$link ]]; then ln -sfn "$(readlink "/$link")" "$root/$link"; fi
    done
    for dir in proc sys dev; do
        mkdir -p "$root/$dir"
        mount --bind "/$dir" "$root/$dir"
    done
    for dir in tmp run; do
        mkdir -p "$root/$dir"
        mount -t tmpfs -o mode=1777 reliant-test "$root/$dir"
    done
    mkdir -p "$root/boot" "$root/usr/lib/modules/$kver"
    mount --bind "$modules" "$root/usr/lib/modules/$kver"
    cp "$vmlinuz" "$root/boot/vmlinuz-$kver"
}

down() {
    local root=$1
    # Innermost first; a tree that was never (fully) set up is fine too.
    findmnt -rn -o TARGET | grep -E "^$root(/|$)|^$root\.layers(/|$)" | sort -r | while read -r target; do
        umount "$target" || umount -l "$target"
    done
    rm -rf "$root" "$root.layers"
}

case ${1-} in
up) shift; up "$@" ;;
down) shift; down "$@" ;;
*) echo "usage: $0 up ROOT KVER MODULES_DIR VMLINUZ | down ROOT" >&2; exit 2 ;;
esac

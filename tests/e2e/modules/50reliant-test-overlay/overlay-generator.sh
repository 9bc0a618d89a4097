#!/bin/sh
# Writes the overlay sysroot.mount into the early generator directory ($2),
# where it wins over anything fstab-generator writes (docs/overlay.md §1).
[ -n "$2" ] || exit 0
options=$(/usr/libexec/reliant/reliant-overlay mount-options) || exit 1
mkdir -p "$2/initrd-root-fs.target.requires"
cat > "$2/sysroot.mount" <<UNIT
[Unit]
Before=initrd-root-fs.target
Requires=reliant-test-prepare.service
After=reliant-test-prepare.service
[Mount]
What=overlay
Where=/sysroot
Type=overlay
Options=$options
UNIT
ln -sf ../sysroot.mount "$2/initrd-root-fs.target.requires/sysroot.mount"

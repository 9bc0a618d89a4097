#!/usr/bin/python3
"""Builds what the boot scenarios boot, from the PRODUCTION dracut module
(dracut/modules.d/50reliant) plus the thin test module 50reliant-test-boot:

  initramfs.img      production module + test module (what every scenario boots)
  module-size.txt    the size the production module adds: the same initramfs
                     built without it and with it alone, uncompressed and gzip
  disk.img           GPT: part1 "base" (ext4 real root with systemd, then its
                     dm-verity tree), part2 "sflc" (fake-shufflecake, volumes
                     0 decoy, 1 and 2 hidden, each with its shard and pool data;
                     volume 2 also with a qube's kept firewall and notes)
  disk-broken.img    the same base; volume 1's shard claims a base qube's name
                     (frozen), volume 2's refers to a template that is gone
  disk-bad-base.img  a base whose qubes.xml qubesd would refuse (its own seal)
  testdata.img       what a session changes (a new qube and its firewall, a
                     base with a template replaced by a clone)
  vars.json          seal, offsets, passphrases and expected qubes for ${...}

  record.img         the filesystem of the seal record (GRUB environment block
                     reliant/seal.env), outside the base, as on a dom0's /boot

The real root is systemd (dracut's systemd module without a kernel), with
reliant installed into it by the real installer (dracut/install/reliant-install
--root), so the real-root units of dracut/units run at shutdown; a test
unit stands in for qubesd (no qubesd runs: it copies the qubes.xml handed to
qubesd into the report, loading nothing; a session may add a qube or replace a
template, saving as qubesd does), another reports and
powers off, and a late shutdown unit reports what shutdown left behind.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import system

HERE = Path(__file__).resolve().parent
# The qubesd stand-in (what it does not reproduce: its README).
FAKE_QUBESD = HERE.parents[1] / "fixtures" / "fake-qubesd"
E2E = HERE.parent
HARNESS = E2E / "harness" / "e2e.py"
INSTALLER = E2E.parent.parent / "dracut" / "install" / "reliant-install"
RECORD_DEVICE = "/dev/disk/by-id/virtio-record"
PRODUCTION_MODULE = E2E.parent.parent / "dracut" / "modules.d" / "50reliant"
TEST_MODULE = E2E / "modules" / "50reliant-test-boot"
DRACUT_BASE = ("bash systemd systemd-initrd systemd-journald dracut-systemd systemd-ask-password "
               "udev-rules dm base fs-lib")
MIB = 1 << 20
VOLUMES = 3
SLICE_BYTES = 8 * MIB  # fake-shufflecake: 1 MiB header, then 15 equal slices
SFLC_BYTES = MIB + 15 * SLICE_BYTES
KERNEL_VERSION_DIR = "var/lib/qubes/vm-kernels"
APPLETS = ("sh awk basename blockdev cat cp cut date dd dmesg echo find grep head ls mkdir mount mv readlink "
           "rm sed sleep sort stat sync tail tar tr truncate umount wc").split()


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def harness(cache, *argv):
    run([sys.executable, str(HARNESS), "--cache", cache] + list(argv))


def check_volume_module_required(args, work: Path, modules, env):
    """The production module refuses to build for a kernel without
    Shufflecake's module (Debian's kernel has no dm_sflc), naming the kernel."""
    (work / "initramfs-refused.img").unlink(missing_ok=True)
    refused = subprocess.run([sys.executable, str(HARNESS), "--cache", args.cache, "initramfs", "--modules",
                              DRACUT_BASE + " reliant", *modules, *env, "--out", str(work / "initramfs-refused.img")],
                             capture_output=True, text=True)
    said = re.search(r"reliant: kernel \S+ has no dm_sflc module[^\n]*", refused.stdout + refused.stderr)
    if refused.returncode == 0 or not said or (work / "initramfs-refused.img").exists():
        sys.exit("setup: the reliant module did not refuse a kernel without dm_sflc:\n" + refused.stdout +
                 refused.stderr)
    print(f"refused as it must be: {said.group(0)}")


def build_initramfs(args, work: Path):
    env = ["--env", f"RELIANT_LIBEXEC_DIR={args.bin_dir}", "--env", f"RELIANT_SHUFFLECAKE={args.fake}"]
    modules = ["--module-dir", str(PRODUCTION_MODULE), "--module-dir", str(TEST_MODULE)]
    check_volume_module_required(args, work, modules, env)
    # fake-shufflecake's volumes are dm-crypt: its module stands for dm_sflc.
    env += ["--env", "RELIANT_VOLUME_MODULE=dm_crypt"]
    harness(args.cache, "initramfs", "--modules", DRACUT_BASE + " reliant reliant-test-boot", *modules, *env,
            "--out", str(work / "initramfs.img"))
    # The module's cost: the same build without it, and with the production module alone.
    harness(args.cache, "initramfs", "--modules", DRACUT_BASE, "--out", str(work / "initramfs-without.img"))
    harness(args.cache, "initramfs", "--modules", DRACUT_BASE + " reliant", *modules, *env,
            "--out", str(work / "initramfs-production.img"))
    sizes, files = {}, {}
    for name in ("without", "production"):
        data = (work / f"initramfs-{name}.img").read_bytes()
        sizes[name] = (len(data), len(gzip.compress(data, 6)))
        files[name] = cpio_files(data)
    added = sizes["production"][0] - sizes["without"][0]
    added_gz = sizes["production"][1] - sizes["without"][1]
    parts = {"reliant binaries": 0, "shufflecake command": 0, "kernel modules": 0, "other": 0}
    for path, size in files["production"].items():
        if path in files["without"]:
            continue
        if path.startswith("usr/libexec/reliant/"):
            parts["reliant binaries"] += size
        elif path.endswith("/shufflecake"):
            parts["shufflecake command"] += size
        elif ".ko" in path:
            parts["kernel modules"] += size
        else:
            parts["other"] += size
    report = (f"the reliant module adds {added / MIB:.2f} MiB to the initramfs "
              f"({sizes['without'][0] / MIB:.2f} -> {sizes['production'][0] / MIB:.2f} MiB uncompressed), "
              f"{added_gz / MIB:.2f} MiB gzip -6 "
              f"({sizes['without'][1] / MIB:.2f} -> {sizes['production'][1] / MIB:.2f} MiB); new files: "
              + ", ".join(f"{part} {size / MIB:.2f} MiB" for part, size in parts.items())
              + " (the shufflecake command here is the test stand-in)")
    (work / "module-size.txt").write_text(report + "\n")
    print("boot e2e setup:", report)


def cpio_files(data: bytes):
    """{path: size} of the regular files in an uncompressed newc cpio archive."""
    files, offset = {}, 0
    while offset + 110 <= len(data) and data[offset:offset + 6] in (b"070701", b"070702"):
        fields = [int(data[offset + 6 + 8 * i:offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name = data[offset + 110:offset + 110 + name_size - 1].decode("utf-8", "replace")
        offset = (offset + 110 + name_size + 3) & ~3
        if name == "TRAILER!!!":
            break
        if mode & 0o170000 == 0o100000:
            files[name.lstrip("./")] = size
        offset = (offset + size + 3) & ~3
    return files


def install(source, target: Path, mode=0o755):
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def link(target: str, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def install_reliant(args, tree: Path, fs_bytes: int, record_tree: Path):
    """reliant-install --root: binaries, module, real-root units, settings and
    the empty seal record, which then moves to its own filesystem."""
    (tree / "boot").mkdir(exist_ok=True)
    run([str(INSTALLER), "--root", str(tree), "--bin-dir", str(args.bin_dir), "--device", "PARTLABEL=sflc",
         "--base", "PARTLABEL=base", "--integrity", "verity", "--verity-offset", str(fs_bytes),
         "--record-device", RECORD_DEVICE, "--record-fstype", "ext4", "--record-mountpoint", "/boot",
         "--no-initramfs", "--no-grub-mkconfig"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(record_tree, ignore_errors=True)
    shutil.move(str(tree / "boot"), str(record_tree))
    (tree / "boot").mkdir()
    # TEST ONLY: fake-shufflecake's volumes are dm-crypt (as the initramfs's
    # unlock drop-in); the shutdown unit's close must accept them too.
    install(HERE / "root" / "shutdown-test.conf",
            tree / "etc/systemd/system/reliant-shutdown.service.d/90-test.conf", 0o644)


def make_root(args, tree: Path, base_xml: Path):
    """The base system: a real root with systemd, the base qubes.xml and its
    templates, and the test units (reliant itself comes from the installer)."""
    harness(args.cache, "rootfs", "--out", str(tree))
    # Partitions of the root's own disk are no business of this test system.
    for generator in tree.glob("usr/lib/systemd/system-generators/systemd-gpt-auto-generator"):
        generator.unlink()
    (tree / "etc/os-release").write_text('ID=reliant-e2e\nNAME="reliant e2e base"\n')
    test_dir = tree / "usr/lib/reliant-test"
    install("/bin/busybox", test_dir / "busybox")
    for applet in APPLETS:
        link("../busybox", test_dir / "bin" / applet)
    install(FAKE_QUBESD / "qubesd-start", test_dir / "qubesd-start")
    for script in ("session", "shutdown-report"):
        install(HERE / "root" / script, test_dir / script)
    units = tree / "etc/systemd/system"
    install(FAKE_QUBESD / "qubesd.service", units / "qubesd.service", 0o644)
    for unit in ("reliant-test-session.service", "reliant-test-shutdown.service"):
        install(HERE / "root" / unit, units / unit, 0o644)
    link("/usr/lib/systemd/system/multi-user.target", units / "default.target")
    link("/etc/systemd/system/qubesd.service", units / "multi-user.target.wants/qubesd.service")
    link("/etc/systemd/system/reliant-test-session.service",
         units / "multi-user.target.wants/reliant-test-session.service")
    link("/etc/systemd/system/reliant-test-shutdown.service",
         units / "final.target.wants/reliant-test-shutdown.service")
    install(args.fake, tree / "usr/sbin/shufflecake")
    # Qubes' create-snapshot, which reliant binds its own over (never run here).
    script = tree / "usr/lib/qubes/create-snapshot"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\necho 'qubes create-snapshot ran: reliant did not replace it' >&2\nexit 3\n")
    script.chmod(0o755)
    # The base qubes.xml, its file-pool templates and the kernel it names.
    qubes = tree / "var/lib/qubes"
    qubes.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_xml, qubes / "qubes.xml")
    (qubes / "qubes.xml").chmod(0o660)
    root = system.read_root(base_xml)
    for domain in root.find("domains"):
        if domain.get("class") != "TemplateVM":
            continue
        name = system.qube_name(domain)
        image = tree / system.FILE_POOL_DIR.lstrip("/") / "vm-templates" / name / "root.img"
        image.parent.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as out:
            out.write(f"TEMPLATE {name}\n".encode())
            out.truncate(MIB)
    kernel = next(p.text for p in root.findall("./properties/property") if p.get("name") == "default_kernel")
    (tree / KERNEL_VERSION_DIR / kernel).mkdir(parents=True, exist_ok=True)
    (tree / KERNEL_VERSION_DIR / kernel / "vmlinuz").write_bytes(b"")


def build_system(args, work: Path):
    """full.xml -> base.xml + shards/ (+ the broken shards), checked to load."""
    sysdir = work / "system"
    shutil.rmtree(sysdir, ignore_errors=True)
    sysdir.mkdir(parents=True)
    full = sysdir / "full.xml"
    system.write_xml(system.convert(Path(args.data) / "fixtures" / "system-small.xml"), full)
    shards = sysdir / "shards"
    system.split(args.healer, full, sysdir / "base.xml", shards)
    system.store_kept_files(args.healer, full, sysdir / "base.xml", shards)
    system.replaced_base(sysdir / "base.xml", sysdir / "qubes-replaced.xml")
    system.new_qube(full, sysdir / "new-qube.xml")
    system.break_shards(shards, sysdir / "broken")
    return sysdir


def volume_image(work: Path, cache: str, index: int, shard: Path, name: str) -> Path:
    root = work / "volumes" / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if shard is not None:
        shutil.copyfile(shard, root / "qubes.xml")
        (root / "qubes.xml").chmod(0o600)
        system.pool_files(shard, root.parent / name)
        if (shard.parent / "qube-files").is_dir():  # the files dom0 keeps for its qubes
            shutil.copytree(shard.parent / "qube-files", root / "qube-files", symlinks=True)
    (root / "id").write_text(f"volume-{index}\n")
    image = work / "volumes" / f"{name}.ext4"
    harness(cache, "ext4", "--source", str(root), "--size", f"{SLICE_BYTES // MIB}M", "--label", "volume",
            "--out", str(image))
    return image


def sflc_image(args, work: Path, name: str, images, passphrases) -> Path:
    image = work / f"{name}.img"
    with open(image, "wb") as blank:
        blank.truncate(SFLC_BYTES)
    lines = "".join(passphrases[key] + "\n" for key in ("DECOY", "HIDDEN1", "HIDDEN2"))
    run([args.fake, "init", "--no-randfill", str(image)] + [str(i) for i in images], input=lines.encode(),
        stdout=subprocess.DEVNULL)
    return image


def disk_image(path: Path, base_part: Path, sflc_part: Path, base_bytes: int):
    with open(path, "wb") as blank:
        blank.truncate(MIB + base_bytes + SFLC_BYTES + MIB)
    table = (f"label: gpt\nstart=2048, size={base_bytes // 512}, name=base\n"
             f"size={SFLC_BYTES // 512}, name=sflc\n")
    run(["sfdisk", "-q", str(path)], input=table.encode())
    for part, offset in ((base_part, MIB), (sflc_part, MIB + base_bytes)):
        run(["dd", f"if={part}", f"of={path}", "bs=1M", f"seek={offset // MIB}", "conv=notrunc,sparse",
             "status=none"])


def seal(overlay: str, part: Path, fs_bytes: int) -> str:
    empty = part.parent / "empty-cmdline"
    empty.write_text("\n")
    out = run([overlay, "--cmdline", str(empty), "seal", "--base", str(part), "--mode", "verity",
               "--hash", str(part), "--hash-offset", str(fs_bytes)], capture_output=True, text=True).stdout
    for argument in out.split():
        if argument.startswith("rd.reliant.verity.roothash="):
            return argument.split("=", 1)[1]
    sys.exit("boot e2e setup: reliant-overlay seal printed no root hash:\n" + out)


def tree_bytes(tree: Path) -> int:
    total = 0
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_blocks * 512
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in ("cache", "work", "data", "bin_dir", "fake"):
        parser.add_argument("--" + option.replace("_", "-"), required=True)
    args = parser.parse_args()
    args.bin_dir = Path(args.bin_dir).resolve()
    args.fake = str(Path(args.fake).resolve())
    args.healer = str(args.bin_dir / "reliant-healer")
    args.overlay = str(args.bin_dir / "reliant-overlay")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    passphrases = json.loads((HERE / "passphrases.json").read_text())

    build_initramfs(args, work)
    sysdir = build_system(args, work)
    tree = work / "base-tree"
    make_root(args, tree, sysdir / "base.xml")
    # Every file the scenarios need must load in qubesd on this root.
    shards = sysdir / "shards"
    system.check(args.healer, [sysdir / "full.xml", sysdir / "base.xml", sysdir / "qubes-replaced.xml"], tree)

    # The filesystem's size sets the verity offset the installer records:
    # size the tree with reliant's binaries counted in, then install.
    binaries = sum(p.stat().st_size for p in args.bin_dir.iterdir() if p.is_file())
    fs_bytes = ((tree_bytes(tree) + binaries) * 5 // 4 // MIB + 24) // 4 * 4 * MIB
    install_reliant(args, tree, fs_bytes, work / "record")
    harness(args.cache, "ext4", "--source", str(work / "record"), "--size", "8M", "--label", "record",
            "--out", str(work / "record.img"))
    base_bytes = fs_bytes + 4 * MIB  # room for the verity tree behind the filesystem
    part1 = work / "base-part.img"
    harness(args.cache, "ext4", "--source", str(tree), "--size", f"{fs_bytes // MIB}M", "--label", "base",
            "--out", str(part1))
    os.truncate(part1, base_bytes)
    root_hash = seal(args.overlay, part1, fs_bytes)
    # A base whose own qubes.xml qubesd would refuse (two qubes share a qid):
    # the healer must stop the boot, sealed like the good one.
    system.duplicate_qid(sysdir / "base.xml", tree / "var/lib/qubes/qubes.xml")
    bad_part1 = work / "bad-base-part.img"
    harness(args.cache, "ext4", "--source", str(tree), "--size", f"{fs_bytes // MIB}M", "--label", "base",
            "--out", str(bad_part1))
    os.truncate(bad_part1, base_bytes)
    bad_root_hash = seal(args.overlay, bad_part1, fs_bytes)

    good = [volume_image(work, args.cache, n, shards / f"sflc_0_{n}" / "qubes.xml", f"sflc_0_{n}")
            for n in range(VOLUMES)]
    broken = [good[0]] + [volume_image(work, args.cache, n, sysdir / "broken" / f"sflc_0_{n}" / "qubes.xml",
                                       f"broken-sflc_0_{n}") for n in (1, 2)]
    disk_image(work / "disk.img", part1, sflc_image(args, work, "sflc", good, passphrases), base_bytes)
    disk_image(work / "disk-broken.img", part1, sflc_image(args, work, "sflc-broken", broken, passphrases),
               base_bytes)
    disk_image(work / "disk-bad-base.img", bad_part1, work / "sflc.img", base_bytes)
    for scratch in (part1, bad_part1, work / "sflc.img", work / "sflc-broken.img"):
        scratch.unlink()

    data = work / "testdata"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    shutil.copyfile(sysdir / "new-qube.xml", data / "new-qube.xml")
    (data / "new-qube.name").write_text(system.NEW_QUBE + "\n")
    (data / "new-qube-firewall.xml").write_text(system.NEW_QUBE_FIREWALL)
    shutil.copyfile(sysdir / "qubes-replaced.xml", data / "qubes-replaced.xml")
    (data / "replace").write_text(f"{system.RENAME_FROM} {system.RENAME_TO}\n")
    harness(args.cache, "ext4", "--source", str(data), "--size", "4M", "--label", "testdata",
            "--out", str(work / "testdata.img"))

    sflc_start = MIB + base_bytes
    values = dict(passphrases)
    values.update(system.expectations(sysdir / "full.xml", sysdir / "base.xml", shards))
    values.update({
        "WORK": str(work),
        "HERE": str(HERE),
        "PYTHON": sys.executable,
        "FAKE": str(Path(args.fake).resolve()),
        "ROOT_HASH": root_hash,
        "BAD_BASE_ROOT_HASH": bad_root_hash,
        "VERITY_OFFSET": str(fs_bytes),
        "SFLC_START": str(sflc_start),
        "SFLC_BYTES": str(SFLC_BYTES),
        # Volume N's bytes on the disk: what a boot may write.
        "VOLUME0_REGION": f"{sflc_start + MIB}:{SLICE_BYTES}",
        "BASE_REGION": f"{MIB}:{base_bytes}",
        "CMDLINE": ("rd.reliant=1 rd.reliant.device=PARTLABEL=sflc rd.reliant.base=PARTLABEL=base "
                    "rd.reliant.overlay.size=96M rd.reliant.integrity=verity "
                    f"rd.reliant.verity.offset={fs_bytes}"),
    })
    system.dump(values, work / "vars.json")
    # What `reliant-healer check` reads of a root (the kernels, the qubes
    # callbacks), kept for scripts/demo: it checks each boot's merged
    # qubes.xml against the root that boot ran.
    check_root = work / "check-root"
    shutil.rmtree(check_root, ignore_errors=True)
    for part in (KERNEL_VERSION_DIR, "etc/qubes_callback.json"):
        if (tree / part).is_dir():
            shutil.copytree(tree / part, check_root / part, symlinks=True)
        elif (tree / part).exists():
            (check_root / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tree / part, check_root / part)
    shutil.rmtree(tree)
    print("boot e2e setup: ready in", work)


if __name__ == "__main__":
    main()

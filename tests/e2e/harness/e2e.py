#!/usr/bin/python3
"""reliant's QEMU end-to-end harness (stdlib only).

Subcommands, each usable by any e2e scenario family:
  kernel     fetch the current Debian kernel package into a cache (no install)
  initramfs  build a dracut initramfs from a private copy of dracut's modules
  ext4       build an ext4 image from a directory (mkfs.ext4 -d, no mounts)
  rootfs     a directory tree with the host's systemd as PID 1 (for a real
             root after switch-root), made by dracut without a kernel
  boot       boot one scenario (a JSON file) and judge it; a scenario may
             boot several times on the same writable disks ("boots")

A scenario boots the kernel with an initramfs under TCG, answers prompts on
the serial console through a FIFO, and is judged by a marker disk (a tar
archive the guest writes) and the serial log. docs/development.md, "e2e".
"""

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import select
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path


def log(*parts):
    print("e2e:", *parts, flush=True)


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


# --- kernel -----------------------------------------------------------------

def current_kernel_package():
    """linux-image-<abi>-amd64 that linux-image-amd64 depends on today."""
    for attempt in range(2):
        out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            match = re.match(r"\s*Depends:\s*(linux-image-\S+-amd64)\s*$", line)
            if match:
                return match.group(1)
        if attempt == 0:  # no package lists yet on this machine
            run(["apt-get", "update", "-qq"])
    sys.exit("e2e: cannot tell which kernel linux-image-amd64 depends on")


def fetch_kernel(cache: Path):
    """Downloads and unpacks the kernel once per package version; returns (kver, root)."""
    package = current_kernel_package()
    kver = package[len("linux-image-"):]
    root = cache / package
    stamp = root / ".reliant-e2e-ready"
    if not stamp.exists():
        shutil.rmtree(root, ignore_errors=True)
        download = cache / "download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        log("downloading", package)
        run(["apt-get", "download", package], cwd=download)
        debs = list(download.glob(package + "_*.deb"))
        if len(debs) != 1:
            sys.exit(f"e2e: expected one {package} package, found {debs}")
        run(["dpkg-deb", "-x", str(debs[0]), str(root)])
        run(["depmod", "-b", str(root), kver])
        shutil.rmtree(download)
        stamp.write_text(package + "\n")
        for old in cache.glob("linux-image-*-amd64"):  # 400 MB each: keep only today's
            if old != root:
                shutil.rmtree(old, ignore_errors=True)
    return kver, root


def pvh_entry_image(root: Path, kver):
    """The kernel as an ELF with a PVH entry note, made once from its bzImage;
    None when the bzImage is not of a kind read here.

    QEMU starts such an ELF at its 32-bit PVH entry (the way Xen starts a PVH
    guest): no firmware loading, no decompression. Under TCG the bzImage's xz
    decompression alone took about 5 s of every boot (measured: "Welcome" of
    the initramfs at 12.5 s with the bzImage, 7.9 s with this). What runs
    once the kernel is up is the same kernel, modules and initramfs.
    """
    image = root / "boot" / f"vmlinux-pvh-{kver}"
    if image.exists():
        return image
    bzimage = (root / "boot" / f"vmlinuz-{kver}").read_bytes()
    if bzimage[0x202:0x206] != b"HdrS" or int.from_bytes(bzimage[0x206:0x208], "little") < 0x208:
        return None
    setup_sectors = bzimage[0x1f1] or 4
    payload_offset = int.from_bytes(bzimage[0x248:0x24c], "little")
    payload_length = int.from_bytes(bzimage[0x24c:0x250], "little")
    start = (setup_sectors + 1) * 512 + payload_offset
    payload = bzimage[start:start + payload_length]
    if payload.startswith(b"\xfd7zXZ\x00"):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = gzip.decompress(payload)
    else:  # zstd, lz4, ...: not in Python's standard library
        return None
    if not elf.startswith(b"\x7fELF") or not has_pvh_entry_note(elf):
        return None
    partial = image.with_name(f"{image.name}.partial-{os.getpid()}")  # two boots may unpack it at once
    partial.write_bytes(elf)
    os.replace(partial, image)
    return image


def has_pvh_entry_note(elf: bytes):
    """Whether a 64-bit little-endian ELF carries XEN_ELFNOTE_PHYS32_ENTRY (18)."""
    if elf[4] != 2 or elf[5] != 1:
        return False
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    phnum = int.from_bytes(elf[0x38:0x3a], "little")
    for index in range(phnum):
        header = elf[phoff + index * phentsize:phoff + (index + 1) * phentsize]
        if int.from_bytes(header[0:4], "little") != 4:  # PT_NOTE
            continue
        offset = int.from_bytes(header[8:16], "little")
        end = offset + int.from_bytes(header[32:40], "little")
        while offset + 12 <= end:
            namesz, descsz, kind = (int.from_bytes(elf[offset + i:offset + i + 4], "little") for i in (0, 4, 8))
            name = elf[offset + 12:offset + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and kind == 18:
                return True
            offset += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def boot_kernel(cache: Path):
    """What QEMU's -kernel gets: the PVH entry image, else the bzImage."""
    kver, root = fetch_kernel(cache)
    return str(pvh_entry_image(root, kver) or root / "boot" / f"vmlinuz-{kver}")


def cmd_kernel(args):
    kver, root = fetch_kernel(Path(args.cache))
    print(json.dumps({"kver": kver, "root": str(root),
                      "vmlinuz": str(root / "boot" / f"vmlinuz-{kver}")}))


# --- initramfs ----------------------------------------------------------------

def private_dracut_base(cache: Path, module_dirs):
    """A copy of /usr/lib/dracut plus our modules, so /usr is never written."""
    base = cache / "dracut-base"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree("/usr/lib/dracut", base, symlinks=True)
    for module in module_dirs:
        module = Path(module).resolve()
        (base / "modules.d" / module.name).symlink_to(module)
    return base


def inputs_digest(paths, extra):
    digest = hashlib.sha256("\0".join(extra).encode())
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cmd_initramfs(args):
    cache = Path(args.cache)
    kver, root = fetch_kernel(cache)
    out = Path(args.out)
    env_pairs = [pair.split("=", 1) for pair in args.env]
    # Files and directories named in the environment (binaries, a directory
    # of binaries) are inputs too.
    inputs = list(args.module_dir) + [value for _, value in env_pairs if Path(value).exists()]
    digest = inputs_digest(inputs, [kver, args.modules, args.compress] + args.env)
    stamp = out.with_name(out.name + ".inputs")
    if out.exists() and stamp.exists() and stamp.read_text() == digest:
        log("initramfs up to date:", out)
        return
    base = private_dracut_base(cache, args.module_dir)
    confdir = cache / "dracut-conf.d"
    confdir.mkdir(parents=True, exist_ok=True)
    tmp = cache / "dracut-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, dracutbasedir=str(base))
    env.update({key: value for key, value in env_pairs})
    argv = ["dracut", "--force", "--quiet", "--no-hostonly", "--no-hostonly-cmdline",
            "--no-early-microcode", "--conf", "/dev/null", "--confdir", str(confdir),
            "--kver", kver, "--kmoddir", str(root / "lib" / "modules" / kver),
            "--tmpdir", str(tmp), "--modules", args.modules]
    argv += ["--no-compress"] if args.compress == "none" else ["--compress", args.compress]
    started = time.monotonic()
    run(argv + [str(out)], env=env)
    stamp.write_text(digest)
    log(f"initramfs {out} built in {time.monotonic() - started:.1f} s")


# --- disk images --------------------------------------------------------------

def cmd_ext4(args):
    run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-L", args.label, "-d", args.source, args.out, args.size])


def cmd_rootfs(args):
    """dracut's systemd module without a kernel and without the initrd
    modules: systemd, journald, udevd, systemctl and the standard units with
    their libraries, and no /etc/initrd-release, so systemd boots it as a
    real root."""
    out = Path(args.out)
    tmp = Path(args.cache) / "rootfs-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    confdir = Path(args.cache) / "dracut-conf.d"
    confdir.mkdir(parents=True, exist_ok=True)
    run(["dracut", "--force", "--quiet", "--no-hostonly", "--no-hostonly-cmdline", "--no-early-microcode",
         "--conf", "/dev/null", "--confdir", str(confdir), "--no-kernel", "--no-compress",
         "--modules", args.modules, "--keep", "--tmpdir", str(tmp), str(tmp / "unused.img")])
    trees = list(tmp.glob("dracut.*/initramfs"))
    if len(trees) != 1:
        sys.exit(f"e2e: expected one dracut tree in {tmp}, found {trees}")
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(trees[0]), str(out))
    shutil.rmtree(tmp)
    for initrd_only in ("init", "etc/initrd-release", "etc/cmdline.d", "etc/conf.d"):
        path = out / initrd_only
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


# --- booting a scenario -----------------------------------------------------------

class Serial:
    """QEMU's -serial pipe:BASE (BASE.in to the guest, BASE.out from it)."""

    def __init__(self, base: Path, log_path: Path):
        for suffix in (".in", ".out"):
            path = Path(str(base) + suffix)
            if path.exists():
                path.unlink()
            os.mkfifo(path)
        # Opened before QEMU starts: O_RDWR on a FIFO does not block on Linux.
        self.out = os.open(str(base) + ".out", os.O_RDWR | os.O_NONBLOCK)
        self.into = os.open(str(base) + ".in", os.O_RDWR)
        self.log = open(log_path, "wb")
        self.text = ""

    def pump(self, wait):
        ready, _, _ = select.select([self.out], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self.out, 65536)
        except BlockingIOError:
            return
        self.log.write(chunk)
        self.log.flush()
        self.text += chunk.decode("utf-8", "replace")

    def send(self, text):
        os.write(self.into, text.encode())

    def close(self):
        os.close(self.out)
        os.close(self.into)
        self.log.close()


def writable_copy(disk_dir: Path, disk):
    """Where a scenario's writable copy of a disk image lives (made by cmd_boot)."""
    return disk_dir / f"{disk['serial']}.img"


def qemu_argv(scenario, kernel, initrd, run_dir, serial_base, disk_dir):
    memory = str(scenario.get("memory", 512))
    argv = ["timeout", "-k", "10", str(scenario.get("timeout", 240)),
            "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg,tb-size=64", "-cpu", "qemu64",
            "-m", memory, "-smp", "1", "-nodefaults", "-display", "none", "-vga", "none",
            "-no-reboot", "-serial", f"pipe:{serial_base}",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0,115200 panic=1 oops=panic rd.shell=0 rd.emergency=poweroff "
                       "loglevel=4 " + scenario.get("cmdline", "")]
    for index, disk in enumerate(scenario.get("disks", [])):
        if disk.get("writable"):  # the scenario's own copy, kept across its boots
            path = str(writable_copy(disk_dir, disk))
            options = ""
        elif "image" in disk:
            path = disk["image"]
            options = ",snapshot=on" if disk.get("snapshot", True) else ""
        else:  # a fresh blank disk, e.g. the marker
            path = str(run_dir / f"{disk['serial']}.img")
            with open(path, "wb") as blank:
                blank.truncate(int(disk.get("size_mib", 1)) << 20)
            options = ""
        argv += ["-drive", f"if=none,id=d{index},file={path},format=raw{options}",
                 "-device", f"virtio-blk-pci,drive=d{index},serial={disk['serial']}"]
    return argv


def boot(scenario, kernel, initrd, run_dir: Path, disk_dir: Path):
    """Boots until QEMU exits; answers prompts in order. Returns the serial
    text, QEMU's status, the time taken, the prompts never seen, and the host
    times of "serial_metrics" (seconds from an answer to a console line)."""
    serial = Serial(run_dir / "serial", run_dir / "serial.log")
    prompts = list(scenario.get("prompts", []))
    answered = []  # host time of each answer
    pending = [dict(metric) for metric in scenario.get("serial_metrics", [])]
    measured = {}
    started = time.monotonic()
    qemu = subprocess.Popen(qemu_argv(scenario, kernel, initrd, run_dir, run_dir / "serial", disk_dir),
                            stdin=subprocess.DEVNULL)
    seen_upto = 0
    try:
        while qemu.poll() is None:
            serial.pump(0.2)
            now = time.monotonic()
            for metric in list(pending):
                after = metric["after_prompt"]
                if after < len(answered) and re.search(metric["to"], serial.text[metric.setdefault(
                        "from_offset", answered[after][1]):]):
                    measured[metric["name"]] = now - answered[after][0]
                    pending.remove(metric)
            if prompts:
                match = re.compile(prompts[0]["expect"]).search(serial.text, seen_upto)
                if match:
                    time.sleep(prompts[0].get("delay", 1.0))  # let the agent settle on the tty
                    serial.send(prompts[0]["answer"] + "\n")
                    answered.append((time.monotonic(), len(serial.text)))
                    seen_upto = match.end()
                    prompts.pop(0)
        for _ in range(5):
            serial.pump(0.1)
    finally:
        if qemu.poll() is None:
            qemu.kill()
        qemu.wait()
        serial.close()
    elapsed = time.monotonic() - started
    return serial.text, qemu.returncode, elapsed, prompts, measured


def read_marker(path: Path, reports):
    """The guest's reports: tar archives written raw onto the marker disk,
    each at its offset (MiB); files of the one at prefix P are named P+name.
    Returns the files and a failure for each report that is missing or
    unreadable: a scenario lists only the reports its boot writes, and the
    scans for secrets and forbidden names must not pass over a lost one."""
    files, failures = {}, []
    for prefix, offset_mib in reports.items():
        found = 0
        try:
            with open(path, "rb") as disk:
                disk.seek(int(offset_mib) << 20)
                with tarfile.open(fileobj=disk, mode="r:") as archive:
                    for member in archive.getmembers():
                        if member.isfile():
                            files[prefix + member.name.lstrip("./")] = archive.extractfile(member).read()
                            found += 1
        except (tarfile.TarError, OSError) as error:
            failures.append(f"report {prefix or '(main)'!s} at {offset_mib} MiB: unreadable ({error})")
            continue
        if not found:
            failures.append(f"report {prefix or '(main)'!s} at {offset_mib} MiB: missing from the marker disk")
    return files, failures


# What a check may say; judge() evaluates nothing else, so anything else (a
# typo such as "absnt") would turn a check into a bare "the file exists".
CHECK_KEYS = {"file", "optional", "equals", "matches", "absent", "before",
              "qube_names", "qube", "property", "feature", "present", "text", "xpath", "count"}
XML_KEYS = {"qube_names", "qube", "xpath"}


def check_problems(check):
    """Why judge() could not evaluate `check` as written (empty: it can)."""
    problems = [f"unknown key {key!r}" for key in sorted(set(check) - CHECK_KEYS)]
    if "file" not in check:
        problems.append("no \"file\"")
    if set(check) & XML_KEYS:
        problems += [f"{key!r} is not evaluated with {sorted(set(check) & XML_KEYS)}"
                     for key in ("absent", "before") if key in check]
        needs = {"property": "qube", "feature": "qube", "present": "qube", "matches": "qube", "count": "xpath"}
        problems += [f"{key!r} needs {needs[key]!r}" for key in needs if key in check and needs[key] not in check]
    elif set(check) & {"property", "feature", "present", "text", "count"}:
        problems.append("\"property\", \"feature\", \"present\", \"text\" and \"count\" need \"qube\" or \"xpath\"")
    if not set(check) - {"file", "optional"}:
        problems.append("it checks nothing but that the file exists: say so with \"matches\": \"\"")
    return problems


def scenario_problems(raw):
    """Every check of a scenario and of its boots, before anything boots."""
    problems = []
    for index, step in enumerate([raw] + raw.get("boots", [])):
        where = "scenario" if index == 0 else f"boot {index}"
        for check in step.get("checks", []):
            problems += [f"{where}, check {check.get('file', '?')!r}: {problem}" for problem in check_problems(check)]
    return problems


def qube_names(xml_text):
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.fromstring(xml_text)
    return {prop.text or "" for prop in root.findall("./domains/domain/properties/property[@name='name']")}


def judge_xml(check, content):
    """"qube_names": the exact set of qube names; "qube" with "property" or
    "feature": its "text", a regex it "matches", or whether it is "present";
    "xpath": how often the path matches ("count"), or the text of its first
    match ("text")."""
    import xml.etree.ElementTree as ElementTree
    failures = []
    name = check["file"]
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        return [f"{name}: not XML ({error})"]
    if "qube_names" in check:
        found, wanted = qube_names(content), set(check["qube_names"])
        if found != wanted:
            failures.append(f"{name}: qubes missing {sorted(wanted - found)}, unexpected {sorted(found - wanted)}")
    if "qube" in check:  # one qube's property or feature: "text", "matches", or "present"
        domain = next((d for d in root.findall("./domains/domain")
                       if d.findtext("./properties/property[@name='name']") == check["qube"]), None)
        if domain is None:
            return failures + [f"{name}: no qube {check['qube']!r}"]
        kind, key = ("property", check["property"]) if "property" in check else ("feature", check["feature"])
        element = domain.find(f"./{kind.replace('property', 'properties').replace('feature', 'features')}"
                              f"/{kind}[@name='{key}']")
        what = f"{name}: {check['qube']}'s {kind} {key}"
        if "present" in check and (element is not None) != check["present"]:
            failures.append(f"{what} is {'absent' if element is None else 'present'}")
        value = None if element is None else (element.text or "")
        if "text" in check and value != check["text"]:
            failures.append(f"{what} is {value!r}, not {check['text']!r}")
        if "matches" in check and (value is None or not re.search(check["matches"], value)):
            failures.append(f"{what} is {value!r}, no match for {check['matches']!r}")
    if "xpath" in check:
        matches = root.findall(check["xpath"])
        if "count" in check and len(matches) != int(check["count"]):
            failures.append(f"{name}: {check['xpath']} matches {len(matches)} times, not {check['count']}")
        if "text" in check and (not matches or (matches[0].text or "") != check["text"]):
            got = (matches[0].text if matches else None)
            failures.append(f"{name}: {check['xpath']} is {got!r}, not {check['text']!r}")
    return failures


def judge(scenario, serial_text, marker_files, unanswered):
    failures = []
    if unanswered:
        failures.append(f"prompt never appeared: {unanswered[0]['expect']!r}")
    for check in scenario.get("checks", []):
        name = check["file"]
        if name == "serial.log":
            content = serial_text
        elif name in marker_files:
            content = marker_files[name].decode("utf-8", "replace")
        else:
            if not check.get("optional"):
                failures.append(f"{name}: missing from the marker disk")
            continue
        if "equals" in check and content.strip() != check["equals"]:
            failures.append(f"{name}: {content.strip()!r} is not {check['equals']!r}")
        if "qube_names" in check or "xpath" in check or "qube" in check:
            failures += judge_xml(check, content)
            continue
        if "before" in check:  # [A, B]: A's first match comes before B's first match
            first, then = (re.search(pattern, content, re.M) for pattern in check["before"])
            if not first or not then or first.start() > then.start():
                failures.append(f"{name}: {check['before'][0]!r} is not before {check['before'][1]!r}"
                                + ("" if first and then else " (one of them is missing)"))
        if "matches" in check and not re.search(check["matches"], content, re.M):
            failures.append(f"{name}: no match for {check['matches']!r}")
        if "absent" in check and re.search(check["absent"], content, re.M):
            failures.append(f"{name}: unexpected match for {check['absent']!r}")
    # Secrets may appear nowhere: not on the console, not in any file reported.
    for secret in scenario.get("secrets", []):
        blob = secret.encode()
        if blob in serial_text.encode():
            failures.append("a secret appears in the serial log")
        for name, content in marker_files.items():
            if blob in content:
                failures.append(f"a secret appears in {name}")
    # "forbidden": patterns no report file and no console line may contain
    # (e.g. the names only a hidden volume holds, after a decoy boot).
    for pattern in scenario.get("forbidden", []):
        regex = re.compile(pattern.encode())
        if regex.search(serial_text.encode()):
            failures.append(f"serial.log: forbidden {pattern!r} appears")
        for name, content in marker_files.items():
            if regex.search(content):
                failures.append(f"{name}: forbidden {pattern!r} appears")
    if not marker_files:
        failures.append("the marker disk holds no report")
    return failures


MONOTONIC_STAMP = re.compile(r"^\[\s*([0-9]+\.[0-9]+)\]")


def guest_metrics(scenario, marker_files):
    """Seconds between two lines of a report with monotonic stamps
    (journalctl -o short-monotonic), e.g. the unlock result to switch-root."""
    values, failures = {}, []
    for metric in scenario.get("metrics", []):
        text = marker_files.get(metric["file"], b"").decode("utf-8", "replace")
        start = end = None
        for line in text.splitlines():
            stamp = MONOTONIC_STAMP.match(line)
            if not stamp:
                continue
            if start is None and re.search(metric["from"], line):
                start = float(stamp.group(1))
            elif start is not None and re.search(metric["to"], line):
                end = float(stamp.group(1))
                break
        if start is None or end is None:
            failures.append(f"metric {metric['name']!r}: its lines are not in {metric['file']}")
        else:
            values[metric["name"]] = end - start
    return values, failures


def host_checks(scenario, variables):
    """Commands run on the host after a boot (e.g. comparing disk bytes)."""
    failures = []
    for check in scenario.get("host_checks", []):
        argv = []
        for item in substitute(check["argv"], variables):  # a list variable adds its items
            argv += item if isinstance(item, list) else [item]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.stdout.strip():
            print(result.stdout.rstrip())
        if result.returncode != 0:
            failures.append(f"host check {check['name']!r} failed: {result.stderr.strip() or result.stdout.strip()}")
    return failures


def substitute(value, variables):
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{(\w+)\}", value)
        if whole and not isinstance(variables[whole.group(1)], str):
            return variables[whole.group(1)]  # a list or object variable, as it is
        return re.sub(r"\$\{(\w+)\}", lambda m: str(variables[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def capture(scenario, serial_text, marker_files, variables):
    """Values a later boot of the same scenario needs (e.g. a new seal), from
    a report file, the serial log, or a host command's output ("command")."""
    failures = []
    for variable, source in scenario.get("capture", {}).items():
        if "command" in source:
            name = " ".join(source["command"])
            text = subprocess.run(substitute(source["command"], variables), capture_output=True,
                                  text=True).stdout
        else:
            name = source["file"]
            text = serial_text if name == "serial.log" else marker_files.get(name, b"").decode("utf-8", "replace")
        match = re.search(source["regex"], text, re.M)
        if match:
            variables[variable] = match.group(1)
        else:
            failures.append(f"capture {variable}: no match for {source['regex']!r} in {name}")
    return failures


def run_one_boot(scenario, name, kernel, run_dir: Path, disk_dir: Path, variables):
    run_dir.mkdir(parents=True, exist_ok=True)
    serial_text, code, elapsed, unanswered, host_measured = boot(
        scenario, kernel, scenario["initramfs"], run_dir, disk_dir)
    marker_files, report_failures = read_marker(run_dir / "marker.img", scenario.get("reports", {"": 0}))
    for file_name, content in marker_files.items():
        target = run_dir / "report" / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    failures = report_failures + judge(scenario, serial_text, marker_files, unanswered)
    log(f"{name}: QEMU exited {code} after {elapsed:.1f} s; logs in {run_dir}")
    if code == 124:
        failures.append("the boot hit its timeout")
    measured, metric_failures = guest_metrics(scenario, marker_files)
    failures += metric_failures
    for metric, seconds in list(measured.items()) + list(host_measured.items()):
        print(f"e2e: {name}: {metric}: {seconds:.2f} s")
    for metric in scenario.get("serial_metrics", []):
        if metric["name"] not in host_measured:
            failures.append(f"metric {metric['name']!r}: {metric['to']!r} never appeared after the answer")
    local = dict(variables, RUN=str(run_dir), DISKS=str(disk_dir))
    failures += host_checks(scenario, local)
    failures += capture(scenario, serial_text, marker_files, local)
    variables.update({key: local[key] for key in scenario.get("capture", {}) if key in local})
    if failures:
        tail = "\n".join(serial_text.splitlines()[-40:])
        print(f"--- last lines of {run_dir / 'serial.log'}:\n{tail}\n---")
        for failure in failures:
            print("FAIL:", failure)
    return not failures


def cmd_boot(args):
    variables = {}
    for file in args.vars_file:
        variables.update(json.loads(Path(file).read_text()))
    variables.update(dict(pair.split("=", 1) for pair in args.var))
    raw = json.loads(Path(args.scenario).read_text())
    problems = scenario_problems(raw)
    if problems:
        sys.exit("e2e: " + args.scenario + ":\n  " + "\n  ".join(problems))
    boots = raw.pop("boots", None)
    # Host checks are substituted after their boot (they use RUN and DISKS).
    late = {key: raw.pop(key) for key in ("host_checks", "capture") if key in raw}
    scenario = substitute(raw, variables)
    scenario.update(late)
    name = scenario["name"]
    scenario_dir = Path(args.work) / name
    shutil.rmtree(scenario_dir, ignore_errors=True)
    scenario_dir.mkdir(parents=True)
    kernel = boot_kernel(Path(args.cache))
    # Writable disks: one copy per scenario, shared by its boots, so the
    # next boot sees what the last one wrote and host checks can read it.
    for disk in scenario.get("disks", []):
        if disk.get("writable"):
            run(["cp", "--sparse=always", disk["image"], str(writable_copy(scenario_dir, disk))])
    if boots is None:
        ok = run_one_boot(scenario, name, kernel, scenario_dir, scenario_dir, variables)
    else:
        ok = True
        for index, step in enumerate(boots):
            # A boot's keys replace the scenario's; substituted only now, so
            # it can use what an earlier boot captured.
            merged = dict(scenario)
            step = dict(step)
            step_late = {key: step.pop(key) for key in ("host_checks", "capture") if key in step}
            merged.update(substitute(step, variables))
            merged.update(step_late)
            label = f"{name}/{index + 1}-{merged.get('step', 'boot')}"
            ok = run_one_boot(merged, label, kernel, scenario_dir / f"{index + 1}-{merged.get('step', 'boot')}",
                              scenario_dir, variables)
            if not ok:
                break
    if not ok:
        sys.exit(1)
    print(f"{name}: PASS")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, help="cache directory inside the build tree")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("kernel").set_defaults(func=cmd_kernel)

    initramfs = sub.add_parser("initramfs")
    initramfs.add_argument("--modules", required=True, help="the exact dracut module list")
    initramfs.add_argument("--module-dir", action="append", default=[], help="an extra dracut module")
    initramfs.add_argument("--env", action="append", default=[], help="KEY=VALUE for module-setup.sh")
    initramfs.add_argument("--compress", default="none")
    initramfs.add_argument("--out", required=True)
    initramfs.set_defaults(func=cmd_initramfs)

    ext4 = sub.add_parser("ext4")
    ext4.add_argument("--source", required=True)
    ext4.add_argument("--size", required=True)
    ext4.add_argument("--label", default="reliant-e2e")
    ext4.add_argument("--out", required=True)
    ext4.set_defaults(func=cmd_ext4)

    rootfs = sub.add_parser("rootfs")
    rootfs.add_argument("--modules", default="systemd", help="the dracut modules the tree is made of")
    rootfs.add_argument("--out", required=True)
    rootfs.set_defaults(func=cmd_rootfs)

    boot_parser = sub.add_parser("boot")
    boot_parser.add_argument("--scenario", required=True)
    boot_parser.add_argument("--work", required=True)
    boot_parser.add_argument("--var", action="append", default=[], help="NAME=VALUE for ${NAME} in the scenario")
    boot_parser.add_argument("--vars-file", action="append", default=[], help="a JSON object of variables")
    boot_parser.set_defaults(func=cmd_boot)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""reliant's QEMU end-to-end harness (stdlib only).

Subcommands, each usable by any e2e scenario family:
  kernel     fetch the current Debian kernel package into a cache (no install)
  initramfs  build a dracut initramfs from a private copy of dracut's modules
  ext4       build an ext4 image from a directory (mkfs.ext4 -d, no mounts)
  boot       boot one scenario (a JSON file) and judge it

A scenario boots the kernel with an initramfs under TCG, answers prompts on
the serial console through a FIFO, and is judged by a marker disk (a tar
archive the guest writes) and the serial log. docs/development.md, "e2e".
"""

import argparse
import hashlib
import json
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
    inputs = list(args.module_dir) + [value for _, value in env_pairs if Path(value).is_file()]
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


def qemu_argv(scenario, kernel, initrd, run_dir, serial_base):
    memory = str(scenario.get("memory", 512))
    argv = ["timeout", "-k", "10", str(scenario.get("timeout", 240)),
            "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg,tb-size=64", "-cpu", "max",
            "-m", memory, "-smp", "1", "-nodefaults", "-display", "none", "-vga", "none",
            "-no-reboot", "-serial", f"pipe:{serial_base}",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0,115200 panic=1 oops=panic rd.shell=0 rd.emergency=poweroff "
                       "loglevel=4 " + scenario.get("cmdline", "")]
    for index, disk in enumerate(scenario.get("disks", [])):
        if "image" in disk:
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


def boot(scenario, kernel, initrd, run_dir: Path):
    """Boots until QEMU exits; answers prompts in order. Returns the serial text."""
    serial = Serial(run_dir / "serial", run_dir / "serial.log")
    prompts = list(scenario.get("prompts", []))
    started = time.monotonic()
    qemu = subprocess.Popen(qemu_argv(scenario, kernel, initrd, run_dir, run_dir / "serial"),
                            stdin=subprocess.DEVNULL)
    seen_upto = 0
    try:
        while qemu.poll() is None:
            serial.pump(0.2)
            if prompts:
                match = re.compile(prompts[0]["expect"]).search(serial.text, seen_upto)
                if match:
                    time.sleep(prompts[0].get("delay", 1.0))  # let the agent settle on the tty
                    serial.send(prompts[0]["answer"] + "\n")
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
    return serial.text, qemu.returncode, elapsed, prompts


def read_marker(path: Path):
    """The guest's report: a tar archive written raw onto the marker disk."""
    files = {}
    try:
        with tarfile.open(path, "r:") as archive:
            for member in archive.getmembers():
                if member.isfile():
                    files[member.name.lstrip("./")] = archive.extractfile(member).read()
    except tarfile.TarError:
        pass
    return files


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
            failures.append(f"{name}: missing from the marker disk")
            continue
        if "equals" in check and content.strip() != check["equals"]:
            failures.append(f"{name}: {content.strip()!r} is not {check['equals']!r}")
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
    if not marker_files:
        failures.append("the marker disk holds no report")
    return failures


def substitute(value, variables):
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def cmd_boot(args):
    variables = {}
    for file in args.vars_file:
        variables.update(json.loads(Path(file).read_text()))
    variables.update(dict(pair.split("=", 1) for pair in args.var))
    scenario = substitute(json.loads(Path(args.scenario).read_text()), variables)
    name = scenario["name"]
    run_dir = Path(args.work) / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    kver, root = fetch_kernel(Path(args.cache))
    kernel = str(root / "boot" / f"vmlinuz-{kver}")
    serial_text, code, elapsed, unanswered = boot(scenario, kernel, scenario["initramfs"], run_dir)
    marker_files = read_marker(run_dir / "marker.img")
    for file_name, content in marker_files.items():
        target = run_dir / "report" / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    failures = judge(scenario, serial_text, marker_files, unanswered)
    log(f"{name}: QEMU exited {code} after {elapsed:.1f} s; logs in {run_dir}")
    if code == 124:
        failures.append("the boot hit its timeout")
    if failures:
        tail = "\n".join(serial_text.splitlines()[-40:])
        print(f"--- last lines of {run_dir / 'serial.log'}:\n{tail}\n---")
        for failure in failures:
            print("FAIL:", failure)
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

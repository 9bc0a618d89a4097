"""The test system of the boot scenarios, generated from the fixture
system-small.xml (real qubesd output) with `reliant-healer split`:

* the fixture's lvm_thin pool `vm-pool` becomes a `file` pool under
  /var/lib/qubes/vm-pool (reliant puts file-pool templates on read-only loop
  devices; docs/overlay.md §4), vids and sources renamed as the file driver
  names them;
* a decoy pool `sflc_0_0` on volume 0 takes the private and volatile volumes
  of two base qubes (`personal`, `untrusted`): the decoy passphrase then
  shows qubes of its own;
* split gives the base qubes.xml and one shard per volume (0 decoy, 1 and 2
  hidden, as the fixture has them).

The last split also stores sys-proton's firewall and notes on volume 2
(qube-files/), as a session that set them leaves them.

Also made here: the variants the scenarios need (a broken shard 2 reference,
a shard 1 that must be frozen, the base after renaming a template, a qube
created in volume 1 during a session) and the expected qube sets, which come
from the fixture's structure, not from running the healer.
"""

import copy
import json
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path

VOLUME_ROOT = "/run/shufflecake"
FILE_POOL = "vm-pool"
FILE_POOL_DIR = "/var/lib/qubes/vm-pool"
DECOY_POOL = "sflc_0_0"
DECOY_QUBES = ("personal", "untrusted")
RENAME_FROM = "debian-12-xfce"
RENAME_TO = "bookworm-xfce"  # another family: only the stated successor can lead a shard to it
# The uuid qvm-clone gives RENAME_TO (a new qube: a new uuid, a new qid).
RENAME_TO_UUID = str(uuid.UUID(int=0x5eed_0000_0000_4000_8000_000000000002))
# Where the stand-in for qubesd puts a new qube's private and volatile
# volumes: the pool the running qubes.xml's default_pool names, as qubesd does
# for a qube created without naming a pool.
DEFAULT_POOL_MARK = "@DEFAULT_POOL@"
NEW_QUBE = "fieldnotes"
NEW_QUBE_POOL = "sflc_0_1"
BROKEN_TEMPLATE = "debian-11-xfce"  # gone: the heuristic takes the newest debian-*-xfce
BROKEN_QUBE = "press"  # in volume 2
FROZEN_RENAME = ("scratch", "vault")  # volume 1 claims a base qube's name: frozen
# The files dom0 keeps for a qube (docs/shards.md, "Files dom0 keeps for a
# qube"): the last session left sys-proton's (volume 2) on its volume, as
# qubesd writes them (qubes/firewall.py Firewall.save: version 2, pretty).
KEPT_QUBE = "sys-proton"
KEPT_VOLUME = "sflc_0_2"


def firewall_xml(address):
    """A firewall.xml as qubesd saves it: DNS, then `address`, then drop."""
    rule = ("    <rule>\n      <properties>\n{}      </properties>\n    </rule>\n")
    prop = '        <property name="{}">{}</property>\n'
    rules = (rule.format(prop.format("action", "accept") + prop.format("specialtarget", "dns")) +
             rule.format(prop.format("action", "accept") + prop.format("dsthost", address)) +
             rule.format(prop.format("action", "drop")))
    return "<?xml version='1.0' encoding='UTF-8'?>\n<firewall version=\"2\">\n  <rules>\n" + rules + \
        "  </rules>\n</firewall>\n"


KEPT_FIREWALL = firewall_xml("198.51.100.77/32")   # TEST-NET-2: the VPN's endpoint only
KEPT_NOTES = "reliant e2e: the VPN's notes, kept on its volume\n"
NEW_QUBE_FIREWALL = firewall_xml("203.0.113.9/32")  # TEST-NET-3: set on the new qube in a session


def properties(domain):
    return {p.get("name"): (p.text or "") for p in domain.find("properties")}


def qube_name(domain):
    return properties(domain).get("name", "dom0" if domain.get("class") == "AdminVM" else "")


def set_property(domain, name, value):
    for prop in domain.find("properties"):
        if prop.get("name") == name:
            prop.text = value
            return
    raise KeyError(name)


def file_vid(lvm_vid, templates):
    """qubes_dom0/vm-NAME-VOLUME -> vm-templates/NAME/VOLUME or appvms/NAME/VOLUME."""
    name, _, volume = lvm_vid.split("/", 1)[1][len("vm-"):].rpartition("-")
    return f"{'vm-templates' if name in templates else 'appvms'}/{name}/{volume}"


def convert(fixture: Path):
    """The fixture with vm-pool as a file pool and the decoy pool added."""
    tree = ElementTree.parse(fixture)
    root = tree.getroot()
    pools = root.find("pools")
    for pool in list(pools):
        if pool.get("name") == FILE_POOL:
            pool.attrib.clear()
            pool.attrib.update({"name": FILE_POOL, "dir_path": FILE_POOL_DIR, "driver": "file",
                                "revisions_to_keep": "1", "ephemeral_volatile": "False"})
    decoy = ElementTree.Element("pool", {"name": DECOY_POOL, "dir_path": f"{VOLUME_ROOT}/{DECOY_POOL}/pool",
                                         "driver": "file-reflink", "revisions_to_keep": "1",
                                         "ephemeral_volatile": "False"})
    names = [p.get("name") for p in pools]
    pools.insert(names.index("sflc_0_1"), decoy)
    domains = root.find("domains")
    templates = {qube_name(d) for d in domains if d.get("class") == "TemplateVM"}
    for domain in domains:
        for volume in domain.findall("./volume-config/volume"):
            if volume.get("pool") == FILE_POOL:
                volume.set("vid", file_vid(volume.get("vid"), templates))
                volume.set("revisions_to_keep", "1")
                if volume.get("source", "").startswith("qubes_dom0/"):
                    volume.set("source", file_vid(volume.get("source"), templates))
            if qube_name(domain) in DECOY_QUBES and volume.get("name") in ("private", "volatile"):
                volume.set("pool", DECOY_POOL)
                volume.set("vid", f"appvms/{qube_name(domain)}/{volume.get('name')}")
    return tree


def write_xml(tree_or_root, path: Path):
    root = tree_or_root.getroot() if hasattr(tree_or_root, "getroot") else tree_or_root
    ElementTree.indent(root)
    path.write_text(ElementTree.tostring(root, encoding="unicode") + "\n")


def read_root(path: Path):
    return ElementTree.parse(path).getroot()


def names_in(path: Path):
    return sorted(qube_name(d) for d in read_root(path).find("domains") if d.get("class") != "AdminVM")


def replaced_base(base: Path, out: Path):
    """The base after a maintenance session replaced RENAME_FROM as Qubes
    does (qvm-clone RENAME_FROM RENAME_TO, the base's qubes switched to it,
    qvm-remove RENAME_FROM), saved as qubesd would: the clone has a new uuid
    and a new qid (names are write-once in qubesd), every reference and
    volume id names it, the old template is gone."""
    root = read_root(base)
    domains = root.find("domains")
    used = {int(properties(d).get("qid", "0")) for d in domains}
    for domain in domains:
        if qube_name(domain) == RENAME_FROM:
            qid = next(q for q in range(1, 2048) if q not in used)
            set_property(domain, "uuid", RENAME_TO_UUID)
            set_property(domain, "qid", str(qid))
            domain.set("id", f"domain-{qid}")
    for element in root.iter():
        if element.tag in ("property", "feature") and element.text == RENAME_FROM:
            element.text = RENAME_TO
        for attribute in ("vid", "source"):
            value = element.get(attribute)
            if value and f"/{RENAME_FROM}/" in value:
                element.set(attribute, value.replace(f"/{RENAME_FROM}/", f"/{RENAME_TO}/"))
    write_xml(root, out)


def duplicate_qid(base: Path, out: Path):
    """The base with two qubes sharing a qid: qubesd refuses to load it."""
    root = read_root(base)
    domains = [d for d in root.find("domains") if d.get("class") != "AdminVM"]
    set_property(domains[1], "qid", properties(domains[0])["qid"])
    write_xml(root, out)


def new_qube(full: Path, out: Path):
    """A qube as qubesd creates it during a session when no pool is named
    (qvm-create --label red NAME): AppVM on a base template, its root a
    snapshot in the template's pool, private and volatile in the default pool
    (DEFAULT_POOL_MARK: the stand-in fills in the running qubes.xml's
    default_pool, which merge pointed at the highest open volume), the lowest
    qid below 2048 free in any view (the split moves it into that volume's
    block)."""
    root = read_root(full)
    domains = root.find("domains")
    model = next(d for d in domains if qube_name(d) == "scratch")  # same shape, volume 1
    domain = copy.deepcopy(model)
    used = {int(properties(d).get("qid", "0")) for d in domains}
    qid = next(q for q in range(1, 2048) if q not in used)
    domain.set("id", f"domain-{qid}")
    set_property(domain, "name", NEW_QUBE)
    set_property(domain, "qid", str(qid))
    set_property(domain, "uuid", str(uuid.UUID(int=0x5eed_0000_0000_4000_8000_000000000001)))
    set_property(domain, "netvm", "sys-firewall")
    for volume in domain.findall("./volume-config/volume"):
        if volume.get("vid", "").startswith("appvms/scratch/"):
            volume.set("vid", volume.get("vid").replace("appvms/scratch/", f"appvms/{NEW_QUBE}/"))
            if volume.get("name") in ("private", "volatile"):  # the root: the template's pool
                volume.set("pool", DEFAULT_POOL_MARK)  # chosen by qubesd at creation: the default pool
    ElementTree.indent(domain, level=2)
    out.write_text("    " + ElementTree.tostring(domain, encoding="unicode").rstrip() + "\n")


def break_shards(shards: Path, out: Path):
    """Volume 2's shard refers to a template that is gone (BROKEN_TEMPLATE,
    unknown uuid); volume 1's claims the name of a base qube. Writes the two
    shards into out/sflc_0_{1,2}/qubes.xml."""
    two = read_root(shards / "sflc_0_2" / "qubes.xml")
    for domain in two.find("domains"):
        if qube_name(domain) == BROKEN_QUBE:
            set_property(domain, "template", BROKEN_TEMPLATE)
            for volume in domain.findall("./volume-config/volume"):
                if f"/{RENAME_FROM}/" in volume.get("source", ""):
                    volume.set("source", volume.get("source").replace(RENAME_FROM, BROKEN_TEMPLATE))
    references = two.find("references")
    references.append(ElementTree.Element("reference", {"name": BROKEN_TEMPLATE,
                                                        "uuid": "0badc0de-0000-4000-8000-000000000011"}))
    one = read_root(shards / "sflc_0_1" / "qubes.xml")
    for domain in one.find("domains"):
        if qube_name(domain) == FROZEN_RENAME[0]:
            set_property(domain, "name", FROZEN_RENAME[1])
    for number, root in ((1, one), (2, two)):
        (out / f"sflc_0_{number}").mkdir(parents=True, exist_ok=True)
        write_xml(root, out / f"sflc_0_{number}" / "qubes.xml")


def pool_files(shard: Path, volume_dir: Path):
    """Placeholder images for the shard's volumes in its own pools (what
    `ls` of a real pool would show), sparse."""
    root = read_root(shard)
    own = {p.get("name"): p.get("dir_path") for p in root.findall("./pools/pool")}
    prefix = f"{VOLUME_ROOT}/{volume_dir.name}/"
    for volume in root.findall("./domains/domain/volume-config/volume"):
        directory = own.get(volume.get("pool"))
        if not directory:
            continue
        image = volume_dir / directory[len(prefix):] / (volume.get("vid") + ".img")
        image.parent.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as out:
            out.write(b"reliant e2e pool data\n")
            out.truncate(256 << 10)


def split(healer: str, full: Path, base: Path, shards: Path, volumes=3, root=None):
    for number in range(volumes):  # the mount points of the open volumes
        (shards / f"sflc_0_{number}").mkdir(parents=True, exist_ok=True)
    subprocess.run([healer, "split", "--in", str(full), "--base-out", str(base), "--shard-root", str(shards),
                    "--volume-root", VOLUME_ROOT] + (["--root", str(root)] if root else []),
                   check=True, stdout=subprocess.DEVNULL)


def store_kept_files(healer: str, full: Path, base: Path, shards: Path):
    """The split at the end of the last session, with KEPT_QUBE's firewall and
    notes in its directory of the root: the real split stores them on its
    volume (shards/sflc_0_2/qube-files)."""
    with tempfile.TemporaryDirectory() as root:
        directory = Path(root) / "var/lib/qubes/appvms" / KEPT_QUBE
        directory.mkdir(parents=True)
        (directory / "firewall.xml").write_text(KEPT_FIREWALL)
        (directory / "notes.txt").write_text(KEPT_NOTES)
        split(healer, full, base, shards, root=root)
    if KEPT_QUBE not in names_in(shards / KEPT_VOLUME / "qubes.xml") or \
            not (shards / KEPT_VOLUME / "qube-files" / "manifest").is_file():
        raise SystemExit(f"boot e2e setup: {KEPT_QUBE}'s files are not stored on {KEPT_VOLUME}")


def check(healer: str, files, root: Path):
    """The files must load in qubesd on the test system's root."""
    result = subprocess.run([healer, "check", "--root", str(root), "--pci-root-buses", "0000:00"] +
                            [str(f) for f in files], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit("boot e2e setup: the test system would not load:\n" + result.stdout + result.stderr)


def expectations(full: Path, base: Path, shards: Path):
    """Expected qube sets per boot, from where each qube lives."""
    per_volume = {n: names_in(shards / f"sflc_0_{n}" / "qubes.xml") for n in range(3)}
    in_base = names_in(base)
    hidden = per_volume[1] + per_volume[2]
    return {
        "BASE_QUBES": sorted(in_base),
        "DECOY_QUBES": sorted(in_base + per_volume[0]),
        "HIDDEN1_QUBES": sorted(in_base + per_volume[0] + per_volume[1]),
        "ALL_QUBES": sorted(names_in(full)),
        "ALL_QUBES_REPLACED": sorted(RENAME_TO if n == RENAME_FROM else n for n in names_in(full)),
        "HIDDEN1_QUBES_ADDED": sorted(in_base + per_volume[0] + per_volume[1] + [NEW_QUBE]),
        # The qids a volume owns: 2048 + 512*N .. +511 (docs/shards.md); a qube
        # created in volume 1 during a session moves there at the split.
        "VOLUME1_QIDS": r"^(25[6-9][0-9]|2[6-9][0-9]{2}|30[0-6][0-9]|307[01])$",
        "BROKEN_QUBES": sorted(in_base + per_volume[0] + per_volume[2]),
        "HIDDEN_NAMES": sorted(hidden),
        # A regex for every name only a hidden volume holds: qubes, pools, volumes
        # (whole words; systemd's prompt says "press TAB", which names no qube).
        "HIDDEN_REGEX": r"\b(?:" + "|".join(
            name + (r"(?! TAB for no echo)" if name == "press" else "")
            for name in sorted(hidden + ["sflc_0_1", "sflc_0_2"])) + r")\b",
        "RENAME_FROM": RENAME_FROM,
        "RENAME_TO": RENAME_TO,
        "RENAME_TO_UUID": RENAME_TO_UUID,
        "NEW_QUBE": NEW_QUBE,
        "BROKEN_QUBE": BROKEN_QUBE,
        "DECOY_POOL_QUBES": per_volume[0],
        "KEPT_QUBE": KEPT_QUBE,
        # As the judge compares a report ("equals": its text without the
        # surrounding white space).
        "KEPT_FIREWALL": KEPT_FIREWALL.strip(),
        "KEPT_NOTES": KEPT_NOTES.strip(),
        "NEW_QUBE_FIREWALL": NEW_QUBE_FIREWALL.strip(),
    }


def dump(values, path: Path):
    path.write_text(json.dumps(values, indent=2) + "\n")

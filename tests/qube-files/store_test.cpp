// Storing the files dom0 keeps for a qube on its volume, and giving them
// back: round trips, what a save keeps, and a hostile volume.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "qube-files/qube_files.h"
#include "test_support.h"

namespace reliant::qube_files {
namespace {

namespace fs = std::filesystem;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;

const std::string work_uuid = "0b7a2f6e-3c1d-4e5f-8a9b-1c2d3e4f5a6b";
const std::string vpn_uuid = "9f8e7d6c-5b4a-4321-8fed-cba987654321";
// The store keeps bytes; what a firewall must hold is the healer's check.
const std::string firewall = "<firewall version=\"2\"><rules><rule>accept 10.8.0.1</rule></rules></firewall>\n";

// A volume and a root side by side, with a qube's directory in the root.
struct Place {
    TempDir dir;
    fs::path volume = dir / "sflc_0_1";
    fs::path root = dir / "root";
    Place() {
        fs::create_directories(volume);
        fs::create_directories(root / "var/lib/qubes/appvms");
        fs::create_directories(root / "var/lib/qubes/vm-templates");
    }
    fs::path qube_dir(const Qube& qube) const { return root / qube.directory_in_root(); }
    void write(const Qube& qube, const std::string& file, const std::string& bytes) const {
        fs::create_directories(qube_dir(qube));
        spit(qube_dir(qube) / file, bytes);
    }
    fs::path store() const { return volume / "qube-files"; }
};

const Qube work{work_uuid, "work", false};
const Qube vpn{vpn_uuid, "sys-vpn", false};

std::string stored(const Loaded& loaded, const std::string& uuid, const std::string& file) {
    for (const StoredFile& f : loaded.files)
        if (f.uuid == uuid && f.file == file) return f.bytes;
    return "(none)";
}

TEST_CASE("qube files: saved on the volume, loaded back and placed byte for byte, keyed by uuid") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    at.write(work, "notes.txt", "bank only\n");
    auto saved = save(at.volume, at.root, {work, vpn});
    REQUIRE(saved);
    CHECK(saved->written == 2);
    CHECK(saved->problems.empty());
    CHECK(slurp(at.store() / "manifest") ==
          "reliant-qube-files 1\n" + work_uuid + " firewall.xml 1 " + std::to_string(firewall.size()) + "\n" +
              work_uuid + " notes.txt 1 10\n");

    const Loaded loaded = load(at.volume, {work_uuid, vpn_uuid});
    CHECK(loaded.has_store);
    CHECK(loaded.problems.empty());
    CHECK(stored(loaded, work_uuid, "firewall.xml") == firewall);
    CHECK(stored(loaded, work_uuid, "notes.txt") == "bank only\n");

    // A new root (the next boot's RAM), and the qube known by another name:
    // its files follow the uuid.
    TempDir next;
    const Qube renamed{work_uuid, "office", false};
    for (const StoredFile& file : loaded.files) REQUIRE(place(next.path(), renamed, file));
    CHECK(slurp(next / "var/lib/qubes/appvms/office/firewall.xml") == firewall);
    struct stat st {};
    REQUIRE(::stat((next / "var/lib/qubes/appvms/office/firewall.xml").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0664);

    // Saving the same again writes nothing.
    auto again = save(at.volume, at.root, {work, vpn});
    REQUIRE(again);
    CHECK(again->written == 0);
    CHECK(again->unchanged == 2);
}

TEST_CASE("qube files: a change is a new version, and the old one goes once the manifest names the new") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work}));
    at.write(work, "firewall.xml", firewall + "<!-- edited -->\n");
    auto saved = save(at.volume, at.root, {work});
    REQUIRE(saved);
    CHECK(saved->written == 1);
    CHECK_FALSE(fs::exists(at.store() / work_uuid / "firewall.xml.1"));
    CHECK(slurp(at.store() / work_uuid / "firewall.xml.2") == firewall + "<!-- edited -->\n");
    CHECK(stored(load(at.volume, {work_uuid}), work_uuid, "firewall.xml") == firewall + "<!-- edited -->\n");
}

TEST_CASE("qube files: a recorded file the root lacks keeps its stored version, and a qube gone is dropped") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    at.write(vpn, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work, vpn}));

    // The boot could not restore work's firewall (so qubesd has none): the
    // next save must not turn that into "no firewall".
    fs::remove_all(at.qube_dir(work));
    // sys-vpn moved to another volume (or was removed).
    auto saved = save(at.volume, at.root, {work});
    REQUIRE(saved);
    CHECK(saved->kept == 1);
    CHECK(saved->dropped == 1);
    const Loaded loaded = load(at.volume, {work_uuid, vpn_uuid});
    CHECK(stored(loaded, work_uuid, "firewall.xml") == firewall);
    CHECK(stored(loaded, vpn_uuid, "firewall.xml") == "(none)");
    CHECK_FALSE(fs::exists(at.store() / vpn_uuid));
}

TEST_CASE("qube files: a volume with nothing to keep gets no store, and one from before the store has none") {
    Place at;
    auto saved = save(at.volume, at.root, {work});
    REQUIRE(saved);
    CHECK_FALSE(fs::exists(at.store()));
    const Loaded loaded = load(at.volume, {work_uuid});
    CHECK_FALSE(loaded.has_store);
    CHECK(loaded.problems.empty());
}

TEST_CASE("qube files: a volume is asked only for its own qubes' uuids") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    at.write(vpn, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work, vpn}));
    // Merged from this volume: only work. sys-vpn's uuid belongs to a qube of
    // the base or of another volume: its stored file is not handed out.
    const Loaded loaded = load(at.volume, {work_uuid});
    CHECK(loaded.files.size() == 1);
    CHECK(loaded.ignored == 1);
    CHECK(stored(loaded, vpn_uuid, "firewall.xml") == "(none)");
}

TEST_CASE("qube files: a hostile volume yields problems, never a file from elsewhere") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work}));
    const fs::path version = at.store() / work_uuid / "firewall.xml.1";
    TempDir elsewhere;
    spit(elsewhere / "secret", firewall);

    SUBCASE("the stored version is a symlink") {
        fs::remove(version);
        fs::create_symlink(elsewhere / "secret", version);
    }
    SUBCASE("the stored version is a FIFO (never opened for long, so never blocks)") {
        fs::remove(version);
        REQUIRE(::mkfifo(version.c_str(), 0600) == 0);
    }
    SUBCASE("the stored version is a directory") {
        fs::remove(version);
        fs::create_directory(version);
    }
    SUBCASE("the stored version is larger than the manifest says") { spit(version, firewall + "more"); }
    SUBCASE("the stored version is smaller than the manifest says") { spit(version, "<firewall/>"); }
    SUBCASE("the stored version is missing") { fs::remove(version); }
    SUBCASE("the uuid's directory is a symlink") {
        fs::rename(at.store() / work_uuid, elsewhere / "moved");
        fs::create_symlink(elsewhere / "moved", at.store() / work_uuid);
    }
    const Loaded loaded = load(at.volume, {work_uuid});
    CHECK(loaded.has_store);
    CHECK(loaded.files.empty());
    REQUIRE(loaded.problems.size() == 1);
    CHECK(loaded.problems[0].uuid == work_uuid);
    CHECK(loaded.problems[0].file == "firewall.xml");
}

TEST_CASE("qube files: a store or manifest that cannot be read is a problem of the whole volume, and is never "
          "replaced by a save") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work}));
    TempDir elsewhere;
    SUBCASE("the manifest is not of the grammar") { spit(at.store() / "manifest", "reliant-qube-files 1\nx\n"); }
    SUBCASE("the manifest is a symlink") {
        fs::rename(at.store() / "manifest", elsewhere / "manifest");
        fs::create_symlink(elsewhere / "manifest", at.store() / "manifest");
    }
    SUBCASE("the manifest is a FIFO") {
        fs::remove(at.store() / "manifest");
        REQUIRE(::mkfifo((at.store() / "manifest").c_str(), 0600) == 0);
    }
    SUBCASE("the store is a symlink") {
        fs::rename(at.store(), elsewhere / "store");
        fs::create_symlink(elsewhere / "store", at.store());
    }
    SUBCASE("the store is a file") {
        fs::remove_all(at.store());
        spit(at.store(), "x");
    }
    const Loaded loaded = load(at.volume, {work_uuid});
    CHECK(loaded.has_store);
    CHECK(loaded.files.empty());
    REQUIRE(loaded.problems.size() == 1);
    CHECK(loaded.problems[0].uuid.empty());

    const auto before = fs::symlink_status(at.store() / "manifest").type();
    at.write(work, "firewall.xml", "<firewall version=\"2\"><rules/></firewall>\n");
    CHECK_FALSE(save(at.volume, at.root, {work}));
    CHECK(fs::symlink_status(at.store() / "manifest").type() == before);
}

TEST_CASE("qube files: a save does not read a hostile root file, and keeps the stored version") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work}));
    const fs::path live = at.qube_dir(work) / "firewall.xml";
    TempDir elsewhere;
    spit(elsewhere / "other", "<firewall version=\"2\"><rules/></firewall>\n");
    SUBCASE("a symlink") {
        fs::remove(live);
        fs::create_symlink(elsewhere / "other", live);
    }
    SUBCASE("larger than reliant stores") { spit(live, std::string((1u << 20) + 1, 'x')); }
    SUBCASE("a FIFO") {
        fs::remove(live);
        REQUIRE(::mkfifo(live.c_str(), 0600) == 0);
    }
    auto saved = save(at.volume, at.root, {work});
    REQUIRE(saved);
    CHECK(saved->problems.size() == 1);
    CHECK(saved->problems[0].find("work") == std::string::npos);  // counts and files, never names
    CHECK(stored(load(at.volume, {work_uuid}), work_uuid, "firewall.xml") == firewall);
}

TEST_CASE("qube files: a leftover of a save killed before its commit does not stop the next") {
    Place at;
    at.write(work, "firewall.xml", firewall);
    REQUIRE(save(at.volume, at.root, {work}));
    spit(at.store() / work_uuid / "firewall.xml.2", "torn");  // written, never committed
    spit(at.store() / "manifest.tmp", "torn");
    CHECK(stored(load(at.volume, {work_uuid}), work_uuid, "firewall.xml") == firewall);
    at.write(work, "firewall.xml", firewall + "\n");
    REQUIRE(save(at.volume, at.root, {work}));
    CHECK(stored(load(at.volume, {work_uuid}), work_uuid, "firewall.xml") == firewall + "\n");
}

TEST_CASE("qube files: placing never goes through a link in the root, nor under a name qubesd refuses") {
    TempDir root;
    TempDir elsewhere;
    const StoredFile file{work_uuid, "firewall.xml", firewall};
    fs::create_directories(root / "var/lib/qubes");
    fs::create_symlink(elsewhere.path(), root / "var/lib/qubes/appvms");
    CHECK_FALSE(place(root.path(), work, file));
    CHECK(fs::is_empty(elsewhere.path()));
    fs::remove(root / "var/lib/qubes/appvms");
    for (const char* name : {"..", "../../etc", "a/b", ""}) {
        CAPTURE(name);
        CHECK_FALSE(place(root.path(), Qube{work_uuid, name, false}, file));
    }
    CHECK_FALSE(place(root.path(), work, StoredFile{work_uuid, "../firewall.xml", firewall}));
    fs::create_directories(root / "var/lib/qubes/appvms/work");
    fs::create_symlink(elsewhere / "target", root / "var/lib/qubes/appvms/work/firewall.xml");
    REQUIRE(place(root.path(), work, file));  // the link is replaced, not followed
    CHECK(fs::symlink_status(root / "var/lib/qubes/appvms/work/firewall.xml").type() == fs::file_type::regular);
    CHECK_FALSE(fs::exists(elsewhere / "target"));
}

}  // namespace
}  // namespace reliant::qube_files

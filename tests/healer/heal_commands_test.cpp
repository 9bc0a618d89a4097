// reliant-healer merge and split as the boot and shutdown units run them:
// what they write (and nothing else), what they print (no shard content),
// modes and exit statuses. Crash safety: crash_injection_test.cpp.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "healer/heal_common.h"
#include "healer_cli_support.h"
#include "qube-files/qube_files.h"

using namespace reliant;
using namespace reliant::healer;
using namespace reliant::healer::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> hidden_names = {"sys-vpn",  "scratch",        "dvm-hidden", "kicksecure-17",
                                               "intake",   "disp-fieldwork", "sys-proton", "press",
                                               "sflc_0_1", "sflc_0_2"};

mode_t mode_of(const fs::path& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 07777;
}

void expect_no_hidden_name(const std::string& text) {
    for (const auto& name : hidden_names)
        CHECK_MESSAGE(text.find(name) == std::string::npos, name << " in: " << text);
}

}  // namespace

TEST_CASE("merge writes only OUT and REPORT, prints counts only") {
    Layout layout;
    const auto before = tree(layout.dir.path());
    const Run run = healer_run({"merge", "--base", layout.base.string(), "--shard-root",
                                layout.shards.string(), "--out", (layout.run / "qubes.xml").string(),
                                "--report", (layout.run / "heal-report.json").string()});
    CHECK(run.status == 0);
    CHECK(run.out == "reliant-healer merge: 2 shard(s) merged, 0 frozen\n");
    expect_no_hidden_name(run.out + run.err);
    auto after = tree(layout.dir.path());
    CHECK(after.erase("run/qubes.xml") == 1);
    CHECK(after.erase("run/heal-report.json") == 1);
    CHECK(after == before);
    CHECK(mode_of(layout.run / "heal-report.json") == 0600);
    CHECK(healer_run({"check", (layout.run / "qubes.xml").string()}).status == 0);
}

TEST_CASE("merge writes nothing when the base does not load") {
    Layout layout;
    spit(layout.base, replace_all(slurp(layout.base), "<property name=\"default_pool\">vm-pool</property>",
                                  "<property name=\"default_pool\">nowhere</property>"));
    const Run run = healer_run({"merge", "--base", layout.base.string(), "--shard-root",
                                layout.shards.string(), "--out", (layout.run / "qubes.xml").string()});
    CHECK(run.status == 1);
    CHECK_FALSE(fs::exists(layout.run / "qubes.xml"));
    expect_no_hidden_name(run.out + run.err);
}

TEST_CASE("merge fails when its report cannot be written (the shutdown split needs it)") {
    Layout layout;
    const Run run = healer_run({"merge", "--base", layout.base.string(), "--shard-root",
                                layout.shards.string(), "--out", (layout.run / "qubes.xml").string(),
                                "--report", (layout.run / "no-such-dir" / "heal-report.json").string()});
    CHECK(run.status == 1);
    CHECK(run.err.find("cannot write the report") != std::string::npos);
    expect_no_hidden_name(run.out + run.err);
}

// `merge --out /dev/null` as root replaced the device node with a file. Every
// output is checked first, so a bad --report leaves --out unwritten too.
TEST_CASE("merge and split refuse an output that is a FIFO, a directory or a symlink, writing nothing") {
    Layout layout;
    REQUIRE(::mkfifo((layout.run / "fifo").c_str(), 0600) == 0);
    fs::create_directory(layout.run / "dir");
    spit(layout.run / "target", "kept");
    fs::create_symlink(layout.run / "target", layout.run / "link");
    const auto before = tree(layout.dir.path());
    for (const std::string bad : {"fifo", "dir", "link"}) {
        CAPTURE(bad);
        const std::string path = (layout.run / bad).string();
        const std::string fresh = (layout.run / "fresh.xml").string();
        for (const auto& [out, report] : {std::pair{path, fresh}, std::pair{fresh, path}}) {
            const Run run = healer_run({"merge", "--base", layout.base.string(), "--shard-root",
                                        layout.shards.string(), "--out", out, "--report", report});
            CHECK(run.status == 2);
            CHECK(run.err.find("not a regular file") != std::string::npos);
            expect_no_hidden_name(run.out + run.err);
        }
        for (const auto& [base_out, report] : {std::pair{path, fresh}, std::pair{fresh, path}}) {
            const Run run = healer_run({"split", "--in", layout.base.string(), "--base-out", base_out,
                                        "--shard-root", layout.shards.string(), "--report", report});
            CHECK(run.status == 2);
            CHECK(run.err.find("not a regular file") != std::string::npos);
        }
        CHECK(tree(layout.dir.path()) == before);  // nothing written, nothing replaced
    }
    CHECK(fs::is_fifo(layout.run / "fifo"));
    CHECK(fs::is_directory(layout.run / "dir"));
    CHECK(fs::is_symlink(layout.run / "link"));
    CHECK(slurp(layout.run / "target") == "kept");
}

TEST_CASE("merge and split refuse bad usage with status 2") {
    CHECK(healer_run({"merge", "--base", "x"}).status == 2);
    CHECK(healer_run({"merge", "--base", "x", "--shard-root", "y", "--out", "z", "--fix", "magic"}).status ==
          2);
    CHECK(healer_run({"split", "--in", "x"}).status == 2);
    CHECK(healer_run({"split", "--in", "/nonexistent", "--base-out", "b", "--shard-root", "/tmp"}).status ==
          2);
}

TEST_CASE("split writes the shards (mode 0600) and the base, prints counts only") {
    Layout layout;
    const fs::path session = layout.run / "qubes.xml";
    REQUIRE(healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                        "--out", session.string(), "--report", (layout.run / "heal-report.json").string()})
                .status == 0);
    // The session: qubesd saved a change to a hidden qube.
    spit(session,
         replace_all(slurp(session),
                     "<feature name=\"menu-items\">org.mozilla.firefox.desktop xterm.desktop</feature>",
                     "<feature name=\"menu-items\">xterm.desktop</feature>"));
    const Run run = healer_run({"split", "--in", session.string(), "--base-out",
                                (layout.run / "base.xml").string(), "--shard-root", layout.shards.string(),
                                "--merge-report", (layout.run / "heal-report.json").string()});
    CHECK(run.status == 0);
    CHECK(run.out == "reliant-healer split: 2 shard(s) written, 0 kept, 0 not written\n");
    expect_no_hidden_name(run.out + run.err);
    CHECK(mode_of(layout.shards / "sflc_0_2/qubes.xml") == 0600);
    CHECK(slurp(layout.shards / "sflc_0_2/qubes.xml")
              .find("<feature name=\"menu-items\">xterm.desktop</feature>") != std::string::npos);
    CHECK_FALSE(fs::exists(layout.shards / "sflc_0_0/qubes.xml"));
}

TEST_CASE("split leaves a shard frozen at boot untouched") {
    Layout layout;
    const std::string frozen_before = slurp(layout.shards / "sflc_0_2/qubes.xml");
    // Freeze sflc_0_2 at boot by breaking it; the session then has only sflc_0_1.
    spit(layout.shards / "sflc_0_2/qubes.xml", frozen_before + "<garbage/>");
    const fs::path session = layout.run / "qubes.xml";
    REQUIRE(healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                        "--out", session.string(), "--report", (layout.run / "heal-report.json").string()})
                .status == 0);
    CHECK(slurp(layout.run / "heal-report.json").find("\"volume\":\"sflc_0_2\",\"status\":\"frozen\"") !=
          std::string::npos);
    const Run run = healer_run({"split", "--in", session.string(), "--base-out",
                                (layout.run / "base.xml").string(), "--shard-root", layout.shards.string(),
                                "--merge-report", (layout.run / "heal-report.json").string()});
    CHECK(run.status == 0);
    CHECK(slurp(layout.shards / "sflc_0_2/qubes.xml") == frozen_before + "<garbage/>");
}

namespace {

// A session merged from the layout, ready to split: the merge report and the
// session's qubes.xml, as at shutdown.
fs::path merged_session(const Layout& layout) {
    const fs::path session = layout.run / "qubes.xml";
    REQUIRE(healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                        "--out", session.string(), "--report", (layout.run / "heal-report.json").string()})
                .status == 0);
    return session;
}

Run split_with_report(const Layout& layout, const fs::path& session, const fs::path& base_out) {
    return healer_run({"split", "--in", session.string(), "--base-out", base_out.string(), "--shard-root",
                       layout.shards.string(), "--merge-report", (layout.run / "heal-report.json").string(),
                       "--report", (layout.run / "split-report.json").string()});
}

// No errno as a bare number: ": 2" at the end of a line, or a line that is
// "... written: 2".
bool has_bare_number_reason(const std::string& text) {
    for (std::size_t at = text.find(": "); at != std::string::npos; at = text.find(": ", at + 1)) {
        std::size_t end = at + 2;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
        if (end > at + 2 && (end == text.size() || text[end] == '\n')) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("split with a volume directory missing names it, says why and what to do, and reports an error") {
    Layout layout;
    const fs::path session = merged_session(layout);
    const fs::path volume = layout.shards / "sflc_0_2";
    fs::remove_all(volume);  // the volume is not mounted at shutdown
    const Run run = split_with_report(layout, session, layout.run / "base.xml");
    CHECK(run.status == 1);
    CHECK(run.err.find("cannot write the shard " + (volume / "qubes.xml").string() + ": " + volume.string() +
                       " is not a directory (it does not exist): is the volume mounted there?") !=
          std::string::npos);
    CHECK_FALSE(has_bare_number_reason(run.err));
    CHECK(run.out == "reliant-healer split: 1 shard(s) written, 0 kept, 1 not written\n");
    CHECK_FALSE(fs::exists(volume));  // nothing made in the volume's place
    const std::string report = slurp(layout.run / "split-report.json");
    CHECK(report.find("\"volume\":\"sflc_0_2\",\"status\":\"error\",\"qubes\":0,\"reasons\":[\"not written: "
                      "cannot write the shard ") != std::string::npos);
    CHECK(report.find("\"volume\":\"sflc_0_1\",\"status\":\"written\"") != std::string::npos);
    CHECK(report.find("\"base\":\"written\"") != std::string::npos);
    CHECK(report.find("to-write") == std::string::npos);
    CHECK(fs::exists(layout.shards / "sflc_0_1/qubes.xml"));
    CHECK(fs::exists(layout.run / "base.xml"));
}

TEST_CASE("split never writes through a volume directory that is a symbolic link or a file") {
    Layout layout;
    const fs::path session = merged_session(layout);
    const fs::path volume = layout.shards / "sflc_0_2";
    const fs::path elsewhere = layout.dir / "elsewhere";
    fs::rename(volume, elsewhere);
    fs::create_directory_symlink(elsewhere, volume);
    const std::string old_shard = slurp(elsewhere / "qubes.xml");
    Run run = split_with_report(layout, session, layout.run / "base.xml");
    CHECK(run.status == 1);
    CHECK(run.err.find(volume.string() + " is not a directory (it is a symbolic link, which is never followed)") !=
          std::string::npos);
    CHECK(slurp(elsewhere / "qubes.xml") == old_shard);
    CHECK(slurp(layout.run / "split-report.json").find("\"volume\":\"sflc_0_2\",\"status\":\"error\"") !=
          std::string::npos);

    fs::remove(volume);
    spit(volume, "a file where the mount point should be");
    run = split_with_report(layout, session, layout.run / "base.xml");
    CHECK(run.status == 1);
    CHECK(run.err.find(volume.string() + " is not a directory (it is another kind of file)") != std::string::npos);
    CHECK(slurp(volume) == "a file where the mount point should be");
}

TEST_CASE("split reports the base as not written when its directory is missing") {
    Layout layout;
    const fs::path session = merged_session(layout);
    const fs::path base_out = layout.dir / "no-such-dir" / "base.xml";
    const Run run = split_with_report(layout, session, base_out);
    CHECK(run.status == 1);
    CHECK(run.err.find("cannot write " + base_out.string() + ": cannot open its directory " +
                       base_out.parent_path().string() + ": No such file or directory: create the directory first") !=
          std::string::npos);
    CHECK_FALSE(has_bare_number_reason(run.err));
    const std::string report = slurp(layout.run / "split-report.json");
    CHECK(report.find("\"base\":\"not written\"") != std::string::npos);
    CHECK(report.find("\"not written: cannot write " + base_out.string()) != std::string::npos);
    CHECK(report.find("\"volume\":\"sflc_0_2\",\"status\":\"written\"") != std::string::npos);
}

TEST_CASE("list prints each qube with the volume it lives on") {
    const Run run = healer_run({"list", small_fixture});
    CHECK(run.status == 0);
    CHECK(run.out.find("dom0                            AdminVM       base\n") == 0);
    CHECK(run.out.find("press                           AppVM         sflc_0_2\n") != std::string::npos);
    CHECK(run.out.find("sys-net                         AppVM         base\n") != std::string::npos);
    CHECK(std::count(run.out.begin(), run.out.end(), '\n') == 22);
    CHECK(healer_run({"list"}).status == 2);
}

TEST_CASE("merge gives a hidden qube its firewall and notes back before qubesd starts, and split saves a change") {
    Layout layout;
    const fs::path root = layout.dir / "root";
    const fs::path session = root / "var/lib/qubes/qubes.xml";
    fs::create_directories(session.parent_path());
    const std::string firewall = "<firewall version=\"2\">\n  <rules>\n    <rule>\n      <properties>\n"
                                 "        <property name=\"action\">drop</property>\n      </properties>\n"
                                 "    </rule>\n  </rules>\n</firewall>\n";
    const auto merge_into = [&](const fs::path& into) {
        return healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                           "--out", (into / "var/lib/qubes/qubes.xml").string(),
                           "--report", (layout.run / "heal-report.json").string(), "--root", into.string()});
    };
    // What the last session stored: sys-vpn's firewall and notes on volume 1.
    {
        const TempDir last;
        fs::create_directories(last / "var/lib/qubes/appvms/sys-vpn");
        spit(last / "var/lib/qubes/appvms/sys-vpn/firewall.xml", firewall);
        spit(last / "var/lib/qubes/appvms/sys-vpn/notes.txt", "kill switch\n");
        const System system = split_system(parse_file(small_fixture));
        const Document whole = *merge_all(system).merged;
        const std::string uuid = uuid_key(*whole.domain("sys-vpn"));
        REQUIRE(qube_files::save(layout.shards / "sflc_0_1", last.path(), {{uuid, "sys-vpn", false}}));
    }
    const Run merged = merge_into(root);
    REQUIRE(merged.status == 0);
    CHECK(merged.out == "reliant-healer merge: 2 shard(s) merged, 0 frozen\n"
                        "reliant-healer merge: 2 qube file(s) restored\n");
    expect_no_hidden_name(merged.out + merged.err);
    CHECK(slurp(root / "var/lib/qubes/appvms/sys-vpn/firewall.xml") == firewall);
    CHECK(slurp(root / "var/lib/qubes/appvms/sys-vpn/notes.txt") == "kill switch\n");

    // The session: qvm-firewall on sys-vpn (qubesd rewrites firewall.xml),
    // and a new note for press on volume 2.
    const std::string changed = replace_all(firewall, "drop", "accept");
    spit(root / "var/lib/qubes/appvms/sys-vpn/firewall.xml", changed);
    fs::create_directories(root / "var/lib/qubes/appvms/press");
    spit(root / "var/lib/qubes/appvms/press/notes.txt", "sources\n");
    const Run split = healer_run({"split", "--in", session.string(), "--base-out", (layout.run / "base.xml").string(),
                                  "--shard-root", layout.shards.string(),
                                  "--merge-report", (layout.run / "heal-report.json").string(), "--root",
                                  root.string()});
    CHECK(split.status == 0);
    expect_no_hidden_name(split.out + split.err);
    CHECK_FALSE(fs::exists(layout.shards / "sflc_0_0/qube-files"));

    // The next boot, in a fresh RAM root.
    const fs::path next = layout.dir / "next";
    fs::create_directories(next / "var/lib/qubes");
    REQUIRE(merge_into(next).status == 0);
    CHECK(slurp(next / "var/lib/qubes/appvms/sys-vpn/firewall.xml") == changed);
    CHECK(slurp(next / "var/lib/qubes/appvms/sys-vpn/notes.txt") == "kill switch\n");
    CHECK(slurp(next / "var/lib/qubes/appvms/press/notes.txt") == "sources\n");
}

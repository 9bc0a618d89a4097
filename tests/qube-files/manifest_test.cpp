// The qube-files manifest: what a volume may say, strictly.
#include <doctest/doctest.h>

#include "qube-files/qube_files.h"

namespace reliant::qube_files {
namespace {

const std::string work = "0b7a2f6e-3c1d-4e5f-8a9b-1c2d3e4f5a6b";
const std::string vault = "9f8e7d6c-5b4a-4321-8fed-cba987654321";

std::string with_header(const std::string& lines) { return "reliant-qube-files 1\n" + lines; }

TEST_CASE("qube-files manifest: a manifest reads back as it was written") {
    Manifest manifest;
    manifest.entries = {{work, "firewall.xml", 3, 412}, {work, "notes.txt", 1, 0}, {vault, "firewall.xml", 12, 1024}};
    const auto read = Manifest::parse(manifest.to_text());
    REQUIRE(read);
    CHECK(read->entries == manifest.entries);
    CHECK(read->find(work, "notes.txt")->generation == 1);
    CHECK(read->find(vault, "notes.txt") == nullptr);
    CHECK(Manifest::parse(with_header("")));
}

TEST_CASE("qube-files manifest: anything else is refused whole, with the line") {
    const std::string entry = work + " firewall.xml 1 10\n";
    const std::pair<const char*, std::string> refused[] = {
        {"no header", entry},
        {"another version", "reliant-qube-files 2\n" + entry},
        {"empty", ""},
        {"no final newline", with_header(work + " firewall.xml 1 10")},
        {"an upper-case uuid", with_header("0B7A2F6E-3C1D-4E5F-8A9B-1C2D3E4F5A6B firewall.xml 1 10\n")},
        {"a uuid without dashes", with_header("0b7a2f6e3c1d4e5f8a9b1c2d3e4f5a6b0000 firewall.xml 1 10\n")},
        {"a file reliant does not keep", with_header(work + " libvirt.xml 1 10\n")},
        {"a file that climbs out", with_header(work + " ../../etc/shadow 1 10\n")},
        {"a size beyond the bound", with_header(work + " notes.txt 1 262145\n")},
        {"a generation with a leading zero", with_header(work + " firewall.xml 01 10\n")},
        {"a negative size", with_header(work + " firewall.xml 1 -10\n")},
        {"a number beyond 64 bits", with_header(work + " firewall.xml 99999999999999999999 10\n")},
        {"a fifth field", with_header(work + " firewall.xml 1 10 x\n")},
        {"two spaces", with_header(work + "  firewall.xml 1 10\n")},
        {"a CR", with_header(work + " firewall.xml 1 10\r\n")},
        {"a file recorded twice", with_header(entry + entry)},
        {"not sorted", with_header(vault + " firewall.xml 1 10\n" + entry)},
        {"an empty line", with_header(entry + "\n")},
    };
    for (const auto& [description, input] : refused) {
        const std::string what = description;
        const std::string text = input;
        CAPTURE(what);
        const auto read = Manifest::parse(text);
        REQUIRE_FALSE(read);
        CHECK(read.error().message().find("qube-files manifest, line") != std::string::npos);
    }
}

TEST_CASE("qube-files manifest: bounded in bytes and in entries") {
    CHECK_FALSE(Manifest::parse(with_header(std::string(Manifest::max_bytes, 'x') + "\n")));
    std::string lines;
    for (std::size_t i = 0; i <= Manifest::max_entries / 2; ++i) {
        char uuid[37];
        std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012zx", i);
        lines += std::string(uuid) + " firewall.xml 1 1\n" + uuid + " notes.txt 1 1\n";
    }
    const auto read = Manifest::parse(with_header(lines));
    REQUIRE_FALSE(read);
    CHECK(read.error().message().find("more entries than reliant writes") != std::string::npos);
}

TEST_CASE("qube-files: qube names and uuids as qubesd accepts them, nothing else as a directory") {
    for (const char* good : {"work", "sys-vpn", "a", "debian-12-xfce", "X_1.b", "abcdefghijklmnopqrstuvwxyz01234"})
        CHECK(is_qube_name(good));
    for (const char* bad : {"", "..", ".", "a/b", "1work", "-x", "_x", ".x", "abcdefghijklmnopqrstuvwxyz012345",
                            "a b", "w\xc3\xa9rk", "a\\b"})
        CHECK_FALSE(is_qube_name(bad));
    CHECK(Qube{work, "work", false}.directory_in_root() == "var/lib/qubes/appvms/work");
    CHECK(Qube{work, "debian-12", true}.directory_in_root() == "var/lib/qubes/vm-templates/debian-12");
    CHECK(is_uuid(work));
    CHECK_FALSE(is_uuid("../" + work.substr(3)));
}

}  // namespace
}  // namespace reliant::qube_files

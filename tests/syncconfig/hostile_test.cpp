// A hostile sender: each case is a stream config-mgmt could send (or a
// target tree a stream meets). After each: the target's files (everything in
// its home but SyncConfig's own state) and a tree outside the home are
// byte-identical, links and modes included; nothing stays staged unless the
// case is about the destination; and nothing the stream carried (content or
// path bytes) reaches the log.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <functional>

#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;
using reliant::testing::spit;
namespace fs = std::filesystem;

namespace {

const std::string marker = "MARKER-c0ntent-7f3a";

struct Case {
    std::string name;
    std::function<std::string()> stream;
    Refusal refusal = Refusal::none;  // none: staged (a destination case)
    std::function<void(Target&)> setup = {};
};

std::string plain(const std::string& path, std::uint16_t mode = 0644) {
    return Stream({{path, mode, marker + "\n"}}).bytes();
}

std::string deep_path(int depth) {
    std::string p;
    for (int i = 0; i < depth; ++i) p += (i ? "/d" : ".config/d");
    return p;
}

void make_outside(Target& t) {
    fs::create_directories(t.root() / "outside/dir");
    spit(t.root() / "outside/target", "outside file\n");
    spit(t.root() / "outside/dir/x", "outside dir file\n");
}

std::vector<Case> stream_cases() {
    const Stream two({{".bashrc", 0644, marker}, {".config/a", 0644, marker}});
    std::vector<Case> cases = {
        {"empty stream", [] { return std::string(); }, Refusal::truncated},
        {"wrong magic", [=] { return Stream(two).patch(0, "XSYNCFG1").bytes(); }, Refusal::bad_magic},
        {"version 2", [=] { return Stream(two).patch_u(8, 2, 2).bytes(); }, Refusal::bad_version},
        {"unknown flags", [=] { return Stream(two).patch_u(10, 4, 2).bytes(); }, Refusal::bad_flags},
        {"zero entries", [=] { return Stream(two).patch_u(12, 0, 4).bytes(); }, Refusal::too_many_entries},
        {"more entries than the profile allows",
         [] {
             std::vector<File> files;
             for (int i = 0; i < 5; ++i) files.push_back({".config/f" + std::to_string(i), 0644, marker});
             return Stream(files).bytes();
         },
         Refusal::too_many_entries},
        {"header total above the limit", [=] { return Stream(two).patch_u(24, 1ull << 40, 8).bytes(); },
         Refusal::total_too_large},
        {"sizes not adding up to the total", [=] { return Stream(two).patch_u(24, 3, 8).bytes(); },
         Refusal::total_mismatch},
        {"file above the profile's limit", [] { return Stream({{".bashrc", 0644, std::string(5000, 'x')}}).bytes(); },
         Refusal::file_too_large},
        {"absolute path", [] { return plain("/etc/passwd"); }, Refusal::bad_path},
        {"parent traversal", [] { return plain("../x"); }, Refusal::bad_path},
        {"traversal inside", [] { return plain(".config/../../x"); }, Refusal::bad_path},
        {"dot component", [] { return plain("./.bashrc"); }, Refusal::bad_path},
        {"empty component", [] { return plain(".config//a"); }, Refusal::bad_path},
        {"NUL in a path", [] { return plain(std::string(".config/a\0b", 11)); }, Refusal::bad_path},
        {"escape sequence in a path", [] { return plain(".config/\x1b[2J"); }, Refusal::bad_path},
        {"bidi override in a path", [] { return plain(".config/a\xe2\x80\xae" "fdp.exe"); }, Refusal::bad_path},
        {"zero-width space in a path", [] { return plain(".config/a\xe2\x80\x8b"); }, Refusal::bad_path},
        {"non-ASCII in a path", [] { return plain(".config/caf\xc3\xa9"); }, Refusal::bad_path},
        {"overlong UTF-8 dot", [] { return plain(".config/\xc0\xae\xc0\xae/x"); }, Refusal::bad_path},
        {"backslash in a path", [] { return plain(".config\\..\\x"); }, Refusal::bad_path},
        {"newline in a path", [] { return plain(".config/a\nb"); }, Refusal::bad_path},
        {"component of 256 bytes", [] { return plain(".config/" + std::string(256, 'a')); }, Refusal::bad_path},
        {"depth 33", [] { return plain(deep_path(33)); }, Refusal::bad_path},
        {"the same path twice",
         [] { return Stream({{".bashrc", 0644, marker}, {".bashrc", 0644, marker}}).bytes(); },
         Refusal::duplicate_path},
        {"paths differing only in case",
         [] { return Stream({{".Bashrc", 0644, marker}, {".bashrc", 0644, marker}}).bytes(); },
         Refusal::case_duplicate},
        {"a file that is another entry's directory",
         [] { return Stream({{".config", 0644, marker}, {".config/a", 0644, marker}}).bytes(); },
         Refusal::file_directory_clash},
        {"setuid mode", [] { return plain(".local/bin/tool", 04755); }, Refusal::bad_mode},
        {"setgid mode", [] { return plain(".bashrc", 02644); }, Refusal::bad_mode},
        {"sticky mode", [] { return plain(".bashrc", 01644); }, Refusal::bad_mode},
        {"world-writable mode", [] { return plain(".bashrc", 0666); }, Refusal::bad_mode},
        {"file-type bits (a device) in the mode", [] { return plain(".bashrc", 020644); }, Refusal::bad_mode},
        {"executable mode where dom0 allows none", [] { return plain(".bashrc", 0755); }, Refusal::bad_mode},
        {"content not matching its hash",
         [=] {
             Stream s(two);
             return s.flip(s.blob_offset(1));
         },
         Refusal::bad_hash},
        {"trailer digest wrong", [=] { return two.flip(two.bytes().size() - 1); }, Refusal::bad_trailer},
        {"trailer missing", [=] { return two.bytes().substr(0, two.bytes().size() - 40); }, Refusal::bad_trailer},
        {"a byte after the trailer", [=] { return two.bytes() + "x"; }, Refusal::trailing_bytes},
        {"stream cut inside a blob", [=] { return two.bytes().substr(0, two.blob_offset(1) + 2); },
         Refusal::truncated},
        {"path outside the profile", [] { return plain(".ssh/authorized_keys"); }, Refusal::not_in_profile},
        {"path the profile denies", [] { return plain(".config/denied"); }, Refusal::not_in_profile},
        {"SyncConfig's own state", [] { return plain(".local/state/syncconfig/applied"); }, Refusal::not_in_profile,
         [](Target& t) { t.enable("test", "allow=.local/** allow=.bashrc"); }},
        {"SyncConfig's own state, in another case", [] { return plain(".local/state/SyncConfig/applied"); },
         Refusal::not_in_profile, [](Target& t) { t.enable("test", "allow=.local/** allow=.bashrc"); }},
        {"a profile other than the service argument",
         [] { return Stream({{".bashrc", 0644, marker}}, true, "other").bytes(); }, Refusal::wrong_profile},
        {"not enough free space", [] { return plain(".bashrc"); }, Refusal::no_space},
    };
    return cases;
}

}  // namespace

TEST_CASE("hostile streams are refused and leave the target untouched") {
    int count = 0;
    for (const Case& c : stream_cases()) {
        CAPTURE(c.name);
        Target t;
        make_outside(t);
        t.enable("test", "allow=.bashrc allow=.config/** allow=.local/bin/* exec=.local/bin/* deny=.config/denied "
                         "max-entries=4 max-file=4096");
        t.write_home(".bashrc", "# the user's own\n");
        if (c.setup) c.setup(t);
        const auto before = snapshot(t.home(), ".local/state/syncconfig");
        const auto outside = snapshot(t.root() / "outside");
        std::vector<std::string> extra;
        if (c.refusal == Refusal::no_space) extra = {"--reserve-bytes", "18446744073709551615"};
        const ProcessResult r = t.receive(c.stream(), "test", extra);
        auto response = decode_response(r.out);
        REQUIRE(response.ok());
        CHECK(response->status != ResponseStatus::staged);
        CHECK(static_cast<int>(response->refusal) == static_cast<int>(c.refusal));
        CHECK(r.exit_code == 2);
        CHECK(t.pending().empty());
        CHECK(fs::is_empty(t.state() / "incoming"));
        CHECK(snapshot(t.home(), ".local/state/syncconfig") == before);
        CHECK(snapshot(t.root() / "outside") == outside);
        CHECK(r.err.find(marker) == std::string::npos);
        CHECK(r.err.find('\x1b') == std::string::npos);
        CHECK(r.err.find("passwd") == std::string::npos);
        CHECK(r.err.find("authorized_keys") == std::string::npos);
        ++count;
    }
    CHECK(count >= 40);
}

TEST_CASE("flooding and stalling senders") {
    Target t;
    const std::string stream = plain(".bashrc");
    const auto before = snapshot(t.home(), ".local/state/syncconfig");
    REQUIRE(t.receive(stream, "test", {"--max-pending", "2"}).exit_code == 0);
    REQUIRE(t.receive(stream, "test", {"--max-pending", "2"}).exit_code == 0);
    const ProcessResult third = t.receive(stream, "test", {"--max-pending", "2"});
    CHECK(third.exit_code == 3);
    CHECK(t.pending().size() == 2);
    // A stall: the header, then silence with the pipe held open until the
    // receiver gives up (so the stall outlasts the deadline whatever the load).
    const fs::path file = t.root() / "stream";
    spit(file, stream);
    ProcessOptions options;
    options.timeout = std::chrono::seconds(120);
    auto stalled = run_process({"/bin/sh", "-c",
                                "mkfifo \"$1.fifo\"; { head -c 40 \"$1\"; exec sleep 3600; } > \"$1.fifo\" & w=$!; "
                                "\"$2\" receive --home \"$3\" --qubesdb-read \"$4\" --deadline-ms 300 -- test "
                                "< \"$1.fifo\"; s=$?; kill $w; exit $s",
                                "sh", file.string(), tool(), t.home().string(), t.qubesdb_read()},
                               options);
    REQUIRE(stalled.ok());
    CHECK(stalled->exit_code == 2);
    auto response = decode_response(stalled->out);
    REQUIRE(response.ok());
    CHECK(response->refusal == Refusal::timeout);
    CHECK(t.pending().size() == 2);
    CHECK(fs::is_empty(t.state() / "incoming"));
    CHECK(snapshot(t.home(), ".local/state/syncconfig") == before);
}

namespace {

struct DestinationCase {
    std::string name;
    std::string path;
    std::function<void(Target&)> setup;
};

void check_destination_case(const DestinationCase& c) {
    CAPTURE(c.name);
    Target t;
    make_outside(t);
    c.setup(t);
    const auto before = snapshot(t.home(), ".local/state/syncconfig");
    const auto outside = snapshot(t.root() / "outside");
    const ProcessResult r = t.receive(Stream({{c.path, 0644, marker + "\n"}}).bytes());
    CHECK(r.exit_code == 0);  // the stream is valid: the destination is checked at review and apply
    CHECK(r.err.find(marker) == std::string::npos);
    // The user says yes: the entry is refused, nothing is written.
    TtyRun review = run_on_tty({tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()},
                               "yes\n");
    CHECK(review.output.find("[REFUSED] ") != std::string::npos);
    CHECK(review.output.find("Apply 0 file(s)?") != std::string::npos);
    CHECK(snapshot(t.home(), ".local/state/syncconfig") == before);
    CHECK(snapshot(t.root() / "outside") == outside);
    // No temporary left anywhere in the home.
    for (const auto& [path, value] : snapshot(t.home(), ".local/state/syncconfig"))
        CHECK(path.find(".syncconfig-") == std::string::npos);
}

}  // namespace

TEST_CASE("hostile destinations: links, special files and directories are never written through") {
    const std::vector<DestinationCase> cases = {
        {"final component a symlink out of the home", ".bashrc",
         [](Target& t) { fs::create_symlink(t.root() / "outside/target", t.home() / ".bashrc"); }},
        {"final component a relative symlink out of the home", ".bashrc",
         [](Target& t) { fs::create_symlink("../outside/target", t.home() / ".bashrc"); }},
        {"final component a dangling symlink", ".bashrc",
         [](Target& t) { fs::create_symlink("../outside/new-file", t.home() / ".bashrc"); }},
        {"a directory above the destination a symlink out of the home", ".config/a",
         [](Target& t) { fs::create_symlink(t.root() / "outside/dir", t.home() / ".config"); }},
        {"a directory above the destination a symlink within the home", ".config/a",
         [](Target& t) {
             fs::create_directories(t.home() / "real");
             fs::create_symlink("real", t.home() / ".config");
         }},
        {"a hard link to a file outside the home", ".bashrc",
         [](Target& t) { fs::create_hard_link(t.root() / "outside/target", t.home() / ".bashrc"); }},
        {"a FIFO (must not block)", ".bashrc", [](Target& t) { ::mkfifo((t.home() / ".bashrc").c_str(), 0644); }},
        {"a directory", ".bashrc", [](Target& t) { fs::create_directories(t.home() / ".bashrc/x"); }},
        {"a socket", ".bashrc",
         [](Target& t) {
             const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
             sockaddr_un address{};
             address.sun_family = AF_UNIX;
             const std::string path = (t.home() / ".bashrc").string();
             REQUIRE(path.size() < sizeof address.sun_path);
             std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
             REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
             ::close(fd);
         }},
        {"a parent that is a file", ".config/a/b", [](Target& t) { t.write_home(".config/a", "a file\n"); }},
    };
    for (const DestinationCase& c : cases) check_destination_case(c);
}

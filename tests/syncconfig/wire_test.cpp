// The stream decoder and the path grammar: every rule refuses, a valid
// stream round-trips, and the refusal names a rule.
#include <doctest/doctest.h>

#include <map>

#include "syncconfig/paths.h"
#include "syncconfig/wire.h"
#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;

namespace {

class CollectSink : public BlobSink {
public:
    Status begin(std::size_t index, const Entry&) override {
        current_ = index;
        blobs[index].clear();
        return success();
    }
    Status write(std::string_view chunk) override {
        blobs[current_] += chunk;
        return success();
    }
    Status end(std::size_t) override { return success(); }
    std::map<std::size_t, std::string> blobs;

private:
    std::size_t current_ = 0;
};

Outcome decode_all(std::string_view bytes, const Limits& limits = {}) {
    MemorySource source(bytes);
    StreamDecoder decoder(source, limits);
    Manifest manifest;
    Outcome outcome = decoder.read_manifest(manifest);
    if (!outcome.ok()) return outcome;
    CollectSink sink;
    return decoder.read_blobs(manifest, sink);
}

}  // namespace

TEST_CASE("path grammar: accepted and refused paths") {
    for (const char* good : {".bashrc", ".config/git/config", "a b/c", "...", "a/.../b", "x-y_z.conf", "a*b"})
        CHECK_MESSAGE(check_path(good).ok(), good);
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "./a", "a//b", "a/", "a/.", ".", "..", "a\\b",
                            " a", "a /b", "a\nb", "a\rb", "a\x1b" "[2Jb", "a\x7f", "caf\xc3" "\xa9", "\xc0\xae",
                            "a\xe2\x80\xae" "b", "a\xe2\x80\x8b"})
        CHECK_MESSAGE(!check_path(bad).ok(), bad);
    CHECK_FALSE(check_path(std::string_view("a\0b", 3)).ok());
    CHECK(check_path(std::string(255, 'a')).ok());
    CHECK_FALSE(check_path(std::string(256, 'a')).ok());
    std::string deep;
    for (int i = 0; i < 32; ++i) deep += (i ? "/d" : "d");
    CHECK(check_path(deep).ok());
    CHECK_FALSE(check_path(deep + "/d").ok());
    std::string long_path;
    while (long_path.size() < 1020) long_path += "abcdefghi/";
    long_path += "abcde";
    CHECK_FALSE(check_path(long_path).ok());
    // The error never repeats the hostile bytes.
    CHECK(check_path("a\x1b[2J").error().message().find('\x1b') == std::string::npos);
}

TEST_CASE("glob matching: * within a component, ** across") {
    CHECK(glob_match(".gitconfig", ".gitconfig"));
    CHECK_FALSE(glob_match(".gitconfig", ".gitconfig2"));
    CHECK(glob_match(".config/git/**", ".config/git/config"));
    CHECK(glob_match(".config/git/**", ".config/git/a/b/c"));
    CHECK_FALSE(glob_match(".config/git/**", ".config/gitx/config"));
    CHECK(glob_match(".config/git/**", ".config/git"));  // ** matches zero components
    CHECK(glob_match(".config/*/config", ".config/git/config"));
    CHECK_FALSE(glob_match(".config/*/config", ".config/a/b/config"));
    CHECK(glob_match("**/*.vim", "a/b/c.vim"));
    CHECK(glob_match("**/*.vim", "c.vim"));
    CHECK(glob_match("*", "anything"));
    CHECK_FALSE(glob_match("*", "a/b"));
    CHECK(glob_match("a*b*c", "aXXbYYc"));
    CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
    CHECK(check_pattern(".config/**").ok());
    CHECK_FALSE(check_pattern(".config/a**").ok());
    CHECK_FALSE(check_pattern("/etc/**").ok());
    CHECK_FALSE(check_pattern("../**").ok());
    // Worst case for the component matcher stays bounded (no backtracking blow-up).
    CHECK_FALSE(glob_match(std::string(100, '*') + "b", std::string(255, 'a')));
}

TEST_CASE("a valid stream round-trips") {
    std::vector<Entry> entries = {{".bashrc", 0644}, {".config/git/config", 0600}, {".local/bin/tool", 0755}};
    entries[1].secret = true;
    const std::vector<std::string> contents = {"alias ll='ls -l'\n", "[user]\n\tname = x\n", std::string(70000, 'x')};
    const std::string stream = encode_stream(7, "git", entries, contents);
    MemorySource source(stream);
    StreamDecoder decoder(source, Limits{});
    Manifest manifest;
    REQUIRE(decoder.read_manifest(manifest).ok());
    CHECK(manifest.profile == "git");
    CHECK(manifest.generation == 7);
    REQUIRE(manifest.entries.size() == 3);
    CHECK(manifest.entries[1].secret);
    CHECK(manifest.entries[2].mode == 0755);
    CollectSink sink;
    REQUIRE(decoder.read_blobs(manifest, sink).ok());
    for (std::size_t i = 0; i < contents.size(); ++i) CHECK(sink.blobs[i] == contents[i]);
    Manifest again;
    CHECK(decode_manifest(decoder.manifest_bytes(), Limits{}, again).ok());
    CHECK(again.entries.size() == 3);
}

TEST_CASE("every rule of the stream refuses with its own code") {
    const Stream base({{".a", 0644, "one"}, {".b/c", 0644, "two"}});
    CHECK(decode_all(base.bytes()).ok());

    CHECK(decode_all("").refusal == Refusal::truncated);
    // Cut at every offset: truncated (or, inside the trailer, bad_trailer).
    const std::string whole = base.bytes();
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        CAPTURE(cut);
        const Refusal r = decode_all(std::string_view(whole).substr(0, cut)).refusal;
        CHECK((r == Refusal::truncated || r == Refusal::bad_trailer));
    }
    CHECK(decode_all(whole + "x").refusal == Refusal::trailing_bytes);
    CHECK(decode_all(Stream(base).patch(0, "XSYNCFG1").bytes()).refusal == Refusal::bad_magic);
    CHECK(decode_all(Stream(base).patch_u(8, 2, 2).bytes()).refusal == Refusal::bad_version);
    CHECK(decode_all(Stream(base).patch_u(8, 0, 2).bytes()).refusal == Refusal::bad_version);
    CHECK(decode_all(Stream(base).patch_u(8, 0xffff, 2).bytes()).refusal == Refusal::bad_version);
    CHECK(decode_all(Stream(base).patch_u(10, 1, 2).bytes()).refusal == Refusal::bad_flags);
    CHECK(decode_all(Stream(base).patch_u(12, 0, 4).bytes()).refusal == Refusal::too_many_entries);
    CHECK(decode_all(Stream(base).patch_u(12, 5000, 4).bytes()).refusal == Refusal::too_many_entries);
    CHECK(decode_all(Stream(base).patch_u(24, ~0ull, 8).bytes()).refusal == Refusal::total_too_large);
    CHECK(decode_all(Stream(base).patch_u(24, 5, 8).bytes()).refusal == Refusal::total_mismatch);
    CHECK(decode_all(Stream(base).patch_u(24, 7, 8).bytes()).refusal == Refusal::total_mismatch);
    CHECK(decode_all(Stream(base).patch_u(32, 0, 1).bytes()).refusal == Refusal::bad_profile);
    CHECK(decode_all(Stream(base).patch_u(32, 32, 1).bytes()).refusal == Refusal::bad_profile);
    CHECK(decode_all(Stream(base).patch(33, "T").bytes()).refusal == Refusal::bad_profile);
    const std::size_t e0 = base.entry_offset(0);
    CHECK(decode_all(Stream(base).patch_u(e0, 2, 1).bytes()).refusal == Refusal::bad_entry);     // op
    CHECK(decode_all(Stream(base).patch_u(e0 + 1, 2, 1).bytes()).refusal == Refusal::bad_entry);  // flags
    CHECK(decode_all(Stream(base).patch_u(e0 + 6, 1, 2).bytes()).refusal == Refusal::bad_entry);  // reserved
    for (unsigned mode : {04755u, 02644u, 01777u, 0666u, 0777u, 0u, 0640u, 0100644u, 020644u, 010644u})
        CHECK(decode_all(Stream(base).patch_u(e0 + 2, mode, 2).bytes()).refusal == Refusal::bad_mode);
    CHECK(decode_all(Stream(base).patch_u(e0 + 4, 0, 2).bytes()).refusal == Refusal::bad_path);
    CHECK(decode_all(Stream(base).patch_u(e0 + 4, 1025, 2).bytes()).refusal == Refusal::bad_path);
    CHECK(decode_all(Stream(base).patch_u(e0 + 4, 900, 2).bytes()).refusal == Refusal::truncated);
    CHECK(decode_all(Stream(base).patch_u(e0 + 8, ~0ull, 8).bytes()).refusal == Refusal::file_too_large);
    CHECK(decode_all(Stream(base).flip(base.blob_offset(0))).refusal == Refusal::bad_hash);
    CHECK(decode_all(Stream(base).flip(whole.size() - 1)).refusal == Refusal::bad_trailer);
    CHECK(decode_all(Stream(base).flip(whole.size() - 33)).refusal == Refusal::bad_trailer);
    Limits small;
    small.max_file_bytes = 2;
    CHECK(decode_all(whole, small).refusal == Refusal::file_too_large);
    small = {};
    small.max_total_bytes = 5;
    CHECK(decode_all(whole, small).refusal == Refusal::total_too_large);
    small = {};
    small.max_entries = 1;
    CHECK(decode_all(whole, small).refusal == Refusal::too_many_entries);
}

TEST_CASE("paths: duplicates, case-folded duplicates, order and file/directory clashes") {
    CHECK(decode_all(Stream({{".a", 0644, "1"}, {".a", 0644, "2"}}).bytes()).refusal == Refusal::duplicate_path);
    CHECK(decode_all(Stream({{".Bashrc", 0644, "1"}, {".bashrc", 0644, "2"}}).bytes()).refusal ==
          Refusal::case_duplicate);
    CHECK(decode_all(Stream({{".b", 0644, "1"}, {".a", 0644, "2"}}, false).bytes()).refusal == Refusal::bad_entry);
    CHECK(decode_all(Stream({{"a", 0644, "1"}, {"a/b", 0644, "2"}}).bytes()).refusal ==
          Refusal::file_directory_clash);
    CHECK(decode_all(Stream({{"A", 0644, "1"}, {"a/b", 0644, "2"}}).bytes()).refusal ==
          Refusal::file_directory_clash);
    CHECK(decode_all(Stream({{"a", 0644, "1"}, {"a-x", 0644, ""}, {"a/b", 0644, "2"}}).bytes()).refusal ==
          Refusal::file_directory_clash);
    for (const char* bad : {"/etc/passwd", "../x", "a/../../x", "a//b", "x\x1b", "\xe2\x80\xae"})
        CHECK_MESSAGE(decode_all(Stream({{bad, 0644, "1"}}).bytes()).refusal == Refusal::bad_path, bad);
}

TEST_CASE("responses: strict decoding") {
    Response response;
    response.status = ResponseStatus::staged;
    response.id[0] = 9;
    const std::string bytes = encode_response(response);
    CHECK(bytes.size() == response_size);
    auto back = decode_response(bytes);
    REQUIRE(back.ok());
    CHECK(back->status == ResponseStatus::staged);
    CHECK(back->id[0] == 9);
    CHECK_FALSE(decode_response(bytes + "x").ok());
    CHECK_FALSE(decode_response(bytes.substr(1)).ok());
    CHECK_FALSE(decode_response("").ok());
    std::string bad = bytes;
    bad[10] = 1;  // status 1 is not a code
    CHECK_FALSE(decode_response(bad).ok());
    bad = bytes;
    bad[12] = 99;
    CHECK_FALSE(decode_response(bad).ok());
}

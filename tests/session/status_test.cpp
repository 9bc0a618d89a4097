// reliant-session status (session/status.h) over reports in the format
// healer/report.cpp writes.
#include <doctest/doctest.h>

#include <sstream>

#include "session/status.h"

using reliant::session::StatusReports;
using reliant::session::write_status;

namespace {

const char* const merge_report = R"({"operation":"merge","base_changes":[{"qube":"","kind":"new-qubes","field":"default_pool","from":"vm-pool","to":"sflc_0_2","note":"qubes created without a pool land on this volume"}],"base_problems":[],"shards":[
{"volume":"sflc_0_1","status":"merged","qubes":6,"reasons":[],"changes":[{"qube":"scratch","kind":"heuristic","field":"template","from":"fedora-40-xfce","to":"fedora-41-xfce","note":"prohibit-start set"}]},
{"volume":"sflc_0_2","status":"frozen","qubes":0,"reasons":["'press' has a name the base or a lower volume already uses"],"changes":[]}],
"base_qubes":["94b2b8fd-a02f-44a6-b95b-929e9a9a80fd"]}
)";

const char* const split_report = R"({"operation":"split","base_changes":[{"qube":"scratchpad","kind":"lost-at-shutdown","field":"","from":"","to":"","note":"created this session in a pool of the base"}],"base_problems":[],"base":"written","shards":[
{"volume":"sflc_0_1","status":"written","qubes":6,"reasons":[],"changes":[]},
{"volume":"sflc_0_2","status":"kept","qubes":0,"reasons":["frozen at boot: its file is left as it is"],"changes":[]}]}
)";

std::string status_of(const StatusReports& reports) {
    std::ostringstream out;
    const auto status = write_status(reports, out);
    REQUIRE(status.ok());
    return out.str();
}

}  // namespace

TEST_CASE("status: merged and frozen volumes with reasons, qubes held for review, changes, qubes lost at shutdown") {
    const std::string text = status_of({merge_report, split_report});
    CHECK(text.find("volumes merged at boot (1):\n  sflc_0_1\n") != std::string::npos);
    CHECK(text.find("volumes frozen at boot: left out whole, their shard untouched (1):\n  sflc_0_2\n      'press' has a name") !=
          std::string::npos);
    CHECK(text.find("prohibit-start") != std::string::npos);
    CHECK(text.find("  sflc_0_1: scratch: heuristic template fedora-40-xfce -> fedora-41-xfce (prohibit-start set)\n") !=
          std::string::npos);
    CHECK(text.find("base: new-qubes default_pool vm-pool -> sflc_0_2") != std::string::npos);
    CHECK(text.find("last split: base written, 0 problem(s)\n") != std::string::npos);
    CHECK(text.find("(1):\n  scratchpad\n") != std::string::npos);
}

TEST_CASE("status: no merge (maintenance) and no split yet are said plainly") {
    const std::string text = status_of({"", ""});
    CHECK(text.find("no merge this boot") != std::string::npos);
    CHECK(text.find("no split yet this boot") != std::string::npos);
}

TEST_CASE("status: a split that could not write a shard shows it with the reason") {
    const std::string failed = R"({"operation":"split","base_changes":[],"base_problems":[],"base":"written","shards":[{"volume":"sflc_0_1","status":"error","qubes":0,"reasons":["'press' keeps its volume 'root' in pool 'sflc_0_1'"],"changes":[]}]})";
    const std::string text = status_of({merge_report, failed});
    CHECK(text.find("last split: base written, 1 problem(s)\n  sflc_0_1 error\n      'press' keeps") != std::string::npos);
    CHECK(text.find("(0)\n") != std::string::npos);  // no qube lost
}

TEST_CASE("status: a report that is not reliant's is an error, not a guess") {
    std::ostringstream out;
    CHECK_FALSE(write_status({"not json", ""}, out).ok());
    CHECK_FALSE(write_status({R"({"something":"else"})", ""}, out).ok());
    CHECK_FALSE(write_status({merge_report, "[1,2"}, out).ok());
}

TEST_CASE("notice: counts of the merge report, without the routine default-pool change, and its text") {
    using namespace reliant::session;
    const auto counts = count_merge(merge_report);
    REQUIRE(counts.ok());
    CHECK(*counts == StatusCounts{1, 1, 0, 0});
    const auto notice = notice_for(*counts);
    REQUIRE(notice);
    CHECK(notice->urgent);
    CHECK(notice->title == "reliant: a volume was left out at boot");
    CHECK(notice->body ==
          "1 volume left out (frozen): its qubes are not shown; 1 qube may not start until reviewed. "
          "In a terminal: sudo reliant-session status");
    // A qube held for two reasons is one qube to review; other changes are counted apart.
    const std::string two = R"({"operation":"merge","base_changes":[],"shards":[{"volume":"sflc_0_1","status":"merged","changes":[
{"qube":"a","kind":"heuristic","note":"prohibit-start set"},{"qube":"a","kind":"review","note":"prohibit-start set"},
{"qube":"b","kind":"qid","note":""},{"qube":"c","kind":"successor","note":"stated in maintenance mode"}]}]})";
    CHECK(*count_merge(two) == StatusCounts{0, 1, 2, 0});
    CHECK_FALSE(notice_for(*count_merge(two))->urgent);
    CHECK(notice_for(*count_merge(two))->title == "reliant: qubes changed at boot");
    // Nothing frozen, held or changed: nothing to say (a default pool redirected is routine).
    const std::string quiet = R"({"operation":"merge","base_changes":[{"qube":"","kind":"new-qubes"}],"shards":[{"volume":"sflc_0_1","status":"merged","changes":[]}]})";
    CHECK(*count_merge(quiet) == StatusCounts{});
    CHECK_FALSE(notice_for(*count_merge(quiet)));
    CHECK_FALSE(count_merge("[1, 2]").ok());
}

TEST_CASE("notice: the summary reads back, and nothing else is read as one") {
    using namespace reliant::session;
    const StatusCounts counts{2, 14, 3, 1};
    CHECK(summary_text(counts) == "frozen=2\nreview=14\nchanges=3\nlost=1\n");
    REQUIRE(parse_summary(summary_text(counts)).ok());
    CHECK(*parse_summary(summary_text(counts)) == counts);
    for (const std::string bad : {"", "frozen=1\nreview=2\nchanges=3\n", "frozen=1\nreview=2\nchanges=3\nlost=0",
                                  "frozen=1\nreview=2\nchanges=3\nlost=0\nx\n", "frozen=-1\nreview=2\nchanges=3\nlost=0\n",
                                  "frozen=\nreview=2\nchanges=3\nlost=0\n", "review=2\nfrozen=1\nchanges=3\nlost=0\n",
                                  "frozen=1234567890\nreview=2\nchanges=3\nlost=0\n",
                                  "frozen=1 \nreview=2\nchanges=3\nlost=0\n"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_summary(bad).ok());
    }
}

TEST_CASE("notice: qubes that end with the session, from the split report, and told again only when there are more") {
    using namespace reliant::session;
    REQUIRE(count_lost(split_report).ok());
    CHECK(*count_lost(split_report) == 1);
    CHECK_FALSE(count_lost("{}").ok());
    const StatusCounts boot{0, 0, 2, 0};
    StatusCounts later = boot;
    later.lost = 1;
    const auto notice = notice_for_change(boot, later);
    REQUIRE(notice);
    CHECK(notice->urgent);
    CHECK(notice->title == "reliant: a new qube will not survive shutdown");
    CHECK(notice->body.find("1 qube created this session in a pool of the base (RAM) will be lost at shutdown") == 0);
    CHECK(notice->body.find("changes") == std::string::npos);  // the boot's counts were told at login
    CHECK_FALSE(notice_for_change(later, later));
    CHECK_FALSE(notice_for_change(later, boot));  // fewer (cloned away): nothing to tell
    StatusCounts more = later;
    more.lost = 3;
    CHECK(notice_for_change(later, more)->body.find("3 qubes created") == 0);
}

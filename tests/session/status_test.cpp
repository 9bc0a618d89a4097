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

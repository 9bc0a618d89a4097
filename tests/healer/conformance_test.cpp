// Runs `reliant-healer check` over every case of the conformance corpus
// (tests/data/conformance/qubes-xml) and requires the verdict the real qubesd
// loader gave: LOADS => exit 0, FAILS => exit 1, and a WARN line => that
// warning. Cases that differ between releases ("LOADS@4.3 FAILS@main") are
// checked per release and fail under the default --release any.
//
// V26 (absent and empty swapped) is a relation between two versions of a
// system; it is checked against the unmutated system the case was made from:
// the clean case with the same set of qube uuids.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/process.h"
#include "healer/document_reader.h"
#include "healer/python_values.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::healer;
namespace fs = std::filesystem;

namespace {

const fs::path corpus = reliant::testing::test_data_dir() + "/conformance/qubes-xml";
const std::string healer = reliant::testing::binary_dir() + "/healer/reliant-healer";

struct Expectation {
    std::string verdict;  // LOADS, FAILS, or LOADS@4.3 FAILS@main
    std::string warning;  // rule of the WARN line, or empty
};

Expectation expectation_of(const fs::path& dir) {
    std::ifstream in(dir / "expected");
    Expectation e;
    std::getline(in, e.verdict);
    std::string line;
    if (std::getline(in, line) && line.starts_with("WARN ")) e.warning = line.substr(5);
    return e;
}

std::set<std::string> uuids_of(const fs::path& file) {
    Diagnostics ignored(file.string());
    std::set<std::string> uuids;
    if (const auto document = read_document(reliant::testing::slurp(file), ignored))
        for (const Domain& domain : document->domains)
            if (const auto uuid = domain.value("uuid")) uuids.insert(*uuid);
    return uuids;
}

struct Run {
    int status = -1;
    std::string out;
};

Run check(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{healer,    "check",  "--pci-root-buses",
                                  "0000:00", "--root", "/nonexistent-root"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto result = run_process(argv);
    REQUIRE_MESSAGE(result.ok(), "cannot run " << healer);
    return {result->exited ? result->exit_code : -1, result->out};
}

}  // namespace

TEST_CASE("every conformance case gets qubesd's verdict") {
    REQUIRE_MESSAGE(fs::is_directory(corpus), "missing corpus " << corpus);
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(corpus))
        if (entry.is_directory()) cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    REQUIRE(cases.size() >= 129);

    std::map<std::set<std::string>, fs::path> clean_systems;
    for (const auto& dir : cases)
        if (dir.filename().string().find("-valid-") != std::string::npos)
            clean_systems.emplace(uuids_of(dir / "qubes.xml"), dir / "qubes.xml");

    int agreed = 0;
    for (const auto& dir : cases) {
        const std::string name = dir.filename().string();
        CAPTURE(name);
        const Expectation expected = expectation_of(dir);
        const fs::path file = dir / "qubes.xml";
        std::vector<std::string> arguments;
        if (const auto reference = clean_systems.find(uuids_of(file));
            reference != clean_systems.end() && reference->second != file)
            arguments = {"--reference", reference->second.string()};
        arguments.push_back(file.string());

        const Run run = check(arguments);
        CAPTURE(run.out);
        bool ok = true;
        if (expected.verdict == "LOADS")
            ok = run.status == 0;
        else if (expected.verdict == "FAILS")
            ok = run.status == 1;
        else if (expected.verdict == "LOADS@4.3 FAILS@main") {
            auto for_release = [&](const char* release) {
                std::vector<std::string> with_release{"--release", release};
                with_release.insert(with_release.end(), arguments.begin(), arguments.end());
                return check(with_release).status;
            };
            ok = run.status == 1 && for_release("4.3") == 0 && for_release("main") == 1;
        } else {
            FAIL("unknown verdict " << expected.verdict);
        }
        CHECK_MESSAGE(ok, name << ": expected " << expected.verdict << ", exit status " << run.status);
        if (!expected.warning.empty()) {
            const bool warned = run.out.find("warning[" + expected.warning + "]") != std::string::npos;
            CHECK_MESSAGE(warned, name << ": expected warning[" << expected.warning << "]");
            ok = ok && warned;
        }
        agreed += ok ? 1 : 0;
    }
    MESSAGE("conformance: " << agreed << " of " << cases.size() << " cases agree with qubesd");
    CHECK(agreed == static_cast<int>(cases.size()));
}

TEST_CASE("check --json gives the same diagnostics as JSON lines") {
    const fs::path file = corpus / "083-netvm-dangling/qubes.xml";
    const Run text = check({file.string()});
    const Run json = check({"--json", file.string()});
    CHECK(text.status == 1);
    CHECK(json.status == 1);
    CHECK(json.out.find("\"severity\":\"error\",\"rule\":\"V20\"") != std::string::npos);
    CHECK(json.out.find("\"message\":\"'netvm' of 'matrix' names 'sys-vpn2', which does not exist\"") !=
          std::string::npos);
    const auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
    CHECK(lines(text.out) == lines(json.out));
    CHECK(text.out.find("qubes.xml:") != std::string::npos);
    CHECK(text.out.find(": error[V20]: 'netvm' of 'matrix' names 'sys-vpn2', which does not exist") !=
          std::string::npos);
}

TEST_CASE("check exit statuses: usage and I/O errors are 2") {
    CHECK(check({}).status == 2);
    CHECK(check({"--bogus", (corpus / "001-valid-base-only/qubes.xml").string()}).status == 2);
    CHECK(check({"/nonexistent/qubes.xml"}).status == 2);
    CHECK(check({(corpus / "001-valid-base-only/qubes.xml").string(),
                 (corpus / "082-template-dangling/qubes.xml").string()})
              .status == 1);
    CHECK(check({(corpus / "001-valid-base-only/qubes.xml").string()}).status == 0);
}

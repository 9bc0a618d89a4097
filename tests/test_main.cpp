// doctest's main, plus one rule: a run whose --test-case filter matches no
// test case fails. ctest runs every TEST_CASE by its name, and doctest's CTest
// discovery splits a name at ';' (a CMake list separator): the pieces match
// nothing, and without this rule such a test "passed" without running.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

int test_cases_selected = -1;  // -1: no test run happened (--help, --list-test-cases)

struct SelectionListener final : doctest::IReporter {
    explicit SelectionListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        test_cases_selected = static_cast<int>(stats.numTestCasesPassingFilters);
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selection", 1, SelectionListener);

bool filters_by_test_case(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        for (const char* prefix : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="})
            if (std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0) return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int status = context.run();
    if (status == 0 && test_cases_selected == 0 && filters_by_test_case(argc, argv)) {
        std::fprintf(stderr, "no test case matches the --test-case filter (a ';' in a TEST_CASE name?)\n");
        return 1;
    }
    return status;
}

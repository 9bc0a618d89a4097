#include "common/error.h"

#include <doctest/doctest.h>

using reliant::Error;
using reliant::Result;
using reliant::Status;

namespace {

Result<int> parse_positive(int value) {
    if (value <= 0) return Error("not positive", EINVAL);
    return value;
}

}  // namespace

TEST_CASE("an error carries message, code and where it was raised") {
    const int line = __LINE__ + 1;
    const Error error("cannot open /x", ENOENT);
    CHECK(error.message() == "cannot open /x");
    CHECK(error.code() == ENOENT);
    CHECK(error.where().line() == static_cast<unsigned>(line));
    CHECK(std::string(error.where().file_name()).ends_with("error_test.cpp"));
    CHECK(error.describe() == "cannot open /x: No such file or directory");
    CHECK(error.describe_with_location().ends_with("[error_test.cpp:" + std::to_string(line) + "]"));
}

TEST_CASE("from_errno takes the current errno") {
    errno = EACCES;
    const Error error = Error::from_errno("open failed");
    CHECK(error.code() == EACCES);
}

TEST_CASE("context prefixes what we were doing") {
    Error error("bad byte", 0);
    error.context("parsing qubes.xml").context("merge");
    CHECK(error.message() == "merge: parsing qubes.xml: bad byte");
    CHECK(error.describe() == "merge: parsing qubes.xml: bad byte");
}

TEST_CASE("Result holds a value or an error") {
    const auto good = parse_positive(3);
    REQUIRE(good.ok());
    CHECK(*good == 3);
    const auto bad = parse_positive(-1);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code() == EINVAL);

    const Status fine;
    CHECK(fine.ok());
    const Status failed = Error("nope");
    CHECK_FALSE(failed.ok());
    CHECK(failed.error().message() == "nope");
}

TEST_CASE("an error can name the input position it is about") {
    const auto error = Error("unexpected end of file", 0).at("/run/shufflecake/sflc_0_1/qubes.xml", 12);
    CHECK(error.input_file() == "/run/shufflecake/sflc_0_1/qubes.xml");
    CHECK(error.input_line() == 12);
    CHECK(error.describe() == "/run/shufflecake/sflc_0_1/qubes.xml:12: unexpected end of file");
    CHECK(Error("empty", EINVAL).at("a.xml", 0).describe() == "a.xml: empty: Invalid argument");
}

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

TEST_CASE("errno_text gives the reason in words, never the number") {
    CHECK(reliant::errno_text(ENOENT) == "No such file or directory");
    CHECK(reliant::errno_text(EACCES) == "Permission denied");
    CHECK(reliant::errno_text(ENOSPC) == "No space left on device");
    CHECK(reliant::errno_text(0) == "unknown error 0");
    for (const int code : {EPERM, ENOENT, EIO, EBUSY, EROFS, ENOTDIR, EFBIG}) {
        const std::string text = reliant::errno_text(code);
        CHECK_MESSAGE(text != std::to_string(code), code);
        CHECK_MESSAGE(text.find_first_of("0123456789") == std::string::npos, text);
    }
}

TEST_CASE("describe gives the operation, the reason in words and what to do") {
    // The caller's advice.
    const Error missing = Error("/run/shufflecake/sflc_0_2 is not a directory", ENOENT)
                              .advise("is the volume mounted?");
    CHECK(missing.advice() == "is the volume mounted?");
    CHECK(missing.describe() ==
          "/run/shufflecake/sflc_0_2 is not a directory: No such file or directory: is the volume mounted?");
    // Without it, what the code says a user can do, when it says anything.
    CHECK(Error("cannot write /x", ENOSPC).describe() ==
          "cannot write /x: No space left on device: free some space on that filesystem and try again");
    CHECK(Error("cannot open /x", EACCES).describe() ==
          "cannot open /x: Permission denied: run it as root, and check the file's owner and mode");
    CHECK(Error("cannot open /x", ENOENT).describe() == "cannot open /x: No such file or directory");
    CHECK(Error("bad value", 0).advise("use a number").describe() == "bad value: use a number");
    // The caller nearest the user wins.
    CHECK(Error("cannot write /x", ENOSPC).advise("first").advise("second").describe().ends_with(": second"));
    // Context and position keep the advice at the end.
    Error positioned = Error("unexpected end", EBADMSG).advise("restore it from a backup");
    positioned.context("reading the shard").at("/v/qubes.xml", 3);
    CHECK(positioned.describe() ==
          "/v/qubes.xml:3: reading the shard: unexpected end: Bad message: restore it from a backup");
}

TEST_CASE("errno_advice covers the codes a user can act on and stays quiet on the rest") {
    for (const int code : {EACCES, EPERM, EROFS, ENOSPC, EDQUOT, ENOMEM, EMFILE, ENFILE, ELOOP})
        CHECK_MESSAGE(!reliant::errno_advice(code).empty(), code);
    // Only the caller knows which file is missing or which value is wrong,
    // and EIO/EBUSY also serve as categories of our own errors.
    for (const int code : {0, ENOENT, EINVAL, EIO, EBUSY})
        CHECK_MESSAGE(reliant::errno_advice(code).empty(), code);
}

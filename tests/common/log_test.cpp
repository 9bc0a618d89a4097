#include "common/log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/secret_buffer.h"
#include "test_support.h"

namespace log = reliant::log;
using reliant::SecretBuffer;
using reliant::Sensitive;

// The logging rule is enforced at compile time: these must not compile.
template <typename T>
concept Loggable = requires(std::string& out, const T& value) {
    log::detail::append(out, value);
};
static_assert(Loggable<std::string>);
static_assert(Loggable<int>);
static_assert(Loggable<reliant::Error>);
static_assert(!Loggable<SecretBuffer>, "a secret must never be loggable");
static_assert(!Loggable<Sensitive<std::string>>, "a possibly hidden name must never be loggable");

namespace {

// Runs `body` with stderr redirected to a file and returns what was written.
template <typename Body>
std::string capture_stderr(Body body) {
    reliant::testing::TempDir dir;
    const auto path = dir / "stderr";
    const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(file, STDERR_FILENO);
    body();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(file);
    return reliant::testing::slurp(path);
}

}  // namespace

TEST_CASE("messages carry tag, level and parts") {
    const auto saved = log::config();
    log::configure({.tag = "reliant-test", .threshold = log::Level::info});
    const auto text = capture_stderr([] { log::warning("opened ", 2, " volumes"); });
    CHECK(text == "reliant-test: warning: opened 2 volumes\n");
    log::configure(saved);
}

TEST_CASE("messages below the threshold are dropped") {
    const auto saved = log::config();
    log::configure({.tag = "t", .threshold = log::Level::notice});
    const auto text = capture_stderr([] {
        log::info("hidden detail");
        log::error("shown");
    });
    CHECK(text == "t: error: shown\n");
    log::configure(saved);
}

TEST_CASE("control characters cannot forge log lines") {
    CHECK(log::sanitize("a\nb\x1b[31m") == "a?b?[31m");
    const auto saved = log::config();
    log::configure({.tag = "t"});
    const auto text = capture_stderr([] { log::info(std::string("x\ny: error: forged")); });
    CHECK(text == "t: info: x?y: error: forged\n");
    log::configure(saved);
}

TEST_CASE("errors are logged with their description") {
    const auto saved = log::config();
    log::configure({.tag = "t"});
    const auto text = capture_stderr([] { log::error(reliant::Error("cannot mount", EBUSY)); });
    CHECK(text == "t: error: cannot mount: Device or resource busy\n");
    log::configure(saved);
}

#include "common/process.h"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>
#include <string>

#include "common/secret_buffer.h"

using reliant::ProcessOptions;
using reliant::run_process;
using namespace std::chrono_literals;

namespace {

std::span<const std::byte> as_bytes(std::string_view text) { return std::as_bytes(std::span(text)); }

// No such process, or only its zombie (killed, waiting for init to reap it).
bool process_is_gone(const std::string& pid) {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto after_name = line.rfind(')');
    return after_name != std::string::npos && line.substr(after_name + 2, 1) == "Z";
}

}  // namespace

TEST_CASE("captures stdout, stderr and the exit status") {
    const auto result = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    REQUIRE(result.ok());
    CHECK(result->exited);
    CHECK(result->exit_code == 3);
    CHECK(result->out == "out\n");
    CHECK(result->err == "err\n");
    CHECK_FALSE(result->succeeded());
    CHECK(result->describe() == "exited with status 3");
}

TEST_CASE("argv reaches the program verbatim, with no shell in between") {
    const auto result = run_process({"printf", "%s|", "a b", "$HOME", "; rm -rf /", "`id`"});
    REQUIRE(result.ok());
    CHECK(result->succeeded());
    CHECK(result->out == "a b|$HOME|; rm -rf /|`id`|");
}

TEST_CASE("stdin comes from a buffer, a secret one included") {
    auto secret = reliant::SecretBuffer::create(64);
    REQUIRE(secret.ok());
    REQUIRE(secret->append(as_bytes("correct horse")));
    ProcessOptions options;
    options.input = secret->bytes();
    const auto result = run_process({"cat"}, options);
    REQUIRE(result.ok());
    CHECK(result->out == "correct horse");
}

TEST_CASE("large input and output do not deadlock") {
    const std::string big(3 << 20, 'z');
    ProcessOptions options;
    options.input = as_bytes(big);
    options.max_output = 4 << 20;
    const auto result = run_process({"cat"}, options);
    REQUIRE(result.ok());
    CHECK(result->succeeded());
    CHECK(result->out.size() == big.size());
}

TEST_CASE("captured output is bounded") {
    ProcessOptions options;
    options.max_output = 1000;
    const auto result = run_process({"head", "-c", "100000", "/dev/zero"}, options);
    REQUIRE(result.ok());
    CHECK(result->succeeded());
    CHECK(result->out.size() == 1000);
}

TEST_CASE("a child that ignores its stdin does not kill us with SIGPIPE") {
    const std::string big(1 << 20, 'q');
    ProcessOptions options;
    options.input = as_bytes(big);
    const auto result = run_process({"true"}, options);
    REQUIRE(result.ok());
    CHECK(result->succeeded());
}

TEST_CASE("the environment is exactly what we pass") {
    ProcessOptions options;
    options.environment = {"ONLY=this"};
    const auto result = run_process({"/usr/bin/env"}, options);
    REQUIRE(result.ok());
    CHECK(result->out == "ONLY=this\n");
}

TEST_CASE("a timeout kills the child and its descendants") {
    ProcessOptions options;
    options.timeout = 300ms;
    // The grandchild keeps stdout open: run_process returns only once the
    // whole group is gone (without the group kill, this test hangs until
    // ctest's timeout), and the grandchild must be dead when it does.
    const auto result = run_process({"sh", "-c", "sleep 1000 & echo $!; exec sleep 1000"}, options);
    REQUIRE(result.ok());
    CHECK(result->timed_out);
    CHECK_FALSE(result->succeeded());
    CHECK(result->describe() == "timed out");
    const std::string grandchild = result->out.substr(0, result->out.find('\n'));
    REQUIRE(!grandchild.empty());
    // SIGKILL is sent before run_process returns, but the grandchild may
    // still be in the middle of exiting (its stdout closed, not yet a
    // zombie): wait for that, bounded. A `sleep 1000` gone within 10 s was
    // killed; one that was not killed is still there after them.
    bool gone = process_is_gone(grandchild);
    for (int waited = 0; !gone && waited < 1000; ++waited) {
        std::this_thread::sleep_for(10ms);
        gone = process_is_gone(grandchild);
    }
    CHECK_MESSAGE(gone, "the background sleep " << grandchild << " outlived the timeout");
}

TEST_CASE("a child killed by a signal is reported as such") {
    const auto result = run_process({"sh", "-c", "kill -TERM $$"});
    REQUIRE(result.ok());
    CHECK_FALSE(result->exited);
    CHECK(result->signal == SIGTERM);
    CHECK(result->describe() == "killed by signal 15");
}

TEST_CASE("a missing program is an error, not a result") {
    const auto result = run_process({"reliant-no-such-program"});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code() == ENOENT);
}

TEST_CASE("stdout can go into a SecretBuffer instead of a string") {
    auto secret = reliant::SecretBuffer::create(64);
    REQUIRE(secret.ok());
    ProcessOptions options;
    options.secret_output = &*secret;
    const auto result = run_process({"printf", "%s", "tr0ub4dor"}, options);
    REQUIRE(result.ok());
    CHECK(result->succeeded());
    CHECK(result->out.empty());
    CHECK_FALSE(result->secret_overflow);
    CHECK(secret->equals(as_bytes("tr0ub4dor")));
}

TEST_CASE("secret stdout that does not fit is dropped and flagged") {
    auto secret = reliant::SecretBuffer::create(16);
    REQUIRE(secret.ok());
    ProcessOptions options;
    options.secret_output = &*secret;
    const auto result = run_process({"head", "-c", "100000", "/dev/zero"}, options);
    REQUIRE(result.ok());
    CHECK(result->succeeded());  // the child was not blocked on a full pipe
    CHECK(result->secret_overflow);
    CHECK(secret->size() <= secret->capacity());
}

#include "unlock/agent_prompts.h"

#include <doctest/doctest.h>

#include "../shufflecake-glue/fakes.h"

using namespace reliant;
using namespace reliant::unlock;
using reliant::testing::FakeRunner;
using namespace std::chrono_literals;

namespace {

SecretBuffer buffer() {
    auto made = SecretBuffer::create(64);
    REQUIRE(made.ok());
    return std::move(*made);
}

bool holds(const SecretBuffer& secret, std::string_view text) {
    return secret.equals(std::as_bytes(std::span(text)));
}

// Runs a real program in place of the agent, to exercise the real capture path.
class SubstituteRunner final : public shufflecake::CommandRunner {
public:
    explicit SubstituteRunner(std::vector<std::string> argv) : argv_(std::move(argv)) {}
    Result<ProcessResult> run(const std::vector<std::string>& argv, const ProcessOptions& options) override {
        asked = argv;
        return run_process(argv_, options);
    }
    std::vector<std::string> asked;

private:
    std::vector<std::string> argv_;
};

}  // namespace

TEST_CASE("systemd-ask-password: no trailing newline, no cache, explicit timeout, prompt last") {
    CHECK(SystemdAskPassword::command({"reliant passphrase (1/3):", 0s}) ==
          std::vector<std::string>{"systemd-ask-password", "-n", "--id=reliant:unlock",
                                   "--icon=drive-harddisk", "--timeout=0", "reliant passphrase (1/3):"});
    const auto with_timeout = SystemdAskPassword::command({"p", 90s});
    CHECK(std::find(with_timeout.begin(), with_timeout.end(), "--timeout=90") != with_timeout.end());
    for (const auto& argument : with_timeout) {
        CHECK(argument.find("accept-cached") == std::string::npos);
        CHECK(argument.find("keyname") == std::string::npos);
    }
}

TEST_CASE("the agent's stdout lands in the SecretBuffer, its newline dropped") {
    SubstituteRunner runner({"printf", "%s\\n", "s3cret pass"});
    SystemdAskPassword source(runner);
    auto secret = buffer();
    const auto answer = source.ask({"p", 0s}, secret);
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::given);
    CHECK(holds(secret, "s3cret pass"));
    CHECK(runner.asked.front() == "systemd-ask-password");
}

TEST_CASE("a failing agent means timed out (with a timeout) or cancelled (without)") {
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> { return FakeRunner::exit_with(1); };
    SystemdAskPassword source(runner);
    auto secret = buffer();
    REQUIRE(secret.append(std::as_bytes(std::span(std::string_view("stale")))));
    auto answer = source.ask({"p", 0s}, secret);
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::cancelled);
    CHECK(secret.empty());
    answer = source.ask({"p", 30s}, secret);
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::timed_out);
    CHECK(runner.calls.back().timeout > 30s);  // our backstop leaves the agent its own timeout
}

TEST_CASE("an answer longer than the buffer is an error and leaves nothing") {
    SubstituteRunner runner({"head", "-c", "5000", "/dev/zero"});
    PlymouthPrompt source(runner);
    auto secret = buffer();
    const auto answer = source.ask({"p", 0s}, secret);
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.error().code() == EMSGSIZE);
    CHECK(secret.empty());
}

TEST_CASE("plymouth is asked with its prompt option and probed with --ping") {
    CHECK(PlymouthPrompt::command({"reliant passphrase (2/3):", 0s}) ==
          std::vector<std::string>{"plymouth", "ask-for-password", "--prompt=reliant passphrase (2/3):"});
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> { return FakeRunner::exit_with(1); };
    CHECK_FALSE(PlymouthPrompt::available(runner));
    CHECK(runner.calls.back().argv == std::vector<std::string>{"plymouth", "--ping"});
}

TEST_CASE("strip_line_end drops one line end only") {
    auto secret = buffer();
    REQUIRE(secret.append(std::as_bytes(std::span(std::string_view("a b\r\n")))));
    strip_line_end(secret);
    CHECK(holds(secret, "a b"));
    strip_line_end(secret);
    CHECK(holds(secret, "a b"));
}

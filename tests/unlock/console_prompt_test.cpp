#include "unlock/console_prompt.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <future>

#include "common/unique_fd.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::unlock;
using namespace std::chrono_literals;

namespace {

struct Pty {
    UniqueFd master;
    UniqueFd slave;
    std::string name;
    Pty() {
        int m = -1, s = -1;
        char path[256] = {};
        REQUIRE(::openpty(&m, &s, path, nullptr, nullptr) == 0);
        master.reset(m);
        slave.reset(s);
        name = path;
    }
    void type(std::string_view keys) const {
        REQUIRE(::write(master.get(), keys.data(), keys.size()) == (ssize_t)keys.size());
    }
    // What the terminal showed so far.
    std::string screen() const {
        std::string shown;
        char chunk[256];
        pollfd ready{master.get(), POLLIN, 0};
        while (::poll(&ready, 1, 200) > 0) {
            const ssize_t n = ::read(master.get(), chunk, sizeof chunk);
            if (n <= 0) break;
            shown.append(chunk, static_cast<std::size_t>(n));
        }
        return shown;
    }
};

SecretBuffer buffer() {
    auto made = SecretBuffer::create(64);
    REQUIRE(made.ok());
    return std::move(*made);
}

// Waits until the prompt is on the screen (echo is off by then).
std::string wait_for_prompt(const Pty& pty) {
    std::string shown;
    for (int i = 0; i < 50 && shown.find("pass:") == std::string::npos; ++i) shown += pty.screen();
    return shown;
}

}  // namespace

TEST_CASE("the console prompt reads one line with echo off and restores the terminal") {
    reliant::testing::TempDir dir;
    Pty pty;
    ConsolePrompt prompt(pty.name, (dir / "lock").string());
    auto secret = buffer();
    auto asked = std::async(std::launch::async, [&] { return prompt.ask({"pass:", 0s}, secret); });
    std::string shown = wait_for_prompt(pty);
    pty.type("hunter2 x\n");
    const auto answer = asked.get();
    shown += pty.screen();
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::given);
    CHECK(secret.equals(std::as_bytes(std::span(std::string_view("hunter2 x")))));
    CHECK(shown.find("pass:") != std::string::npos);
    CHECK(shown.find("hunter2") == std::string::npos);
    termios after{};
    REQUIRE(::tcgetattr(pty.slave.get(), &after) == 0);
    CHECK((after.c_lflag & ECHO) != 0);
}

TEST_CASE("the console prompt times out, and end of input on an empty line cancels") {
    reliant::testing::TempDir dir;
    Pty pty;
    ConsolePrompt prompt(pty.name, (dir / "lock").string());
    auto secret = buffer();
    auto answer = prompt.ask({"pass:", 1s}, secret);
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::timed_out);
    CHECK(secret.empty());

    auto asked = std::async(std::launch::async, [&] { return prompt.ask({"pass:", 0s}, secret); });
    wait_for_prompt(pty);
    pty.type("\x04");  // Ctrl-D
    answer = asked.get();
    REQUIRE(answer.ok());
    CHECK(*answer == Answer::cancelled);
}

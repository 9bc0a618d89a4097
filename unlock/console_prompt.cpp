#include "unlock/console_prompt.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>

#include "common/file_io.h"
#include "common/unique_fd.h"

namespace reliant::unlock {
namespace {

class EchoOff {
public:
    explicit EchoOff(int fd) : fd_(fd) {
        if (::tcgetattr(fd_, &saved_) != 0) return;
        termios quiet = saved_;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
        active_ = ::tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
    }
    ~EchoOff() {
        if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;
    bool active() const { return active_; }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads one line into `out`; the newline itself is not kept.
Result<Answer> read_line(int fd, std::chrono::seconds timeout, SecretBuffer& out) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    for (;;) {
        int wait_ms = -1;
        if (timeout.count() > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) return Answer::timed_out;
            wait_ms = static_cast<int>(left.count());
        }
        pollfd ready{fd, POLLIN, 0};
        const int polled = ::poll(&ready, 1, wait_ms);
        if (polled < 0 && errno == EINTR) continue;
        if (polled < 0) return Error::from_errno("waiting for the passphrase");
        if (polled == 0) continue;  // the deadline check above ends it
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return Error::from_errno("reading the passphrase");
        if (n == 0) return out.empty() ? Answer::cancelled : Answer::given;  // EOF ends the line
        if (c == '\n' || c == '\r') return Answer::given;
        const bool kept = out.push_back(c);
        c = 0;
        if (!kept) return Error("the passphrase is too long", EMSGSIZE);
    }
}

}  // namespace

Result<Answer> ConsolePrompt::ask(const Prompt& prompt, SecretBuffer& out) {
    out.clear();
    UniqueFd terminal(::open(terminal_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!terminal) return Error::from_errno("cannot open " + terminal_);
    auto lock = open_regular_file(AT_FDCWD, lock_file_, O_RDWR);
    if (lock) ::flock(lock->get(), LOCK_EX);  // best effort: other prompts wait for ours

    EchoOff echo_off(terminal.get());
    if (!echo_off.active()) return Error::from_errno("cannot turn off echo on " + terminal_);
    write_all(terminal.get(), prompt.text + " ");
    auto answer = read_line(terminal.get(), prompt.timeout, out);
    write_all(terminal.get(), "\n");
    if (!answer || *answer != Answer::given) out.clear();
    return answer;
}

}  // namespace reliant::unlock

#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace reliant::log {
namespace {

// The only process-wide state: configuration and the kmsg descriptor it opened.
Config current_config;
int kmsg_fd = -1;

constexpr std::size_t kmsg_record_limit = 900;  // the kernel caps a record at 1024 bytes

const char* level_name(Level level) {
    switch (level) {
        case Level::error:
            return "error";
        case Level::warning:
            return "warning";
        case Level::notice:
            return "notice";
        case Level::info:
            return "info";
        case Level::debug:
            return "debug";
    }
    return "?";
}

void write_fully(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // logging never fails the caller
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

void configure(const Config& config) {
    current_config = config;
    if (kmsg_fd >= 0) {
        ::close(kmsg_fd);
        kmsg_fd = -1;
    }
    if (config.to_kmsg) kmsg_fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
}

const Config& config() { return current_config; }

std::string sanitize(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    return out;
}

namespace detail {

void append(std::string& out, std::string_view text) { out += sanitize(text); }
void append(std::string& out, const char* text) { append(out, std::string_view(text)); }
void append(std::string& out, const std::string& text) { append(out, std::string_view(text)); }
void append(std::string& out, char c) { append(out, std::string_view(&c, 1)); }
void append(std::string& out, const Error& error) { append(out, error.describe()); }

void emit(Level level, std::string_view message) {
    if (current_config.to_stderr) {
        std::string line = current_config.tag + ": " + level_name(level) + ": ";
        line += message;
        line += '\n';
        write_fully(STDERR_FILENO, line);
    }
    if (kmsg_fd >= 0) {
        std::string record = "<" + std::to_string(static_cast<int>(level)) + ">" + current_config.tag + ": ";
        record += message.substr(0, kmsg_record_limit);
        record += '\n';
        write_fully(kmsg_fd, record);
    }
}

}  // namespace detail
}  // namespace reliant::log

// Logging to stderr and, in the initramfs, to /dev/kmsg with syslog levels.
//
// The rule: secrets and anything that may name a hidden qube, pool or volume
// never reach a log. It is enforced by types: log calls take strings, numbers
// and Errors, while SecretBuffer and Sensitive<T> have deleted overloads, so
// passing one is a compile error. Code that handles shard content wraps names
// in Sensitive<> and reports them only to the user who asked (stdout, a report
// under /run), never through this module.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include "common/error.h"

namespace reliant {

class SecretBuffer;

// A value that may reveal a hidden qube. Loggable: never.
template <typename T>
struct Sensitive {
    T value;
};

namespace log {

enum class Level : int { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

struct Config {
    std::string tag = "reliant";
    Level threshold = Level::info;
    bool to_stderr = true;
    bool to_kmsg = false;  // the initramfs: also write to /dev/kmsg
};

// Process-wide configuration, set once at start-up by each tool's main().
void configure(const Config& config);
const Config& config();

namespace detail {
void append(std::string& out, std::string_view text);
void append(std::string& out, const char* text);
void append(std::string& out, const std::string& text);
void append(std::string& out, char c);
void append(std::string& out, const Error& error);
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void append(std::string& out, T number) {
    out += std::to_string(number);
}
void append(std::string& out, const SecretBuffer&) = delete;
template <typename T>
void append(std::string& out, const Sensitive<T>&) = delete;

void emit(Level level, std::string_view message);
}  // namespace detail

template <typename... Parts>
void write(Level level, const Parts&... parts) {
    if (static_cast<int>(level) > static_cast<int>(config().threshold)) return;
    std::string message;
    (detail::append(message, parts), ...);
    detail::emit(level, message);
}

template <typename... Parts>
void error(const Parts&... parts) {
    write(Level::error, parts...);
}
template <typename... Parts>
void warning(const Parts&... parts) {
    write(Level::warning, parts...);
}
template <typename... Parts>
void notice(const Parts&... parts) {
    write(Level::notice, parts...);
}
template <typename... Parts>
void info(const Parts&... parts) {
    write(Level::info, parts...);
}
template <typename... Parts>
void debug(const Parts&... parts) {
    write(Level::debug, parts...);
}

// Replaces control characters so that hostile text cannot forge log lines.
std::string sanitize(std::string_view text);

}  // namespace log
}  // namespace reliant

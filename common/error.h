// Errors are values: what failed (the operation and the file), the errno (or
// another code), what the user can do about it, the input file and line it
// concerns when there is one, and the place in our source that raised it.
// Result<T> carries either a value or an Error. describe() is the one way an
// error reaches a user: the code always as words, never as a number.
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace reliant {

// The reason for a system error code in words ("No such file or directory"),
// as strerror gives it: the one place an errno becomes text for a user.
// Codes that are not errno values (0, negative) give "unknown error N".
std::string errno_text(int code);

// What a user can usually do about a system error code, or "" when the code
// alone does not say: ENOENT, EINVAL, and EIO or EBUSY, which some errors
// carry as a category rather than from a system call. Only the caller knows
// then what is wrong and gives the advice itself (Error::advise).
std::string_view errno_advice(int code);

#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
// clang 14 with libstdc++ 12 (the fuzz build, tests/fuzz) has no
// std::source_location; the compiler builtins give the same call site.
class SourceLocation {
public:
    static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                            std::uint_least32_t line = __builtin_LINE(),
                                            const char* function = __builtin_FUNCTION()) noexcept {
        SourceLocation where;
        where.file_ = file;
        where.line_ = line;
        where.function_ = function;
        return where;
    }
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr std::uint_least32_t line() const noexcept { return line_; }
    constexpr std::uint_least32_t column() const noexcept { return 0; }
    constexpr const char* function_name() const noexcept { return function_; }

private:
    const char* file_ = "";
    std::uint_least32_t line_ = 0;
    const char* function_ = "";
};
#endif

class Error {
public:
    explicit Error(std::string message, int code = 0,
                   SourceLocation where = SourceLocation::current());

    // An error from a failed system call; `code` defaults to the current errno.
    static Error from_errno(std::string message, int code = errno,
                            SourceLocation where = SourceLocation::current());

    const std::string& message() const { return message_; }
    int code() const { return code_; }
    const SourceLocation& where() const { return where_; }

    // Prefixes the message with what we were doing: "reading /x: <message>".
    Error& context(std::string_view what) &;
    Error&& context(std::string_view what) &&;

    // What the user can do about it ("is the volume mounted?"). Without it,
    // describe() gives errno_advice(code()) when there is one. The last call
    // wins: the caller nearest the user knows the most.
    Error& advise(std::string what_to_do) &;
    Error&& advise(std::string what_to_do) &&;
    const std::string& advice() const { return advice_; }

    // The input position the error is about (a file being parsed, say).
    Error& at(std::string file, int line) &;
    Error&& at(std::string file, int line) &&;
    const std::string& input_file() const { return input_file_; }
    int input_line() const { return input_line_; }

    // "[file:line: ]message[: errno_text(code)][: advice]", as shown to a user.
    std::string describe() const;
    // describe() plus " [file.cpp:42]", for diagnostics that help developers.
    std::string describe_with_location() const;

private:
    std::string message_;
    int code_;
    SourceLocation where_;
    std::string advice_;
    std::string input_file_;
    int input_line_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}
    Result(Error error) : state_(std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& { return std::get<1>(state_); }
    Error&& error() && { return std::get<1>(std::move(state_)); }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}

    bool ok() const { return !error_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const& { return *error_; }
    Error&& error() && { return std::move(*error_); }

private:
    std::optional<Error> error_;
};

using Status = Result<void>;

inline Status success() { return {}; }

}  // namespace reliant

#include "common/error.h"

#include <cstring>
#include <filesystem>

namespace reliant {

Error::Error(std::string message, int code, std::source_location where)
    : message_(std::move(message)), code_(code), where_(where) {}

Error Error::from_errno(std::string message, int code, std::source_location where) {
    return Error(std::move(message), code, where);
}

Error& Error::context(std::string_view what) & {
    message_.insert(0, std::string(what) + ": ");
    return *this;
}

Error&& Error::context(std::string_view what) && {
    message_.insert(0, std::string(what) + ": ");
    return std::move(*this);
}

std::string Error::describe() const {
    if (code_ <= 0) return message_;
    char buffer[128];
    // GNU strerror_r returns the message, which may or may not live in `buffer`.
    const char* text = strerror_r(code_, buffer, sizeof buffer);
    return message_ + ": " + text;
}

std::string Error::describe_with_location() const {
    const auto file = std::filesystem::path(where_.file_name()).filename().string();
    return describe() + " [" + file + ":" + std::to_string(where_.line()) + "]";
}

}  // namespace reliant

#include "common/error.h"

#include <cstring>
#include <filesystem>

namespace reliant {

Error::Error(std::string message, int code, SourceLocation where)
    : message_(std::move(message)), code_(code), where_(where) {}

Error Error::from_errno(std::string message, int code, SourceLocation where) {
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

Error& Error::at(std::string file, int line) & {
    input_file_ = std::move(file);
    input_line_ = line;
    return *this;
}

Error&& Error::at(std::string file, int line) && { return std::move(at(std::move(file), line)); }

std::string Error::describe() const {
    std::string text;
    if (!input_file_.empty()) {
        text = input_file_ + ":";
        if (input_line_ > 0) text += std::to_string(input_line_) + ":";
        text += " ";
    }
    text += message_;
    if (code_ <= 0) return text;
    char buffer[128];
    // GNU strerror_r returns the message, which may or may not live in `buffer`.
    return text + ": " + strerror_r(code_, buffer, sizeof buffer);
}

std::string Error::describe_with_location() const {
    const auto file = std::filesystem::path(where_.file_name()).filename().string();
    return describe() + " [" + file + ":" + std::to_string(where_.line()) + "]";
}

}  // namespace reliant

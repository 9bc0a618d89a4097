#include "common/error.h"

#include <cstring>
#include <filesystem>

namespace reliant {

std::string errno_text(int code) {
    if (code <= 0) return "unknown error " + std::to_string(code);
    char buffer[128];
    // GNU strerror_r returns the message, which may or may not live in `buffer`.
    return strerror_r(code, buffer, sizeof buffer);
}

std::string_view errno_advice(int code) {
    switch (code) {
        case EACCES:
        case EPERM: return "run it as root, and check the file's owner and mode";
        case EROFS: return "that filesystem is mounted read-only: write elsewhere, or remount it read-write";
        case ENOSPC:
        case EDQUOT: return "free some space on that filesystem and try again";
        case ENOMEM: return "the system is short of memory: close something and try again";
        case EMFILE:
        case ENFILE: return "too many files are open: raise the limit (ulimit -n) or close some";
        case ELOOP: return "a symbolic link is in the way; reliant never follows one here: replace it with the file";
        default: return "";
    }
}

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

Error& Error::advise(std::string what_to_do) & {
    advice_ = std::move(what_to_do);
    return *this;
}

Error&& Error::advise(std::string what_to_do) && { return std::move(advise(std::move(what_to_do))); }

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
    if (code_ > 0) text += ": " + errno_text(code_);
    const std::string_view advice = advice_.empty() ? errno_advice(code_) : std::string_view(advice_);
    if (!advice.empty()) text += ": " + std::string(advice);
    return text;
}

std::string Error::describe_with_location() const {
    const auto file = std::filesystem::path(where_.file_name()).filename().string();
    return describe() + " [" + file + ":" + std::to_string(where_.line()) + "]";
}

}  // namespace reliant

#include "common/kernel_cmdline.h"

#include <cctype>

#include "common/file_io.h"

namespace reliant {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string strip_quotes(std::string_view text) {
    if (text.size() >= 1 && text.front() == '"') {
        text.remove_prefix(1);
        if (!text.empty() && text.back() == '"') text.remove_suffix(1);
    }
    return std::string(text);
}

}  // namespace

KernelCmdline KernelCmdline::parse(std::string_view text) {
    KernelCmdline cmdline;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i])) ++i;
        if (i == text.size()) break;
        const std::size_t start = i;
        bool in_quote = false;
        while (i < text.size() && (in_quote || !is_space(text[i]))) {
            if (text[i] == '"') in_quote = !in_quote;
            ++i;
        }
        std::string_view token = text.substr(start, i - start);
        // A fully quoted argument ("a=b c") is unquoted first, as the kernel does.
        const bool quoted = token.front() == '"';
        if (quoted) {
            token.remove_prefix(1);
            if (!token.empty() && token.back() == '"') token.remove_suffix(1);
        }
        CmdlineArgument argument;
        const std::size_t equals = token.find('=');
        if (equals == std::string_view::npos) {
            argument.key = std::string(token);
        } else {
            argument.key = std::string(token.substr(0, equals));
            argument.value =
                quoted ? std::string(token.substr(equals + 1)) : strip_quotes(token.substr(equals + 1));
        }
        if (!argument.key.empty()) cmdline.arguments_.push_back(std::move(argument));
    }
    return cmdline;
}

Result<KernelCmdline> KernelCmdline::read(const std::string& path) {
    auto text = read_file(path, 64 * 1024);
    if (!text) return std::move(text).error();
    return parse(*text);
}

bool KernelCmdline::has(std::string_view key) const {
    for (const auto& argument : arguments_)
        if (argument.key == key) return true;
    return false;
}

std::optional<std::string> KernelCmdline::get(std::string_view key) const {
    std::optional<std::string> found;
    for (const auto& argument : arguments_)
        if (argument.key == key) found = argument.value.value_or("");
    return found;
}

bool cmdline_truthy(std::string_view value) {
    return !(value == "0" || value == "no" || value == "off" || value == "false");
}

}  // namespace reliant

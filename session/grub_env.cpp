#include "session/grub_env.h"

#include <algorithm>
#include <cctype>

namespace reliant::session {
namespace {

bool valid_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_value(std::string_view value) {
    return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; });
}

// GRUB's unescaping: a backslash takes the next character literally.
std::string unescape(std::string_view value) {
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        out += value[i];
    }
    return out;
}

}  // namespace

Result<GrubEnv> GrubEnv::parse(std::string_view bytes) {
    if (!bytes.starts_with(grub_env_signature)) return Error("not a GRUB environment block", EINVAL);
    GrubEnv env;
    std::size_t start = grub_env_signature.size();
    while (start < bytes.size()) {
        // A line ends at a newline that is not escaped.
        std::size_t end = start;
        while (end < bytes.size() && bytes[end] != '\n') end += bytes[end] == '\\' ? 2 : 1;
        end = std::min(end, bytes.size());
        const auto line = bytes.substr(start, end - start);
        start = end + 1;
        if (line.empty() || line.front() == '#') continue;  // padding and comments
        const auto equals = line.find('=');
        if (equals == std::string_view::npos || !valid_name(line.substr(0, equals)))
            return Error("malformed line in a GRUB environment block", EINVAL);
        env.variables_.emplace_back(std::string(line.substr(0, equals)), unescape(line.substr(equals + 1)));
    }
    return env;
}

std::optional<std::string> GrubEnv::get(std::string_view name) const {
    for (const auto& [key, value] : variables_)
        if (key == name) return value;
    return std::nullopt;
}

Status GrubEnv::set(std::string_view name, std::string_view value) {
    if (!valid_name(name)) return Error("not a GRUB variable name: " + std::string(name), EINVAL);
    if (!valid_value(value)) return Error("a GRUB variable value must be printable ASCII without \\", EINVAL);
    for (auto& [key, current] : variables_) {
        if (key == name) {
            current = value;
            return success();
        }
    }
    variables_.emplace_back(std::string(name), std::string(value));
    return success();
}

Result<std::string> GrubEnv::render() const {
    std::string out(grub_env_signature);
    for (const auto& [key, value] : variables_) out += key + "=" + value + "\n";
    if (out.size() > grub_env_size) return Error("the variables do not fit in a GRUB environment block", E2BIG);
    out.append(grub_env_size - out.size(), '#');
    return out;
}

}  // namespace reliant::session

#include "session/settings.h"

#include <algorithm>
#include <cctype>

#include "common/file_io.h"

namespace reliant::session {
namespace {

bool is_key(std::string_view key) {
    if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

// Characters an unquoted sh word may hold without being expanded or split.
bool plain_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_-+=.,:/@%^").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
        text.remove_suffix(1);
    return text;
}

// The value of `word` as sh would assign it, if sh and this reader agree on it.
std::optional<std::string> parse_value(std::string_view word) {
    if (word.empty()) return std::string();
    const char quote = word.front();
    if (quote == '"' || quote == '\'') {
        if (word.size() < 2 || word.back() != quote) return std::nullopt;
        const auto inner = word.substr(1, word.size() - 2);
        if (inner.find(quote) != std::string_view::npos) return std::nullopt;
        // Inside double quotes sh still expands $ and ` and interprets \.
        if (quote == '"' && inner.find_first_of("$`\\") != std::string_view::npos) return std::nullopt;
        if (inner.find('\n') != std::string_view::npos) return std::nullopt;
        return std::string(inner);
    }
    if (!std::all_of(word.begin(), word.end(), plain_word_char)) return std::nullopt;
    return std::string(word);
}

}  // namespace

Result<Settings> Settings::parse(std::string_view text) {
    Settings settings;
    std::size_t start = 0;
    int line_number = 0;
    while (start < text.size()) {
        ++line_number;
        const auto end = std::min(text.find('\n', start), text.size());
        const auto line = trim(text.substr(start, end - start));
        start = end + 1;
        if (line.empty() || line.front() == '#') continue;
        const auto equals = line.find('=');
        const auto where = "line " + std::to_string(line_number) + ": ";
        if (equals == std::string_view::npos || !is_key(line.substr(0, equals)))
            return Error(where + "not a KEY=value assignment", EINVAL);
        auto value = parse_value(line.substr(equals + 1));
        if (!value)
            return Error(where + "the value must be one word, or quoted without $, ` or \\", EINVAL);
        settings.values_[std::string(line.substr(0, equals))] = std::move(*value);
    }
    return settings;
}

Result<Settings> Settings::read(const std::filesystem::path& path) {
    auto text = read_file(path, 1 << 16);
    if (!text) return std::move(text).error().context("reading " + path.string());
    auto settings = parse(*text);
    if (!settings) return std::move(settings).error().context(path.string());
    return settings;
}

std::optional<std::string> Settings::get(const std::string& key) const {
    const auto found = values_.find(key);
    if (found == values_.end()) return std::nullopt;
    return found->second;
}

std::string Settings::get_or(const std::string& key, std::string fallback) const {
    auto value = get(key);
    return value && !value->empty() ? *value : std::move(fallback);
}

Result<RecordLocation> record_location(const Settings& settings) {
    RecordLocation location;
    location.device = settings.get_or("RELIANT_RECORD_DEVICE", "");
    location.fstype = settings.get_or("RELIANT_RECORD_FSTYPE", "");
    location.path = settings.get_or("RELIANT_RECORD_PATH", "reliant/seal.env");
    if (location.device.empty()) return Error("RELIANT_RECORD_DEVICE is not set", EINVAL);
    if (location.fstype.empty()) return Error("RELIANT_RECORD_FSTYPE is not set", EINVAL);
    const std::filesystem::path relative(location.path);
    const bool escapes = std::any_of(relative.begin(), relative.end(), [](const auto& part) { return part == ".."; });
    if (relative.is_absolute() || escapes || !relative.has_filename())
        return Error("RELIANT_RECORD_PATH must be a relative file path without ..", EINVAL);
    return location;
}

}  // namespace reliant::session

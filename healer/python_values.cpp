#include "healer/python_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <climits>

namespace reliant::healer {
namespace {

bool is_python_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view strip(std::string_view text) {
    while (!text.empty() && is_python_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_python_space(text.back())) text.remove_suffix(1);
    return text;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void erase_all(std::string& text, std::string_view what) {
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at))
        text.erase(at, what.size());
}

}  // namespace

std::optional<long long> python_int(std::string_view text) {
    text = strip(text);
    bool negative = false;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty()) return std::nullopt;
    unsigned long long magnitude = 0;
    bool saturated = false;
    bool previous_digit = false;
    for (const char c : text) {
        if (c == '_') {
            if (!previous_digit) return std::nullopt;  // leading or doubled underscore
            previous_digit = false;
            continue;
        }
        if (c < '0' || c > '9') return std::nullopt;
        previous_digit = true;
        if (magnitude > (ULLONG_MAX - 9) / 10)
            saturated = true;
        else
            magnitude = magnitude * 10 + static_cast<unsigned>(c - '0');
    }
    if (!previous_digit) return std::nullopt;  // trailing underscore
    if (saturated || magnitude > static_cast<unsigned long long>(LLONG_MAX))
        return negative ? LLONG_MIN : LLONG_MAX;
    const auto value = static_cast<long long>(magnitude);
    return negative ? -value : value;
}

std::optional<bool> property_bool(std::string_view text) {
    const std::string value = lower(text);
    if (value == "0" || value == "no" || value == "false" || value == "off") return false;
    if (value == "1" || value == "yes" || value == "true" || value == "on") return true;
    return std::nullopt;
}

bool is_canonical_bool(std::string_view text) { return text == "True" || text == "False"; }

std::optional<bool> utils_parse_bool(std::string_view text) {
    if (text == "True" || text == "1" || text == "on") return true;
    if (text == "False" || text == "0" || text == "off" || text.empty()) return false;
    return std::nullopt;
}

std::optional<Uuid> python_uuid(std::string_view text) {
    std::string hex(text);
    erase_all(hex, "urn:");
    erase_all(hex, "uuid:");
    while (!hex.empty() && (hex.front() == '{' || hex.front() == '}')) hex.erase(hex.begin());
    while (!hex.empty() && (hex.back() == '{' || hex.back() == '}')) hex.pop_back();
    erase_all(hex, "-");
    if (hex.size() != 32) return std::nullopt;
    Uuid uuid{};
    for (std::size_t i = 0; i < 16; ++i) {
        const int high = hex_value(hex[2 * i]);
        const int low = hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        uuid[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    return uuid;
}

std::string canonical_uuid(const Uuid& uuid) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += digits[uuid[i] >> 4];
        out += digits[uuid[i] & 0xf];
    }
    return out;
}

bool is_nil(const Uuid& uuid) {
    return std::all_of(uuid.begin(), uuid.end(), [](std::uint8_t b) { return b == 0; });
}

bool python_ipv4(std::string_view text) {
    // Four decimal octets 0..255, no leading zeros (Python >= 3.9.5), nothing else.
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        const std::size_t length = i - start;
        if (length == 0 || length > 3 || (length > 1 && text[start] == '0')) return false;
        if (std::stoi(std::string(text.substr(start, length))) > 255) return false;
        ++parts;
        if (i == text.size()) break;
        if (text[i] != '.' || parts == 4) return false;
        ++i;
    }
    return parts == 4;
}

bool python_ipv6(std::string_view text) {
    // inet_pton agrees with ipaddress for the forms qubesd writes; a scope id
    // ("%eth0"), which ipaddress accepts, is split off first.
    std::string address(text.substr(0, text.find('%')));
    if (address.size() != text.size() && address.size() + 1 == text.size()) return false;  // empty scope
    unsigned char buffer[16];
    return !address.empty() && inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

std::string vmid_to_ipv4(std::string_view prefix, long long vmid) {
    std::string ip(prefix);
    if (vmid < 255) return ip + "." + std::to_string((vmid >> 8) & 0xff) + "." + std::to_string(vmid & 0xff);
    vmid -= 1;
    return ip + "." + std::to_string(vmid / 254) + "." + std::to_string(vmid % 254 + 1);
}

std::string qube_name_problem(std::string_view name) {
    const auto is_letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
    const auto is_allowed = [&](char c) {
        return is_letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    };
    if (name.size() > 31) return "is longer than 31 characters";
    if (name.empty() || !is_letter(name.front()) || !std::all_of(name.begin(), name.end(), is_allowed))
        return "must start with a letter and contain only letters, digits, '_', '.' and '-'";
    if (name == "none" || name == "default" || name == "Domain-0") return "is reserved";
    if (name.ends_with("-dm")) return "ends with '-dm', which is reserved for device-model stubdomains";
    return {};
}

}  // namespace reliant::healer

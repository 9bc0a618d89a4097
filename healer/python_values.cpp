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

// One code point of UTF-8 at `at` (advanced past it); nullopt when malformed.
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    std::size_t length = lead < 0x80           ? 1
                         : (lead >> 5) == 0x6  ? 2
                         : (lead >> 4) == 0xe  ? 3
                         : (lead >> 3) == 0x1e ? 4
                                               : 0;
    if (length == 0 || at + length > text.size()) return std::nullopt;
    char32_t value = length == 1 ? lead : lead & (0x7f >> length);
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) & 0xc0) != 0x80) return std::nullopt;
        value = (value << 6) | (byte(at + i) & 0x3f);
    }
    at += length;
    return value;
}

// Py_UNICODE_ISSPACE beyond ASCII (the ASCII ones XML allows are handled by
// is_python_space; U+001C..U+001F cannot occur in XML).
bool is_unicode_space(char32_t c) {
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// The first code point ("zero") of each run of ten decimal digits (Unicode
// category Nd), from Python 3.11's unicodedata (Unicode 14) plus the two runs
// Unicode 15 added (Kawi U+11F50, Nag Mundari U+1E4F0) for dom0's Python 3.13.
constexpr char32_t digit_zeros[] = {
    0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
    0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,
    0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
    0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8,
    0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950, 0x1FBF0};

int decimal_value(char32_t c) {
    for (const char32_t zero : digit_zeros)
        if (c >= zero && c < zero + 10) return static_cast<int>(c - zero);
    return -1;
}

// What CPython's int() parses after _PyUnicode_TransformDecimalAndSpaceToASCII:
// Unicode whitespace becomes ' ', Unicode decimal digits their ASCII digit,
// any other non-ASCII character makes the text invalid (nullopt).
std::optional<std::string> to_python_ascii(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        const auto c = next_code_point(text, at);
        if (!c) return std::nullopt;
        if (*c < 0x80)
            out += static_cast<char>(*c);
        else if (is_unicode_space(*c))
            out += ' ';
        else if (const int digit = decimal_value(*c); digit >= 0)
            out += static_cast<char>('0' + digit);
        else
            return std::nullopt;
    }
    return out;
}
}  // namespace

std::optional<long long> python_int(std::string_view text) {
    const auto ascii = to_python_ascii(text);
    if (!ascii) return std::nullopt;
    std::string_view rest = strip(*ascii);
    bool negative = false;
    if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    if (rest.empty()) return std::nullopt;
    unsigned long long magnitude = 0;
    bool saturated = false;
    bool previous_digit = false;
    for (const char c : rest) {
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

std::optional<std::size_t> python_length(std::string_view text) {
    std::size_t length = 0;
    for (std::size_t at = 0; at < text.size(); ++length)
        if (!next_code_point(text, at)) return std::nullopt;
    return length;
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
    // hex = hex.replace('urn:', '').replace('uuid:', '')
    // hex = hex.strip('{}').replace('-', ''); len(hex) == 32; int(hex, 16)
    std::string hex(text);
    erase_all(hex, "urn:");
    erase_all(hex, "uuid:");
    const std::size_t first = hex.find_first_not_of("{}");
    if (first == std::string::npos) return std::nullopt;
    hex = hex.substr(first, hex.find_last_not_of("{}") - first + 1);
    erase_all(hex, "-");
    if (python_length(hex) != 32) return std::nullopt;  // characters, not bytes
    // int(hex, 16): Unicode digits and spaces, surrounding whitespace, a '+'
    // sign, a 0x prefix and single underscores are all accepted.
    const auto ascii = to_python_ascii(hex);
    if (!ascii) return std::nullopt;
    std::string_view rest = strip(*ascii);
    if (!rest.empty() && rest.front() == '+') rest.remove_prefix(1);
    bool previous_digit = false;
    if (rest.size() >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X')) {
        rest.remove_prefix(2);
        previous_digit = true;  // "0x_1f" is valid
    }
    std::string digits;
    for (const char c : rest) {
        if (c == '_') {
            if (!previous_digit) return std::nullopt;
            previous_digit = false;
            continue;
        }
        if (hex_value(c) < 0) return std::nullopt;
        digits += c;
        previous_digit = true;
    }
    if (!previous_digit || digits.empty() || digits.size() > 32) return std::nullopt;
    digits.insert(0, 32 - digits.size(), '0');
    Uuid uuid{};
    for (std::size_t i = 0; i < 16; ++i)
        uuid[i] = static_cast<std::uint8_t>(hex_value(digits[2 * i]) * 16 + hex_value(digits[2 * i + 1]));
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

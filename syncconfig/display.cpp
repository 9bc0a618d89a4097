#include "syncconfig/display.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace reliant::syncconfig {

namespace {

void hex_byte(std::string& out, unsigned char c) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
    out += buffer;
}

// Decodes one UTF-8 sequence at `at`; 0 for invalid (overlong, surrogate,
// out of range, truncated).
std::size_t utf8_length(std::string_view s, std::size_t at, std::uint32_t& code) {
    const auto c = static_cast<unsigned char>(s[at]);
    std::size_t n = 0;
    std::uint32_t min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, code = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, code = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, code = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (at + n > s.size()) return 0;
    for (std::size_t i = 1; i < n; ++i) {
        const auto d = static_cast<unsigned char>(s[at + i]);
        if ((d & 0xc0) != 0x80) return 0;
        code = (code << 6) | (d & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return n;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t nl = text.find('\n', at);
        if (nl == std::string_view::npos) {
            lines.push_back(text.substr(at));
            break;
        }
        lines.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    return lines;
}

}  // namespace

std::string sanitize_line(std::string_view line, std::size_t max_columns, bool* escaped) {
    std::string out;
    bool any = false;
    std::size_t at = 0;
    while (at < line.size()) {
        if (out.size() >= max_columns) {
            out += " ...[+" + std::to_string(line.size() - at) + " bytes]";
            any = true;
            break;
        }
        const auto c = static_cast<unsigned char>(line[at]);
        if (c >= 0x20 && c < 0x7f) {
            // A backslash is doubled so that "\x1b" typed in a file stays
            // distinguishable from an escaped ESC.
            if (c == '\\') out += '\\';
            out += static_cast<char>(c);
            ++at;
            continue;
        }
        any = true;
        if (c == '\t') {
            out += "\\t";
            ++at;
            continue;
        }
        if (c < 0x80) {
            hex_byte(out, c);
            ++at;
            continue;
        }
        std::uint32_t code = 0;
        const std::size_t n = utf8_length(line, at, code);
        if (n == 0) {
            hex_byte(out, c);
            ++at;
            continue;
        }
        char buffer[16];
        std::snprintf(buffer, sizeof buffer, "\\u{%04x}", static_cast<unsigned>(code));
        out += buffer;
        at += n;
    }
    if (escaped) *escaped = any;
    return out;
}

std::string sanitize_text(std::string_view text, const DisplayLimits& limits) {
    std::string out;
    std::size_t count = 0;
    for (std::string_view line : split_lines(text)) {
        if (++count > limits.max_lines) {
            out += "...[more lines not shown]\n";
            break;
        }
        out += sanitize_line(line, limits.max_line);
        out += '\n';
    }
    return out;
}

bool looks_binary(std::string_view content) { return content.find('\0') != std::string_view::npos; }

std::string unified_diff(std::string_view old_text, std::string_view new_text,
                         const std::function<bool(std::string_view)>& risky, const DisplayLimits& limits) {
    if (looks_binary(old_text) || looks_binary(new_text))
        return "  (binary content: " + std::to_string(old_text.size()) + " -> " + std::to_string(new_text.size()) +
               " bytes; not shown)\n";
    const auto a = split_lines(old_text);
    const auto b = split_lines(new_text);
    // Common prefix and suffix first: a small edit to a big file stays cheap.
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
    std::size_t suffix = 0;
    while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
           a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix])
        ++suffix;
    const std::size_t n = a.size() - prefix - suffix, m = b.size() - prefix - suffix;
    if (n == 0 && m == 0) return "  (no change)\n";
    if (n > 0 && m > 0 && n * m > limits.max_diff_cells)
        return "  (too many changes to show: " + std::to_string(n) + " line(s) replaced by " + std::to_string(m) +
               ")\n";
    // Longest common subsequence on the middle part.
    std::vector<std::uint32_t> table((n + 1) * (m + 1), 0);
    auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return table[i * (m + 1) + j]; };
    for (std::size_t i = n; i-- > 0;)
        for (std::size_t j = m; j-- > 0;)
            at(i, j) = a[prefix + i] == b[prefix + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    struct Op {
        char kind;
        std::string_view line;
    };
    std::vector<Op> ops;
    for (std::size_t k = 0; k < prefix; ++k) ops.push_back({' ', a[k]});
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[prefix + i] == b[prefix + j]) {
            ops.push_back({' ', a[prefix + i]});
            ++i, ++j;
        } else if (j < m && (i == n || at(i, j + 1) >= at(i + 1, j))) {
            ops.push_back({'+', b[prefix + j++]});
        } else {
            ops.push_back({'-', a[prefix + i++]});
        }
    }
    for (std::size_t k = a.size() - suffix; k < a.size(); ++k) ops.push_back({' ', a[k]});
    // Hunks: changed lines with 3 lines of context around them.
    constexpr std::size_t context = 3;
    std::vector<bool> show(ops.size(), false);
    for (std::size_t k = 0; k < ops.size(); ++k)
        if (ops[k].kind != ' ')
            for (std::size_t c = (k >= context ? k - context : 0); c <= std::min(ops.size() - 1, k + context); ++c)
                show[c] = true;
    std::string out;
    std::size_t shown = 0, old_line = 1, new_line = 1;
    bool in_hunk = false;
    for (std::size_t k = 0; k < ops.size(); ++k) {
        if (show[k] && !in_hunk) {
            out += "  @@ -" + std::to_string(old_line) + " +" + std::to_string(new_line) + " @@\n";
            in_hunk = true;
        }
        if (!show[k]) in_hunk = false;
        if (show[k]) {
            if (++shown > limits.max_lines) {
                out += "  ...[diff capped at " + std::to_string(limits.max_lines) + " lines]\n";
                break;
            }
            bool escaped = false;
            const std::string text = sanitize_line(ops[k].line, limits.max_line, &escaped);
            const bool mark = escaped || (ops[k].kind == '+' && risky && risky(ops[k].line));
            out += mark ? "! " : "  ";
            out += ops[k].kind;
            out += text;
            out += '\n';
        }
        if (ops[k].kind != '+') ++old_line;
        if (ops[k].kind != '-') ++new_line;
    }
    return out;
}

}  // namespace reliant::syncconfig

#include "dracut/boot/unit_name.h"

#include <cstdio>

namespace reliant::boot {
namespace {

bool plain(char c, bool first) {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    if (c == ':' || c == '_') return true;
    return c == '.' && !first;
}

}  // namespace

std::string escape_unit_path(std::string_view path) {
    // Split into components, skipping empty ones (leading, repeated, trailing '/').
    std::string out;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        const std::string_view part = path.substr(start, end - start);
        if (!part.empty()) {
            if (!out.empty()) out += '-';
            for (std::size_t i = 0; i < part.size(); ++i) {
                const char c = part[i];
                if (plain(c, out.empty() && i == 0)) {
                    out += c;
                } else {
                    char hex[5];
                    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
                    out += hex;
                }
            }
        }
        start = end + 1;
    }
    return out.empty() ? "-" : out;
}

}  // namespace reliant::boot

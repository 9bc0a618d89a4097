// Hexadecimal text for bytes: digests, random names, paths in state files.
// Lower case out; either case in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace reliant {

// Two lower-case digits per byte.
std::string to_hex(std::string_view bytes);
inline std::string to_hex(const unsigned char* bytes, std::size_t size) {
    return to_hex(std::string_view(reinterpret_cast<const char*>(bytes), size));
}

// The bytes `hex` spells (0-9, a-f, A-F, two digits a byte); nullopt for
// anything else, an odd length included.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace reliant

// SHA-256 through libcrypto (EVP), incrementally, and as lower-case hex.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/hex.h"

namespace reliant::syncconfig {

using reliant::to_hex;  // bytes; the overload below takes a digest

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    void update(const void* data, std::size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    Digest finish();  // the hasher starts over afterwards

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

Digest sha256(std::string_view bytes);
std::string to_hex(const Digest& digest);
// Constant-time comparison, so that a hash check leaks nothing by its timing.
bool equal_digests(const Digest& a, const Digest& b);

}  // namespace reliant::syncconfig

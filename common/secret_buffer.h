// SecretBuffer holds a passphrase or key: in its own locked pages (never
// swapped), excluded from core dumps and from forked children, zeroed with
// explicit_bzero whenever bytes are dropped and on destruction. It cannot be
// copied and offers no conversion to a string, so it cannot reach a log line,
// an argv or an environment by accident.
#pragma once

#include <cstddef>
#include <span>

#include "common/error.h"

namespace reliant {

class SecretBuffer {
public:
    static constexpr std::size_t default_capacity = 4096;

    // Fails when the pages cannot be mapped or locked (RLIMIT_MEMLOCK).
    static Result<SecretBuffer> create(std::size_t capacity = default_capacity);

    SecretBuffer(SecretBuffer&& other) noexcept;
    SecretBuffer& operator=(SecretBuffer&& other) noexcept;
    SecretBuffer(const SecretBuffer&) = delete;
    SecretBuffer& operator=(const SecretBuffer&) = delete;
    ~SecretBuffer();

    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }

    // Appends; returns false (and appends nothing) when it would not fit.
    bool append(std::span<const std::byte> bytes);
    bool push_back(char c);
    // Drops bytes past `new_size`, zeroing them.
    void truncate(std::size_t new_size);
    void clear() { truncate(0); }

    // Reads `fd` to end of file. Fails, leaving the buffer empty, if the input
    // does not fit or the read fails.
    Status read_all(int fd);

    // Explicit, greppable access to the secret bytes.
    std::span<const std::byte> bytes() const { return {data_, size_}; }

    // Compares in time that depends only on the lengths.
    bool equals(std::span<const std::byte> other) const;

private:
    SecretBuffer(std::byte* data, std::size_t mapped, std::size_t capacity);
    void release();

    std::byte* data_ = nullptr;
    std::size_t mapped_ = 0;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
};

}  // namespace reliant

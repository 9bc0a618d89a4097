#include "common/secret_buffer.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace reliant {
namespace {

// The raw system calls: sanitizer runtimes replace mlock/munlock with no-ops,
// which would leave the secret swappable in exactly the build that tests it.
int lock_pages(void* memory, std::size_t size) {
    return static_cast<int>(::syscall(SYS_mlock, memory, size));
}
void unlock_pages(void* memory, std::size_t size) { ::syscall(SYS_munlock, memory, size); }

}  // namespace

Result<SecretBuffer> SecretBuffer::create(std::size_t capacity) {
    if (capacity == 0) return Error("secret buffer capacity must be positive", EINVAL);
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t mapped = (capacity + page - 1) / page * page;
    void* memory = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return Error::from_errno("cannot map memory for a secret");
    if (lock_pages(memory, mapped) != 0) {
        const int saved = errno;
        munmap(memory, mapped);
        return Error::from_errno("cannot lock memory for a secret (mlock), so it could reach swap", saved)
            .advise("run as root, or raise the locked-memory limit (ulimit -l, LimitMEMLOCK=)");
    }
    // Keep the pages out of core dumps and out of any forked child.
    if (madvise(memory, mapped, MADV_DONTDUMP) != 0 || madvise(memory, mapped, MADV_WIPEONFORK) != 0) {
        const int saved = errno;
        unlock_pages(memory, mapped);
        munmap(memory, mapped);
        return Error::from_errno("cannot protect memory for a secret", saved);
    }
    return SecretBuffer(static_cast<std::byte*>(memory), mapped, capacity);
}

SecretBuffer::SecretBuffer(std::byte* data, std::size_t mapped, std::size_t capacity)
    : data_(data), mapped_(mapped), capacity_(capacity) {}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      mapped_(std::exchange(other.mapped_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      size_(std::exchange(other.size_, 0)) {}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        mapped_ = std::exchange(other.mapped_, 0);
        capacity_ = std::exchange(other.capacity_, 0);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

SecretBuffer::~SecretBuffer() { release(); }

void SecretBuffer::release() {
    if (data_ == nullptr) return;
    explicit_bzero(data_, mapped_);
    unlock_pages(data_, mapped_);
    munmap(data_, mapped_);
    data_ = nullptr;
    mapped_ = capacity_ = size_ = 0;
}

bool SecretBuffer::append(std::span<const std::byte> bytes) {
    if (bytes.size() > capacity_ - size_) return false;
    std::memcpy(data_ + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
    return true;
}

bool SecretBuffer::push_back(char c) {
    const std::byte b{static_cast<unsigned char>(c)};
    return append({&b, 1});
}

void SecretBuffer::truncate(std::size_t new_size) {
    if (new_size >= size_) return;
    explicit_bzero(data_ + new_size, size_ - new_size);
    size_ = new_size;
}

Status SecretBuffer::read_all(int fd) {
    clear();
    for (;;) {
        if (size_ == capacity_) {
            // Full: anything more means the input is too long.
            std::byte probe;
            const ssize_t extra = ::read(fd, &probe, 1);
            explicit_bzero(&probe, sizeof probe);
            if (extra == 0) return success();
            if (extra < 0 && errno == EINTR) continue;
            clear();
            if (extra < 0) return Error::from_errno("cannot read secret");
            return Error("secret is longer than " + std::to_string(capacity_) + " bytes", EMSGSIZE);
        }
        const ssize_t got = ::read(fd, data_ + size_, capacity_ - size_);
        if (got == 0) return success();
        if (got < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            clear();
            return Error::from_errno("cannot read secret", saved);
        }
        size_ += static_cast<std::size_t>(got);
    }
}

bool SecretBuffer::equals(std::span<const std::byte> other) const {
    if (other.size() != size_) return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < size_; ++i) difference |= static_cast<unsigned char>(data_[i] ^ other[i]);
    return difference == 0;
}

}  // namespace reliant

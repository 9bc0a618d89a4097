#include "common/secret_buffer.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

using reliant::SecretBuffer;

namespace {

std::span<const std::byte> as_bytes(std::string_view text) { return std::as_bytes(std::span(text)); }

// The VmFlags line of /proc/self/smaps for the mapping that holds `address`.
std::string vm_flags_of(const void* address) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    const auto target = reinterpret_cast<std::uintptr_t>(address);
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t start = 0, end = 0;
        char dash = 0;
        std::istringstream header(line);
        if (header >> std::hex >> start >> dash >> end && dash == '-') {
            inside = target >= start && target < end;
            continue;
        }
        if (inside && line.starts_with("VmFlags:")) return line;
    }
    return {};
}

}  // namespace

static_assert(!std::is_copy_constructible_v<SecretBuffer>, "a secret is never copied implicitly");
static_assert(!std::is_copy_assignable_v<SecretBuffer>);
static_assert(!std::is_convertible_v<SecretBuffer, std::string>);
static_assert(!std::is_convertible_v<SecretBuffer, std::string_view>);
static_assert(std::is_nothrow_move_constructible_v<SecretBuffer>);

TEST_CASE("a secret buffer lives in locked pages excluded from core dumps") {
    auto buffer = SecretBuffer::create(64);
    REQUIRE(buffer.ok());
    REQUIRE(buffer->append(as_bytes("x")));
    const std::string flags = vm_flags_of(buffer->bytes().data());
    REQUIRE_FALSE(flags.empty());
    CHECK(flags.find(" lo") != std::string::npos);  // mlock'd
    CHECK(flags.find(" dd") != std::string::npos);  // MADV_DONTDUMP
    CHECK(flags.find(" wf") != std::string::npos);  // MADV_WIPEONFORK
}

TEST_CASE("append respects the capacity and truncate zeroes what it drops") {
    auto buffer = SecretBuffer::create(8);
    REQUIRE(buffer.ok());
    CHECK(buffer->append(as_bytes("hunter2")));
    CHECK(buffer->push_back('!'));
    CHECK_FALSE(buffer->push_back('?'));
    CHECK(buffer->size() == 8);
    CHECK(buffer->equals(as_bytes("hunter2!")));
    CHECK_FALSE(buffer->equals(as_bytes("hunter2?")));
    CHECK_FALSE(buffer->equals(as_bytes("hunter2")));

    const auto* storage = reinterpret_cast<const unsigned char*>(buffer->bytes().data());
    buffer->truncate(3);
    CHECK(buffer->size() == 3);
    for (int i = 3; i < 8; ++i) CHECK(storage[i] == 0);
    buffer->clear();
    for (int i = 0; i < 8; ++i) CHECK(storage[i] == 0);
}

TEST_CASE("moving a secret leaves the source empty") {
    auto created = SecretBuffer::create(16);
    REQUIRE(created.ok());
    SecretBuffer first = std::move(created).value();
    REQUIRE(first.append(as_bytes("abc")));
    SecretBuffer second = std::move(first);
    CHECK(second.equals(as_bytes("abc")));
    CHECK(first.size() == 0);  // NOLINT(bugprone-use-after-move): documented state
    CHECK(first.capacity() == 0);
}

TEST_CASE("read_all reads a pipe to the end and refuses oversized input") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "passphrase\n", 11) == 11);
    ::close(fds[1]);
    auto buffer = SecretBuffer::create(32);
    REQUIRE(buffer.ok());
    REQUIRE(buffer->read_all(fds[0]).ok());
    ::close(fds[0]);
    CHECK(buffer->equals(as_bytes("passphrase\n")));

    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "0123456789", 10) == 10);
    ::close(fds[1]);
    auto small = SecretBuffer::create(4);
    REQUIRE(small.ok());
    const auto status = small->read_all(fds[0]);
    ::close(fds[0]);
    CHECK_FALSE(status.ok());
    CHECK(status.error().code() == EMSGSIZE);
    CHECK(small->empty());
}

TEST_CASE("input exactly the capacity is accepted") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "1234", 4) == 4);
    ::close(fds[1]);
    auto buffer = SecretBuffer::create(4);
    REQUIRE(buffer.ok());
    CHECK(buffer->read_all(fds[0]).ok());
    ::close(fds[0]);
    CHECK(buffer->equals(as_bytes("1234")));
}

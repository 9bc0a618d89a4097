#include "common/file_io.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "test_support.h"

using reliant::read_file;
using reliant::write_file_atomically;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

TEST_CASE("write_file_atomically creates and replaces a file, leaving no temporary") {
    TempDir dir;
    const auto target = dir / "qubes.xml";
    REQUIRE(write_file_atomically(target, "first").ok());
    CHECK(reliant::testing::slurp(target) == "first");
    REQUIRE(write_file_atomically(target, "second, longer").ok());
    CHECK(reliant::testing::slurp(target) == "second, longer");
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);
}

TEST_CASE("write_file_atomically applies the mode exactly") {
    TempDir dir;
    const auto target = dir / "report.json";
    const mode_t old_umask = ::umask(077);
    REQUIRE(write_file_atomically(target, "{}", 0644).ok());
    ::umask(old_umask);
    struct stat info {};
    REQUIRE(::stat(target.c_str(), &info) == 0);
    CHECK((info.st_mode & 07777) == 0644);
}

TEST_CASE("write_file_atomically fails cleanly without a directory") {
    TempDir dir;
    const auto status = write_file_atomically(dir / "missing" / "qubes.xml", "x");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code() == ENOENT);
    CHECK(status.error().message().find("missing") != std::string::npos);
}

TEST_CASE("write_file_atomically does not follow a planted temporary or replace a directory") {
    TempDir dir;
    fs::create_directory(dir / "sub");
    const auto status = write_file_atomically(dir / "sub", "x");
    CHECK_FALSE(status.ok());
    CHECK(fs::is_directory(dir / "sub"));
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);  // the temporary was removed after the failed rename
}

namespace {

// Writes over `target` must fail, leave it as it was and leave no temporary.
void check_refused(const fs::path& target, int code) {
    const auto before = fs::symlink_status(target).type();
    const auto status = write_file_atomically(target, "replaced", 0600);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code() == code);
    CHECK(status.error().message().find("not a regular file") != std::string::npos);
    CHECK(fs::symlink_status(target).type() == before);
    for (const auto& entry : fs::directory_iterator(target.parent_path()))
        CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

}  // namespace

TEST_CASE("write_file_atomically refuses to replace a FIFO") {
    TempDir dir;
    const auto fifo = dir / "out.xml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_refused(fifo, EEXIST);
}

TEST_CASE("write_file_atomically refuses to replace a directory, even an empty one") {
    TempDir dir;
    fs::create_directory(dir / "out.xml");
    check_refused(dir / "out.xml", EISDIR);
}

TEST_CASE("write_file_atomically refuses to replace a symlink, to a file or dangling") {
    TempDir dir;
    reliant::testing::spit(dir / "target", "kept");
    fs::create_symlink(dir / "target", dir / "link");
    check_refused(dir / "link", EEXIST);
    CHECK(reliant::testing::slurp(dir / "target") == "kept");
    CHECK(fs::read_symlink(dir / "link") == dir / "target");
    fs::create_symlink(dir / "nowhere", dir / "dangling");
    check_refused(dir / "dangling", EEXIST);
    CHECK_FALSE(fs::exists(dir / "nowhere"));
}

TEST_CASE("write_file_atomically refuses to replace a socket") {
    TempDir dir;
    const auto socket_path = dir / "out.sock";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(socket_path.string().size() < sizeof address.sun_path);
    std::strcpy(address.sun_path, socket_path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    check_refused(socket_path, EEXIST);
    ::close(fd);
}

TEST_CASE("write_file_atomically replaces a regular file that is read-only to its owner") {
    TempDir dir;
    const auto target = dir / "report.json";
    reliant::testing::spit(target, "old");
    fs::permissions(target, fs::perms::owner_read);
    REQUIRE(write_file_atomically(target, "new", 0600).ok());
    CHECK(reliant::testing::slurp(target) == "new");
}

TEST_CASE("read_file enforces its size limit") {
    TempDir dir;
    const auto path = dir / "big";
    reliant::testing::spit(path, std::string(1000, 'a'));
    const auto whole = read_file(path, 1000);
    REQUIRE(whole.ok());
    CHECK(whole->size() == 1000);
    const auto refused = read_file(path, 999);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == EFBIG);
}

TEST_CASE("read_file stops an endless source at the limit") {
    const auto refused = read_file("/dev/zero", 1 << 20);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == EFBIG);
}

TEST_CASE("remove_stale_temporaries removes only the file's own leftovers") {
    TempDir dir;
    const auto target = dir / "qubes.xml";
    reliant::testing::spit(dir / ".qubes.xml.tmp-0123456789abcdef", "torn");
    reliant::testing::spit(dir / ".qubes.xml.tmp-short", "other");
    reliant::testing::spit(dir / ".other.xml.tmp-0123456789abcdef", "other");
    reliant::testing::spit(target, "kept");
    CHECK(reliant::remove_stale_temporaries(target) == 1);
    CHECK_FALSE(fs::exists(dir / ".qubes.xml.tmp-0123456789abcdef"));
    CHECK(fs::exists(dir / ".qubes.xml.tmp-short"));
    CHECK(fs::exists(dir / ".other.xml.tmp-0123456789abcdef"));
    CHECK(reliant::testing::slurp(target) == "kept");
}

TEST_CASE("open_regular_file creates a missing file (0600) and opens an existing one") {
    TempDir dir;
    auto created = reliant::open_regular_file(AT_FDCWD, dir / "lock", O_RDWR);
    REQUIRE(created.ok());
    struct stat status {};
    REQUIRE(::stat((dir / "lock").c_str(), &status) == 0);
    CHECK(S_ISREG(status.st_mode));
    CHECK((status.st_mode & 07777) == 0600);
    reliant::testing::spit(dir / "kept", "content");
    auto existing = reliant::open_regular_file(AT_FDCWD, dir / "kept", O_RDONLY);
    REQUIRE(existing.ok());
    char byte = 0;
    CHECK(::read(existing->get(), &byte, 1) == 1);  // blocking reads again, on a regular file
    CHECK(byte == 'c');
    CHECK(reliant::testing::slurp(dir / "kept") == "content");
}

TEST_CASE("open_regular_file refuses a FIFO without blocking, and links, directories and sockets") {
    TempDir dir;
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    fs::create_directory(dir / "directory");
    reliant::testing::spit(dir / "target", "kept");
    fs::create_symlink(dir / "target", dir / "link");
    fs::create_symlink(dir / "nowhere", dir / "dangling");
    const int socket_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(socket_fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, (dir / "socket").c_str());
    REQUIRE(::bind(socket_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    const std::pair<const char*, int> cases[] = {{"fifo", EEXIST},   {"directory", EISDIR}, {"link", ELOOP},
                                                 {"dangling", ELOOP}, {"socket", EEXIST}};
    for (const auto& entry : cases) {
        const char* const name = entry.first;  // not a structured binding: CAPTURE's lambda takes it (clang)
        const int code = entry.second;
        for (const int access : {O_RDONLY, O_WRONLY, O_RDWR}) {
            CAPTURE(name);
            CAPTURE(access);
            auto opened = reliant::open_regular_file(AT_FDCWD, dir / name, access);
            REQUIRE_FALSE(opened.ok());
            CHECK(opened.error().code() == code);
        }
    }
    CHECK(reliant::testing::slurp(dir / "target") == "kept");
    CHECK_FALSE(fs::exists(dir / "nowhere"));
    ::close(socket_fd);
}

TEST_CASE("read_regular_file reads a regular file, and refuses a FIFO without blocking, links and directories") {
    TempDir dir;
    reliant::testing::spit(dir / "target", "content");
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    fs::create_directory(dir / "directory");
    fs::create_symlink(dir / "target", dir / "link");
    auto read = reliant::read_regular_file(dir / "target", 100);
    REQUIRE(read.ok());
    CHECK(*read == "content");
    CHECK(reliant::read_regular_file(dir / "target", 3).error().code() == EFBIG);
    const std::pair<const char*, int> cases[] = {{"fifo", EEXIST}, {"directory", EISDIR}, {"link", ELOOP},
                                                 {"missing", ENOENT}};
    for (const auto& entry : cases) {
        const char* const name = entry.first;  // not a structured binding: CAPTURE's lambda takes it (clang)
        CAPTURE(name);
        auto refused = reliant::read_regular_file(dir / name, 100);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().code() == entry.second);
    }
}

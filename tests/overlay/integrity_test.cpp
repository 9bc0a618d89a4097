// seal and the checks that do not need device-mapper, on image files: the
// whole-device hash, the verity tree built by libcryptsetup and checked in
// userspace, and the refusals that keep a seal meaningful.
#include "overlay/integrity.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "overlay/mounts.h"
#include "overlay_support.h"
#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

// An 8 MiB ext4 image with some content.
fs::path make_base(const TempDir& dir, const std::string& size = "8M") {
    fs::create_directories(dir / "tree/etc");
    reliant::testing::spit(dir / "tree/etc/os-release", "ID=reliant-test\n");
    const fs::path image = dir / "base.img";
    reliant::testing::make_ext4(image, dir / "tree", size);
    return image;
}

// Flips one byte in the middle of a file, as tampering or bit rot would.
void corrupt(const fs::path& file, off_t offset) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    unsigned char byte = 0;
    REQUIRE(::pread(fd, &byte, 1, offset) == 1);
    byte ^= 0x01;
    REQUIRE(::pwrite(fd, &byte, 1, offset) == 1);
    ::close(fd);
}

}  // namespace

TEST_CASE("the whole-device hash matches sha256sum and detects a changed byte") {
    TempDir dir;
    const fs::path base = make_base(dir);
    const auto digest = sha256_of_device(base);
    REQUIRE(digest.ok());
    const std::string expected = reliant::testing::run_ok({"sha256sum", base.string()}).substr(0, 64);
    CHECK(*digest == expected);
    CHECK(check_whole_device_hash(base, *digest).ok());

    corrupt(base, 3 << 20);
    const auto changed = check_whole_device_hash(base, *digest);
    REQUIRE_FALSE(changed.ok());
    CHECK(changed.error().code() == EBADMSG);
    CHECK(changed.error().message().find("does not match its seal") != std::string::npos);
    CHECK_FALSE(check_whole_device_hash(base, "not-hex").ok());
}

TEST_CASE("a verity tree in its own file verifies the base and catches a changed byte") {
    TempDir dir;
    const fs::path base = make_base(dir);
    const VerityLayout layout{base, dir / "base.verity", 0};
    const auto root = seal_verity(layout);
    REQUIRE_MESSAGE(root.ok(), (root.ok() ? "" : root.error().describe()));
    CHECK(root->size() == 64);
    CHECK(check_verity_in_userspace(layout, *root).ok());

    std::string wrong = *root;
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    const auto wrong_root = check_verity_in_userspace(layout, wrong);
    REQUIRE_FALSE(wrong_root.ok());
    CHECK(wrong_root.error().code() == EBADMSG);

    corrupt(base, 5 << 20);
    const auto changed = check_verity_in_userspace(layout, *root);
    REQUIRE_FALSE(changed.ok());
    CHECK(changed.error().code() == EBADMSG);
}

TEST_CASE("the tree can live on the base itself, after the filesystem") {
    TempDir dir;
    const fs::path base = make_base(dir);
    fs::resize_file(base, 12 << 20);  // 8 MiB filesystem, then room for the tree
    const VerityLayout layout{base, base, 8 << 20};
    const auto root = seal_verity(layout);
    REQUIRE_MESSAGE(root.ok(), (root.ok() ? "" : root.error().describe()));
    CHECK(check_verity_in_userspace(layout, *root).ok());
    // The filesystem itself is untouched by the tree behind it.
    CHECK(reliant::overlay::read_ext4_state(base).ok());
}

TEST_CASE("seal refuses layouts where the seal would not cover the base or would overwrite it") {
    TempDir dir;
    const fs::path base = make_base(dir);
    fs::resize_file(base, 12 << 20);

    // Tree inside the filesystem: refused before anything is written.
    const std::string before = reliant::testing::slurp(base);
    const auto inside = seal_verity({base, base, 4 << 20});
    REQUIRE_FALSE(inside.ok());
    CHECK(inside.error().message().find("extends past the sealed area") != std::string::npos);
    CHECK(reliant::testing::slurp(base) == before);

    // A filesystem whose end cannot be read: the tree could overwrite it.
    reliant::testing::spit(dir / "squash.img", "hsqs" + std::string((12 << 20) - 4, '\0'));
    const auto unknown_end = seal_verity({dir / "squash.img", dir / "squash.img", 8 << 20});
    REQUIRE_FALSE(unknown_end.ok());
    CHECK(unknown_end.error().message().find("only behind ext4") != std::string::npos);

    // Same device without an offset: there is no data area.
    CHECK_FALSE(seal_verity({base, base, 0}).ok());
    CHECK_FALSE(seal_verity({base, dir / "tree.verity", 1000}).ok());

    // A journal that still needs replaying means the base can still change.
    reliant::testing::run_ok({"debugfs", "-w", "-R", "feature needs_recovery", base.string()});
    const auto dirty = seal_verity({base, dir / "tree.verity", 0});
    REQUIRE_FALSE(dirty.ok());
    CHECK(dirty.error().message().find("journal") != std::string::npos);
    CHECK_FALSE(check_sealable(base, UINT64_MAX).ok());
}

TEST_CASE("verification of a base that was never sealed fails clearly") {
    TempDir dir;
    const fs::path base = make_base(dir);
    reliant::testing::spit(dir / "empty.verity", std::string(1 << 16, '\0'));
    const auto result = check_verity_in_userspace({base, dir / "empty.verity", 0}, std::string(64, 'a'));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message().find("has the base been sealed") != std::string::npos);
}

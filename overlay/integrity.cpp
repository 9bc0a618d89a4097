#include "overlay/integrity.h"

#include <fcntl.h>
#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "overlay/loop_device.h"
#include "overlay/mounts.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t sha256_bytes = 32;
constexpr std::size_t read_chunk = 1 << 20;

struct CryptDeviceFree {
    void operator()(crypt_device* cd) const { crypt_free(cd); }
};
using CryptDevice = std::unique_ptr<crypt_device, CryptDeviceFree>;

// libcryptsetup's own messages name devices and reasons; worth keeping.
void forward_crypt_log(int level, const char* message, void*) {
    std::string text = message ? message : "";
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (level == CRYPT_LOG_ERROR)
        log::error("libcryptsetup: ", text);
    else if (level == CRYPT_LOG_DEBUG)
        log::debug("libcryptsetup: ", text);
    else
        log::info("libcryptsetup: ", text);
}

Error crypt_error(const std::string& what, int result) { return Error(what, result < 0 ? -result : EIO); }

// The one message for a base that is not what was sealed (EBADMSG: the
// callers and tests tell a mismatch from a failure to read by it).
Error seal_mismatch(const fs::path& base, const std::string& how) {
    return Error("the base " + base.string() + " does not match its seal (" + how + ")", EBADMSG)
        .advise("if you changed the base (a boot without reliant, a maintenance boot whose seal failed), boot "
                "the maintenance entry once and leave it the normal way to seal it again; if you did not, "
                "someone else may have: do not use this disk until you know who");
}

Result<std::vector<char>> sha256_from_hex(const std::string& hex) {
    if (hex.size() != 2 * sha256_bytes) return Error("expected a SHA-256 value of 64 hex digits", EINVAL);
    const auto bytes = from_hex(hex);
    if (!bytes) return Error("not a hexadecimal value: " + hex, EINVAL);
    return std::vector<char>(bytes->begin(), bytes->end());
}

Result<struct stat> stat_path(const fs::path& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return Error::from_errno("cannot stat " + path.string());
    return info;
}

Result<std::uint64_t> size_of(const fs::path& path) {
    auto info = stat_path(path);
    if (!info) return std::move(info).error();
    if (S_ISBLK(info->st_mode)) return block_device_size(path);
    if (S_ISREG(info->st_mode)) return static_cast<std::uint64_t>(info->st_size);
    return Error(path.string() + " is neither a block device nor a file", EINVAL);
}

Result<bool> same_storage(const fs::path& a, const fs::path& b) {
    auto first = stat_path(a);
    if (!first) return std::move(first).error();
    auto second = stat_path(b);
    if (!second) return std::move(second).error();
    if (S_ISBLK(first->st_mode) && S_ISBLK(second->st_mode)) return first->st_rdev == second->st_rdev;
    return first->st_dev == second->st_dev && first->st_ino == second->st_ino;
}

Result<CryptDevice> init_crypt(const fs::path& hash, const fs::path& data) {
    crypt_device* raw = nullptr;
    const int r = crypt_init_data_device(&raw, hash.c_str(), data.c_str());
    if (r < 0) return crypt_error("cannot open " + hash.string() + " and " + data.string(), r);
    CryptDevice cd(raw);
    crypt_set_log_callback(cd.get(), forward_crypt_log, nullptr);
    return cd;
}

Result<CryptDevice> load_verity(const VerityLayout& layout, std::uint32_t flags) {
    auto cd = init_crypt(layout.hash, layout.data);
    if (!cd) return std::move(cd).error();
    crypt_params_verity params{};
    params.hash_area_offset = layout.hash_offset;
    params.flags = flags;
    const int r = crypt_load(cd->get(), CRYPT_VERITY, &params);
    if (r < 0)
        return crypt_error("no dm-verity superblock at offset " + std::to_string(layout.hash_offset) +
                               " of " + layout.hash.string() + " (has the base been sealed?)",
                           r);
    return cd;
}

Status ensure_file(const fs::path& path) {
    auto fd = open_regular_file(AT_FDCWD, path, O_WRONLY);
    if (!fd) return std::move(fd).error();
    return success();
}

// The data area: up to the tree when both share a device, else all of it.
// Sharing needs a filesystem whose end we can read (ext4), or the tree could
// overwrite it.
Result<std::uint64_t> verity_data_bytes(const VerityLayout& layout) {
    auto shared = same_storage(layout.data, layout.hash);
    if (!shared) return std::move(shared).error();
    if (!*shared) return size_of(layout.data);
    if (layout.hash_offset == 0)
        return Error("the hash tree shares the base's device: give the offset where the data ends", EINVAL);
    auto filesystem = probe_filesystem(layout.data);
    if (!filesystem) return std::move(filesystem).error();
    if (*filesystem != Filesystem::ext4)
        return Error(std::string("the hash tree can share the base's device only behind ext4, not ") +
                         filesystem_name(*filesystem) + ": use a separate hash device or file",
                     EINVAL);
    return layout.hash_offset;
}

Status read_through(const fs::path& device) {
    UniqueFd fd;
    for (int attempt = 0; attempt < 50 && !fd; ++attempt) {
        fd.reset(::open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
        if (!fd && errno == ENOENT) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!fd && errno != ENOENT) break;
    }
    if (!fd) return Error::from_errno("cannot open " + device.string());
    std::array<char, verity_block_size> block{};
    auto size = block_device_size(device);
    if (!size) return std::move(size).error();
    // First and last block: each read walks the tree from the root hash down.
    for (const std::uint64_t offset : {std::uint64_t{0}, *size - verity_block_size}) {
        if (::pread(fd.get(), block.data(), block.size(), static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(block.size()))
            return Error::from_errno("reading " + device.string() + " at " + std::to_string(offset));
    }
    return success();
}

}  // namespace

Status check_sealable(const fs::path& base, std::uint64_t covered_bytes) {
    auto info = stat_path(base);
    if (!info) return std::move(info).error();
    if (S_ISBLK(info->st_mode)) {
        auto writable = mounted_read_write(info->st_rdev);
        if (!writable) return std::move(writable).error();
        if (*writable)
            return Error(base.string() + " is mounted read-write; seal it unmounted or remounted read-only",
                         EBUSY);
    }
    auto filesystem = probe_filesystem(base);
    if (!filesystem) return std::move(filesystem).error();
    if (*filesystem != Filesystem::ext4) return success();
    auto state = read_ext4_state(base);
    if (!state) return std::move(state).error();
    if (state->needs_recovery)
        return Error(base.string() + " has an ext4 journal that needs replaying; unmount it cleanly first",
                     EBUSY);
    if (state->size_bytes > covered_bytes)
        return Error("the filesystem on " + base.string() + " (" + std::to_string(state->size_bytes) +
                         " bytes) extends past the sealed area (" + std::to_string(covered_bytes) + " bytes)",
                     EINVAL);
    return success();
}

Result<std::string> seal_verity(const VerityLayout& layout) {
    if (layout.hash_offset % verity_block_size != 0)
        return Error("the hash offset must be a multiple of 4096", EINVAL);
    if (!fs::exists(layout.hash)) {
        if (auto status = ensure_file(layout.hash); !status) return std::move(status).error();
    }
    auto data_bytes = verity_data_bytes(layout);
    if (!data_bytes) return std::move(data_bytes).error();
    if (*data_bytes == 0 || *data_bytes % verity_block_size != 0)
        return Error(
            "the sealed area of " + layout.data.string() + " must be a non-zero multiple of 4096 bytes",
            EINVAL);
    if (auto status = check_sealable(layout.data, *data_bytes); !status) return std::move(status).error();

    auto cd = init_crypt(layout.hash, layout.data);
    if (!cd) return std::move(cd).error();
    crypt_params_verity params{};
    params.hash_name = "sha256";
    params.data_device = layout.data.c_str();
    params.salt_size = 32;  // random, stored in the verity superblock
    params.hash_type = 1;
    params.data_block_size = verity_block_size;
    params.hash_block_size = verity_block_size;
    params.data_size = *data_bytes / verity_block_size;
    params.hash_area_offset = layout.hash_offset;
    params.flags = CRYPT_VERITY_CREATE_HASH;
    int r = crypt_format(cd->get(), CRYPT_VERITY, nullptr, nullptr, nullptr, nullptr, 0, &params);
    if (r < 0) return crypt_error("cannot build the hash tree on " + layout.hash.string(), r);

    std::array<char, sha256_bytes> root{};
    std::size_t root_size = root.size();
    r = crypt_volume_key_get(cd->get(), CRYPT_ANY_SLOT, root.data(), &root_size, nullptr, 0);
    if (r < 0 || root_size != sha256_bytes) return crypt_error("cannot read the root hash", r);
    return to_hex(reinterpret_cast<const unsigned char*>(root.data()), root_size);
}

Result<std::string> sha256_of_device(const fs::path& device) {
    UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return Error::from_errno("cannot open " + device.string());
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
        return Error("cannot start SHA-256 (OpenSSL) to hash " + device.string(), ENOMEM);
    std::vector<char> buffer(read_chunk);
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("cannot read " + device.string());
        if (n == 0) break;
        if (EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(n)) != 1)
            return Error("SHA-256 (OpenSSL) failed while hashing " + device.string());
    }
    std::array<unsigned char, sha256_bytes> digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context.get(), digest.data(), &size) != 1 || size != sha256_bytes)
        return Error("SHA-256 (OpenSSL) failed to finish hashing " + device.string());
    return to_hex(digest.data(), digest.size());
}

Status check_whole_device_hash(const fs::path& device, const std::string& expected_hex) {
    auto expected = sha256_from_hex(expected_hex);
    if (!expected) return std::move(expected).error();
    auto actual_hex = sha256_of_device(device);
    if (!actual_hex) return std::move(actual_hex).error();
    auto actual = sha256_from_hex(*actual_hex);
    if (!actual) return std::move(actual).error();
    if (CRYPTO_memcmp(actual->data(), expected->data(), sha256_bytes) != 0)
        return seal_mismatch(device, "SHA-256 differs");
    return success();
}

Result<fs::path> open_verity(const VerityLayout& layout, const std::string& root_hash_hex,
                             const std::string& name) {
    auto root = sha256_from_hex(root_hash_hex);
    if (!root) return std::move(root).error();
    auto cd = load_verity(layout, 0);
    if (!cd) return std::move(cd).error();
    const int r = crypt_activate_by_volume_key(cd->get(), name.c_str(), root->data(), root->size(),
                                               CRYPT_ACTIVATE_READONLY);
    if (r < 0) return crypt_error("cannot activate dm-verity for " + layout.data.string(), r);
    const fs::path mapped = fs::path("/dev/mapper") / name;
    if (auto status = read_through(mapped); !status) {
        (void)close_verity(name);
        return seal_mismatch(layout.data, "dm-verity refused to read it");
    }
    return mapped;
}

Status close_verity(const std::string& name) {
    crypt_device* raw = nullptr;
    int r = crypt_init_by_name(&raw, name.c_str());
    if (r < 0) return crypt_error("no active mapping " + name, r);
    CryptDevice cd(raw);
    r = crypt_deactivate(cd.get(), name.c_str());
    if (r < 0) return crypt_error("cannot deactivate " + name, r);
    return success();
}

Status check_verity_in_userspace(const VerityLayout& layout, const std::string& root_hash_hex) {
    auto root = sha256_from_hex(root_hash_hex);
    if (!root) return std::move(root).error();
    auto cd = load_verity(layout, CRYPT_VERITY_CHECK_HASH);
    if (!cd) return std::move(cd).error();
    const int r =
        crypt_activate_by_volume_key(cd->get(), nullptr, root->data(), root->size(), CRYPT_ACTIVATE_READONLY);
    if (r == -EPERM || r == -EFAULT)
        return seal_mismatch(layout.data, "dm-verity tree differs");
    if (r < 0) return crypt_error("cannot check " + layout.data.string() + " against its hash tree", r);
    return success();
}

}  // namespace reliant::overlay

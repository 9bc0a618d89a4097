// Base integrity: `seal` records it in maintenance mode, `verify` checks it
// at every normal boot before anything reads the base.
//
//  * dm-verity (libcryptsetup): a hash tree on a device or file; at boot only
//    the path from the root hash to the blocks actually read is checked, and
//    every later read is checked by the kernel, so the cost does not grow with
//    the base's size.
//  * whole-device SHA-256 (libcrypto): for layouts that cannot hold a hash
//    tree; reads the whole base at every boot.
//
// The trusted value (root hash or digest) lives on the kernel command line,
// outside the base it covers; docs/overlay.md states the threat model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"

namespace reliant::overlay {

inline constexpr const char* verity_mapping_name = "reliant-base";
inline constexpr std::uint32_t verity_block_size = 4096;

struct VerityLayout {
    std::filesystem::path data;     // the base device
    std::filesystem::path hash;     // device or regular file holding the tree; may equal `data`
    std::uint64_t hash_offset = 0;  // bytes into `hash` where the verity superblock starts
};

// Refuses to seal a base that could still change under the seal: mounted
// read-write somewhere, or (ext4) with a journal that needs replaying.
// `covered_bytes` is how much of the device the seal covers; the filesystem
// must lie inside it.
Status check_sealable(const std::filesystem::path& base, std::uint64_t covered_bytes);

// Writes the hash tree (random salt, SHA-256, 4 KiB blocks) and returns the
// root hash in lower-case hex. When `hash` is the base itself, the data area
// ends at `hash_offset`; a missing hash file is created.
Result<std::string> seal_verity(const VerityLayout& layout);

// Streams the whole device through SHA-256; lower-case hex.
Result<std::string> sha256_of_device(const std::filesystem::path& device);

// Recomputes the digest and compares it in constant time.
Status check_whole_device_hash(const std::filesystem::path& device, const std::string& expected_hex);

// Activates a read-only dm-verity mapping and reads through it once, so a
// wrong root hash fails here and not later at mount time. Returns
// /dev/mapper/<name>. Needs device-mapper (the initramfs, not this host).
Result<std::filesystem::path> open_verity(const VerityLayout& layout, const std::string& root_hash_hex,
                                          const std::string& name = verity_mapping_name);
Status close_verity(const std::string& name = verity_mapping_name);

// Checks every block against the tree in userspace, without device-mapper
// (libcryptsetup's CRYPT_VERITY_CHECK_HASH). Slow; for tests and maintenance.
Status check_verity_in_userspace(const VerityLayout& layout, const std::string& root_hash_hex);

}  // namespace reliant::overlay

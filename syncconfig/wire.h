// The SyncConfig stream (sender -> target) and the response (target ->
// sender). docs/syncconfig.md, "Wire format", is the reference; in short, all
// integers little-endian, every field read with explicit bounds:
//
//   header   "RSYNCFG1" | version u16 = 1 | flags u16 = 0 | entry_count u32
//            | generation u64 | total_size u64                       (32 bytes)
//   profile  u8 length (1..31) | bytes [a-z0-9-]
//   entry x entry_count:
//            op u8 = 1 (PUT) | flags u8 (bit0 SECRET) | mode u16 | path_len u16
//            | reserved u16 = 0 | size u64 | sha256 [32] | path     (48 + path_len)
//   blob x entry_count, in manifest order: exactly `size` bytes
//   trailer  "RSYNCEND" | sha256 of every byte before the trailer
//   then EOF: one byte more is a refusal.
//
// The manifest comes first so that the receiver refuses an oversized or
// disallowed transaction before it reads (or stores) any content. The decoder
// distrusts the sender: it never allocates more than the limits allow, and
// every refusal names a rule, never the hostile bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "syncconfig/paths.h"
#include "syncconfig/sha256.h"

namespace reliant::syncconfig {

inline constexpr std::string_view stream_magic = "RSYNCFG1";
inline constexpr std::string_view trailer_magic = "RSYNCEND";
inline constexpr std::string_view response_magic = "RSYNCRSP";
inline constexpr std::uint16_t wire_version = 1;
inline constexpr std::size_t header_size = 32;
inline constexpr std::size_t entry_fixed_size = 48;
inline constexpr std::size_t max_profile_name = 31;

// Compiled-in ceilings; dom0's profile may only lower them.
inline constexpr std::uint32_t hard_max_entries = 4096;
inline constexpr std::uint64_t hard_max_file_bytes = 16ull << 20;
inline constexpr std::uint64_t hard_max_total_bytes = 64ull << 20;

struct Limits {
    std::uint32_t max_entries = 256;
    std::uint64_t max_file_bytes = 1ull << 20;
    std::uint64_t max_total_bytes = 8ull << 20;
    PathLimits paths;
};

// Why a stream (or a transaction) was refused. The numbers are on the wire
// (the response's refusal field): never renumber.
enum class Refusal : std::uint16_t {
    none = 0,
    truncated = 1,
    bad_magic = 2,
    bad_version = 3,
    bad_flags = 4,
    too_many_entries = 5,
    total_too_large = 6,
    bad_profile = 7,
    bad_entry = 8,
    bad_path = 9,
    bad_mode = 10,
    duplicate_path = 11,
    case_duplicate = 12,
    file_directory_clash = 13,
    file_too_large = 14,
    total_mismatch = 15,
    bad_hash = 16,
    bad_trailer = 17,
    trailing_bytes = 18,
    not_in_profile = 19,
    busy = 20,
    no_space = 21,
    profile_not_enabled = 22,
    io_error = 23,
    timeout = 24,
    internal = 25,
    wrong_profile = 26,
};
inline constexpr std::uint16_t last_refusal = 26;
std::string_view describe(Refusal refusal);

// The only modes a sender may ask for; a profile narrows them further (the
// executable ones only for paths dom0 marked exec). Never setuid, setgid,
// sticky, group- or world-writable, never a file type.
bool allowed_mode(std::uint16_t mode);
bool executable_mode(std::uint16_t mode);

struct Entry {
    std::string path;
    std::uint16_t mode = 0644;
    std::uint64_t size = 0;
    Digest sha256{};
    bool secret = false;
};

struct Manifest {
    std::uint64_t generation = 0;
    std::uint64_t total_size = 0;
    std::string profile;
    std::vector<Entry> entries;
};

struct Outcome {
    Refusal refusal = Refusal::none;
    std::string reason;  // words for the local log; never stream content
    bool ok() const { return refusal == Refusal::none; }
    static Outcome refuse(Refusal refusal, std::string reason) { return {refusal, std::move(reason)}; }
};

// Where the decoder reads from. read() returns 0 at EOF; an Error for a
// failed read or an expired deadline (code ETIMEDOUT).
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual Result<std::size_t> read(std::span<char> buffer) = 0;
};

class MemorySource : public ByteSource {
public:
    explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
    Result<std::size_t> read(std::span<char> buffer) override;

private:
    std::string_view bytes_;
};

// Receives the blobs as they stream; the decoder checks their hashes.
class BlobSink {
public:
    virtual ~BlobSink() = default;
    virtual Status begin(std::size_t index, const Entry& entry) = 0;
    virtual Status write(std::string_view chunk) = 0;
    virtual Status end(std::size_t index) = 0;
};

class StreamDecoder {
public:
    StreamDecoder(ByteSource& source, const Limits& limits);

    // Header, profile and entries, every rule of the grammar checked: limits,
    // path grammar, modes, sorted and unique paths, no case-folded duplicate,
    // no file that is also another entry's directory, sizes summing to the
    // header's total.
    Outcome read_manifest(Manifest& manifest);
    // The blobs (each hashed as it streams), the trailer digest and EOF.
    Outcome read_blobs(const Manifest& manifest, BlobSink& sink);
    // The header and manifest bytes exactly as received, for staging.
    const std::string& manifest_bytes() const { return manifest_bytes_; }

private:
    Outcome read_exact(char* out, std::size_t size, bool keep);

    ByteSource& source_;
    Limits limits_;
    Sha256 running_;
    std::string manifest_bytes_;
};

// A manifest checked and nothing else (used to re-read staged manifests).
Outcome decode_manifest(std::string_view bytes, const Limits& limits, Manifest& manifest);

// Builds a stream from a manifest whose entries carry their contents.
// Entry hashes and sizes and the header's total are computed here.
std::string encode_stream(std::uint64_t generation, std::string_view profile, std::vector<Entry>& entries,
                          const std::vector<std::string>& contents);

// Response: "RSYNCRSP" | version u16 | status u16 | refusal u16 | id [16]. Fixed
// size: a target can answer with nothing but these codes.
enum class ResponseStatus : std::uint16_t { staged = 0, refused = 2, busy = 3, profile_not_enabled = 4, failed = 5 };
inline constexpr std::size_t response_size = 30;

struct Response {
    ResponseStatus status = ResponseStatus::failed;
    Refusal refusal = Refusal::none;
    std::array<std::uint8_t, 16> id{};
};

std::string encode_response(const Response& response);
// Strict: exactly response_size bytes, known codes; otherwise nullopt.
Result<Response> decode_response(std::string_view bytes);
std::string_view describe(ResponseStatus status);

}  // namespace reliant::syncconfig

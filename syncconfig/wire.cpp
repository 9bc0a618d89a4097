#include "syncconfig/wire.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace reliant::syncconfig {

namespace {

std::uint64_t load_le(const char* bytes, int size) {
    std::uint64_t value = 0;
    for (int i = size - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    return value;
}

void store_le(std::string& out, std::uint64_t value, int size) {
    for (int i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

bool valid_profile_name(std::string_view name) {
    if (name.empty() || name.size() > max_profile_name) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

std::string_view describe(Refusal refusal) {
    switch (refusal) {
    case Refusal::none: return "accepted";
    case Refusal::truncated: return "the stream ended early";
    case Refusal::bad_magic: return "not a SyncConfig stream";
    case Refusal::bad_version: return "unsupported stream version";
    case Refusal::bad_flags: return "unknown header flags";
    case Refusal::too_many_entries: return "entry count out of range";
    case Refusal::total_too_large: return "transaction larger than allowed";
    case Refusal::bad_profile: return "malformed profile name";
    case Refusal::bad_entry: return "malformed entry";
    case Refusal::bad_path: return "path outside the grammar";
    case Refusal::bad_mode: return "mode not allowed";
    case Refusal::duplicate_path: return "duplicate path";
    case Refusal::case_duplicate: return "paths differing only in case";
    case Refusal::file_directory_clash: return "a file that is also a directory of another entry";
    case Refusal::file_too_large: return "file larger than allowed";
    case Refusal::total_mismatch: return "sizes do not add up to the header's total";
    case Refusal::bad_hash: return "content does not match its SHA-256";
    case Refusal::bad_trailer: return "trailer missing or digest wrong";
    case Refusal::trailing_bytes: return "bytes after the trailer";
    case Refusal::not_in_profile: return "path not allowed by the profile";
    case Refusal::busy: return "too many pending transactions, or another receive running";
    case Refusal::no_space: return "not enough free space";
    case Refusal::profile_not_enabled: return "profile not enabled for this qube";
    case Refusal::io_error: return "local I/O error";
    case Refusal::timeout: return "the stream stalled past the deadline";
    case Refusal::internal: return "internal error";
    case Refusal::wrong_profile: return "stream names another profile than the service argument";
    }
    return "unknown refusal";
}

std::string_view describe(ResponseStatus status) {
    switch (status) {
    case ResponseStatus::staged: return "staged for review";
    case ResponseStatus::refused: return "refused";
    case ResponseStatus::busy: return "busy";
    case ResponseStatus::profile_not_enabled: return "profile not enabled";
    case ResponseStatus::failed: return "failed";
    }
    return "unknown";
}

bool allowed_mode(std::uint16_t mode) { return mode == 0600 || mode == 0644 || mode == 0700 || mode == 0755; }
bool executable_mode(std::uint16_t mode) { return (mode & 0111) != 0; }

Result<std::size_t> MemorySource::read(std::span<char> buffer) {
    const std::size_t n = std::min(buffer.size(), bytes_.size());
    std::memcpy(buffer.data(), bytes_.data(), n);
    bytes_.remove_prefix(n);
    return n;
}

StreamDecoder::StreamDecoder(ByteSource& source, const Limits& limits) : source_(source), limits_(limits) {
    limits_.max_entries = std::min(limits_.max_entries, hard_max_entries);
    limits_.max_file_bytes = std::min(limits_.max_file_bytes, hard_max_file_bytes);
    limits_.max_total_bytes = std::min(limits_.max_total_bytes, hard_max_total_bytes);
}

Outcome StreamDecoder::read_exact(char* out, std::size_t size, bool keep) {
    std::size_t done = 0;
    while (done < size) {
        auto n = source_.read(std::span<char>(out + done, size - done));
        if (!n) {
            if (n.error().code() == ETIMEDOUT) return Outcome::refuse(Refusal::timeout, n.error().describe());
            return Outcome::refuse(Refusal::io_error, n.error().describe());
        }
        if (*n == 0) return Outcome::refuse(Refusal::truncated, "end of stream inside a field");
        done += *n;
    }
    running_.update(out, size);
    if (keep) manifest_bytes_.append(out, size);
    return {};
}

Outcome StreamDecoder::read_manifest(Manifest& manifest) {
    manifest = {};
    char header[header_size];
    if (auto o = read_exact(header, sizeof header, true); !o.ok()) return o;
    if (std::string_view(header, 8) != stream_magic) return Outcome::refuse(Refusal::bad_magic, "wrong magic");
    if (load_le(header + 8, 2) != wire_version)
        return Outcome::refuse(Refusal::bad_version, "version " + std::to_string(load_le(header + 8, 2)));
    if (load_le(header + 10, 2) != 0) return Outcome::refuse(Refusal::bad_flags, "unknown flag bits");
    const std::uint64_t count = load_le(header + 12, 4);
    manifest.generation = load_le(header + 16, 8);
    manifest.total_size = load_le(header + 24, 8);
    if (count == 0 || count > limits_.max_entries)
        return Outcome::refuse(Refusal::too_many_entries, std::to_string(count) + " entries, at most " +
                                                              std::to_string(limits_.max_entries) + " allowed");
    if (manifest.total_size > limits_.max_total_bytes)
        return Outcome::refuse(Refusal::total_too_large, std::to_string(manifest.total_size) + " bytes, at most " +
                                                             std::to_string(limits_.max_total_bytes));

    char length = 0;
    if (auto o = read_exact(&length, 1, true); !o.ok()) return o;
    const auto profile_length = static_cast<unsigned char>(length);
    if (profile_length == 0 || profile_length > max_profile_name)
        return Outcome::refuse(Refusal::bad_profile, "profile name length out of range");
    manifest.profile.resize(profile_length);
    if (auto o = read_exact(manifest.profile.data(), profile_length, true); !o.ok()) return o;
    if (!valid_profile_name(manifest.profile)) return Outcome::refuse(Refusal::bad_profile, "profile name bytes");

    std::uint64_t sum = 0;
    std::set<std::string> folded;
    manifest.entries.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::string where = "entry " + std::to_string(i);
        char fixed[entry_fixed_size];
        if (auto o = read_exact(fixed, sizeof fixed, true); !o.ok()) return o;
        Entry entry;
        const auto op = static_cast<unsigned char>(fixed[0]);
        const auto flags = static_cast<unsigned char>(fixed[1]);
        entry.mode = static_cast<std::uint16_t>(load_le(fixed + 2, 2));
        const std::uint64_t path_length = load_le(fixed + 4, 2);
        const std::uint64_t reserved = load_le(fixed + 6, 2);
        entry.size = load_le(fixed + 8, 8);
        std::memcpy(entry.sha256.data(), fixed + 16, 32);
        if (op != 1) return Outcome::refuse(Refusal::bad_entry, where + ": unknown operation");
        if ((flags & ~1u) != 0 || reserved != 0)
            return Outcome::refuse(Refusal::bad_entry, where + ": unknown flags or reserved bits");
        entry.secret = (flags & 1u) != 0;
        if (!allowed_mode(entry.mode)) return Outcome::refuse(Refusal::bad_mode, where + ": mode not allowed");
        if (path_length == 0 || path_length > limits_.paths.max_path)
            return Outcome::refuse(Refusal::bad_path, where + ": path length out of range");
        if (entry.size > limits_.max_file_bytes)
            return Outcome::refuse(Refusal::file_too_large, where + ": " + std::to_string(entry.size) + " bytes");
        sum += entry.size;  // no overflow: each size <= 16 MiB and count <= 4096
        if (sum > manifest.total_size)
            return Outcome::refuse(Refusal::total_mismatch, where + ": sizes exceed the header's total");
        entry.path.resize(static_cast<std::size_t>(path_length));
        if (auto o = read_exact(entry.path.data(), entry.path.size(), true); !o.ok()) return o;
        if (auto status = check_path(entry.path, limits_.paths); !status)
            return Outcome::refuse(Refusal::bad_path, where + ": " + status.error().message());
        if (!manifest.entries.empty()) {
            const std::string& previous = manifest.entries.back().path;
            if (entry.path == previous) return Outcome::refuse(Refusal::duplicate_path, where);
            if (entry.path < previous) return Outcome::refuse(Refusal::bad_entry, where + ": paths not sorted");
        }
        if (!folded.insert(fold_case(entry.path)).second) return Outcome::refuse(Refusal::case_duplicate, where);
        manifest.entries.push_back(std::move(entry));
    }
    if (sum != manifest.total_size)
        return Outcome::refuse(Refusal::total_mismatch, "sizes add up to less than the header's total");
    // A file "a" next to "a/b" (in any case) cannot both be applied.
    for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
        const std::string path = fold_case(manifest.entries[i].path);
        for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
            if (folded.contains(path.substr(0, slash)))
                return Outcome::refuse(Refusal::file_directory_clash, "entry " + std::to_string(i));
    }
    return {};
}

Outcome StreamDecoder::read_blobs(const Manifest& manifest, BlobSink& sink) {
    std::string buffer(64 * 1024, '\0');
    for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
        const Entry& entry = manifest.entries[i];
        const std::string where = "entry " + std::to_string(i);
        if (auto status = sink.begin(i, entry); !status)
            return Outcome::refuse(status.error().code() == ENOSPC ? Refusal::no_space : Refusal::io_error,
                                   status.error().describe());
        Sha256 hasher;
        std::uint64_t left = entry.size;
        while (left > 0) {
            const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
            if (auto o = read_exact(buffer.data(), chunk, false); !o.ok()) return o;
            hasher.update(buffer.data(), chunk);
            if (auto status = sink.write(std::string_view(buffer.data(), chunk)); !status)
                return Outcome::refuse(status.error().code() == ENOSPC ? Refusal::no_space : Refusal::io_error,
                                       status.error().describe());
            left -= chunk;
        }
        if (!equal_digests(hasher.finish(), entry.sha256)) return Outcome::refuse(Refusal::bad_hash, where);
        if (auto status = sink.end(i); !status)
            return Outcome::refuse(status.error().code() == ENOSPC ? Refusal::no_space : Refusal::io_error,
                                   status.error().describe());
    }
    const Digest expected = running_.finish();
    char trailer[8 + 32];
    if (auto o = read_exact(trailer, sizeof trailer, false); !o.ok()) {
        if (o.refusal == Refusal::truncated) o.refusal = Refusal::bad_trailer;
        return o;
    }
    Digest received{};
    std::memcpy(received.data(), trailer + 8, 32);
    if (std::string_view(trailer, 8) != trailer_magic || !equal_digests(expected, received))
        return Outcome::refuse(Refusal::bad_trailer, "trailer magic or digest");
    char extra = 0;
    auto n = source_.read(std::span<char>(&extra, 1));
    if (!n) {
        if (n.error().code() == ETIMEDOUT) return Outcome::refuse(Refusal::timeout, n.error().describe());
        return Outcome::refuse(Refusal::io_error, n.error().describe());
    }
    if (*n != 0) return Outcome::refuse(Refusal::trailing_bytes, "data after the trailer");
    return {};
}

Outcome decode_manifest(std::string_view bytes, const Limits& limits, Manifest& manifest) {
    MemorySource source(bytes);
    StreamDecoder decoder(source, limits);
    Outcome outcome = decoder.read_manifest(manifest);
    if (outcome.ok() && decoder.manifest_bytes().size() != bytes.size())
        return Outcome::refuse(Refusal::trailing_bytes, "bytes after the manifest");
    return outcome;
}

std::string encode_stream(std::uint64_t generation, std::string_view profile, std::vector<Entry>& entries,
                          const std::vector<std::string>& contents) {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        entries[i].size = contents[i].size();
        entries[i].sha256 = sha256(contents[i]);
        total += contents[i].size();
    }
    std::string out(stream_magic);
    store_le(out, wire_version, 2);
    store_le(out, 0, 2);
    store_le(out, entries.size(), 4);
    store_le(out, generation, 8);
    store_le(out, total, 8);
    store_le(out, profile.size(), 1);
    out += profile;
    for (const Entry& entry : entries) {
        store_le(out, 1, 1);
        store_le(out, entry.secret ? 1 : 0, 1);
        store_le(out, entry.mode, 2);
        store_le(out, entry.path.size(), 2);
        store_le(out, 0, 2);
        store_le(out, entry.size, 8);
        out.append(reinterpret_cast<const char*>(entry.sha256.data()), 32);
        out += entry.path;
    }
    for (const std::string& content : contents) out += content;
    const Digest digest = sha256(out);
    out += trailer_magic;
    out.append(reinterpret_cast<const char*>(digest.data()), 32);
    return out;
}

std::string encode_response(const Response& response) {
    std::string out(response_magic);
    store_le(out, wire_version, 2);
    store_le(out, static_cast<std::uint16_t>(response.status), 2);
    store_le(out, static_cast<std::uint16_t>(response.refusal), 2);
    out.append(reinterpret_cast<const char*>(response.id.data()), response.id.size());
    return out;
}

Result<Response> decode_response(std::string_view bytes) {
    if (bytes.size() != response_size) return Error("malformed response: wrong size", EPROTO);
    if (bytes.substr(0, 8) != response_magic) return Error("malformed response: wrong magic", EPROTO);
    if (load_le(bytes.data() + 8, 2) != wire_version) return Error("malformed response: unknown version", EPROTO);
    const std::uint64_t status = load_le(bytes.data() + 10, 2);
    const std::uint64_t refusal = load_le(bytes.data() + 12, 2);
    if (status != 0 && (status < 2 || status > 5)) return Error("malformed response: unknown status", EPROTO);
    if (refusal > last_refusal) return Error("malformed response: unknown refusal code", EPROTO);
    Response response;
    response.status = static_cast<ResponseStatus>(status);
    response.refusal = static_cast<Refusal>(refusal);
    std::memcpy(response.id.data(), bytes.data() + 14, 16);
    return response;
}

}  // namespace reliant::syncconfig

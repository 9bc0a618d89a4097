// The manifest of a volume's qube-files store: its grammar, strictly.
#include <algorithm>
#include <charconv>

#include "qube-files/qube_files.h"

namespace reliant::qube_files {
namespace {

constexpr std::string_view header = "reliant-qube-files 1";

bool is_canonical_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::optional<std::uint64_t> decimal(std::string_view text) {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= line.size()) {
        const std::size_t space = std::min(line.find(' ', start), line.size());
        out.push_back(line.substr(start, space - start));
        start = space + 1;
    }
    return out;
}

Error bad_line(std::size_t number, const std::string& why) {
    return Error("the qube-files manifest, line " + std::to_string(number) + ": " + why, EBADMSG)
        .advise("the volume's stored qube files are not restored; the qubes whose firewall they held are "
                "held back from starting");
}

Result<ManifestEntry> parse_entry(std::string_view line, std::size_t number) {
    const auto parts = fields(line);
    if (parts.size() != 4) return bad_line(number, "not \"<uuid> <file> <generation> <size>\"");
    ManifestEntry entry;
    if (!is_canonical_uuid(parts[0])) return bad_line(number, "not a canonical uuid");
    entry.uuid = std::string(parts[0]);
    const KeptFile* kept = kept_file(parts[1]);
    if (!kept) return bad_line(number, "not a file reliant keeps");
    entry.file = std::string(parts[1]);
    const auto generation = decimal(parts[2]);
    const auto size = decimal(parts[3]);
    if (!generation || !size) return bad_line(number, "a generation or size that is not a plain number");
    if (*size > kept->max_bytes) return bad_line(number, "a size beyond what reliant stores of " + entry.file);
    entry.generation = *generation;
    entry.size = *size;
    return entry;
}

}  // namespace

bool is_uuid(std::string_view text) { return is_canonical_uuid(text); }

const KeptFile* kept_file(std::string_view name) {
    for (const KeptFile& file : kept_files)
        if (file.name == name) return &file;
    return nullptr;
}

std::string ManifestEntry::stored_name() const { return file + "." + std::to_string(generation); }

const ManifestEntry* Manifest::find(std::string_view uuid, std::string_view file) const {
    for (const ManifestEntry& entry : entries)
        if (entry.uuid == uuid && entry.file == file) return &entry;
    return nullptr;
}

std::string Manifest::to_text() const {
    std::string text(header);
    text += '\n';
    for (const ManifestEntry& entry : entries)
        text += entry.uuid + ' ' + entry.file + ' ' + std::to_string(entry.generation) + ' ' +
                std::to_string(entry.size) + '\n';
    return text;
}

Result<Manifest> Manifest::parse(std::string_view text) {
    if (text.size() > max_bytes) return bad_line(0, "larger than " + std::to_string(max_bytes) + " bytes");
    if (text.empty() || text.back() != '\n') return bad_line(0, "does not end with a newline");
    Manifest manifest;
    std::size_t number = 0;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = text.find('\n', start);
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (number == 1) {
            if (line != header) return bad_line(1, "not the header \"" + std::string(header) + "\"");
            continue;
        }
        if (manifest.entries.size() == max_entries) return bad_line(number, "more entries than reliant writes");
        auto entry = parse_entry(line, number);
        if (!entry) return std::move(entry).error();
        if (!manifest.entries.empty() &&
            std::tie(manifest.entries.back().uuid, manifest.entries.back().file) >= std::tie(entry->uuid, entry->file))
            return bad_line(number, "not sorted, or a file recorded twice");
        manifest.entries.push_back(std::move(*entry));
    }
    if (number == 0) return bad_line(1, "no header");
    return manifest;
}

}  // namespace reliant::qube_files

#include "tests/fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "healer/document_reader.h"
#include "healer/serializer.h"

namespace reliant::fuzz {

healer::ValidationOptions validation() {
    healer::ValidationOptions options;
    options.pci_root_buses = std::vector<std::string>{"0000:00"};
    options.root = "/nonexistent-root";
    options.sysfs = "/nonexistent-sysfs";
    return options;
}

void violated(std::string_view what, std::string_view detail) {
    std::fprintf(stderr, "fuzz invariant violated: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

bool loads(const healer::Document& document, std::string* errors) {
    healer::Diagnostics diagnostics("fuzz");
    healer::validate(document, diagnostics, validation());
    if (errors)
        for (const healer::Diagnostic& d : diagnostics.items())
            if (d.severity == healer::Severity::error) *errors += healer::format_text(d) + "\n";
    return !diagnostics.has_errors();
}

void require_written_file_loads(const healer::Document& document, std::string_view what) {
    const std::string bytes = healer::serialize(document);
    healer::Diagnostics diagnostics("written");
    const auto reread = healer::read_document(bytes, diagnostics);
    if (!reread) violated(std::string(what) + ": the written file does not parse", bytes);
    std::string errors;
    if (!loads(*reread, &errors)) violated(std::string(what) + ": the written file does not load", errors + bytes);
}

MultiInput split_input(std::string_view data) {
    MultiInput input;
    std::size_t at = data.find(part_marker);
    input.first = data.substr(0, at);
    std::set<healer::VolumeId> seen;
    int next_default = 1;
    while (at != std::string_view::npos) {
        const std::size_t header = at + part_marker.size();
        const std::size_t line_end = std::min(data.find('\n', header), data.size());
        const std::size_t body = std::min(line_end + 1, data.size());
        at = data.find(part_marker, body);
        const auto named = healer::parse_volume_name(data.substr(header, line_end - header));
        const healer::VolumeId volume = named ? *named : healer::VolumeId{0, next_default++ % 15};
        if (seen.insert(volume).second) input.parts.push_back({volume, data.substr(body, at - body)});
    }
    return input;
}

std::string join_input(std::string_view first,
                       const std::vector<std::pair<healer::VolumeId, std::string>>& parts) {
    std::string data(first);
    for (const auto& [volume, bytes] : parts) data += std::string(part_marker) + volume.name() + "\n" + bytes;
    return data;
}

}  // namespace reliant::fuzz

// What a volume says about the files dom0 keeps for its qubes
// (qube-files/): the manifest (qube_files::Manifest::parse) and a stored
// firewall.xml (healer::firewall_loadable), both hostile. Beyond memory
// safety: a manifest is refused with a message or read as one that writes
// back to exactly its input (the grammar has one spelling per manifest),
// with every entry within the grammar's bounds.
#include <cstddef>
#include <cstdint>

#include "healer/kept_files.h"
#include "qube-files/qube_files.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto manifest = qube_files::Manifest::parse(text);
    if (manifest) {
        if (manifest->to_text() != text) fuzz::violated("a manifest that does not write back to its input");
        if (manifest->entries.size() > qube_files::Manifest::max_entries) fuzz::violated("too many entries");
        for (const qube_files::ManifestEntry& entry : manifest->entries) {
            const qube_files::KeptFile* kept = qube_files::kept_file(entry.file);
            if (!kept) fuzz::violated("an entry for a file reliant does not keep", entry.file);
            else if (entry.size > kept->max_bytes) fuzz::violated("an entry beyond its file's bound");
            if (!qube_files::is_uuid(entry.uuid)) fuzz::violated("an entry without a canonical uuid", entry.uuid);
            if (entry.stored_name().find('/') != std::string::npos) fuzz::violated("a stored name with a slash");
        }
    } else if (manifest.error().message().empty()) {
        fuzz::violated("a refusal without a message");
    }
    const auto firewall = healer::firewall_loadable(text);
    if (!firewall && firewall.error().message().empty()) fuzz::violated("a firewall refused without a message");
    return 0;
}

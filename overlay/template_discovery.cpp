#include "overlay/template_discovery.h"

#include <map>

#include "common/file_io.h"
#include "healer/diagnostics.h"
#include "healer/document_reader.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

bool is_file_pool(const healer::Pool& pool) {
    const std::string* driver = pool.driver();
    return driver && (*driver == "file" || *driver == "file-reflink");
}

bool attribute_is(const healer::Volume& volume, std::string_view name, std::string_view value) {
    const std::string* text = volume.attributes.get(name);
    return text && *text == value;
}

// <dir_path>/<vid>.img, when that is a plain absolute path.
std::optional<fs::path> image_path(const healer::Pool& pool, const std::string& vid) {
    const std::string* dir = pool.attributes.get("dir_path");
    if (!dir || vid.empty()) return std::nullopt;
    const fs::path path = fs::path(*dir) / (vid + ".img");
    for (const auto& part : path)
        if (part == ".." || part == ".") return std::nullopt;
    if (!path.is_absolute() || path.lexically_normal() != path) return std::nullopt;
    for (const char c : path.string())
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    return path;
}

// The image a volume reads from: its source's for a snapshot, else its own.
const std::string* image_vid(const healer::Volume& volume) {
    if (attribute_is(volume, "snap_on_start", "True")) return volume.attributes.get("source");
    return volume.attributes.get("vid");
}

}  // namespace

DiscoveredImages discover_template_images(const healer::Document& document) {
    DiscoveredImages found;
    std::map<fs::path, ImageKind> kinds;  // sorted and without duplicates
    for (const auto& domain : document.domains) {
        if (!domain.volume_config) continue;
        const bool is_template = domain.klass && *domain.klass == "TemplateVM";
        for (const auto& volume : *domain.volume_config) {
            const bool template_root = is_template && volume.name() && *volume.name() == "root";
            const bool read_only = attribute_is(volume, "rw", "False");
            if (!template_root && !read_only) continue;
            const healer::Pool* pool = volume.pool() ? document.pool(*volume.pool()) : nullptr;
            if (!pool || !is_file_pool(*pool)) continue;
            const std::string* vid = template_root ? volume.attributes.get("vid") : image_vid(volume);
            const auto path = vid ? image_path(*pool, *vid) : std::nullopt;
            if (!path) {
                ++found.unusable;
                continue;
            }
            auto [it, inserted] =
                kinds.emplace(*path, template_root ? ImageKind::template_root : ImageKind::read_only_volume);
            if (!inserted && template_root) it->second = ImageKind::template_root;
        }
    }
    for (const auto& [path, kind] : kinds) found.images.push_back({path, kind});
    return found;
}

Result<DiscoveredImages> discover_template_images(const fs::path& qubes_xml) {
    const healer::XmlLimits limits;
    auto bytes = read_file(qubes_xml, limits.max_bytes);
    if (!bytes) return std::move(bytes).error();
    healer::Diagnostics diagnostics(qubes_xml.string());
    const auto document = healer::read_document(*bytes, diagnostics);
    if (!document) return Error(qubes_xml.string() + " cannot be parsed as qubes.xml", EINVAL);
    return discover_template_images(*document);
}

}  // namespace reliant::overlay

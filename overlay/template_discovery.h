// Which images `loops` attaches, from the merged qubes.xml (healer's model):
// the root volumes of TemplateVMs and every volume with rw=False, in pools of
// Qubes' `file` and `file-reflink` drivers, at <dir_path>/<vid>.img. For a
// read-only snapshot volume that is its source's image.
//
// The merged file carries shard content, so nothing here is trusted: paths
// that are not plain absolute paths are dropped (and only counted), and
// `loops` later attaches only images that exist in the base.
#pragma once

#include <filesystem>
#include <vector>

#include "common/error.h"
#include "healer/model.h"
#include "overlay/template_loops.h"

namespace reliant::overlay {

struct DiscoveredImages {
    std::vector<TemplateImage> images;  // each path once; template-root wins over read-only-volume
    std::size_t unusable = 0;           // a volume in a file pool whose path makes no sense
};

DiscoveredImages discover_template_images(const healer::Document& document);

// Reads and parses `qubes_xml` with the healer's hardened reader.
Result<DiscoveredImages> discover_template_images(const std::filesystem::path& qubes_xml);

}  // namespace reliant::overlay

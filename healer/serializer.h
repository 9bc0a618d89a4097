// Writing the model the way qubesd does (lxml, pretty_print, UTF-8): no XML
// declaration, no version attribute, two-space indentation, sections in the
// order labels, pools, properties, domains, empty elements self-closed and
// empty values written as <x></x>. A file qubesd wrote comes back
// byte-identical; docs/healer.md lists what is normalized otherwise.
#pragma once

#include <string>

#include "healer/model.h"

namespace reliant::healer {

std::string serialize(const Document& document);

// A shard file (docs/shards.md): <qubes-shard> with `root` attributes, a
// <qid-range>, the labels, pools and domains of `sections`, <references>,
// and <restores> (written only when there is one: older readers see the same
// file as before).
std::string serialize_shard(const Attributes& root, const Attributes& qid_range, const Document& sections,
                            const std::vector<Attributes>& references,
                            const std::vector<RestoreElement>& restores);

}  // namespace reliant::healer

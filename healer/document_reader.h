// Turning a qubes.xml file into the model. What qubesd's loader would not
// see (comments, processing instructions, unknown or namespaced elements and
// attributes, text after child elements) is reported as V2 and left out;
// problems with the document's form (declaration, encoding, DOCTYPE, section
// order) are V1 warnings; a document qubesd cannot parse at all is a V1 error.
#pragma once

#include <optional>
#include <string_view>

#include "healer/diagnostics.h"
#include "healer/model.h"
#include "healer/xml_reader.h"

namespace reliant::healer {

// How the document may be shaped. Shards are untrusted: a DOCTYPE there is an
// error (V1), never something to interpret.
enum class DoctypePolicy { report, reject };

struct ReadOptions {
    XmlLimits limits;
    DoctypePolicy doctype = DoctypePolicy::report;
};

Document build_document(const XmlDocument& xml, Diagnostics& out, const ReadOptions& options = {});

// What a shard file carries beyond the qubes.xml sections (docs/shards.md):
// the attributes of its <qubes-shard> root, its <qid-range>, the
// <references> to qubes outside it, and the <restores> for lower qubes.
struct ShardExtras {
    Attributes root;                      // version, volume
    std::optional<Attributes> qid_range;  // first, last
    std::vector<Attributes> references;   // name, uuid
    std::vector<RestoreElement> restores;
};

// Reads a shard file: untrusted input, so a DOCTYPE is an error; nullopt
// when it is not well-formed or its root is not <qubes-shard>.
std::optional<Document> read_shard_document(std::string_view bytes, Diagnostics& out, ShardExtras& extras,
                                            const XmlLimits& limits = {});

// Parses and builds; nullopt (with an error[V1] in `out`) when the bytes are
// not a document qubesd could parse, or break the limits.
std::optional<Document> read_document(std::string_view bytes, Diagnostics& out,
                                      const ReadOptions& options = {});

}  // namespace reliant::healer

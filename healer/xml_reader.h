// Reading untrusted XML with libxml2, hardened: no network, no DTD loading,
// no entity substitution, a size limit and libxml2's depth limit. The result
// keeps the libxml2 tree alive for the model builder and records the facts
// about the document's form that the validator reports (declaration, BOM,
// DOCTYPE).
#pragma once

#include <libxml/tree.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace reliant::healer {

struct XmlLimits {
    std::size_t max_bytes = 64u << 20;  // qubesd's own files are a few MB for thousands of qubes
    // Entity text is copied into values by the model builder; this bounds the
    // total so that nested internal entities cannot amplify.
    std::size_t max_entity_expansion = 1u << 20;
};

struct XmlForm {
    bool has_bom = false;
    bool has_declaration = false;
    std::string declared_encoding;  // empty when none was declared
    bool has_doctype = false;
};

// Untrusted input (a shard) must be UTF-8 without a document type
// declaration, and this is checked on the bytes, before libxml2 sees them:
// libxml2 2.9 processes an internal subset while it parses, and a chain of
// empty entities referenced from an attribute value costs it time
// exponential in the chain's depth (minutes for 12 KB, hours for 60 KB)
// before any limit of ours applies. Other encodings are refused so that the
// check cannot be dodged (UTF-16 puts a NUL after each byte of "<!DOCTYPE";
// UTF-7 spells '<' "+ADw-"). Errors carry the line and code EBADMSG.
Status refuse_document_type(std::string_view bytes, const std::string& name);

class XmlDocument {
public:
    // Parses `bytes`; `name` names the input in errors, which carry the line
    // (Error::input_line) and code EBADMSG for malformed XML, EFBIG for
    // input over the size limit.
    static Result<XmlDocument> parse(std::string_view bytes, const std::string& name,
                                     const XmlLimits& limits = {});
    static Result<XmlDocument> read(const std::filesystem::path& path, const XmlLimits& limits = {});

    xmlNode* root() const;
    const XmlForm& form() const { return form_; }
    const XmlLimits& limits() const { return limits_; }
    const std::string& name() const { return name_; }

private:
    struct FreeDoc {
        void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
    };
    std::unique_ptr<xmlDoc, FreeDoc> doc_;
    XmlForm form_;
    XmlLimits limits_;
    std::string name_;
};

}  // namespace reliant::healer

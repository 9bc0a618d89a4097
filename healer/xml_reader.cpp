#include "healer/xml_reader.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <strings.h>

#include <algorithm>
#include <climits>

#include "common/file_io.h"

namespace reliant::healer {
namespace {

// No network, no DTD loading or attribute defaulting, no entity substitution,
// no XInclude, and libxml2's default depth limit (256; XML_PARSE_HUGE stays
// off). NOERROR/NOWARNING keep libxml2 from printing: errors come back as values.
// COMPACT stores short text inline: fewer allocations for the many small values.
constexpr int parse_options =
    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES | XML_PARSE_COMPACT;

bool starts_with_bytes(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

XmlForm inspect_form(std::string_view bytes) {
    using namespace std::string_view_literals;
    XmlForm form;
    std::string_view rest = bytes;
    for (const auto bom : {"\xEF\xBB\xBF"sv, "\xFF\xFE"sv, "\xFE\xFF"sv}) {
        if (starts_with_bytes(rest, bom)) {
            form.has_bom = true;
            rest.remove_prefix(bom.size());
            break;
        }
    }
    form.has_declaration = starts_with_bytes(rest, "<?xml") || starts_with_bytes(rest, "<\0?\0x\0m\0l\0"sv) ||
                           starts_with_bytes(rest, "\0<\0?\0x\0m\0l"sv);
    return form;
}

// libxml2 reports some errors (input encoding conversion, I/O) through its
// generic error handler whatever the parser options say, and the default
// handler prints them to stderr quoting input bytes. Shard content must never
// reach a log: the handler does nothing while we parse (it is per thread, and
// the caller's is put back).
class QuietGenericErrors {
public:
    QuietGenericErrors() : context_(xmlGenericErrorContext), handler_(xmlGenericError) {
        xmlSetGenericErrorFunc(nullptr, ignore);
    }
    ~QuietGenericErrors() { xmlSetGenericErrorFunc(context_, handler_); }
    QuietGenericErrors(const QuietGenericErrors&) = delete;
    QuietGenericErrors& operator=(const QuietGenericErrors&) = delete;

private:
    static void ignore(void*, const char*, ...) {}
    void* context_;
    xmlGenericErrorFunc handler_;
};

struct FreeParser {
    void operator()(xmlParserCtxt* context) const { xmlFreeParserCtxt(context); }
};

int line_at(std::string_view bytes, std::size_t offset) {
    return 1 + static_cast<int>(std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// The encoding an XML declaration at the start of `text` names ("" if none).
std::string declared_encoding(std::string_view text) {
    if (!starts_with_bytes(text, "<?xml")) return "";
    const std::string_view declaration = text.substr(0, text.find("?>"));
    const auto key = declaration.find("encoding");
    if (key == std::string_view::npos) return "";
    const auto quote = declaration.find_first_of("'\"", key);
    if (quote == std::string_view::npos) return "?";
    const auto end = declaration.find(declaration[quote], quote + 1);
    if (end == std::string_view::npos) return "?";
    return std::string(declaration.substr(quote + 1, end - quote - 1));
}

}  // namespace

Status refuse_document_type(std::string_view bytes, const std::string& name) {
    std::string_view text = bytes;
    if (starts_with_bytes(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
    if (const auto nul = bytes.find('\0'); nul != std::string_view::npos)
        return Error("a NUL byte: not UTF-8 text (untrusted input must be UTF-8)", EBADMSG).at(name, line_at(bytes, nul));
    // libxml2 guesses UTF-16, UCS-4 and EBCDIC from the first bytes: only
    // markup or whitespace may come first.
    if (!text.empty() && text.front() != '<' && std::string_view(" \t\r\n").find(text.front()) == std::string_view::npos)
        return Error("does not start with markup: not UTF-8 XML (untrusted input must be UTF-8)", EBADMSG).at(name, 1);
    if (const auto encoding = declared_encoding(text); !encoding.empty() && strcasecmp(encoding.c_str(), "UTF-8") != 0)
        return Error("declared encoding '" + encoding + "': untrusted input must be UTF-8", EBADMSG).at(name, 1);
    for (const std::string_view markup : {"<!DOCTYPE", "<!ENTITY"})
        if (const auto at = text.find(markup); at != std::string_view::npos)
            return Error("DOCTYPE declaration: refused in untrusted input", EBADMSG)
                .at(name, line_at(bytes, at + (bytes.size() - text.size())));
    return success();
}

Result<XmlDocument> XmlDocument::parse(std::string_view bytes, const std::string& name,
                                       const XmlLimits& limits) {
    if (bytes.size() > limits.max_bytes)
        return Error("larger than the limit of " + std::to_string(limits.max_bytes) + " bytes", EFBIG)
            .at(name, 0);
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return Error("too large", EFBIG).at(name, 0);

    const QuietGenericErrors quiet;
    std::unique_ptr<xmlParserCtxt, FreeParser> context(xmlNewParserCtxt());
    if (!context) return Error("cannot create an XML parser", ENOMEM);
    xmlDoc* raw = xmlCtxtReadMemory(context.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr,
                                    nullptr, parse_options);
    XmlDocument document;
    document.doc_.reset(raw);
    if (raw == nullptr || context->wellFormed == 0) {
        const xmlError* error = xmlCtxtGetLastError(context.get());
        std::string message = error && error->message ? error->message : "not well-formed XML";
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
        return Error(message, EBADMSG).at(name, error ? error->line : 0);
    }
    if (xmlDocGetRootElement(raw) == nullptr) return Error("no root element", EBADMSG).at(name, 0);

    document.form_ = inspect_form(bytes);
    if (raw->encoding != nullptr)
        document.form_.declared_encoding = reinterpret_cast<const char*>(raw->encoding);
    document.form_.has_doctype = raw->intSubset != nullptr || raw->extSubset != nullptr;
    document.limits_ = limits;
    document.name_ = name;
    return document;
}

Result<XmlDocument> XmlDocument::read(const std::filesystem::path& path, const XmlLimits& limits) {
    auto bytes = read_file(path, limits.max_bytes);
    if (!bytes) {
        if (bytes.error().code() == EFBIG)
            return Error("larger than the limit of " + std::to_string(limits.max_bytes) + " bytes", EFBIG)
                .at(path.string(), 0);
        return std::move(bytes).error();
    }
    return parse(*bytes, path.string(), limits);
}

xmlNode* XmlDocument::root() const { return xmlDocGetRootElement(doc_.get()); }

}  // namespace reliant::healer

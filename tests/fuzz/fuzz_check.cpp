// qubes.xml as `reliant-healer check` reads it: the hardened parser, the
// model builder and the validator. Beyond "no crash, no leak, no undefined
// behaviour, bounded memory":
//   * the serializer's output parses again and is a fixed point (writing a
//     file read back from our own output changes nothing);
//   * normalizing never breaks a file: when the input loads, so does what
//     we write for it (qubesd's own save normalizes the same way).
#include <cstddef>
#include <cstdint>

#include "healer/document_reader.h"
#include "healer/serializer.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    healer::Diagnostics diagnostics("fuzz");
    const auto document = healer::read_document(bytes, diagnostics);
    if (!document) {
        if (!diagnostics.has_errors()) fuzz::violated("an unreadable document without an error");
        return 0;
    }
    healer::validate(*document, diagnostics, fuzz::validation());

    const std::string written = healer::serialize(*document);
    healer::Diagnostics again("written");
    const auto reread = healer::read_document(written, again);
    if (!reread) fuzz::violated("the serializer wrote a file that does not parse", written);
    const std::string rewritten = healer::serialize(*reread);
    if (rewritten != written) fuzz::violated("serializing is not a fixed point", written + "\n----\n" + rewritten);
    if (!diagnostics.has_errors()) fuzz::require_written_file_loads(*reread, "check");
    return 0;
}

// The base journal (healer/base_journal.h): reliant writes it in
// maintenance mode, a person can edit it, and the boot's merge reads it from
// the sealed base. Beyond memory safety: a journal is refused with a message
// or read as one whose writing reads back, and whose second writing is a
// fixed point (the first may turn bytes that are not UTF-8 into \ufffd
// escapes, which read back as the character: common/json.h), whose
// successor map holds only canonical uuids. (The notice's summary, a session
// file, is checked by unit-session's hostile cases: the fuzz tree has no
// session library.)
#include <cstddef>
#include <cstdint>

#include "healer/base_journal.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto journal = healer::parse_base_journal(text);
    if (journal) {
        const std::string written = healer::to_json(*journal);
        const auto again = healer::parse_base_journal(written);
        if (!again) {
            fuzz::violated("a journal whose writing does not read back", again.error().message());
        } else {
            const std::string rewritten = healer::to_json(*again);
            const auto third = healer::parse_base_journal(rewritten);
            if (!third || healer::to_json(*third) != rewritten) fuzz::violated("a journal that keeps changing when written");
        }
        for (const auto& [old_uuid, successor] : healer::successor_map(*journal))
            if (old_uuid.size() != 36 || successor.size() != 36) fuzz::violated("a successor map with no uuid");
        (void)healer::describe(*journal);
    } else if (journal.error().message().empty()) {
        fuzz::violated("a journal refused without a message");
    }
    return 0;
}

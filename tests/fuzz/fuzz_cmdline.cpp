// The kernel command line (common/kernel_cmdline) and reliant's options
// (common/boot_options) as every boot tool parses them. Beyond memory
// safety: arguments carry only bytes of the input, keys are never empty,
// and a bad value fails with an error rather than being half applied.
#include <cstddef>
#include <cstdint>

#include "common/boot_options.h"
#include "common/kernel_cmdline.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const KernelCmdline cmdline = KernelCmdline::parse(text);
    std::size_t bytes = 0;
    for (const CmdlineArgument& argument : cmdline.arguments()) {
        if (argument.key.empty()) fuzz::violated("an argument without a key");
        if (text.find(argument.key) == std::string_view::npos) fuzz::violated("a key not in the input", argument.key);
        if (argument.value && text.find(*argument.value) == std::string_view::npos)
            fuzz::violated("a value not in the input", *argument.value);
        bytes += argument.key.size() + (argument.value ? argument.value->size() + 1 : 0);
    }
    if (bytes > text.size()) fuzz::violated("the arguments hold more bytes than the input");

    const auto options = parse_boot_options(cmdline);
    if (options) {
        if (options->tries < 1 || options->tries > 100) fuzz::violated("tries out of range");
        if (options->dvl && *options->dvl > 14) fuzz::violated("dvl out of range");
        if (options->verity_offset % 4096 != 0) fuzz::violated("verity offset not a multiple of 4096");
        for (const std::string* hex : {&options->verity_root_hash, &options->hash_sha256})
            if (!hex->empty() && (hex->size() != 64 || hex->find_first_not_of("0123456789abcdef") != std::string::npos))
                fuzz::violated("a digest that is not 64 lower-case hex digits", *hex);
    } else if (options.error().message().empty()) {
        fuzz::violated("an option error without a message");
    }
    return 0;
}

// reliant-healer split: qubesd's qubes.xml -> the base and one shard per
// volume. Each file is written atomically and durably, shards first; counts
// only on the output, details in --report.
#include <iostream>

#include "common/file_io.h"
#include "healer/command_options.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/serializer.h"
#include "healer/shard_files.h"
#include "healer/split.h"

namespace reliant::healer {
namespace {

const char* const usage =
    "usage: reliant-healer split --in QUBES.xml --base-out BASE.xml --shard-root DIR\n"
    "                            [--volume-root /run/shufflecake] [--merge-report REPORT.json]\n"
    "                            [--report SPLIT.json] [--release R] [--root DIR] [--sysfs DIR]\n";

int fail_usage(const std::string& why) {
    std::cerr << "reliant-healer split: " << why << '\n' << usage;
    return 2;
}

}  // namespace

int run_split(const std::vector<std::string>& words) {
    ArgumentSpec spec{{}, validation_option_names};
    spec.options.insert({"in", "base-out", "shard-root", "volume-root", "merge-report", "report"});
    auto arguments = Arguments::parse(words, spec);
    if (!arguments) return fail_usage(arguments.error().describe());
    const auto in = arguments->option("in");
    const auto base_out = arguments->option("base-out");
    const auto shard_root = arguments->option("shard-root");
    if (!in || !base_out || !shard_root || !arguments->operands().empty())
        return fail_usage("--in, --base-out and --shard-root are required");

    SplitOptions options;
    auto validation = validation_options(*arguments);
    if (!validation) return fail_usage(validation.error().describe());
    options.validation = *validation;
    if (const auto root = arguments->option("volume-root")) options.volume_root = *root;
    options.validation.volume_root = options.volume_root;
    std::optional<BootMerge> boot;
    if (const auto path = arguments->option("merge-report")) {
        auto read = read_boot_merge(*path);
        if (!read) {
            std::cerr << "reliant-healer split: " << read.error().describe() << '\n';
            return 2;
        }
        boot = std::move(*read);
    }

    // Every output named on the command line is checked before anything is
    // written; shard files are checked as they are written.
    for (const auto& option : {"base-out", "report"})
        if (const auto path = arguments->option(option))
            if (auto replaceable = check_replaceable(*path); !replaceable) {
                std::cerr << "reliant-healer split: --" << option << ": " << replaceable.error().describe()
                          << "; nothing written\n";
                return 2;
            }

    const XmlLimits limits;
    auto bytes = read_file(*in, limits.max_bytes);
    if (!bytes) {
        std::cerr << "reliant-healer split: " << bytes.error().describe() << '\n';
        return 2;
    }
    Diagnostics input_read(*in);
    const auto input = read_document(*bytes, input_read);
    if (!input) {
        std::cerr << "reliant-healer split: " << *in << " is not loadable XML; nothing written\n";
        return 1;
    }

    SplitResult result = split(*input, existing_shards(*shard_root, limits), boot, options);
    int status = result.complete ? 0 : 1;
    std::size_t written = 0;
    for (const Shard& shard : result.shards) {
        const auto path = std::filesystem::path(*shard_root) / shard.volume.name() / shard_file_name;
        remove_stale_temporaries(path);  // from a split killed earlier
        if (auto ok = write_file_atomically(path, serialize_shard(shard), 0600); ok) {
            ++written;
        } else {
            std::cerr << "reliant-healer split: a shard could not be written: " << ok.error().code() << '\n';
            status = 1;
        }
    }
    if (result.base) {
        remove_stale_temporaries(*base_out);
        if (auto ok = write_file_atomically(*base_out, serialize(*result.base), 0660); !ok) {
            std::cerr << "reliant-healer split: " << ok.error().describe() << '\n';
            status = 1;
        }
    } else {
        std::cerr << "reliant-healer split: the base cannot be made to load on its own; " << *base_out
                  << " not written (see the report)\n";
    }
    if (const auto report = arguments->option("report")) {
        remove_stale_temporaries(*report);
        if (auto ok = write_file_atomically(*report, result.report.to_json(), 0600); !ok)
            std::cerr << "reliant-healer split: cannot write the report: " << ok.error().describe() << '\n';
    }
    std::cout << "reliant-healer split: " << written << " shard(s) written, " << result.report.count("kept")
              << " kept, " << result.report.count("error") << " not written\n";
    return status;
}

}  // namespace reliant::healer

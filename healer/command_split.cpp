// reliant-healer split: qubesd's qubes.xml -> the base and one shard per
// volume. Each file is written atomically and durably, shards first; counts
// only on the output, details in --report.
#include <algorithm>
#include <iostream>

#include "common/file_io.h"
#include "healer/command_options.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/heal_common.h"
#include "healer/serializer.h"
#include "healer/shard_files.h"
#include "healer/split.h"
#include "qube-files/qube_files.h"

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

// Writes one shard into its volume's directory. The directory is the mount
// point of an open volume: when it is missing or not a directory, the volume
// is not mounted there, and the message says so rather than an errno.
Status write_shard(const std::filesystem::path& directory, const std::string& bytes) {
    const auto path = directory / shard_file_name;
    std::error_code ec;
    const auto type = std::filesystem::symlink_status(directory, ec).type();
    if (ec && type != std::filesystem::file_type::not_found)
        return Error("cannot write the shard " + path.string() + ": cannot look at " + directory.string(),
                     ec.value());
    if (type != std::filesystem::file_type::directory) {
        const char* what = type == std::filesystem::file_type::not_found ? "it does not exist"
                           : type == std::filesystem::file_type::symlink
                               ? "it is a symbolic link, which is never followed"
                               : "it is another kind of file";
        return Error("cannot write the shard " + path.string() + ": " + directory.string() +
                     " is not a directory (" + what + ")")
            .advise("is the volume mounted there? Mount it and run the split again; its old shard, if any, "
                    "is unchanged");
    }
    remove_stale_temporaries(path);  // from a split killed earlier
    return write_file_atomically(path, bytes, 0600);
}

// Stores the kept files (firewall, notes) of the shard's qubes on its
// volume; returns the problems, which name no qube.
std::vector<std::string> save_kept_files(const std::filesystem::path& volume, const std::filesystem::path& root,
                                         const Shard& shard) {
    std::vector<qube_files::Qube> qubes;
    for (const Domain& domain : shard.content.domains)
        qubes.push_back({uuid_key(domain), domain.value("name").value_or(""), domain.klass == "TemplateVM"});
    auto saved = qube_files::save(volume, root, qubes);
    if (!saved) return {"the qube files of " + volume.string() + " are not saved: " + saved.error().describe()};
    return saved->problems;
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
    if (!outputs_replaceable("split", *arguments, {"base-out", "report"})) return 2;

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
        const auto directory = std::filesystem::path(*shard_root) / shard.volume.name();
        ShardOutcome* outcome = nullptr;
        for (ShardOutcome& candidate : result.report.shards)
            if (candidate.volume == shard.volume.name()) outcome = &candidate;
        // The files dom0 keeps for the shard's qubes first: a qube the shard
        // names must find its firewall on the volume at the next boot.
        // (Not into a volume that is not mounted: write_shard says so.)
        std::error_code ec;
        const bool mounted =
            std::filesystem::symlink_status(directory, ec).type() == std::filesystem::file_type::directory;
        if (auto kept = mounted ? save_kept_files(directory, options.validation.root, shard)
                                : std::vector<std::string>();
            !kept.empty()) {
            for (const std::string& problem : kept) std::cerr << "reliant-healer split: " << problem << '\n';
            if (outcome) outcome->reasons.insert(outcome->reasons.end(), kept.begin(), kept.end());
            status = 1;
        }
        if (auto ok = write_shard(directory, serialize_shard(shard)); ok) {
            ++written;
            if (outcome) outcome->status = "written";
        } else {
            std::cerr << "reliant-healer split: " << ok.error().describe() << '\n';
            if (outcome) {
                outcome->status = "error";
                outcome->qubes = 0;
                outcome->changes.clear();
                outcome->reasons.push_back("not written: " + ok.error().describe());
            }
            status = 1;
        }
    }
    if (result.base) {
        remove_stale_temporaries(*base_out);
        if (auto ok = write_file_atomically(*base_out, serialize(*result.base), 0660); !ok) {
            std::cerr << "reliant-healer split: " << ok.error().describe() << '\n';
            result.report.base_status = "not written";
            result.report.base_problems.push_back("not written: " + ok.error().describe());
            status = 1;
        } else {
            result.report.base_status = "written";
        }
    } else {
        result.report.base_status = "not written";
        std::cerr << "reliant-healer split: the base cannot be made to load on its own, so " << *base_out
                  << " is not written: read the report's base_problems, fix those qubes and save again\n";
    }
    if (const auto report = arguments->option("report")) {
        remove_stale_temporaries(*report);
        if (auto ok = write_file_atomically(*report, result.report.to_json(), 0600); !ok)
            std::cerr << "reliant-healer split: the report is not written: " << ok.error().describe() << '\n';
    }
    // Counts only: a new qube's name may be one the user chose in a hidden session.
    const auto lost = std::count_if(result.report.base_changes.begin(), result.report.base_changes.end(),
                                    [](const Change& change) { return change.kind == "lost-at-shutdown"; });
    if (lost > 0)
        std::cerr << "reliant-healer split: " << lost
                  << " qube(s) created this session live in a pool of the base, which is RAM: they and their "
                     "data end with the session. The report names them; clone each onto a volume's pool "
                     "(qvm-clone -P POOL) before shutting down\n";
    std::cout << "reliant-healer split: " << written << " shard(s) written, " << result.report.count("kept")
              << " kept, " << result.report.count("error") << " not written\n";
    return status;
}

}  // namespace reliant::healer

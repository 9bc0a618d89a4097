// reliant-healer merge: base + the shards under --shard-root -> --out.
// Writes only OUT and REPORT (both meant for /run), prints counts only:
// nothing about a shard reaches a log line.
#include <iostream>

#include "common/file_io.h"
#include "healer/base_journal.h"
#include "healer/command_options.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/kept_files.h"
#include "healer/merge.h"
#include "healer/serializer.h"
#include "healer/shard_files.h"

namespace reliant::healer {
namespace {

const char* const usage =
    "usage: reliant-healer merge --base BASE.xml --shard-root DIR --out OUT.xml [--report REPORT.json]\n"
    "                            [--volume-root /run/shufflecake] [--fix uuid,successor,heuristic|none]\n"
    "                            [--base-journal FILE]\n"
    "                            [--release R] [--root DIR] [--sysfs DIR] [--pci-root-buses LIST]\n";

int fail_usage(const std::string& why) {
    std::cerr << "reliant-healer merge: " << why << '\n' << usage;
    return 2;
}

Result<FixPolicy> fix_policy(const std::string& text) {
    FixPolicy policy{false, false, false};
    if (text == "none") return policy;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string word = text.substr(start, comma - start);
        if (word == "uuid")
            policy.follow_renames = true;
        else if (word == "successor")
            policy.successors = true;
        else if (word == "heuristic")
            policy.heuristics = true;
        else
            return Error("--fix takes uuid, successor, heuristic (comma-separated) or none", EINVAL);
        start = comma + 1;
    }
    return policy;
}

// The successors the base journal states (healer/base_journal.h). It is
// part of the sealed base: when it is not there (no maintenance boot kept
// one yet) there are none; when it cannot be used the merge goes on without
// them (the heuristics still apply), with a line that names no qube.
std::map<std::string, std::string> journal_successors(const std::string& path) {
    auto bytes = read_regular_file(path, BaseJournal::max_bytes + 1);
    if (!bytes && bytes.error().code() == ENOENT) return {};
    Result<BaseJournal> journal = bytes ? parse_base_journal(*bytes) : Result<BaseJournal>(std::move(bytes).error());
    if (!journal) {
        std::cerr << "reliant-healer merge: " << path << " not used, no successors followed: "
                  << journal.error().describe() << '\n';
        return {};
    }
    return successor_map(*journal);
}

}  // namespace

int run_merge(const std::vector<std::string>& words) {
    ArgumentSpec spec{{}, validation_option_names};
    spec.options.insert({"base", "shard-root", "out", "report", "volume-root", "fix", "base-journal"});
    auto arguments = Arguments::parse(words, spec);
    if (!arguments) return fail_usage(arguments.error().describe());
    const auto base_path = arguments->option("base");
    const auto shard_root = arguments->option("shard-root");
    const auto out = arguments->option("out");
    if (!base_path || !shard_root || !out || !arguments->operands().empty())
        return fail_usage("--base, --shard-root and --out are required");

    MergeOptions options;
    auto validation = validation_options(*arguments);
    if (!validation) return fail_usage(validation.error().describe());
    options.validation = *validation;
    if (const auto root = arguments->option("volume-root")) options.volume_root = *root;
    options.validation.volume_root = options.volume_root;
    if (const auto fix = arguments->option("fix")) {
        auto policy = fix_policy(*fix);
        if (!policy) return fail_usage(policy.error().describe());
        options.fixes = *policy;
    }

    if (const auto journal = arguments->option("base-journal")) options.successors = journal_successors(*journal);

    // Every output is checked before anything is written (docs/security.md, "Outputs").
    if (!outputs_replaceable("merge", *arguments, {"out", "report"})) return 2;

    auto bytes = read_file(*base_path, options.limits.max_bytes);
    if (!bytes) {
        std::cerr << "reliant-healer merge: " << bytes.error().describe() << '\n';
        return 2;
    }
    Diagnostics base_read(*base_path);
    const auto base = read_document(*bytes, base_read);
    if (!base) {
        for (const auto& d : base_read.items()) std::cerr << format_text(d) << '\n';
        std::cerr << "reliant-healer merge: the base is not loadable; nothing written\n";
        return 1;
    }

    MergeResult result = merge(*base, collect_shards(*shard_root, options.limits), options);
    if (!result.merged) {
        // Base problems name base qubes only, never a shard's.
        for (const auto& problem : result.report.base_problems)
            std::cerr << *base_path << ": " << problem << '\n';
        std::cerr << "reliant-healer merge: the base does not load; nothing written\n";
        return 1;
    }
    // The files dom0 keeps for the merged qubes, before the qubes.xml that
    // names them: qubesd starts only once OUT is there.
    const KeptFilesRestored kept = restore_kept_files(*result.merged, result.report, *shard_root,
                                                      options.validation.root);
    remove_stale_temporaries(*out);  // of a merge killed earlier
    if (auto written = write_file_atomically(*out, serialize(*result.merged), 0660); !written) {
        std::cerr << "reliant-healer merge: " << written.error().describe() << '\n';
        return 1;
    }
    if (const auto report = arguments->option("report")) {
        remove_stale_temporaries(*report);
        // The shutdown split refuses to run without this report (it names the
        // shards frozen at boot): a session without it could save nothing, so
        // the merge fails and the boot stops with its message.
        if (auto written = write_file_atomically(*report, result.report.to_json(), 0600); !written) {
            std::cerr << "reliant-healer merge: cannot write the report: " << written.error().describe()
                      << '\n';
            return 1;
        }
    }
    std::cout << "reliant-healer merge: " << result.report.count("merged") << " shard(s) merged, "
              << result.report.count("frozen") << " frozen\n";
    if (kept.placed > 0 || kept.held > 0) {
        std::cout << "reliant-healer merge: " << kept.placed << " qube file(s) restored";
        if (kept.held > 0)
            std::cout << ", " << kept.held
                      << " qube(s) held back (prohibit-start): their firewall could not be restored";
        std::cout << '\n';
    }
    return 0;
}

}  // namespace reliant::healer

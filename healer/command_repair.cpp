// reliant-healer repair: a chosen fix for a shard frozen at this boot
// (healer/repair.h), written to its volume atomically, the shard before it
// kept beside it. Run by reliant-session repair, in the user's terminal: its
// output names the shard's qubes, and nothing else writes it to a log.
#include <sys/stat.h>

#include <cstdio>
#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "common/json.h"
#include "healer/commands.h"
#include "healer/repair.h"
#include "healer/shard.h"
#include "healer/shard_files.h"

namespace reliant::healer {
namespace {

const char* const usage =
    "usage: reliant-healer repair --shard-root DIR --merge-report REPORT.json [--volume-root DIR] VOLUME ACTION\n"
    "  VOLUME rename QUBE NEW   the shard's qube QUBE is called NEW (a name the base or a lower volume took)\n"
    "  VOLUME drop QUBE         QUBE leaves the shard; its data stays on the volume\n";

constexpr const char* backup_name = "qubes.xml.before-repair";

int fail_usage(const std::string& why) {
    std::cerr << "reliant-healer repair: " << why << '\n' << usage;
    return 2;
}

int fail(const Error& error) {
    std::cerr << "reliant-healer repair: " << error.describe() << "; nothing written\n";
    return 1;
}

// The volume's status in this boot's merge: only a frozen shard is repaired.
Status frozen_this_boot(const std::string& report_path, const std::string& volume) {
    auto text = read_regular_file(report_path, 16u << 20);
    if (!text) return std::move(text).error().context("reading the merge report");
    auto report = json_parse(*text);
    if (!report) return std::move(report).error().context(report_path);
    const JsonValue* shards = report->member("shards");
    for (const JsonValue& shard : shards && shards->array() ? *shards->array() : JsonValue::Array{}) {
        const JsonValue* name = shard.member("volume");
        const JsonValue* status = shard.member("status");
        if (!name || !name->string() || *name->string() != volume) continue;
        if (status && status->string() && *status->string() == "frozen") return success();
        return Error(volume + " was merged at boot: its qubes are in qubesd now, and the next split writes them", EBUSY)
            .advise("change them with the qvm-* tools; repair is for a volume left out (frozen)");
    }
    return Error(volume + " was not open at boot", ENOENT)
        .advise("boot with its passphrase; sudo reliant-session status lists the volumes frozen");
}

// Where a pool directory of the shard lies in this process's view: pools
// name /run/shufflecake/sflc_M_N/..., the shard root may be elsewhere (tests).
Result<std::filesystem::path> physical_dir(const std::string& pool_dir, const std::string& volume_root,
                                           const std::string& shard_root, const std::string& volume) {
    const std::string prefix = volume_root + "/" + volume + "/";
    if (!pool_dir.starts_with(prefix) || pool_dir.find("..") != std::string::npos)
        return Error("pool directory " + pool_dir + " is not on " + volume, EINVAL);
    return std::filesystem::path(shard_root) / volume / pool_dir.substr(prefix.size());
}

// Moves a renamed qube's directories (rename(2), durable): a directory
// already moved by an interrupted earlier repair is left, anything but a
// plain directory is refused. Returns the moves done, to undo them.
Result<std::vector<std::pair<std::filesystem::path, std::filesystem::path>>> move_directories(
    const std::vector<DirectoryMove>& moves, const std::string& volume_root, const std::string& shard_root,
    const std::string& volume) {
    std::vector<std::pair<std::filesystem::path, std::filesystem::path>> done;
    for (const DirectoryMove& move : moves) {
        auto base = physical_dir(move.pool_dir, volume_root, shard_root, volume);
        if (!base) return std::move(base).error();
        const auto from = *base / move.from, to = *base / move.to;
        struct stat source {}, target {};
        const bool source_there = ::lstat(from.c_str(), &source) == 0;
        const bool target_there = ::lstat(to.c_str(), &target) == 0;
        if (!source_there && target_there && S_ISDIR(target.st_mode)) continue;  // moved before
        if (!source_there) continue;  // never created: qubesd makes it at the first start
        if (!S_ISDIR(source.st_mode)) return Error(from.string() + " is not a directory", ENOTDIR);
        if (target_there) return Error(to.string() + " is already there", EEXIST).advise("move it aside first");
        if (::rename(from.c_str(), to.c_str()) != 0) return Error::from_errno("moving " + from.string());
        done.emplace_back(from, to);
        if (auto synced = sync_directory(to.parent_path()); !synced) return synced.error();
    }
    return done;
}

Result<RepairAction> action_of(const std::vector<std::string>& operands) {
    if (operands.size() == 4 && operands[1] == "rename")
        return RepairAction{RepairAction::Kind::rename, operands[2], operands[3]};
    if (operands.size() == 3 && operands[1] == "drop") return RepairAction{RepairAction::Kind::drop, operands[2], ""};
    return Error("VOLUME rename QUBE NEW or VOLUME drop QUBE", EINVAL);
}

}  // namespace

int run_repair(const std::vector<std::string>& words) {
    auto arguments = Arguments::parse(words, ArgumentSpec{{}, {"shard-root", "merge-report", "volume-root"}});
    if (!arguments) return fail_usage(arguments.error().describe());
    const auto root = arguments->option("shard-root");
    const auto report = arguments->option("merge-report");
    if (!root || !report || arguments->operands().empty()) return fail_usage("--shard-root, --merge-report and VOLUME are required");
    const std::string& volume_name = arguments->operands().front();
    const auto volume = parse_volume_name(volume_name);
    if (!volume) return fail_usage("'" + volume_name + "' is no volume name (sflc_M_N)");
    auto action = action_of(arguments->operands());
    if (!action) return fail_usage(action.error().message());

    if (auto frozen = frozen_this_boot(*report, volume_name); !frozen) return fail(frozen.error());
    const std::filesystem::path file = std::filesystem::path(*root) / volume_name / shard_file_name;
    const XmlLimits limits;
    auto bytes = read_regular_file(file, limits.max_bytes);
    if (!bytes) return fail(std::move(bytes).error().context("reading " + file.string()));
    ShardRead read = read_shard(*bytes, *volume, limits);
    if (!read.shard) {
        std::string why;
        for (const std::string& problem : read.problems) why += "\n  " + problem;
        return fail(Error(file.string() + " is not a shard repair can edit:" + why, EINVAL)
                        .advise("its reasons above; " + std::string(backup_name) +
                                " beside it, if there is one, is the shard before the last repair"));
    }
    auto changed = repair_shard(*read.shard, *action);
    if (!changed) return fail(changed.error());
    const std::string repaired = serialize_shard(*read.shard);
    if (ShardRead check = read_shard(repaired, *volume, limits); !check.shard)
        return fail(Error("the repaired shard would not read back: " + check.problems.front(), EINVAL));

    const std::filesystem::path backup = file.parent_path() / backup_name;
    for (const auto& path : {backup, file}) {
        remove_stale_temporaries(path);
        if (auto replaceable = check_replaceable(path); !replaceable) return fail(replaceable.error());
    }
    if (auto kept = write_file_atomically(backup, *bytes, 0600); !kept) return fail(kept.error());
    const std::string volume_root = arguments->option("volume-root").value_or("/run/shufflecake");
    auto moved = move_directories(changed->moves, volume_root, *root, volume_name);
    if (!moved) return fail(moved.error());
    if (auto written = write_file_atomically(file, repaired, 0600); !written) {
        for (const auto& [from, to] : *moved) ::rename(to.c_str(), from.c_str());  // as it was
        return fail(written.error());
    }
    for (const std::string& line : changed->lines) std::cout << "reliant-healer repair: " << volume_name << ": " << line << '\n';
    std::cout << "reliant-healer repair: " << file.string() << " written (the shard before it: " << backup_name
              << "); the next boot with its passphrase merges it, or sudo reliant-session status says why not\n";
    return 0;
}

}  // namespace reliant::healer

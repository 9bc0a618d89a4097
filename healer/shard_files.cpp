#include "healer/shard_files.h"

#include <algorithm>

#include "common/file_io.h"
#include "common/json.h"

namespace reliant::healer {
namespace {

namespace fs = std::filesystem;

struct VolumeDirectory {
    VolumeId volume;
    fs::path shard;  // <dir>/qubes.xml
    bool has_shard;  // a regular file (not a symlink) is there
};

std::vector<VolumeDirectory> volume_directories(const fs::path& root) {
    std::vector<VolumeDirectory> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const auto volume = parse_volume_name(entry.path().filename().string());
        if (!volume || !entry.is_directory(ec) || entry.is_symlink(ec)) continue;
        const fs::path shard = entry.path() / shard_file_name;
        const bool regular = fs::symlink_status(shard, ec).type() == fs::file_type::regular;
        found.push_back({*volume, shard, regular});
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.volume < b.volume; });
    return found;
}

// Reads shards within the budget, in the order asked.
class BudgetedReader {
public:
    BudgetedReader(const XmlLimits& limits, const ShardBudget& budget)
        : per_shard_(std::min(limits.max_bytes, budget.per_shard)), left_(budget.total) {}

    Result<std::string> read(const fs::path& path) {
        const std::size_t limit = std::min(per_shard_, left_);
        auto bytes = read_regular_file(path, limit);  // a volume's file: never through a link
        if (!bytes && bytes.error().code() == EFBIG && limit < per_shard_)
            return Error("the shards together are larger than the budget; this one was not read", EFBIG);
        if (bytes) left_ -= bytes->size();
        return bytes;
    }

private:
    std::size_t per_shard_;
    std::size_t left_;
};

}  // namespace

std::vector<ShardInput> collect_shards(const fs::path& root, const XmlLimits& limits, const ShardBudget& budget) {
    BudgetedReader reader(limits, budget);
    std::vector<ShardInput> shards;
    for (const VolumeDirectory& directory : volume_directories(root)) {
        std::error_code ec;
        if (!directory.has_shard) {
            // Something that is not a plain file where the shard belongs.
            if (fs::symlink_status(directory.shard, ec).type() != fs::file_type::not_found)
                shards.push_back({directory.volume, std::nullopt, "the shard is not a regular file"});
            continue;
        }
        auto bytes = reader.read(directory.shard);
        if (bytes)
            shards.push_back({directory.volume, std::move(*bytes), {}});
        else
            shards.push_back({directory.volume, std::nullopt, bytes.error().describe()});
    }
    return shards;
}

std::vector<ExistingShard> existing_shards(const fs::path& root, const XmlLimits& limits,
                                           const ShardBudget& budget) {
    BudgetedReader reader(limits, budget);
    std::vector<ExistingShard> shards;
    for (const VolumeDirectory& directory : volume_directories(root)) {
        ExistingShard existing{directory.volume, false, std::nullopt, {}};
        std::error_code ec;
        existing.present = fs::symlink_status(directory.shard, ec).type() != fs::file_type::not_found;
        if (existing.present) {
            auto bytes = directory.has_shard ? reader.read(directory.shard)
                                             : Result<std::string>(Error(
                                                   directory.shard.string() +
                                                   " is not a regular file (a link, a directory or a device): "
                                                   "it is never read"));
            if (!bytes) {
                existing.problems.push_back(bytes.error().describe());
            } else {
                ShardRead read = read_shard(*bytes, directory.volume, limits);
                existing.shard = std::move(read.shard);
                existing.problems = std::move(read.problems);
            }
        }
        shards.push_back(std::move(existing));
    }
    return shards;
}

// The base's own default pools merge replaced (base changes of kind
// "new-qubes": `from` is the base's value, "(default)" when it had none).
void read_base_pools(const JsonValue& report, BootMerge& boot) {
    const JsonValue* changes = report.member("base_changes");
    if (!changes || !changes->array()) return;
    for (const JsonValue& change : *changes->array()) {
        const auto text = [&](const char* name) {
            const JsonValue* value = change.member(name);
            return value && value->string() ? *value->string() : std::string();
        };
        if (text("kind") != "new-qubes" || text("field").empty()) continue;
        const std::string from = text("from");
        boot.base_pools[text("field")] = from == "(default)" ? std::nullopt : std::optional<std::string>(from);
    }
}

Result<BootMerge> read_boot_merge(const fs::path& report) {
    auto text = read_file(report, 16u << 20);
    if (!text) return std::move(text).error();
    auto json = json_parse(*text);
    if (!json) return std::move(json).error().context(report.string());
    const JsonValue* shards = json->member("shards");
    if (!shards || !shards->array())
        return Error(report.string() + ": no \"shards\" list in the merge report")
            .advise("pass the report this boot's merge wrote (/run/reliant/heal-report.json)");
    BootMerge boot;
    for (const JsonValue& shard : *shards->array()) {
        const std::string* volume = shard.member("volume") ? shard.member("volume")->string() : nullptr;
        const std::string* status = shard.member("status") ? shard.member("status")->string() : nullptr;
        const auto id = volume ? parse_volume_name(*volume) : std::nullopt;
        if (!id || !status)
            return Error(report.string() + ": a shard entry without a volume name (sflc_M_N) or a status")
                .advise("pass the report this boot's merge wrote (/run/reliant/heal-report.json)");
        if (*status == "merged")
            boot.merged.insert(*id);
        else
            boot.frozen.insert(*id);
    }
    read_base_pools(*json, boot);
    if (const JsonValue* qubes = json->member("base_qubes"); qubes && qubes->array()) {
        boot.base_qubes.emplace();
        for (const JsonValue& uuid : *qubes->array())
            if (const std::string* value = uuid.string()) boot.base_qubes->insert(*value);
    }
    return boot;
}

}  // namespace reliant::healer

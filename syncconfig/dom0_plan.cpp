#include "syncconfig/dom0_plan.h"

#include "common/beneath.h"
#include "common/volume_policy.h"
#include "syncconfig/profile.h"
#include "syncconfig/sender.h"
#include "syncconfig/sha256.h"

namespace reliant::syncconfig {
namespace {

constexpr std::uint64_t volume_policy_max_bytes = 1u << 20;

std::string where(const std::optional<healer::VolumeId>& volume) {
    return volume ? "volume " + volume->name() : std::string("the base");
}

PolicyLine rule(const std::string& profile, const std::string& sender, const std::string& target,
                PolicyAction action) {
    PolicyLine line;
    line.service = service_name;
    line.argument = "+" + profile;
    line.source = sender;
    line.target = target;
    if (action == PolicyAction::allow) {
        line.action = "allow";
    } else {
        line.action = "ask";
        line.params.emplace_back("default_target", target);
    }
    return line;
}

std::string lines_text(const std::vector<PolicyLine>& lines) {
    std::string out;
    for (const PolicyLine& line : lines) out += format_policy_line(line) + "\n";
    return out;
}

// The open volume's policy file as it is now; nullopt when there is none.
Result<std::optional<std::string>> read_volume_policy(const std::filesystem::path& volume_directory) {
    const std::filesystem::path path = volume_policy_path(volume_directory);
    auto directory = open_root(volume_directory.string());
    if (!directory) return std::move(directory).error();
    auto live = inspect(directory->get(), path.filename().string());
    if (!live) return std::move(live).error().context(path.string());
    if (!live->exists) return std::optional<std::string>();
    if (!live->regular)
        return Error(path.string() + " is a " + live->kind + ", not a regular file: it is never read or replaced");
    auto bytes = read_regular(directory->get(), path.filename().string(), volume_policy_max_bytes);
    if (!bytes) return std::move(bytes).error().context(path.string());
    return std::optional<std::string>(std::move(*bytes));
}

std::vector<std::string> features_call(const Dom0Options& options, const std::string& qube, std::string key,
                                       std::string value) {
    return {options.qvm_features, "--", qube, std::move(key), std::move(value)};
}

// The feature dom0 sets for a QubesDB key the receiver reads: core-admin's
// vm_config extension copies feature vm-config.X to /vm-config/X.
std::string feature_of(std::string_view qubesdb_key) {
    constexpr std::string_view qubesdb_prefix = "/vm-config/";
    return "vm-config." + std::string(qubesdb_key.substr(qubesdb_prefix.size()));
}

// The generated lines, read back with the strict reader before anything is
// written: a line that does not parse or grants more than named qubes is a
// bug here, and stops the run rather than reaching qrexec.
Status lint_generated(const std::vector<PolicyLine>& lines) {
    auto read = parse_policy_text(lines_text(lines));
    if (!read) return std::move(read).error().context("a generated policy line does not read back");
    for (const PolicyLine& line : *read)
        if (auto wide = wide_grant(line); !wide.empty()) return Error("a generated policy line is too wide: " + wide);
    return success();
}

}  // namespace

bool owned_feature(std::string_view name) {
    for (std::string_view prefix : owned_feature_prefixes)
        if (name.starts_with(prefix) && name.size() > prefix.size()) return true;
    return false;
}

Result<PolicyRules> policy_rules(const Dom0Config& config, const QubePlaces& places) {
    PolicyRules rules;
    std::string refused;
    const auto sender_place = places.where.at(config.sender);
    for (const Dom0Target& target : config.targets) {
        const auto target_place = places.where.at(target.name);
        if (sender_place != target_place) {
            refused += "\n  " + config.sender + " (" + where(sender_place) + ") -> " + target.name + " (" +
                       where(target_place) + ")";
            continue;
        }
        for (const TargetProfile& p : target.profiles) {
            PolicyLine line = rule(p.profile, config.sender, target.name, p.action);
            if (target_place)
                rules.volumes[*target_place].push_back(std::move(line));
            else
                rules.base.push_back(std::move(line));
        }
    }
    if (auto s = lint_generated(rules.base); !s) return std::move(s).error();
    for (const auto& [volume, lines] : rules.volumes)
        if (auto s = lint_generated(lines); !s) return std::move(s).error();
    if (!refused.empty())
        return Error("sender and target on different volumes (or one in the base): a policy line in either place "
                     "would name a qube of the other, so nothing was written:" + refused)
            .advise("keep the config-mgmt qube on the same volume as its targets (one config-mgmt per volume)");
    return rules;
}

std::string base_policy_text(const std::vector<PolicyLine>& lines) {
    return "# Generated by reliant-syncconfig-dom0 (docs/syncconfig.md); rewritten on every run, do not edit.\n"
           "# Only qubes of the base are named here: rules for qubes on a Shufflecake volume are in that volume.\n" +
           lines_text(lines);
}

Result<std::optional<std::string>> volume_policy_text(const std::optional<std::string>& existing,
                                                      const std::vector<PolicyLine>& lines) {
    std::string block;
    if (!lines.empty())
        block = std::string(policy_block_begin) + " (generated by reliant-syncconfig-dom0; replaced on every run)\n" +
                lines_text(lines) + std::string(policy_block_end) + "\n";
    if (!existing) return lines.empty() ? std::optional<std::string>() : std::optional<std::string>(block);
    // Keep every line outside our block; put the block where it was (or at the end).
    std::string out;
    bool inside = false, placed = false;
    std::string_view text = *existing;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (line.starts_with(policy_block_begin)) {
            if (inside || placed) return Error("two SyncConfig blocks in a volume's policy file");
            inside = true;
            continue;
        }
        if (line.starts_with(policy_block_end)) {
            if (!inside) return Error("an END of SyncConfig's block without its BEGIN in a volume's policy file");
            inside = false;
            placed = true;
            out += block;
            continue;
        }
        if (!inside) out.append(line).append("\n");
    }
    if (inside) return Error("SyncConfig's block in a volume's policy file has no END line");
    if (!placed) out += block;
    return std::optional<std::string>(std::move(out));
}

std::string custom_persist_key(std::string_view path) {
    const Digest digest = sha256(path);
    return "custom-persist.syncconfig-" + to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), 8));
}

std::string bind_dirs_text(const Dom0Target& target) {
    std::string out = "# Generated by reliant-syncconfig-dom0 for " + target.name +
                      ": install as /rw/config/qubes-bind-dirs.d/50_syncconfig.conf in it\n"
                      "# (or /etc/qubes-bind-dirs.d/50_syncconfig.conf in its template). Directories only.\n";
    for (const std::string& path : target.persist) out += "binds+=( '" + path + "' )\n";
    return out;
}

Result<Dom0Plan> plan_dom0(const Dom0Config& config, const Dom0Options& options) {
    std::vector<std::string> names{config.sender};
    for (const Dom0Target& target : config.targets) names.push_back(target.name);
    auto places = locate_qubes(options.volume_root, names);
    if (!places) return std::move(places).error();
    auto rules = policy_rules(config, *places);
    if (!rules) return std::move(rules).error();

    Dom0Plan plan;
    plan.qvm_features = options.qvm_features;
    for (const std::string& name : names) plan.existence_checks.push_back({options.qvm_features, "--", name});
    plan.files.push_back({options.policy_dir / std::string(dom0_policy_file_name), base_policy_text(rules->base)});
    for (const healer::VolumeId& volume : places->open_volumes) {
        const std::filesystem::path directory = options.volume_root / volume.name();
        auto existing = read_volume_policy(directory);
        if (!existing) return std::move(existing).error();
        const auto found = rules->volumes.find(volume);
        auto text = volume_policy_text(*existing, found == rules->volumes.end() ? std::vector<PolicyLine>()
                                                                                 : found->second);
        if (!text) return std::move(text).error().context(volume_policy_path(directory).string());
        if (*text && *text != *existing) plan.files.push_back({volume_policy_path(directory), std::move(**text)});
    }

    for (const Dom0Target& target : config.targets) {
        std::string list;
        for (const TargetProfile& p : target.profiles) list += (list.empty() ? "" : " ") + p.profile;
        plan.feature_calls.push_back(features_call(options, target.name, feature_of(qubesdb_profiles_key), list));
        for (const TargetProfile& p : target.profiles)
            plan.feature_calls.push_back(features_call(options, target.name,
                                                       feature_of(qubesdb_profile_prefix) + p.profile,
                                                       config.profiles.at(p.profile)));
        if (target.persist.empty()) continue;
        if (config.release == QubesRelease::r4_3) {
            for (const std::string& path : target.persist)
                plan.feature_calls.push_back(
                    features_call(options, target.name, custom_persist_key(path), "dir:root:root:0755:" + path));
            plan.notes.push_back("custom-persist entries take effect only where the custom-persist service is on "
                                 "(qvm-service -e " + target.name +
                                 " custom-persist), which also stops /home persisting unless declared: "
                                 "this tool does not turn it on");
        } else {
            plan.bind_dirs[target.name] = bind_dirs_text(target);
        }
    }
    for (const Dom0Target& target : config.targets) plan.owned[target.name];
    for (const auto& argv : plan.feature_calls)
        if (owned_feature(argv[3])) plan.owned[argv[2]].insert(argv[3]);
    return plan;
}

}  // namespace reliant::syncconfig

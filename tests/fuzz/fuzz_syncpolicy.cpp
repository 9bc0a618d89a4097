// The SyncConfig dom0 policy writer (syncconfig/dom0_config, dom0_plan,
// policy_v5). The input is a dom0 configuration; each qube it names is put in
// the base or on one of two volumes, chosen from the bytes of its name (so
// the fuzzer steers placement through the names it writes). Beyond memory
// safety: a configuration is refused with a reason, or it yields a policy
// whose every line reads back under the strict v5 reader, grants nothing
// wider than named qubes, names only the configuration's sender and targets,
// and keeps each line in the place of the qubes it names; it is refused
// exactly when a target is not where the sender is. Features and bind-dirs
// texts hold only what qubesd and bash take as one value.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "syncconfig/dom0_plan.h"
#include "syncconfig/profile.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;
using namespace reliant::syncconfig;

namespace {

std::optional<healer::VolumeId> place_of(const std::string& name) {
    unsigned sum = 0;
    for (char c : name) sum += static_cast<unsigned char>(c);
    if (sum % 3 == 0) return std::nullopt;
    return healer::VolumeId{0, static_cast<int>(sum % 3)};
}

void check_lines(const std::string& text, const Dom0Config& config, const QubePlaces& places,
                 const std::optional<healer::VolumeId>& place) {
    auto lines = parse_policy_text(text);
    if (!lines) fuzz::violated("a generated policy does not read back", text);
    std::set<std::string> targets;
    for (const Dom0Target& t : config.targets) targets.insert(t.name);
    for (const PolicyLine& line : *lines) {
        if (line.service != "qubes.SyncConfig") continue;  // another component's line, kept as it was
        if (!wide_grant(line).empty()) fuzz::violated("a generated line grants more than named qubes", text);
        if (line.source != config.sender) fuzz::violated("a line from another source than the sender", text);
        if (!targets.contains(line.target)) fuzz::violated("a line naming a qube outside the configuration", text);
        if (const std::string* d = line.param("default_target"); d && *d != line.target)
            fuzz::violated("default_target is not the line's target", text);
        if (places.where.at(line.source) != place || places.where.at(line.target) != place)
            fuzz::violated("a line in the place of other qubes", text);
    }
}

bool printable(const std::string& text) {
    for (char c : text)
        if (c < 0x20 || c > 0x7e) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto config = parse_dom0_config(input);
    if (!config) {
        if (config.error().message().empty()) fuzz::violated("a refusal without a reason");
        return 0;
    }
    QubePlaces places;
    bool crossing = false;
    places.where[config->sender] = place_of(config->sender);
    for (const Dom0Target& t : config->targets) {
        places.where[t.name] = place_of(t.name);
        crossing = crossing || places.where[t.name] != places.where[config->sender];
    }
    auto rules = policy_rules(*config, places);
    if (!rules) {
        if (!crossing) fuzz::violated("refused without a pair crossing a volume", rules.error().message());
        return 0;
    }
    if (crossing) fuzz::violated("a pair crossing a volume was accepted");
    check_lines(base_policy_text(rules->base), *config, places, std::nullopt);
    const std::string other = "qubes.Filecopy * a b ask\n";  // another component's line in the volume's file
    for (const auto& [volume, lines] : rules->volumes) {
        auto text = volume_policy_text(other, lines);
        if (!text || !*text) fuzz::violated("a volume's rules gave no file");
        if (!(*text)->starts_with(other)) fuzz::violated("another component's line was not kept", **text);
        check_lines(**text, *config, places, volume);
    }
    for (const Dom0Target& t : config->targets) {
        for (const std::string& path : t.persist) {
            if (!persist_path_problem(path).empty()) fuzz::violated("a refused persist path was kept", path);
            const std::string key = custom_persist_key(path);
            if (key.size() - std::string("custom-persist.").size() > 54) fuzz::violated("custom-persist key too long");
        }
        const std::string text = bind_dirs_text(t);
        std::size_t binds = 0;
        for (std::size_t at = text.find("binds+=( '"); at != std::string::npos; at = text.find("binds+=( '", at + 1))
            ++binds;
        if (binds != t.persist.size()) fuzz::violated("bind-dirs text holds another number of paths", text);
        for (const TargetProfile& p : t.profiles) {
            const std::string& value = config->profiles.at(p.profile);
            if (!printable(value) || value.size() > qubesdb_max_value)
                fuzz::violated("a profile value qubesd or QubesDB would refuse", value);
        }
    }
    return 0;
}

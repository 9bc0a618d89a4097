#include "syncconfig/profile.h"

#include <algorithm>
#include <charconv>

#include "common/process.h"

namespace reliant::syncconfig {

namespace {

bool any_match(const std::vector<std::string>& patterns, std::string_view path) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& pattern) { return glob_match(pattern, path); });
}

std::vector<std::string_view> words(std::string_view text) {
    // Space, tab and newline separate words; no other byte does, so an odd
    // byte in a value makes a word that names nothing.
    constexpr std::string_view blanks = " \t\n";
    std::vector<std::string_view> out;
    std::size_t at = 0;
    while (at < text.size()) {
        while (at < text.size() && blanks.find(text[at]) != std::string_view::npos) ++at;
        const std::size_t end = std::min(text.find_first_of(blanks, at), text.size());
        if (end > at) out.push_back(text.substr(at, end - at));
        at = end;
    }
    return out;
}

}  // namespace

bool Profile::allows(std::string_view path) const {
    return any_match(allow, path) && !any_match(deny, path) && !hard_denied(path);
}
bool Profile::is_secret(std::string_view path) const { return any_match(secret, path); }
bool Profile::may_execute(std::string_view path) const { return any_match(exec, path); }

bool hard_denied(std::string_view path) {
    return glob_match(".local/state/syncconfig/**", fold_case(path)) ||
           glob_match(".local/state/syncconfig", fold_case(path));
}

bool valid_profile_name(std::string_view name) {
    if (name.empty() || name.size() > max_profile_name) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

Result<Profile> parse_profile(std::string_view name, std::string_view value) {
    if (!valid_profile_name(name)) return Error("invalid profile name", EINVAL);
    if (value.size() > qubesdb_max_value) return Error("profile value longer than QubesDB allows", EINVAL);
    Profile profile;
    profile.name = std::string(name);
    for (std::string_view word : words(value)) {
        const std::size_t eq = word.find('=');
        if (eq == std::string_view::npos) return Error("profile token without '='", EINVAL);
        const std::string_view key = word.substr(0, eq), argument = word.substr(eq + 1);
        std::vector<std::string>* list = key == "allow"    ? &profile.allow
                                         : key == "deny"   ? &profile.deny
                                         : key == "secret" ? &profile.secret
                                         : key == "exec"   ? &profile.exec
                                                           : nullptr;
        if (list) {
            if (auto status = check_pattern(argument); !status)
                return Error("profile pattern: " + status.error().message(), EINVAL);
            list->emplace_back(argument);
            continue;
        }
        std::uint64_t number = 0;
        const auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), number);
        if (ec != std::errc() || end != argument.data() + argument.size() || argument.empty())
            return Error("profile limit is not a decimal number", EINVAL);
        // A profile may only lower the compiled-in ceilings.
        if (key == "max-file")
            profile.limits.max_file_bytes = std::min(number, hard_max_file_bytes);
        else if (key == "max-total")
            profile.limits.max_total_bytes = std::min(number, hard_max_total_bytes);
        else if (key == "max-entries")
            profile.limits.max_entries = static_cast<std::uint32_t>(std::min<std::uint64_t>(number, hard_max_entries));
        else
            return Error("unknown profile token", EINVAL);
    }
    if (profile.allow.empty()) return Error("profile allows no path", EINVAL);
    return profile;
}

Result<std::optional<std::string>> ExecQubesDb::read(std::string_view key) {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(10);
    options.max_output = qubesdb_max_value + 2;
    auto result = run_process({program_, "-r", std::string(key)}, options);
    if (!result) return std::move(result).error();
    if (result->timed_out || !result->exited) return Error("qubesdb-read " + result->describe(), EIO);
    if (result->exit_code == 1) return std::optional<std::string>();
    if (result->exit_code != 0) return Error("qubesdb-read " + result->describe(), EIO);
    std::string value = std::move(result->out);
    if (value.size() > qubesdb_max_value + 1) return Error("QubesDB value longer than QubesDB allows", EINVAL);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    return std::optional<std::string>(std::move(value));
}

Result<std::optional<Profile>> enabled_profile(QubesDb& db, std::string_view name) {
    if (!valid_profile_name(name)) return std::optional<Profile>();
    auto list = db.read(qubesdb_profiles_key);
    if (!list) return std::move(list).error();
    if (!*list) return std::optional<Profile>();
    // Only exact names count; anything else in the value (newlines, odd bytes)
    // simply names no profile.
    const auto names = words(**list);
    if (std::find(names.begin(), names.end(), name) == names.end()) return std::optional<Profile>();
    auto value = db.read(std::string(qubesdb_profile_prefix) + std::string(name));
    if (!value) return std::move(value).error();
    if (!*value) return std::optional<Profile>();
    auto profile = parse_profile(name, **value);
    if (!profile) return std::move(profile).error().context("profile from QubesDB");
    return std::optional<Profile>(std::move(*profile));
}

}  // namespace reliant::syncconfig

#include "syncconfig/dom0_config.h"

#include <algorithm>

#include "healer/python_values.h"
#include "syncconfig/profile.h"

namespace reliant::syncconfig {
namespace {

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

// The rest of the line after the first two words, trimmed: a profile's value.
std::string_view rest_after(std::string_view line, std::string_view second) {
    std::string_view rest = line.substr(static_cast<std::size_t>(second.data() - line.data()) + second.size());
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    return rest;
}

bool persist_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '+' || c == '@' || c == '-';
}

class Parser {
public:
    Status statement(std::string_view line) {
        const std::vector<std::string_view> w = words(line);
        const std::string_view keyword = w.front();
        if (keyword == "release") return release(w);
        if (keyword == "sender") return sender(w);
        if (keyword == "profile") return profile(line, w);
        if (keyword == "target") return target(w);
        if (keyword == "persist") return persist(w);
        return Error("unknown statement (release, sender, profile, target or persist)");
    }

    Result<Dom0Config> finish() {
        if (config_.sender.empty()) return Error("no sender line");
        if (config_.targets.empty()) return Error("no target line");
        if (find_target(config_.sender)) return Error("the sender " + config_.sender + " is also a target");
        for (const Dom0Target& target : config_.targets)
            for (const TargetProfile& p : target.profiles)
                if (!config_.profiles.contains(p.profile))
                    return Error("target " + target.name + " accepts profile " + p.profile +
                                 ", which no profile line defines");
        for (const auto& [name, lines] : persist_lines_)
            if (!find_target(name)) return Error("persist names " + name + ", which no target line declares");
        for (auto& [name, paths] : persist_lines_) find_target(name)->persist = paths;
        return std::move(config_);
    }

private:
    Dom0Target* find_target(std::string_view name) {
        for (Dom0Target& t : config_.targets)
            if (t.name == name) return &t;
        return nullptr;
    }

    Status release(const std::vector<std::string_view>& w) {
        if (w.size() != 2 || (w[1] != "4.2" && w[1] != "4.3")) return Error("release takes 4.2 or 4.3");
        if (seen_release_) return Error("a second release line");
        seen_release_ = true;
        config_.release = w[1] == "4.2" ? QubesRelease::r4_2 : QubesRelease::r4_3;
        return success();
    }

    Status sender(const std::vector<std::string_view>& w) {
        if (w.size() != 2) return Error("sender takes one qube name");
        if (!config_.sender.empty()) return Error("a second sender line (one sender per configuration)");
        if (auto problem = qube_name_problem(w[1]); !problem.empty()) return Error("sender: the name " + problem);
        config_.sender = w[1];
        return success();
    }

    Status profile(std::string_view line, const std::vector<std::string_view>& w) {
        if (w.size() < 3) return Error("profile takes a name and its tokens");
        const std::string name(w[1]);
        if (!valid_profile_name(name)) return Error("profile name not of 1..31 bytes [a-z0-9-]");
        if (config_.profiles.contains(name)) return Error("profile " + name + " defined twice");
        if (config_.profiles.size() >= dom0_max_profiles) return Error("more profiles than allowed (32)");
        const std::string value(rest_after(line, w[1]));
        // The receiver's own parser: what it would refuse is refused here,
        // before the target is ever told about it.
        if (auto parsed = parse_profile(name, value); !parsed)
            return std::move(parsed).error().context("profile " + name);
        config_.profiles.emplace(name, value);
        return success();
    }

    Status target(const std::vector<std::string_view>& w) {
        if (w.size() < 3) return Error("target takes a qube name and at least one profile");
        Dom0Target t;
        t.name = w[1];
        if (auto problem = qube_name_problem(t.name); !problem.empty()) return Error("target: the name " + problem);
        if (find_target(t.name)) return Error("target " + t.name + " declared twice");
        if (config_.targets.size() >= dom0_max_targets) return Error("more targets than allowed (64)");
        for (std::size_t i = 2; i < w.size(); ++i) {
            TargetProfile p;
            std::string_view word = w[i];
            if (const std::size_t colon = word.find(':'); colon != std::string_view::npos) {
                const std::string_view action = word.substr(colon + 1);
                if (action == "allow")
                    p.action = PolicyAction::allow;
                else if (action != "ask")
                    return Error("a profile's action is :ask or :allow");
                word = word.substr(0, colon);
            }
            p.profile = word;
            if (!valid_profile_name(p.profile)) return Error("profile name not of 1..31 bytes [a-z0-9-]");
            for (const TargetProfile& other : t.profiles)
                if (other.profile == p.profile) return Error("target " + t.name + " lists profile twice");
            t.profiles.push_back(p);
        }
        config_.targets.push_back(std::move(t));
        return success();
    }

    Status persist(const std::vector<std::string_view>& w) {
        if (w.size() != 3) return Error("persist takes a target and one absolute directory");
        const std::string name(w[1]);
        if (auto problem = persist_path_problem(w[2]); !problem.empty())
            return Error("persist path " + problem);
        auto& paths = persist_lines_[name];
        if (std::find(paths.begin(), paths.end(), w[2]) != paths.end()) return Error("persist path given twice");
        if (paths.size() >= dom0_max_persist) return Error("more persist paths for one target than allowed (16)");
        paths.emplace_back(w[2]);
        return success();
    }

    Dom0Config config_;
    bool seen_release_ = false;
    std::map<std::string, std::vector<std::string>> persist_lines_;
};

}  // namespace

std::string qube_name_problem(std::string_view name) {
    if (name == "dom0") return "dom0 is not a qube SyncConfig pushes from or to";
    return healer::qube_name_problem(name);
}

std::string persist_path_problem(std::string_view path) {
    if (path.size() > persist_path_max) return "is longer than 255 bytes";
    if (!path.starts_with("/")) return "is not absolute";
    if (path == "/") return "is the root";
    if (path.ends_with("/")) return "ends with /";
    std::size_t depth = 0, start = 1;
    for (std::size_t i = 1; i <= path.size(); ++i) {
        if (i < path.size() && path[i] != '/') {
            if (!persist_char(path[i])) return "holds a byte outside [A-Za-z0-9._+@-] and /";
            continue;
        }
        const std::string_view part = path.substr(start, i - start);
        if (part.empty() || part == "." || part == "..") return "has an empty, . or .. component";
        ++depth;
        start = i + 1;
    }
    if (depth > persist_path_max_depth) return "is deeper than 16 components";
    for (std::string_view refused : {"/home", "/usr/local", "/rw", "/proc", "/sys", "/dev", "/run", "/tmp"})
        if (path == refused || (path.starts_with(refused) && path[refused.size()] == '/'))
            return "is under " + std::string(refused) + ", which is persistent already or never on disk";
    return {};
}

Result<Dom0Config> parse_dom0_config(std::string_view text) {
    if (text.size() > dom0_config_max_bytes) return Error("the configuration is larger than 64 KiB");
    Parser parser;
    int number = 0;
    while (!text.empty()) {
        ++number;
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        for (char c : line)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || static_cast<unsigned char>(c) >= 0x7f)
                return Error("a control or non-ASCII byte").at("config", number);
        const std::vector<std::string_view> w = words(line);
        if (w.empty() || w.front().starts_with("#")) continue;
        if (auto s = parser.statement(line); !s) return std::move(s).error().at("config", number);
    }
    return parser.finish();
}

}  // namespace reliant::syncconfig

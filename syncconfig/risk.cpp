#include "syncconfig/risk.h"

#include <algorithm>
#include <array>

#include "syncconfig/paths.h"

namespace reliant::syncconfig {

namespace {

struct Rule {
    const char* pattern;
    const char* note;
    std::vector<const char*> keys;  // lower-case substrings of risky lines
};

const std::vector<Rule>& rules() {
    static const std::vector<Rule> table = {
        {".bashrc", "shell start-up file: runs in every new shell", {}},
        {".bash_profile", "shell start-up file: runs at login", {}},
        {".bash_login", "shell start-up file: runs at login", {}},
        {".bash_logout", "shell file: runs at logout", {}},
        {".profile", "shell start-up file: runs at login", {}},
        {".zshrc", "shell start-up file: runs in every new shell", {}},
        {".zprofile", "shell start-up file: runs at login", {}},
        {".zshenv", "shell start-up file: runs for every zsh", {}},
        {".config/fish/**", "fish configuration: runs in every new shell", {}},
        {".xprofile", "X session file: runs at login", {}},
        {".xinitrc", "X session file: runs at login", {}},
        {".xsessionrc", "X session file: runs at login", {}},
        {".gitconfig",
         "git configuration: can name commands git runs",
         {"sshcommand", "fsmonitor", "pager", "hookspath", "helper", "editor", "[alias", "!", "[include", "path",
          "insteadof", "textconv", "[filter", "[diff", "askpass"}},
        {".config/git/config",
         "git configuration: can name commands git runs",
         {"sshcommand", "fsmonitor", "pager", "hookspath", "helper", "editor", "[alias", "!", "[include", "path",
          "insteadof", "textconv", "[filter", "[diff", "askpass"}},
        {".ssh/config", "ssh configuration: can run commands", {"proxycommand", "localcommand", "match exec"}},
        {".config/autostart/**", "autostart entry: runs at every login", {"exec"}},
        {".config/systemd/user/**", "systemd user unit: runs programs as you", {"exec"}},
        {".vimrc", "vim configuration: can run commands", {"!", "system(", "autocmd"}},
        {".config/nvim/**", "neovim configuration: can run commands", {"!", "system(", "autocmd", "os.execute"}},
        {".local/bin/**", "a program on your PATH", {}},
        {".inputrc", "readline configuration", {}},
        {".config/environment.d/**", "session environment: can change PATH or LD_PRELOAD", {"path", "ld_"}},
        {".pam_environment", "session environment: can change PATH or LD_PRELOAD", {"path", "ld_"}},
    };
    return table;
}

}  // namespace

std::vector<std::string> risk_notes(std::string_view path, std::string_view content, bool executable) {
    std::vector<std::string> notes;
    for (const Rule& rule : rules())
        if (glob_match(rule.pattern, path)) notes.emplace_back(rule.note);
    if (executable) notes.emplace_back("executable mode");
    std::size_t risky = 0;
    std::size_t at = 0;
    while (at < content.size()) {
        const std::size_t nl = std::min(content.find('\n', at), content.size());
        if (risky_line(path, content.substr(at, nl - at))) ++risky;
        at = nl + 1;
    }
    if (risky > 0) notes.push_back(std::to_string(risky) + " line(s) with keys that run commands (marked !)");
    return notes;
}

bool risky_line(std::string_view path, std::string_view line) {
    const std::string lower = fold_case(std::string(line));
    for (const Rule& rule : rules()) {
        if (!glob_match(rule.pattern, path)) continue;
        for (const char* key : rule.keys)
            if (lower.find(key) != std::string::npos) return true;
    }
    return false;
}

}  // namespace reliant::syncconfig

// Writes seed inputs for fuzz-syncstream, fuzz-syncpath, fuzz-syncdisplay and
// fuzz-syncpolicy into SEEDS/<target>: valid streams built with the real
// encoder (so the fuzzer starts from inputs that reach the blobs and the
// trailer), and pattern/path pairs.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "syncconfig/wire.h"

using namespace reliant::syncconfig;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz-syncseeds DIR\n";
        return 2;
    }
    const std::filesystem::path root = argv[1];
    std::filesystem::create_directories(root / "syncstream");
    std::filesystem::create_directories(root / "syncpath");
    std::filesystem::create_directories(root / "syncdisplay");
    std::filesystem::create_directories(root / "syncpolicy");
    const std::vector<std::vector<std::pair<std::string, std::string>>> sets = {
        {{".bashrc", "alias ls='ls -F'\n"}},
        {{".config/git/config", "[core]\n\tsshCommand = ssh\n"}, {".gitconfig", "[user]\nname = a\n"}},
        {{"a", ""}, {"b/c", "x"}, {"b/d", "yy"}},
    };
    int n = 0;
    for (const auto& set : sets) {
        std::vector<Entry> entries;
        std::vector<std::string> contents;
        for (const auto& [path, content] : set) {
            Entry entry;
            entry.path = path;
            entry.mode = n % 2 ? 0600 : 0644;
            entries.push_back(entry);
            contents.push_back(content);
        }
        const std::string stream = encode_stream(static_cast<std::uint64_t>(n), "git", entries, contents);
        for (char limits : {'\0', '\1'}) {
            std::ofstream(root / "syncstream" / ("seed-" + std::to_string(n++)), std::ios::binary)
                << limits << stream;
        }
    }
    const std::vector<std::string> paths = {".config/git/**\n.config/git/config", "*\n.bashrc",
                                            "**/*.vim\na/b/c.vim", "a*b*c\naXbYc", ".x/../y\n/etc/passwd"};
    for (std::size_t i = 0; i < paths.size(); ++i)
        std::ofstream(root / "syncpath" / ("seed-" + std::to_string(i)), std::ios::binary) << paths[i];
    using namespace std::string_literals;  // "..."s keeps the NUL that separates old and new
    const std::vector<std::string> texts = {"[alias]\n\tx = !sh\n\0[alias]\n\ty = !rm -rf ~\n"s,
                                            "a\nb\nc\n\0a\n\x1b[2Jb\nc\xe2\x80\xae\n"s,
                                            "line\twith tab\r\n\0caf\xc3\xa9 \xe2\x80\x8b \xc0\xae\xff\n"s};
    for (std::size_t i = 0; i < texts.size(); ++i)
        std::ofstream(root / "syncdisplay" / ("seed-" + std::to_string(i)), std::ios::binary) << texts[i];
    // dom0 configurations (syncconfig/dom0_config.h) for fuzz-syncpolicy.
    const std::vector<std::string> configs = {
        "release 4.3\nsender config-mgmt\nprofile git allow=.gitconfig allow=.config/git/**\n"
        "profile shell allow=.bashrc exec=.local/bin/* allow=.local/bin/*\ntarget work git shell:allow\n"
        "target personal git:ask\npersist work /etc/NetworkManager/system-connections\n",
        "release 4.2\nsender mgmt\nprofile vim allow=.vimrc deny=.vim/secret secret=.netrc max-file=4096\n"
        "target ab vim\ntarget ba vim:allow\npersist ab /var/lib/tor\npersist ab /opt/x\n",
        "# cross\nsender c\nprofile p allow=a\ntarget d p\ntarget e p\n",
    };
    for (std::size_t i = 0; i < configs.size(); ++i)
        std::ofstream(root / "syncpolicy" / ("seed-" + std::to_string(i)), std::ios::binary) << configs[i];
    return 0;
}

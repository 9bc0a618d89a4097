// Writes seed inputs for fuzz-syncstream and fuzz-syncpath into
// SEEDS/syncstream and SEEDS/syncpath: valid streams built with the real
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
    return 0;
}

// Helpers for the SyncConfig tests: building (and corrupting) streams.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "syncconfig/wire.h"

namespace reliant::syncconfig::testing {

struct File {
    std::string path;
    std::uint16_t mode = 0644;
    std::string content;
    bool secret = false;
};

// A stream for `files` (sorted by path unless told not to), with byte-level
// patch helpers for crafting hostile variants. Offsets are fixed by the format.
class Stream {
public:
    explicit Stream(std::vector<File> files, bool sort = true, std::string profile = "test",
                    std::uint64_t generation = 1)
        : files_(std::move(files)), profile_(std::move(profile)) {
        if (sort)
            std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.path < b.path; });
        std::vector<Entry> entries;
        std::vector<std::string> contents;
        for (const File& f : files_) {
            Entry e;
            e.path = f.path;
            e.mode = f.mode;
            e.secret = f.secret;
            entries.push_back(e);
            contents.push_back(f.content);
        }
        bytes_ = encode_stream(generation, profile_, entries, contents);
    }
    const std::string& bytes() const { return bytes_; }
    std::size_t entry_offset(std::size_t index) const {
        std::size_t at = header_size + 1 + profile_.size();
        for (std::size_t i = 0; i < index; ++i) at += entry_fixed_size + files_[i].path.size();
        return at;
    }
    std::size_t blob_offset(std::size_t index) const {
        std::size_t at = entry_offset(files_.size());
        for (std::size_t i = 0; i < index; ++i) at += files_[i].content.size();
        return at;
    }
    Stream& patch(std::size_t at, std::string_view with) {
        bytes_.replace(at, with.size(), with);
        return *this;
    }
    Stream& patch_u(std::size_t at, std::uint64_t value, int size) {
        for (int i = 0; i < size; ++i) bytes_[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
        return *this;
    }
    std::string flip(std::size_t at) const {
        std::string copy = bytes_;
        copy[at] = static_cast<char>(copy[at] ^ 0x01);
        return copy;
    }

private:
    std::vector<File> files_;
    std::string profile_;
    std::string bytes_;
};

}  // namespace reliant::syncconfig::testing

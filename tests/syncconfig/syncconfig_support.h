// Helpers for the SyncConfig tests: building (and corrupting) streams.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include "common/process.h"
#include "syncconfig/wire.h"
#include "test_support.h"

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

// Everything a test needs to play config-mgmt and one target "work": the
// target's home, its QubesDB (the fake-qubesdb stand-in), and the fake
// qrexec-client-vm with its policy and the service wrapper, all under one
// temporary directory.
class Target {
public:
    Target();
    const std::filesystem::path& root() const { return dir_.path(); }
    std::filesystem::path home() const { return root() / "home"; }
    std::filesystem::path state() const { return home() / ".local/state/syncconfig"; }
    std::filesystem::path bin() const { return root() / "bin"; }
    std::filesystem::path source() const { return root() / "mgmt"; }
    std::string qubesdb_read() const { return (bin() / "qubesdb-read").string(); }

    // dom0's side: enable a profile (its QubesDB value) for the target.
    void enable(const std::string& name, const std::string& value, const std::string& list = "");
    void set_qubesdb(const std::string& key, const std::string& value);
    void remove_qubesdb(const std::string& key);
    void set_deadline_ms(int ms) const;

    // Runs `receive PROFILE` with `stream` on stdin, as qrexec would.
    ProcessResult receive(const std::string& stream, const std::string& profile = "test",
                          const std::vector<std::string>& extra = {}) const;
    // Runs another subcommand with the test's home (and QubesDB).
    ProcessResult run(std::vector<std::string> arguments, const std::vector<std::string>& environment = {}) const;
    std::vector<std::string> pending() const;

    void write_home(const std::string& path, const std::string& content, mode_t mode = 0644) const;

private:
    reliant::testing::TempDir dir_;
};

// A snapshot of a tree: path -> type, mode, link target or content. Two
// equal snapshots mean byte-identical files (and links, and modes).
std::map<std::string, std::string> snapshot(const std::filesystem::path& root, const std::string& skip = "");

// Runs argv on a new pseudo-terminal (its controlling terminal, so /dev/tty
// is the pty) with `input` typed at it; returns everything it printed and
// its exit status. Killed after a generous hang bound.
struct TtyRun {
    int status = -1;  // exit status, or 128 + signal
    std::string output;
};
TtyRun run_on_tty(const std::vector<std::string>& argv, const std::string& input,
                  const std::vector<std::string>& environment = {});

std::string tool();

}  // namespace reliant::syncconfig::testing

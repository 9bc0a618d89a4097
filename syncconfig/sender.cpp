#include "syncconfig/sender.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/beneath.h"
#include "common/process.h"
#include "syncconfig/display.h"
#include "syncconfig/sha256.h"
#include "syncconfig/state.h"

namespace reliant::syncconfig {

namespace {

struct Source {
    std::string content;
    mode_t mode = 0644;
};

Status walk(int directory, const std::string& prefix, int depth, std::map<std::string, Source>& files) {
    if (depth > static_cast<int>(PathLimits{}.max_depth)) return Error("source tree deeper than allowed", ELOOP);
    const int copy = ::dup(directory);
    if (copy < 0) return Error::from_errno("dup");
    DIR* dir = ::fdopendir(copy);
    if (!dir) {
        ::close(copy);
        return Error::from_errno("listing a source directory");
    }
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    for (const std::string& name : names) {
        const std::string path = prefix.empty() ? name : prefix + "/" + name;
        const std::string shown = sanitize_line(path, 200);
        if (auto s = check_path(path); !s) return Error(shown + ": " + s.error().message(), EINVAL);
        struct stat st {};
        if (::fstatat(directory, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            return Error::from_errno("inspecting " + shown);
        if (S_ISDIR(st.st_mode)) {
            UniqueFd sub(::openat(directory, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) return Error::from_errno("opening " + shown);
            if (auto s = walk(sub.get(), path, depth + 1, files); !s) return s;
        } else if (S_ISREG(st.st_mode)) {
            auto content = read_regular(directory, name, hard_max_file_bytes);
            if (!content) return std::move(content).error().context(shown);
            const bool exec = (st.st_mode & 0100) != 0;
            const bool others = (st.st_mode & 0044) != 0;
            files[path] = {std::move(*content), static_cast<mode_t>(exec ? (others ? 0755 : 0700)
                                                                         : (others ? 0644 : 0600))};
        } else {
            return Error(shown + ": not a regular file or directory (symlinks and special files are not sent)",
                         EINVAL);
        }
    }
    return success();
}

Status walk_root(const std::string& root, std::map<std::string, Source>& files, bool required) {
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT && !required) return success();
        return Error::from_errno("opening " + root);
    }
    return walk(fd.get(), "", 1, files);
}

std::string mode_text(mode_t mode) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode));
    return buffer;
}

}  // namespace

Result<Collected> collect(const std::string& source, const std::string& profile, const std::string& target,
                          const std::vector<std::string>& secret_patterns) {
    std::map<std::string, Source> files;
    if (auto s = walk_root(source + "/profiles/" + profile, files, true); !s) return std::move(s).error();
    if (auto s = walk_root(source + "/overrides/" + target + "/" + profile, files, false); !s)
        return std::move(s).error();
    if (files.empty()) return Error("profile " + profile + " has no files", ENOENT);
    Collected out;
    std::map<std::string, std::string> folded;
    std::uint64_t total = 0;
    for (auto& [key, file] : files) {
        const std::string path = key;  // clang 14: no lambda capture of a structured binding
        const std::string shown = sanitize_line(path, 200);
        if (!folded.emplace(fold_case(path), path).second)
            return Error(shown + ": another file differs from it only in case", EINVAL);
        Entry entry;
        entry.path = path;
        entry.mode = static_cast<std::uint16_t>(file.mode);
        entry.secret = std::any_of(secret_patterns.begin(), secret_patterns.end(),
                                   [&](const std::string& p) { return glob_match(p, path); });
        total += file.content.size();
        out.entries.push_back(std::move(entry));
        out.contents.push_back(std::move(file.content));
    }
    for (const auto& [key, path] : folded)
        for (std::size_t slash = key.find('/'); slash != std::string::npos; slash = key.find('/', slash + 1))
            if (folded.contains(key.substr(0, slash)))
                return Error(sanitize_line(path, 200) + ": a file of the same name (in another case) exists", EINVAL);
    if (out.entries.size() > hard_max_entries) return Error("more files than a stream can carry", E2BIG);
    if (total > hard_max_total_bytes) return Error("more bytes than a stream can carry", E2BIG);
    return out;
}

int push(const PushOptions& options, std::string& out) {
    int failures = 0;
    for (const std::string& target : options.targets) {
        if (!valid_qube_name(target)) {
            out += "invalid target name (skipped)\n";
            ++failures;
            continue;
        }
        auto collected = collect(options.source, options.profile, target, options.secret_patterns);
        if (!collected) {
            out += target + ": not sent: " + collected.error().describe() + "\n";
            ++failures;
            continue;
        }
        std::uint64_t total = 0;
        for (const std::string& c : collected->contents) total += c.size();
        if (options.dry_run) {
            out += target + ": would send profile " + options.profile + ", " +
                   std::to_string(collected->entries.size()) + " file(s), " + std::to_string(total) + " bytes\n";
            for (std::size_t i = 0; i < collected->entries.size(); ++i) {
                const Entry& e = collected->entries[i];
                out += "  " + mode_text(e.mode) + " " + std::to_string(collected->contents[i].size()) + " " +
                       to_hex(sha256(collected->contents[i])) + " " + sanitize_line(e.path, 512) +
                       (e.secret ? " (secret)" : "") + "\n";
            }
            continue;
        }
        const std::string stream = encode_stream(0, options.profile, collected->entries, collected->contents);
        ProcessOptions process;
        process.input = std::as_bytes(std::span<const char>(stream.data(), stream.size()));
        process.timeout = options.timeout;
        process.max_output = 4096;
        auto result = run_process({options.qrexec_client, target, std::string(service_name) + "+" + options.profile},
                                  process);
        if (!result) {
            out += target + ": not sent: " + result.error().describe() + "\n";
            ++failures;
            continue;
        }
        // Only the fixed-size response is interpreted; qrexec-client-vm's
        // stderr may carry the target's words and is not shown.
        auto response = decode_response(result->out);
        if (!response) {
            out += target + ": no valid response (" +
                   (result->exited && result->exit_code == 126 ? std::string("call refused by policy")
                                                               : result->describe()) +
                   ")\n";
            ++failures;
            continue;
        }
        if (response->status == ResponseStatus::staged) {
            std::string id;
            for (std::uint8_t b : response->id) {
                static constexpr char digits[] = "0123456789abcdef";
                id += digits[b >> 4];
                id += digits[b & 15];
            }
            out += target + ": staged " + std::to_string(collected->entries.size()) + " file(s), " +
                   std::to_string(total) + " bytes, for review in the target (transaction " + id + ")\n";
        } else {
            out += target + ": " + std::string(describe(response->status)) + ": " +
                   std::string(describe(response->refusal)) + "\n";
            ++failures;
        }
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace reliant::syncconfig

// Debouncing the split on qubesd's saves. qubesd rewrites the whole
// qubes.xml (a new file renamed over the old) on every change, often several
// times in a row (a qube start saves more than once). The split waits until
// the file has been quiet for a while, but never longer than a bound, so
// that a power cut loses at most the last seconds; after splitting it looks
// again and splits once more if the file changed meanwhile, because a save
// that lands while the service runs does not start it a second time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "common/error.h"

namespace reliant::session {

// What changes whenever qubesd saves: a rename gives a new inode, an
// in-place write a new mtime/ctime or size.
struct FileSignature {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const FileSignature&) const = default;
};

FileSignature file_signature(const std::filesystem::path& path);

class Clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual time_point now() = 0;
    // Returns early (false) when the process was asked to stop.
    virtual bool sleep_for(std::chrono::milliseconds duration) = 0;
};

struct DebounceSettings {
    std::chrono::milliseconds quiet{2000};      // no change for this long
    std::chrono::milliseconds max_delay{30000};  // but split at the latest after this
    std::chrono::milliseconds poll{200};
};

enum class DebounceOutcome { done, stopped };

// Waits for quiet, calls `split`, and repeats while the file changed during
// the split. Returns the last split's status, or `stopped` when the clock
// reports a stop request while waiting (the shutdown split takes over).
struct DebounceResult {
    DebounceOutcome outcome = DebounceOutcome::done;
    Status status;
    int splits = 0;
};

DebounceResult run_debounced(const std::function<FileSignature()>& probe, Clock& clock,
                             const DebounceSettings& settings, const std::function<Status()>& split);

}  // namespace reliant::session

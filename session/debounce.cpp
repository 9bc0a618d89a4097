#include "session/debounce.h"

#include <sys/stat.h>

namespace reliant::session {
namespace {

std::int64_t nanoseconds(const timespec& time) {
    return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

// Waits until the signature stayed the same for settings.quiet, or until
// settings.max_delay has passed since `started`. Returns false on a stop.
bool wait_until_quiet(const std::function<FileSignature()>& probe, Clock& clock,
                      const DebounceSettings& settings, Clock::time_point started) {
    FileSignature last = probe();
    auto last_change = clock.now();
    for (;;) {
        const auto now = clock.now();
        if (now - last_change >= settings.quiet || now - started >= settings.max_delay) return true;
        if (!clock.sleep_for(settings.poll)) return false;
        const FileSignature current = probe();
        if (current != last) {
            last = current;
            last_change = clock.now();
        }
    }
}

}  // namespace

FileSignature file_signature(const std::filesystem::path& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) return {};
    return {true,
            status.st_dev,
            status.st_ino,
            static_cast<std::int64_t>(status.st_size),
            nanoseconds(status.st_mtim),
            nanoseconds(status.st_ctim)};
}

DebounceResult run_debounced(const std::function<FileSignature()>& probe, Clock& clock,
                             const DebounceSettings& settings, const std::function<Status()>& split) {
    DebounceResult result;
    for (;;) {
        if (!wait_until_quiet(probe, clock, settings, clock.now())) {
            result.outcome = DebounceOutcome::stopped;
            return result;
        }
        const FileSignature before = probe();
        result.status = split();
        ++result.splits;
        if (probe() == before) return result;
    }
}

}  // namespace reliant::session

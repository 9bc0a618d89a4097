#include "syncconfig/receiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>

#include "common/beneath.h"
#include "common/log.h"
#include "syncconfig/state.h"

namespace reliant::syncconfig {

namespace {

class StagingSink : public BlobSink {
public:
    explicit StagingSink(int directory) : directory_(directory) {}
    Status begin(std::size_t index, const Entry&) override {
        current_.reset(::openat(directory_, ("blob-" + std::to_string(index)).c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!current_) return Error::from_errno("creating a staged file");
        return success();
    }
    Status write(std::string_view chunk) override {
        while (!chunk.empty()) {
            const ssize_t n = ::write(current_.get(), chunk.data(), chunk.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error::from_errno("writing a staged file");
            chunk.remove_prefix(static_cast<std::size_t>(n));
        }
        return success();
    }
    Status end(std::size_t) override {
        auto status = sync_fd(current_.get(), "a staged file");
        current_.reset();
        return status;
    }

private:
    int directory_;
    UniqueFd current_;
};

ReceiveResult refuse(ResponseStatus status, Refusal refusal, std::string reason) {
    ReceiveResult result;
    result.response.status = status;
    result.response.refusal = refusal;
    result.reason = std::move(reason);
    return result;
}

ReceiveResult refused(const Outcome& outcome) {
    const ResponseStatus status = outcome.refusal == Refusal::busy ? ResponseStatus::busy : ResponseStatus::refused;
    return refuse(status, outcome.refusal, std::string(describe(outcome.refusal)) + ": " + outcome.reason);
}

ReceiveResult failed(const Error& error) {
    return refuse(ResponseStatus::failed, Refusal::internal, error.describe());
}

}  // namespace

Result<std::size_t> FdSource::read(std::span<char> buffer) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ -
                                                                                std::chrono::steady_clock::now());
        if (left.count() <= 0) return Error("no data before the deadline", ETIMEDOUT);
        pollfd pfd{fd_, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return Error::from_errno("poll on the stream");
        if (ready == 0) return Error("no data before the deadline", ETIMEDOUT);
        const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return Error::from_errno("reading the stream");
        return static_cast<std::size_t>(n);
    }
}

int exit_status(ResponseStatus status) {
    switch (status) {
    case ResponseStatus::staged: return 0;
    case ResponseStatus::refused: return 2;
    case ResponseStatus::busy: return 3;
    case ResponseStatus::profile_not_enabled: return 4;
    case ResponseStatus::failed: return 5;
    }
    return 5;
}

ReceiveResult receive(int input, const ReceiveOptions& options) {
    const auto deadline = std::chrono::steady_clock::now() + options.deadline;
    if (!valid_profile_name(options.argument))
        return refuse(ResponseStatus::refused, Refusal::bad_profile, "service argument is not a profile name");

    // 1. Enablement, before reading a byte of the stream.
    auto profile = enabled_profile(*options.qubesdb, options.argument);
    if (!profile) return failed(profile.error());
    if (!*profile)
        return refuse(ResponseStatus::profile_not_enabled, Refusal::profile_not_enabled,
                      "profile not enabled for this qube (QubesDB)");

    // 2. State, lock, flood control.
    auto state = StateDir::open(options.home);
    if (!state) return failed(state.error());
    if (auto locked = state->lock(); !locked) {
        if (locked.error().code() == EWOULDBLOCK)
            return refuse(ResponseStatus::busy, Refusal::busy, "another SyncConfig command holds the lock");
        return failed(locked.error());
    }
    auto incoming = state->sub("incoming");
    if (!incoming) return failed(incoming.error());
    auto pending_root = state->sub("pending");
    if (!pending_root) return failed(pending_root.error());
    // A receive killed earlier left its incoming directory: nobody owns it now.
    {
        const int copy = ::dup(incoming->get());
        if (DIR* dir = copy >= 0 ? ::fdopendir(copy) : nullptr) {
            std::vector<std::string> stale;
            while (dirent* entry = ::readdir(dir))
                if (valid_id(entry->d_name)) stale.emplace_back(entry->d_name);
            ::closedir(dir);
            for (const auto& name : stale) (void)remove_entry(incoming->get(), name);
        } else if (copy >= 0) {
            ::close(copy);
        }
    }
    auto ids = state->pending_ids();
    if (!ids) return failed(ids.error());
    if (ids->size() >= options.max_pending)
        return refuse(ResponseStatus::busy, Refusal::busy,
                      std::to_string(ids->size()) + " transactions already await review");

    // 3. Manifest: grammar and limits (the decoder), then the profile.
    FdSource source(input, deadline);
    StreamDecoder decoder(source, (*profile)->limits);
    Manifest manifest;
    if (Outcome outcome = decoder.read_manifest(manifest); !outcome.ok()) return refused(outcome);
    if (manifest.profile != options.argument)
        return refused(Outcome::refuse(Refusal::wrong_profile, "the stream's profile field"));
    for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
        const Entry& entry = manifest.entries[i];
        if (!(*profile)->allows(entry.path))
            return refused(Outcome::refuse(Refusal::not_in_profile, "entry " + std::to_string(i)));
        if (executable_mode(entry.mode) && !(*profile)->may_execute(entry.path))
            return refused(Outcome::refuse(Refusal::bad_mode, "entry " + std::to_string(i) + ": executable mode"));
    }
    struct statvfs fs {};
    if (::fstatvfs(incoming->get(), &fs) != 0) return failed(Error::from_errno("fstatvfs of the state directory"));
    const unsigned __int128 free_bytes = static_cast<unsigned __int128>(fs.f_bavail) * fs.f_frsize;
    if (free_bytes < static_cast<unsigned __int128>(manifest.total_size) + options.reserve_bytes)
        return refused(Outcome::refuse(Refusal::no_space, std::to_string(manifest.total_size) + " bytes"));

    // 4. Content, into incoming/<id>, hashed as it streams.
    const std::string id = random_id();
    if (::mkdirat(incoming->get(), id.c_str(), 0700) != 0)
        return failed(Error::from_errno("creating a staging directory"));
    auto discard = [&](ReceiveResult result) {
        (void)remove_entry(incoming->get(), id);
        return result;
    };
    auto staging = open_directory_beneath(incoming->get(), id, false);
    if (!staging) return discard(failed(staging.error()));
    StagingSink sink(staging->get());
    if (Outcome outcome = decoder.read_blobs(manifest, sink); !outcome.ok()) return discard(refused(outcome));

    // 5. Commit: manifest and metadata, then one rename into pending/.
    const std::string source_name = valid_qube_name(options.remote_domain) ? options.remote_domain : "unknown";
    if (auto s = write_new_file(staging->get(), "manifest", decoder.manifest_bytes(), 0600); !s)
        return discard(failed(s.error()));
    if (auto s = write_new_file(staging->get(), "meta", "source " + source_name + "\n", 0600); !s)
        return discard(failed(s.error()));
    if (auto s = sync_fd(staging->get(), "the staging directory"); !s) return discard(failed(s.error()));
    if (::renameat(incoming->get(), id.c_str(), pending_root->get(), id.c_str()) != 0)
        return discard(failed(Error::from_errno("moving a transaction to pending")));
    if (auto s = sync_fd(pending_root->get(), "the pending directory"); !s) return failed(s.error());
    (void)sync_fd(incoming->get(), "the incoming directory");

    ReceiveResult result;
    result.response.status = ResponseStatus::staged;
    for (std::size_t i = 0; i < 16; ++i)
        result.response.id[i] = static_cast<std::uint8_t>(std::stoi(id.substr(2 * i, 2), nullptr, 16));
    result.id = id;
    result.reason = std::to_string(manifest.entries.size()) + " file(s), " + std::to_string(manifest.total_size) +
                    " bytes staged";
    return result;
}

}  // namespace reliant::syncconfig

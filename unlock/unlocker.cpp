#include "unlock/unlocker.h"

#include <algorithm>

#include "common/log.h"

namespace reliant::unlock {
namespace {

std::string prompt_text(unsigned attempt, unsigned tries) {
    return "reliant passphrase (" + std::to_string(attempt) + "/" + std::to_string(tries) + "):";
}

}  // namespace

UnlockSettings UnlockSettings::from(const BootOptions& options) {
    UnlockSettings settings;
    settings.tries = options.tries;
    settings.prompt_timeout = std::chrono::seconds(options.timeout_seconds);
    settings.fsck = options.fsck;
    settings.dvl = options.dvl;
    settings.discard = options.discard;
    return settings;
}

UnlockReport Unlocker::run(const BlockDevice& device) {
    if (auto ready = opener_.ready(); !ready) {
        log::error("Shufflecake is not available: ", ready.error());
        messages_.show(module_missing_message);
        return {Outcome::unavailable, 0, std::move(ready).error()};
    }
    auto secret = SecretBuffer::create();
    if (!secret) return {Outcome::error, 0, std::move(secret).error()};
    bool shufflecake_failed = false;  // the last try
    for (unsigned attempt = 1; attempt <= settings_.tries; ++attempt) {
        auto answer = source_.ask({prompt_text(attempt, settings_.tries), settings_.prompt_timeout}, *secret);
        if (!answer) return {Outcome::error, 0, std::move(answer).error()};
        if (*answer != Answer::given || secret->empty()) {
            secret->clear();
            return {Outcome::no_passphrase, 0, std::nullopt};
        }

        const auto started = clock_.now();
        auto opened = opener_.open(device, *secret);
        secret->clear();  // zeroed at once: nothing after this needs it
        clock_.sleep_until(started + settings_.attempt_floor);

        shufflecake_failed = false;
        if (!opened) {
            log::error("opening the volumes failed: ", opened.error());
            messages_.show(not_accepted_message);
            continue;
        }
        switch (opened->verdict) {
            case shufflecake::OpenVerdict::opened:
                return prepare(std::move(opened->volumes));
            case shufflecake::OpenVerdict::not_accepted:
                messages_.show(not_accepted_message);
                break;
            case shufflecake::OpenVerdict::shufflecake_failed:
                log::error("Shufflecake failed: ", *opened->reason);
                messages_.show(shufflecake_failed_message);
                shufflecake_failed = true;
                break;
            case shufflecake::OpenVerdict::unrecognised:
                // Every right passphrase would end the same way: no more prompts.
                log::error("Shufflecake's volumes not recognised: ", *opened->reason);
                messages_.show(unrecognised_message);
                return {Outcome::unavailable, 0, std::move(opened->reason)};
        }
    }
    if (shufflecake_failed) return {Outcome::unavailable, 0, std::nullopt};
    return {Outcome::not_accepted, 0, std::nullopt};
}

UnlockReport Unlocker::prepare(std::vector<shufflecake::Volume> volumes) {
    if (settings_.dvl) {
        const auto beyond = std::partition(volumes.begin(), volumes.end(), [&](const shufflecake::Volume& v) {
            return v.index <= *settings_.dvl;
        });
        const std::vector<shufflecake::Volume> closing(beyond, volumes.end());
        volumes.erase(beyond, volumes.end());
        if (!closing.empty()) {
            if (auto closed = opener_.close(closing); !closed)
                return abandon(volumes, {}, std::move(closed).error().context("closing volumes beyond dvl"));
        }
    }
    return mount_all(volumes);
}

UnlockReport Unlocker::mount_all(const std::vector<shufflecake::Volume>& volumes) {
    std::vector<std::filesystem::path> created;
    if (auto root = filesystem_.make_directory(settings_.mount_root); !root && root.error().code() != EEXIST)
        return abandon(volumes, created, std::move(root).error());
    for (const auto& volume : volumes) {
        const std::string device = volume.dm_path();
        auto type = filesystem_.probe(device);
        if (!type) return abandon(volumes, created, std::move(type).error());
        if (settings_.fsck) {
            if (auto checked = filesystem_.check(device, *type); !checked)
                return abandon(volumes, created, std::move(checked).error());
        }
        const auto target = settings_.mount_root / volume.name;
        auto made = filesystem_.make_directory(target);
        if (!made) return abandon(volumes, created, std::move(made).error());
        if (*made) created.push_back(target);
        if (auto mounted = filesystem_.mount(device, target, *type, settings_.discard); !mounted)
            return abandon(volumes, created, std::move(mounted).error());
    }
    return {Outcome::mounted, volumes.size(), std::nullopt};
}

UnlockReport Unlocker::abandon(const std::vector<shufflecake::Volume>& volumes,
                               const std::vector<std::filesystem::path>& directories, Error error) {
    log::error("unlocking stopped: ", error);
    auto closed = opener_.close(volumes);
    for (auto it = directories.rbegin(); it != directories.rend(); ++it) filesystem_.remove_directory(*it);
    if (!closed) {
        log::error("closing the volumes failed: ", closed.error());
        return {Outcome::cleanup_failed, 0, std::move(closed).error()};
    }
    return {Outcome::prepare_failed, 0, std::move(error)};
}

std::string result_line(const UnlockReport& report) {
    const std::string count = std::to_string(report.mounted) + (report.mounted == 1 ? " volume" : " volumes");
    switch (report.outcome) {
        case Outcome::mounted:
            return "reliant-unlock: " + count + " mounted";
        case Outcome::not_accepted:
            return "reliant-unlock: 0 volumes mounted (no passphrase accepted)";
        case Outcome::no_passphrase:
            return "reliant-unlock: 0 volumes mounted (no passphrase given)";
        case Outcome::prepare_failed:
            return "reliant-unlock: 0 volumes mounted (failed after opening; closed)";
        case Outcome::cleanup_failed:
            return "reliant-unlock: FAILED to close volumes after an error";
        case Outcome::error:
            return "reliant-unlock: 0 volumes mounted (error)";
        case Outcome::unavailable:
            return "reliant-unlock: 0 volumes mounted (Shufflecake unavailable)";
    }
    return "reliant-unlock: unknown outcome";
}

int exit_code(Outcome outcome) {
    switch (outcome) {
        case Outcome::mounted:
            return 0;
        case Outcome::error:
            return 1;
        case Outcome::not_accepted:
            return 4;
        case Outcome::no_passphrase:
            return 7;
        case Outcome::prepare_failed:
            return 5;
        case Outcome::cleanup_failed:
            return 6;
        case Outcome::unavailable:
            return 8;
    }
    return 1;
}

}  // namespace reliant::unlock

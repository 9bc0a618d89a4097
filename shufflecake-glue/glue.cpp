#include "shufflecake-glue/glue.h"

#include <algorithm>

#include "common/log.h"

namespace reliant::shufflecake {
namespace {

bool contains(const std::vector<dev_t>& devices, dev_t device) {
    return std::find(devices.begin(), devices.end(), device) != devices.end();
}

bool all_targets_allowed(const DmDevice& device, const std::vector<std::string>& allowed) {
    if (device.targets.empty()) return false;
    return std::all_of(device.targets.begin(), device.targets.end(), [&](const std::string& type) {
        return std::find(allowed.begin(), allowed.end(), type) != allowed.end();
    });
}

void keep_first(Status& first, Status next) {
    if (first.ok() && !next.ok()) first = std::move(next);
}

}  // namespace

bool is_complete_chain(std::span<const Volume> volumes) {
    for (std::size_t i = 0; i < volumes.size(); ++i) {
        if (volumes[i].index != i || volumes[i].device_id != volumes.front().device_id) return false;
    }
    return true;
}

Result<std::vector<Volume>> ShufflecakeGlue::find_volumes(dev_t device) {
    auto names = dm_.list_names();
    if (!names) return std::move(names).error().context("listing device-mapper devices");
    std::vector<Volume> volumes;
    for (const auto& name : *names) {
        const auto parsed = parse_volume_name(name);
        if (!parsed) continue;
        auto described = dm_.describe(name);
        if (!described) {
            if (described.error().code() == ENXIO) continue;  // removed meanwhile
            return std::move(described).error().context("inspecting a Shufflecake volume");
        }
        if (!contains(described->dependencies, device)) continue;
        if (!all_targets_allowed(*described, config_.volume_targets)) continue;
        volumes.push_back(Volume{name, parsed->device_id, parsed->index, described->number});
    }
    std::sort(volumes.begin(), volumes.end(), [](const Volume& a, const Volume& b) {
        return a.device_id != b.device_id ? a.device_id < b.device_id : a.index < b.index;
    });
    return volumes;
}

Result<OpenOutcome> ShufflecakeGlue::open(const BlockDevice& device, const SecretBuffer& passphrase) {
    auto before = find_volumes(device.number);
    if (!before) return std::move(before).error();
    if (!before->empty())
        return Error("Shufflecake volumes are already open on " + device.path.string(), EBUSY)
            .advise("close them first (reliant-session close, or shufflecake close " + device.path.string() +
                    "), or reboot");

    ProcessOptions options;
    options.input = passphrase.bytes();
    options.timeout = config_.open_timeout;
    auto ran = runner_.run({config_.command, "open", device.path.string()}, options);

    // Whatever happened, look at what is open now: a failure must not leave
    // half of the volumes behind.
    auto opened = find_volumes(device.number);
    if (!opened) return std::move(opened).error().context("after shufflecake open");
    if (!ran) {
        auto error = std::move(ran).error().context("running " + config_.command);
        if (!opened->empty()) return close_after_failure(*opened, std::move(error)).error();
        return error;
    }
    if (!ran->succeeded()) {
        log::info("shufflecake open ", ran->describe());
        // The exit status is the reason; no errno is added to it (an EIO
        // would claim an I/O error nobody saw).
        Error error(config_.command + " open " + ran->describe(), ran->timed_out ? ETIMEDOUT : 0);
        if (ran->timed_out) error.advise("the device may be very slow or failing: check it (dmesg), then retry");
        if (!opened->empty()) return close_after_failure(*opened, std::move(error)).error();
        if (ran->timed_out || !ran->exited) return error;
        return OpenOutcome{};  // the passphrase opened nothing
    }
    if (opened->empty()) return OpenOutcome{};
    if (!is_complete_chain(*opened))
        return close_after_failure(*opened, Error("shufflecake open left an incomplete set of volumes "
                                                  "(a lower volume is missing), so all were closed")
                                                .advise("check the Shufflecake header with the upstream tools"))
            .error();
    return OpenOutcome{true, std::move(*opened)};
}

Status ShufflecakeGlue::close_after_failure(std::span<const Volume> volumes, Error error) {
    if (auto closed = close(volumes); !closed)
        log::error("closing half-open volumes failed: ", closed.error());
    return error;
}

Status ShufflecakeGlue::close(std::span<const Volume> volumes) {
    std::vector<Volume> ordered(volumes.begin(), volumes.end());
    std::sort(ordered.begin(), ordered.end(), [](const Volume& a, const Volume& b) {
        return a.device_id != b.device_id ? a.device_id > b.device_id : a.index > b.index;
    });
    Status first;
    for (const auto& volume : ordered) {
        auto points = mounts_.mount_points(volume.number);
        if (!points) {
            keep_first(first, std::move(points).error().context("finding where a volume is mounted"));
            continue;
        }
        bool unmounted = true;
        for (const auto& point : *points) {
            auto status = mounts_.unmount(point);
            unmounted = unmounted && status.ok();
            keep_first(first, std::move(status));
        }
        if (!unmounted) continue;  // removing a mounted device would fail anyway
        auto removed = dm_.remove(volume.name);
        if (!removed && removed.error().code() != ENXIO)
            keep_first(first, std::move(removed).error().context("removing a volume"));
    }
    return first;
}

Status ShufflecakeGlue::close_device(dev_t device) {
    auto volumes = find_volumes(device);
    if (!volumes) return std::move(volumes).error();
    return close(*volumes);
}

}  // namespace reliant::shufflecake

#include "shufflecake-glue/glue.h"

#include <sys/utsname.h>

#include <algorithm>
#include <set>

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

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : ", ") + word;
    return text;
}

std::string kernel_release() {
    utsname names{};
    return ::uname(&names) == 0 ? names.release : "the running kernel";
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

Status ShufflecakeGlue::ready() {
    auto types = dm_.list_target_types();
    if (!types) return std::move(types).error().context("asking device-mapper which targets the kernel has");
    for (const auto& wanted : config_.volume_targets)
        if (std::find(types->begin(), types->end(), wanted) != types->end()) return success();
    return Error("the kernel has no device-mapper target " + joined(config_.volume_targets) +
                 ": Shufflecake's kernel module " + config_.volume_module + " is not loaded")
        .advise("kernel " + kernel_release() + " needs " + config_.volume_module +
                " built for it: start the previous kernel from the boot menu, or build and install the "
                "module for this one (docs/install.md)");
}

Result<OpenOutcome> ShufflecakeGlue::open(const BlockDevice& device, const SecretBuffer& passphrase) {
    auto before = find_volumes(device.number);
    if (!before) return std::move(before).error();
    if (!before->empty())
        return Error("Shufflecake volumes are already open on " + device.path.string(), EBUSY)
            .advise("close them first (reliant-session close, or shufflecake close " + device.path.string() +
                    "), or reboot");
    auto names_before = dm_.list_names();
    if (!names_before) return std::move(names_before).error().context("listing device-mapper devices");

    ProcessOptions options;
    options.input = passphrase.bytes();
    options.timeout = config_.open_timeout;
    auto ran = runner_.run({config_.command, "open", device.path.string()}, options);

    // Whatever happened, look at what is open now: a failure must not leave
    // half of the volumes behind, nor anything reliant would not recognise.
    auto opened = find_volumes(device.number);
    if (!opened) return std::move(opened).error().context("after shufflecake open");
    auto foreign = unrecognised_devices(device.number, *names_before, *opened);
    if (!foreign) return close_after_failure(*opened, std::move(foreign).error()).error();
    if (!foreign->empty()) return close_unrecognised(std::move(*foreign), *opened);

    if (!ran || ran->timed_out || !ran->exited) {
        Error error = !ran ? std::move(ran).error().context("running " + config_.command)
                           : Error(config_.command + " open " + ran->describe(), ran->timed_out ? ETIMEDOUT : 0);
        if (ran && ran->timed_out)
            error.advise("the device may be very slow or failing: check it (dmesg), then retry");
        if (!opened->empty()) {
            if (auto closed = close(*opened); !closed)
                return std::move(closed).error().context("closing what a failed " + config_.command +
                                                         " open left");
        }
        return OpenOutcome{OpenVerdict::shufflecake_failed, {}, std::move(error)};
    }
    if (!ran->succeeded()) {
        log::info("shufflecake open ", ran->describe());
        // The exit status is the reason; no errno is added to it (an EIO
        // would claim an I/O error nobody saw).
        if (!opened->empty())
            return close_after_failure(*opened, Error(config_.command + " open " + ran->describe())).error();
        return OpenOutcome{};  // the passphrase opened nothing
    }
    if (opened->empty()) return OpenOutcome{};
    if (!is_complete_chain(*opened))
        return close_after_failure(*opened, Error("shufflecake open left an incomplete set of volumes "
                                                  "(a lower volume is missing), so all were closed")
                                                .advise("check the Shufflecake header with the upstream tools"))
            .error();
    return OpenOutcome{OpenVerdict::opened, std::move(*opened), std::nullopt};
}

Result<std::vector<DmDevice>> ShufflecakeGlue::unrecognised_devices(dev_t device,
                                                                   const std::vector<std::string>& before,
                                                                   const std::vector<Volume>& volumes) {
    auto names = dm_.list_names();
    if (!names) return std::move(names).error().context("listing device-mapper devices");
    const std::set<std::string> old_names(before.begin(), before.end());
    std::vector<DmDevice> added;
    for (const auto& name : *names) {
        if (old_names.contains(name)) continue;
        auto described = dm_.describe(name);
        if (!described) {
            if (described.error().code() == ENXIO) continue;  // removed meanwhile
            return std::move(described).error().context("inspecting a device shufflecake open made");
        }
        added.push_back(std::move(*described));
    }
    // What is stacked on the device, directly or on something stacked on it:
    // in the order found, so each device comes after what it maps onto.
    std::vector<dev_t> beneath{device};
    for (const Volume& volume : volumes) beneath.push_back(volume.number);
    std::vector<DmDevice> foreign;
    for (bool found = true; found;) {
        found = false;
        for (auto it = added.begin(); it != added.end(); ++it) {
            const bool stacked = std::any_of(it->dependencies.begin(), it->dependencies.end(),
                                             [&](dev_t dependency) { return contains(beneath, dependency); });
            if (!stacked) continue;
            const bool is_volume = std::any_of(volumes.begin(), volumes.end(),
                                               [&](const Volume& volume) { return volume.name == it->name; });
            if (!is_volume) {
                beneath.push_back(it->number);
                foreign.push_back(std::move(*it));
            }
            added.erase(it);
            found = true;
            break;
        }
    }
    return foreign;
}

Result<OpenOutcome> ShufflecakeGlue::close_unrecognised(std::vector<DmDevice> foreign,
                                                        const std::vector<Volume>& volumes) {
    std::set<std::string> types;
    for (const auto& device : foreign) types.insert(device.targets.begin(), device.targets.end());
    // Neither names nor a count: they would tell how many volumes the
    // passphrase reached.
    Error reason("shufflecake open mapped devices reliant does not recognise as volumes (device-mapper target " +
                 joined({types.begin(), types.end()}) + "; reliant accepts " + joined(config_.volume_targets) +
                 "); all were closed");
    reason.advise("if this Shufflecake release uses another target, reliant-unlock needs --volume-target "
                  "for it (docs/shufflecake.md)");
    Status closed = close(volumes);  // volumes first: they may sit on what follows
    for (auto it = foreign.rbegin(); it != foreign.rend(); ++it) keep_first(closed, close_one(it->name, it->number));
    if (!closed) return std::move(closed).error().context("closing what shufflecake open mapped");
    return OpenOutcome{OpenVerdict::unrecognised, {}, std::move(reason)};
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
    for (const auto& volume : ordered) keep_first(first, close_one(volume.name, volume.number));
    return first;
}

Status ShufflecakeGlue::close_one(const std::string& name, dev_t number) {
    auto points = mounts_.mount_points(number);
    if (!points) return std::move(points).error().context("finding where a volume is mounted");
    Status first;
    for (const auto& point : *points) keep_first(first, mounts_.unmount(point));
    if (!first) return first;  // removing a mounted device would fail anyway
    auto removed = dm_.remove(name);
    if (!removed && removed.error().code() != ENXIO)
        return std::move(removed).error().context("removing a volume");
    return success();
}

Status ShufflecakeGlue::close_device(dev_t device) {
    auto volumes = find_volumes(device);
    if (!volumes) return std::move(volumes).error();
    return close(*volumes);
}

}  // namespace reliant::shufflecake

// Scripted stand-ins for the process, device-mapper and mount layers, shared
// by the glue and unlock tests.
#pragma once

#include <sys/sysmacros.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shufflecake-glue/command_runner.h"
#include "shufflecake-glue/device_mapper.h"
#include "shufflecake-glue/mount_table.h"

namespace reliant::testing {

inline const dev_t backing_device = makedev(254, 16);  // the Shufflecake device
inline const dev_t other_device = makedev(254, 32);

class FakeDeviceMapper final : public shufflecake::DeviceMapper {
public:
    // Adds a device mapped onto `backing` with the given target type.
    void add(const std::string& name, dev_t backing = backing_device, std::string target = "shufflecake") {
        shufflecake::DmDevice device;
        device.name = name;
        device.number = makedev(253, next_minor_++);
        device.dependencies = {backing};
        device.targets = {std::move(target)};
        devices[name] = device;
    }
    Result<std::vector<std::string>> list_names() override {
        if (fail_list) return Error("list failed", EIO);
        std::vector<std::string> names;
        for (const auto& [name, device] : devices) names.push_back(name);
        return names;
    }
    Result<shufflecake::DmDevice> describe(const std::string& name) override {
        const auto found = devices.find(name);
        if (found == devices.end()) return Error("no such device", ENXIO);
        return found->second;
    }
    Status remove(const std::string& name) override {
        removed.push_back(name);
        if (refuse_remove.contains(name)) return Error("busy", EBUSY);
        if (devices.erase(name) == 0) return Error("no such device", ENXIO);
        return success();
    }
    Result<std::vector<std::string>> list_target_types() override {
        if (fail_list) return Error("list failed", EIO);
        return target_types;
    }

    std::map<std::string, shufflecake::DmDevice> devices;
    std::vector<std::string> removed;
    std::set<std::string> refuse_remove;
    bool fail_list = false;
    std::vector<std::string> target_types{"striped", "linear", "shufflecake", "crypt"};

private:
    unsigned next_minor_ = 0;
};

class FakeMountTable final : public shufflecake::MountTable {
public:
    Result<std::vector<std::string>> mount_points(dev_t device) override {
        const auto found = mounts.find(device);
        if (found == mounts.end()) return std::vector<std::string>{};
        return found->second;
    }
    Status unmount(const std::string& point) override {
        unmounted.push_back(point);
        if (refuse.contains(point)) return Error("busy", EBUSY);
        for (auto& [device, points] : mounts) std::erase(points, point);
        return success();
    }

    std::map<dev_t, std::vector<std::string>> mounts;
    std::vector<std::string> unmounted;
    std::set<std::string> refuse;
};

// Records each call; `on_run` plays the command (creating dm devices, say).
class FakeRunner final : public shufflecake::CommandRunner {
public:
    struct Call {
        std::vector<std::string> argv;
        std::vector<std::string> environment;
        std::string input;  // a copy, for assertions only
        std::chrono::milliseconds timeout;
    };
    Result<ProcessResult> run(const std::vector<std::string>& argv, const ProcessOptions& options) override {
        const auto* bytes = reinterpret_cast<const char*>(options.input.data());
        calls.push_back(
            {argv, options.environment, std::string(bytes, options.input.size()), options.timeout});
        if (on_run) return on_run(calls.back());
        return exit_with(0);
    }
    static ProcessResult exit_with(int code) {
        ProcessResult result;
        result.exited = true;
        result.exit_code = code;
        return result;
    }

    std::vector<Call> calls;
    std::function<Result<ProcessResult>(const Call&)> on_run;
};

}  // namespace reliant::testing

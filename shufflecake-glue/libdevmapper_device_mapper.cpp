#include "shufflecake-glue/libdevmapper_device_mapper.h"

#include <libdevmapper.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <memory>

namespace reliant::shufflecake {
namespace {

struct TaskDeleter {
    void operator()(dm_task* task) const { dm_task_destroy(task); }
};
using Task = std::unique_ptr<dm_task, TaskDeleter>;

Result<Task> make_task(int type, const std::string& name) {
    Task task(dm_task_create(type));
    if (!task) return Error("cannot create a device-mapper request", ENOMEM);
    if (!name.empty() && !dm_task_set_name(task.get(), name.c_str()))
        return Error("device-mapper refuses the device name (too long, or a character it does not take)",
                     EINVAL);
    return task;
}

Status run(dm_task* task, const char* what) {
    if (dm_task_run(task)) return success();
    const int code = dm_task_get_errno(task);
    return Error(std::string("device-mapper ") + what + " failed", code != 0 ? code : EIO);
}

Result<dm_info> existing_info(dm_task* task) {
    dm_info info{};
    if (!dm_task_get_info(task, &info))
        return Error("device-mapper returned no information about the device", EIO)
            .advise("is the dm_mod kernel module loaded? (dmesg)");
    if (!info.exists) return Error("device-mapper: no such device", ENXIO);
    return info;
}

Result<std::vector<dev_t>> dependencies(const std::string& name) {
    auto task = make_task(DM_DEVICE_DEPS, name);
    if (!task) return std::move(task).error();
    if (auto status = run(task->get(), "deps"); !status) return std::move(status).error();
    if (auto info = existing_info(task->get()); !info) return std::move(info).error();
    const dm_deps* deps = dm_task_get_deps(task->get());
    std::vector<dev_t> result;
    if (deps == nullptr) return result;
    for (std::uint32_t i = 0; i < deps->count; ++i) result.push_back(dm_decode_dev(deps->device[i]));
    return result;
}

// DM_DEVICE_STATUS (not DM_DEVICE_TABLE): "info" status never carries the
// key, and the parameters we are handed anyway are wiped unread.
Status read_targets(const std::string& name, DmDevice& device) {
    auto task = make_task(DM_DEVICE_STATUS, name);
    if (!task) return std::move(task).error();
    if (auto status = run(task->get(), "status"); !status) return std::move(status).error();
    auto info = existing_info(task->get());
    if (!info) return std::move(info).error();
    device.number = makedev(static_cast<unsigned>(info->major), static_cast<unsigned>(info->minor));
    void* next = nullptr;
    do {
        std::uint64_t start = 0, length = 0;
        char* type = nullptr;
        char* params = nullptr;
        next = dm_get_next_target(task->get(), next, &start, &length, &type, &params);
        if (params != nullptr) explicit_bzero(params, strlen(params));
        if (type != nullptr) device.targets.emplace_back(type);
    } while (next != nullptr);
    return success();
}

// libdevmapper's lists (names, target versions): each entry holds the offset
// of the next one from itself, 0 in the last.
template <typename Entry, typename Visit>
void walk_entries(const Entry* entry, Visit visit) {
    while (entry != nullptr) {
        visit(*entry);
        if (entry->next == 0) break;
        entry = reinterpret_cast<const Entry*>(reinterpret_cast<const char*>(entry) + entry->next);
    }
}

}  // namespace

dev_t dm_decode_dev(std::uint64_t encoded) {
    const auto major_number = static_cast<unsigned>((encoded & 0xfff00) >> 8);
    const auto minor_number = static_cast<unsigned>((encoded & 0xff) | ((encoded >> 12) & 0xfff00));
    return makedev(major_number, minor_number);
}

Result<std::vector<std::string>> LibDevmapper::list_names() {
    auto task = make_task(DM_DEVICE_LIST, "");
    if (!task) return std::move(task).error();
    if (auto status = run(task->get(), "list"); !status) return std::move(status).error();
    std::vector<std::string> names;
    const dm_names* first = dm_task_get_names(task->get());
    if (first == nullptr || first->dev == 0) return names;  // no devices
    walk_entries(first, [&](const dm_names& entry) { names.emplace_back(entry.name); });
    return names;
}

Result<DmDevice> LibDevmapper::describe(const std::string& name) {
    DmDevice device;
    device.name = name;
    if (auto status = read_targets(name, device); !status) return std::move(status).error();
    auto deps = dependencies(name);
    if (!deps) return std::move(deps).error();
    device.dependencies = std::move(*deps);
    return device;
}

Status LibDevmapper::remove(const std::string& name) {
    auto task = make_task(DM_DEVICE_REMOVE, name);
    if (!task) return std::move(task).error();
    // udev or blkid may hold the device open for a moment after an unmount.
    dm_task_retry_remove(task->get());
    return run(task->get(), "remove");
}

Result<std::vector<std::string>> LibDevmapper::list_target_types() {
    auto task = make_task(DM_DEVICE_LIST_VERSIONS, "");
    if (!task) return std::move(task).error();
    if (auto status = run(task->get(), "list of target types"); !status) return std::move(status).error();
    std::vector<std::string> types;
    walk_entries(dm_task_get_versions(task->get()),
                 [&](const dm_versions& entry) { types.emplace_back(entry.name); });
    return types;
}

}  // namespace reliant::shufflecake

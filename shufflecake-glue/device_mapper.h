// The device-mapper operations the glue needs, behind an interface so that the
// logic is tested on hosts without device-mapper. The real one uses
// libdevmapper (libdevmapper_device_mapper.h).
//
// Only names, device numbers, dependencies and target types are read. Table
// parameters carry key material (a dm-crypt or shufflecake table holds the
// volume key in hex) and are never read or kept.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace reliant::shufflecake {

struct DmDevice {
    std::string name;
    dev_t number = 0;                  // the dm device's own major:minor
    std::vector<dev_t> dependencies;   // devices its table maps onto
    std::vector<std::string> targets;  // target type of each table line ("shufflecake", "crypt")
};

class DeviceMapper {
public:
    virtual ~DeviceMapper() = default;
    virtual Result<std::vector<std::string>> list_names() = 0;
    // Fails with ENXIO when no device of that name exists.
    virtual Result<DmDevice> describe(const std::string& name) = 0;
    virtual Status remove(const std::string& name) = 0;
    // The target types the running kernel has registered ("crypt", "linear",
    // "shufflecake" once dm_sflc is loaded): DM_LIST_VERSIONS.
    virtual Result<std::vector<std::string>> list_target_types() = 0;
};

}  // namespace reliant::shufflecake

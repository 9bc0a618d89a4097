// DeviceMapper through libdevmapper (DM_DEVICE_LIST, DM_DEVICE_DEPS,
// DM_DEVICE_STATUS, DM_DEVICE_REMOVE, DM_DEVICE_LIST_VERSIONS).
#pragma once

#include "shufflecake-glue/device_mapper.h"

namespace reliant::shufflecake {

class LibDevmapper final : public DeviceMapper {
public:
    Result<std::vector<std::string>> list_names() override;
    Result<DmDevice> describe(const std::string& name) override;
    Status remove(const std::string& name) override;
    Result<std::vector<std::string>> list_target_types() override;
};

// The kernel's dev_t encoding in dm ioctls (huge_encode_dev) as a glibc dev_t.
dev_t dm_decode_dev(std::uint64_t encoded);

}  // namespace reliant::shufflecake

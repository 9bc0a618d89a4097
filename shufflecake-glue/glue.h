// shufflecake-glue: opens Shufflecake volumes by driving the upstream
// `shufflecake` command, finds what it opened through device-mapper, and
// closes volumes again (unmount, then remove, most secret first).
//
// The on-disk format changes between Shufflecake releases, so nothing here
// reads it: the passphrase goes to `shufflecake open <device>` on stdin and
// the result is read back from device-mapper names (sflc_<M>_<N>), their
// dependency on the device and their target type. docs/shufflecake.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "common/block_device.h"
#include "common/error.h"
#include "common/secret_buffer.h"
#include "shufflecake-glue/command_runner.h"
#include "shufflecake-glue/device_mapper.h"
#include "shufflecake-glue/mount_table.h"
#include "shufflecake-glue/volume.h"

namespace reliant::shufflecake {

struct GlueConfig {
    // The upstream command; looked up in PATH when it holds no '/'.
    std::string command = "shufflecake";
    // How long `shufflecake open` may take (its KDF included).
    std::chrono::milliseconds open_timeout = std::chrono::minutes(5);
    // Target types that make a sflc_M_N device a Shufflecake volume. The test
    // stand-in (tests/fixtures/fake-shufflecake) maps volumes with "crypt".
    std::vector<std::string> volume_targets{"shufflecake"};
};

struct OpenOutcome {
    bool accepted = false;        // false: the passphrase opened nothing
    std::vector<Volume> volumes;  // by index, 0..k without gaps, when accepted
};

// What the unlock logic needs from Shufflecake; ShufflecakeGlue is the real one.
class VolumeOpener {
public:
    virtual ~VolumeOpener() = default;
    // Either the passphrase opened volumes 0..k (returned by index), or it
    // opened nothing (accepted = false), or an error with nothing left open.
    virtual Result<OpenOutcome> open(const BlockDevice& device, const SecretBuffer& passphrase) = 0;
    // Unmounts and removes each volume, highest index first. Tries every
    // volume even after a failure and returns the first error.
    virtual Status close(std::span<const Volume> volumes) = 0;
};

class ShufflecakeGlue final : public VolumeOpener {
public:
    ShufflecakeGlue(CommandRunner& runner, DeviceMapper& dm, MountTable& mounts, GlueConfig config = {})
        : runner_(runner), dm_(dm), mounts_(mounts), config_(std::move(config)) {}

    Result<OpenOutcome> open(const BlockDevice& device, const SecretBuffer& passphrase) override;
    Status close(std::span<const Volume> volumes) override;

    // The Shufflecake volumes open on `device`, by index.
    Result<std::vector<Volume>> find_volumes(dev_t device);
    // Closes every volume open on `device` (shutdown).
    Status close_device(dev_t device);

private:
    Status close_after_failure(std::span<const Volume> volumes, Error error);

    CommandRunner& runner_;
    DeviceMapper& dm_;
    MountTable& mounts_;
    GlueConfig config_;
};

// True when the volumes are 0..k of one device id, in order.
bool is_complete_chain(std::span<const Volume> volumes);

}  // namespace reliant::shufflecake

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
#include <optional>
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
    // The kernel module that registers them, named in messages (the dracut
    // unit loads it; docs/shufflecake.md).
    std::string volume_module = "dm_sflc";
};

// What one `shufflecake open` came to. Only `not_accepted` says anything
// about the passphrase: the others are Shufflecake's own failures, and
// telling the person "passphrase not accepted" then would make them believe
// their volumes are gone.
enum class OpenVerdict {
    opened,              // volumes 0..k of the device, returned by index
    not_accepted,        // the passphrase opened nothing
    shufflecake_failed,  // the command could not start, was killed or timed out; nothing is left open
    unrecognised,        // it mapped devices that are not volumes as configured; all were closed
};

struct OpenOutcome {
    OpenVerdict verdict = OpenVerdict::not_accepted;
    std::vector<Volume> volumes;  // by index, 0..k without gaps, when opened
    std::optional<Error> reason;  // shufflecake_failed, unrecognised: what happened (no names, no counts)
};

// What the unlock logic needs from Shufflecake; ShufflecakeGlue is the real one.
class VolumeOpener {
public:
    virtual ~VolumeOpener() = default;
    // Whether volumes can be opened at all in this boot (the kernel has the
    // volume target): asked once, before any passphrase.
    virtual Status ready() = 0;
    // The verdict of one try; an error (device-mapper failed, volumes were
    // already open, an incomplete set was opened) with nothing left open.
    virtual Result<OpenOutcome> open(const BlockDevice& device, const SecretBuffer& passphrase) = 0;
    // Unmounts and removes each volume, highest index first. Tries every
    // volume even after a failure and returns the first error.
    virtual Status close(std::span<const Volume> volumes) = 0;
};

class ShufflecakeGlue final : public VolumeOpener {
public:
    ShufflecakeGlue(CommandRunner& runner, DeviceMapper& dm, MountTable& mounts, GlueConfig config = {})
        : runner_(runner), dm_(dm), mounts_(mounts), config_(std::move(config)) {}

    Status ready() override;
    Result<OpenOutcome> open(const BlockDevice& device, const SecretBuffer& passphrase) override;
    Status close(std::span<const Volume> volumes) override;

    // The Shufflecake volumes open on `device`, by index.
    Result<std::vector<Volume>> find_volumes(dev_t device);
    // Closes every volume open on `device` (shutdown).
    Status close_device(dev_t device);

private:
    Status close_after_failure(std::span<const Volume> volumes, Error error);
    // Devices mapped onto `device` that are not in `before` and not among
    // `volumes`: what `shufflecake open` made that reliant does not recognise.
    Result<std::vector<DmDevice>> unrecognised_devices(dev_t device, const std::vector<std::string>& before,
                                                       const std::vector<Volume>& volumes);
    Result<OpenOutcome> close_unrecognised(std::vector<DmDevice> foreign, const std::vector<Volume>& volumes);
    // Unmounts one device-mapper device wherever it is mounted, then removes it.
    Status close_one(const std::string& name, dev_t number);

    CommandRunner& runner_;
    DeviceMapper& dm_;
    MountTable& mounts_;
    GlueConfig config_;
};

// True when the volumes are 0..k of one device id, in order.
bool is_complete_chain(std::span<const Volume> volumes);

}  // namespace reliant::shufflecake

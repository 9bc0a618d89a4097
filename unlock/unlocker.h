// The unlock sequence: ask for the passphrase (up to `tries` times), open the
// volumes it reaches, keep those up to rd.reliant.dvl, check and mount each
// at <mount_root>/sflc_M_N. Any failure after opening closes everything it
// opened, so a boot goes on either with the volumes mounted or with none.
//
// Before the first prompt, the opener must be ready (the kernel has
// Shufflecake's target): otherwise one clear message and no prompt. A try
// that Shufflecake itself fails shows its own message, not "not accepted".
//
// Timing: every attempt lasts at least `attempt_floor` from the moment the
// passphrase is in until the verdict, so a wrong passphrase costs what a
// right one does, and what follows a wrong one (one fixed message, the next
// prompt) does not depend on what the device holds. docs/shufflecake.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/block_device.h"
#include "common/boot_options.h"
#include "shufflecake-glue/glue.h"
#include "unlock/clock.h"
#include "unlock/filesystem.h"
#include "unlock/passphrase_source.h"

namespace reliant::unlock {

struct UnlockSettings {
    unsigned tries = 3;
    std::chrono::seconds prompt_timeout{0};
    bool fsck = false;
    std::optional<unsigned> dvl;
    bool discard = false;
    std::filesystem::path mount_root = "/run/shufflecake";
    std::chrono::milliseconds attempt_floor{2000};

    static UnlockSettings from(const BootOptions& options);
};

enum class Outcome {
    mounted,         // at least one volume mounted
    not_accepted,    // every try was rejected
    no_passphrase,   // the prompt timed out or was cancelled, or the answer was empty
    prepare_failed,  // opened, then a check or mount failed; everything was closed
    cleanup_failed,  // and closing failed too: volumes may still be open
    error,           // nothing could be tried (the prompt failed); nothing is open
    unavailable,     // Shufflecake cannot open volumes in this boot (kernel module missing, unrecognised
                     // mappings, the command failing); nothing is open
};

struct UnlockReport {
    Outcome outcome = Outcome::error;
    std::size_t mounted = 0;
    std::optional<Error> error;
};

// Messages for the person at the console. One fixed text per situation:
// nothing shown may depend on what the device holds.
class UserMessages {
public:
    virtual ~UserMessages() = default;
    virtual void show(std::string_view message) = 0;
};

inline constexpr std::string_view not_accepted_message = "Passphrase not accepted.";
// Shufflecake's own failures, never shown as a wrong passphrase. They depend
// on the kernel, the command and its version, not on what the device holds.
inline constexpr std::string_view module_missing_message =
    "Shufflecake cannot open volumes in this boot: its kernel module is missing for this kernel (details "
    "above). No volume was opened; the system starts without them.";
inline constexpr std::string_view shufflecake_failed_message =
    "Shufflecake failed (it could not start, crashed or timed out; details above). Nothing was opened.";
inline constexpr std::string_view unrecognised_message =
    "Shufflecake opened volumes of a kind reliant does not recognise (another Shufflecake release?). They "
    "were closed; the system starts without them (details above).";

class Unlocker {
public:
    Unlocker(PassphraseSource& source, shufflecake::VolumeOpener& opener, Filesystem& filesystem,
             Clock& clock, UserMessages& messages, UnlockSettings settings)
        : source_(source),
          opener_(opener),
          filesystem_(filesystem),
          clock_(clock),
          messages_(messages),
          settings_(std::move(settings)) {}

    UnlockReport run(const BlockDevice& device);

private:
    UnlockReport prepare(std::vector<shufflecake::Volume> volumes);
    UnlockReport mount_all(const std::vector<shufflecake::Volume>& volumes);
    UnlockReport abandon(const std::vector<shufflecake::Volume>& volumes,
                         const std::vector<std::filesystem::path>& directories, Error error);

    PassphraseSource& source_;
    shufflecake::VolumeOpener& opener_;
    Filesystem& filesystem_;
    Clock& clock_;
    UserMessages& messages_;
    UnlockSettings settings_;
};

// The one-line result for the dracut unit: how many volumes, never which.
std::string result_line(const UnlockReport& report);
// The process exit code for an outcome (docs/cmdline.md, section unlock).
int exit_code(Outcome outcome);

}  // namespace reliant::unlock

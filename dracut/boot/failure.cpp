#include "dracut/boot/failure.h"

#include "dracut/boot/generator.h"

namespace reliant::boot {
namespace {

struct Explanation {
    std::string_view unit;
    std::string_view what;
    std::string_view consequence;
};

constexpr Explanation explanations[] = {
    {generator_instance, "the rd.reliant.* options on the kernel command line cannot be used",
     "Nothing was unlocked or mounted. The message from reliant-generator above names the option."},
    {protect_unit, "the block devices could not all be made read-only",
     "Nothing was unlocked and the base was not mounted."},
    {unlock_unit, "the Shufflecake volumes could not be opened and mounted",
     "What was opened was closed again unless the message above says otherwise; the base was not "
     "mounted."},
    {verify_unit, "the base system does not pass its integrity check",
     "It was not mounted. After maintenance mode, the boot entry needs the arguments `reliant-overlay "
     "seal` printed."},
    {prepare_unit, "the read-only base or the RAM upper layer could not be mounted",
     "Nothing was written to the base."},
    {"sysroot.mount", "the overlay root could not be mounted", "Nothing was written to the base."},
    {heal_unit, "the merged qubes.xml could not be written",
     "qubesd would not start with it, so the system does not start. Nothing was written to the base "
     "or the volumes."},
    {loops_unit, "the template images could not be put on read-only loop devices",
     "Starting qubes would copy whole templates into RAM, so the system does not start."},
};

}  // namespace

std::string failure_message(std::string_view unit, std::string_view service_result) {
    if (service_result == "success")
        return "reliant: " + std::string(unit) + " did not run: a step before it failed (see above).\n";
    std::string what = std::string(unit) + " failed";
    std::string consequence = "The system does not start.";
    for (const auto& explanation : explanations) {
        if (explanation.unit != unit) continue;
        what = explanation.what;
        consequence = explanation.consequence;
    }
    const std::string name(unit);
    const std::string journal = unit == generator_instance ? "journalctl -b" : "journalctl -b -u " + name;
    // A hung step is stopped by its unit's TimeoutStartSec= (systemd: "timeout").
    const std::string stopped =
        service_result == "timeout" ? "reliant: It was stopped after its time limit: it did not finish.\n" : "";
    return "reliant: THE BOOT STOPPED: " + what + ".\n" + stopped +  //
           "reliant: " + consequence + "\n" +
           "reliant: The messages of " + name + " above say why (" + journal + ").\n" +
           "reliant: Reboot to try again. The maintenance entry (rd.reliant.mode=maintenance) starts the "
           "base without unlocking. dracut's emergency shell follows unless rd.shell=0 is on the kernel "
           "command line.\n";
}

}  // namespace reliant::boot

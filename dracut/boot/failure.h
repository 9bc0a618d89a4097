// What the console says when a step of a reliant boot fails: which step,
// what it means, what was (not) touched, and how to go on. Printed by
// reliant-failed@UNIT.service before emergency mode. Fixed texts only: no
// device, volume or qube names.
#pragma once

#include <string>
#include <string_view>

namespace reliant::boot {

// `service_result`: systemd's $MONITOR_SERVICE_RESULT for UNIT (set for
// OnFailure= units since systemd 251). "success" means UNIT never ran: its
// start failed because a step before it failed, which said so itself, so
// the message is one line. Empty: unknown (older systemd), the full text.
std::string failure_message(std::string_view unit, std::string_view service_result = "");

}  // namespace reliant::boot

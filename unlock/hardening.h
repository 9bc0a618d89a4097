// Process hygiene for a program that holds a passphrase: not dumpable (no
// core file, no ptrace by non-root, /proc/PID/mem closed to others), no core
// size, and every page locked in RAM as it is touched (never swapped).
#pragma once

#include "common/error.h"

namespace reliant::unlock {

Status harden_process();

}  // namespace reliant::unlock

// Shared by the libFuzzer targets (tests/fuzz, docs/security.md): validation
// that never reads the host, the oracle that stops a run with a message, and
// the input format of the targets that take several files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "healer/model.h"
#include "healer/ownership.h"
#include "healer/validator.h"

namespace reliant::fuzz {

// Host-independent: fixed PCI root buses and a root without kernels or callbacks.
healer::ValidationOptions validation();

// An invariant does not hold: print why and abort, so that libFuzzer keeps the input.
[[noreturn]] void violated(std::string_view what, std::string_view detail = {});

// True when `document` loads as qubesd would load it (no error diagnostic).
bool loads(const healer::Document& document, std::string* errors = nullptr);

// What qubesd would read back from the file we write: serialize, parse, and
// require that it loads.
void require_written_file_loads(const healer::Document& document, std::string_view what);

// merge and split take several files. The fuzz input is the first file, then
// each further file after a line "@@sflc_M_N" naming the volume directory it
// lies in (a header that is no volume name gives sflc_0_<k>, k = 1, 2, ...).
// A volume named twice keeps its first file, as a directory holds one.
inline constexpr std::string_view part_marker = "\n@@";

struct Part {
    healer::VolumeId volume;
    std::string_view bytes;
};

struct MultiInput {
    std::string_view first;
    std::vector<Part> parts;
};

MultiInput split_input(std::string_view data);
std::string join_input(std::string_view first, const std::vector<std::pair<healer::VolumeId, std::string>>& parts);

}  // namespace reliant::fuzz

// Judging a qubes.xml the way qubesd's loader will: rules V1..V40 of
// docs/healer.md (from shared/docs/qubes-xml.md §5). Errors are what stops
// qubesd from loading the file; warnings what it survives but breaks at run
// time (R) or hygiene (H). The loader is emulated stage by stage, with the
// same value parsers and the same storage initialization order, so that the
// verdict agrees with the real loader's (tests/healer/conformance_test.cpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "healer/diagnostics.h"
#include "healer/model.h"

namespace reliant::healer {

// The qubesd releases the file must load in. Where 4.3 and main (4.4)
// disagree, `any` reports an error when either would fail.
enum class QubesRelease { any, r4_3, main };

struct ValidationOptions {
    QubesRelease release = QubesRelease::any;
    // PCI root buses of the machine that will run qubesd ("0000:00"); when
    // unset they are read from <sysfs>/devices/pci*.
    std::optional<std::vector<std::string>> pci_root_buses;
    std::filesystem::path sysfs = "/sys";
    // The root filesystem qubesd will run on: /etc/qubes_callback.json for
    // callback pools, /var/lib/qubes/vm-kernels for installed kernels.
    std::filesystem::path root = "/";
    // Where deniable volumes are mounted; a pool below it belongs to one (M4).
    std::filesystem::path volume_root = "/run/shufflecake";
};

void validate(const Document& document, Diagnostics& out, const ValidationOptions& options = {});

// V26 between two versions of the same system (qubes matched by uuid):
// reports properties turned from absent to empty, from empty to absent, or
// from a reference to None. Used to check that merge and split keep what
// they were given, and by `check --reference`.
void compare_with_reference(const Document& reference, const Document& document, Diagnostics& out);

}  // namespace reliant::healer

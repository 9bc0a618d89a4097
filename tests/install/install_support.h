// Paths shared by the installer tests.
#pragma once

#include <filesystem>
#include <string>

#include "test_support.h"

namespace reliant::testing::install {

// What every installer test uses (`using namespace reliant::testing::install;`).
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

inline const std::filesystem::path source = reliant::testing::source_dir();
inline const std::string installer = (source / "dracut/install/reliant-install").string();
// Where the build puts every tool (cmake/ReliantTool.cmake).
inline const std::string bin_dir = reliant::testing::binary_dir() + "/bin";

}  // namespace reliant::testing::install

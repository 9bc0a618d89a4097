// Starting a child process, behind an interface so that the glue's handling
// of the `shufflecake` command is tested with scripted results.
#pragma once

#include <string>
#include <vector>

#include "common/process.h"

namespace reliant::shufflecake {

class CommandRunner {
public:
    virtual ~CommandRunner() = default;
    virtual Result<ProcessResult> run(const std::vector<std::string>& argv,
                                      const ProcessOptions& options) = 0;
};

class SystemCommandRunner final : public CommandRunner {
public:
    Result<ProcessResult> run(const std::vector<std::string>& argv, const ProcessOptions& options) override {
        return run_process(argv, options);
    }
};

}  // namespace reliant::shufflecake

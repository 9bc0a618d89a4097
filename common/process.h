// Running a child process without a shell: an argv vector, an explicit
// environment, stdin fed from a buffer (a SecretBuffer's bytes, for example),
// stdout and stderr captured, and a timeout after which the child's whole
// process group is killed.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace reliant {

class SecretBuffer;

struct ProcessOptions {
    // Written to the child's stdin, which is then closed.
    std::span<const std::byte> input;
    // Zero means no timeout.
    std::chrono::milliseconds timeout{0};
    // The child's whole environment; nothing is inherited from ours.
    std::vector<std::string> environment{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
    // Where argv[0] is looked up when it holds no '/'.
    std::string search_path = "/usr/sbin:/usr/bin:/sbin:/bin";
    // Each captured stream keeps at most this many bytes; the rest is drained.
    std::size_t max_output = 1 << 20;
    // When set, stdout goes into this buffer (appended) instead of
    // ProcessResult::out, for children that print a secret
    // (systemd-ask-password). Bytes that do not fit are drained and dropped,
    // and ProcessResult::secret_overflow is set.
    SecretBuffer* secret_output = nullptr;
};

struct ProcessResult {
    bool exited = false;  // false: killed by a signal
    int exit_code = -1;
    int signal = 0;
    bool timed_out = false;
    std::string out;
    std::string err;
    bool secret_overflow = false;  // stdout did not fit in ProcessOptions::secret_output

    bool succeeded() const { return exited && exit_code == 0 && !timed_out; }
    // "exited with status 3", "killed by signal 9", "timed out"
    std::string describe() const;
};

// Fails only when the child cannot be started; its own failure is in the result.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The absolute path of `program` in `search_path`, or an error.
Result<std::string> find_program(const std::string& program, const std::string& search_path);

}  // namespace reliant

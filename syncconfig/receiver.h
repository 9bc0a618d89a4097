// The qrexec service's side (`reliant-syncconfig receive`): read one stream
// from the caller, check it against what dom0 enabled for this qube, stage it
// for review, answer with a fixed response and exit. It never asks anything:
// its stdin and stdout belong to the sender, so consent read there would be
// given by the party being checked. Review and apply happen later, in a
// terminal the user opened (review.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "syncconfig/profile.h"
#include "syncconfig/wire.h"

namespace reliant::syncconfig {

struct ReceiveOptions {
    std::string argument;       // the qrexec service argument: the profile name
    std::string remote_domain;  // QREXEC_REMOTE_DOMAIN (set by qrexec, not by the caller)
    std::string home;           // the target user's home (from the password database)
    QubesDb* qubesdb = nullptr;
    std::chrono::milliseconds deadline{120000};  // the whole receive, stalls included
    std::size_t max_pending = 8;                 // staged transactions awaiting review
    std::uint64_t reserve_bytes = 64ull << 20;   // free space left after staging
};

struct ReceiveResult {
    Response response;
    std::string id;      // the staged transaction, when staged
    std::string reason;  // for the local log: rule words and indexes, never content
};

ReceiveResult receive(int input, const ReceiveOptions& options);

// The service's exit status for each response status (docs/syncconfig.md).
int exit_status(ResponseStatus status);

// A ByteSource on a file descriptor with one deadline for the whole stream.
class FdSource : public ByteSource {
public:
    FdSource(int fd, std::chrono::steady_clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
    Result<std::size_t> read(std::span<char> buffer) override;

private:
    int fd_;
    std::chrono::steady_clock::time_point deadline_;
};

}  // namespace reliant::syncconfig

// Where the passphrase comes from: systemd-ask-password (systemd initramfs;
// the console and plymouth agents answer it), plymouth, or the console with
// echo off. Each writes the answer straight into a SecretBuffer.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/secret_buffer.h"

namespace reliant::unlock {

struct Prompt {
    std::string text;                 // "reliant passphrase (1/3):"
    std::chrono::seconds timeout{0};  // zero: wait forever
};

enum class Answer {
    given,      // the passphrase is in the buffer
    timed_out,  // nobody answered in time
    cancelled,  // the agent or the user gave up (EOF, Ctrl-D, agent failure)
};

class PassphraseSource {
public:
    virtual ~PassphraseSource() = default;
    // Clears `out`, then fills it with the answer (no trailing newline).
    virtual Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) = 0;
};

// Drops one trailing "\n" (or "\r\n"): agents and terminals end the answer
// with it, and it is never part of the passphrase.
void strip_line_end(SecretBuffer& secret);

}  // namespace reliant::unlock

// Asking on a terminal (the console, without systemd or plymouth): echo off,
// one line read byte by byte straight into the SecretBuffer, the terminal
// restored afterwards. Prompts are serialised with dracut's /.console_lock.
#pragma once

#include <string>

#include "unlock/passphrase_source.h"

namespace reliant::unlock {

class ConsolePrompt final : public PassphraseSource {
public:
    explicit ConsolePrompt(std::string terminal = "/dev/console", std::string lock_file = "/.console_lock")
        : terminal_(std::move(terminal)), lock_file_(std::move(lock_file)) {}
    Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) override;

private:
    std::string terminal_;
    std::string lock_file_;
};

}  // namespace reliant::unlock

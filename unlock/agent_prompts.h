// Passphrase sources that run an agent program: systemd-ask-password and
// plymouth. The answer arrives on the child's stdout, which run_process
// writes into the SecretBuffer directly.
#pragma once

#include <string>
#include <vector>

#include "shufflecake-glue/command_runner.h"
#include "unlock/passphrase_source.h"

namespace reliant::unlock {

class SystemdAskPassword final : public PassphraseSource {
public:
    explicit SystemdAskPassword(shufflecake::CommandRunner& runner) : runner_(runner) {}
    Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) override;
    static std::vector<std::string> command(const Prompt& prompt);

private:
    shufflecake::CommandRunner& runner_;
};

class PlymouthPrompt final : public PassphraseSource {
public:
    explicit PlymouthPrompt(shufflecake::CommandRunner& runner) : runner_(runner) {}
    Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) override;
    static std::vector<std::string> command(const Prompt& prompt);
    // True when a plymouth daemon answers `plymouth --ping`.
    static bool available(shufflecake::CommandRunner& runner);

private:
    shufflecake::CommandRunner& runner_;
};

}  // namespace reliant::unlock

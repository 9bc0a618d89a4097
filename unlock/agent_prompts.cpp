#include "unlock/agent_prompts.h"

#include "common/log.h"

namespace reliant::unlock {
namespace {

// The agent's own timeout ends the prompt; ours only catches an agent that hangs.
std::chrono::milliseconds backstop(const Prompt& prompt) {
    if (prompt.timeout.count() == 0) return std::chrono::milliseconds(0);
    return prompt.timeout + std::chrono::seconds(15);
}

Result<Answer> run_agent(shufflecake::CommandRunner& runner, const std::vector<std::string>& argv,
                         const Prompt& prompt, SecretBuffer& out) {
    out.clear();
    ProcessOptions options;
    options.secret_output = &out;
    options.timeout = backstop(prompt);
    auto ran = runner.run(argv, options);
    if (!ran) return std::move(ran).error().context("asking for the passphrase");
    if (ran->secret_overflow) {
        out.clear();
        return Error("the passphrase is longer than " + std::to_string(out.capacity()) + " bytes", EMSGSIZE);
    }
    if (ran->timed_out) {
        out.clear();
        return Answer::timed_out;
    }
    if (!ran->succeeded()) {
        // systemd-ask-password exits 1 both on its timeout and when cancelled.
        out.clear();
        log::info(argv.front(), " ", ran->describe());
        return prompt.timeout.count() > 0 ? Answer::timed_out : Answer::cancelled;
    }
    strip_line_end(out);
    return Answer::given;
}

}  // namespace

void strip_line_end(SecretBuffer& secret) {
    const auto bytes = secret.bytes();
    std::size_t size = bytes.size();
    if (size > 0 && bytes[size - 1] == std::byte{'\n'}) --size;
    if (size > 0 && bytes[size - 1] == std::byte{'\r'}) --size;
    secret.truncate(size);
}

std::vector<std::string> SystemdAskPassword::command(const Prompt& prompt) {
    // -n: no trailing newline. No --accept-cached or --keyname: the
    // passphrase must not outlive this attempt in a kernel keyring.
    return {"systemd-ask-password",
            "-n",
            "--id=reliant:unlock",
            "--icon=drive-harddisk",
            "--timeout=" + std::to_string(prompt.timeout.count()),
            prompt.text};
}

Result<Answer> SystemdAskPassword::ask(const Prompt& prompt, SecretBuffer& out) {
    return run_agent(runner_, command(prompt), prompt, out);
}

std::vector<std::string> PlymouthPrompt::command(const Prompt& prompt) {
    return {"plymouth", "ask-for-password", "--prompt=" + prompt.text};
}

Result<Answer> PlymouthPrompt::ask(const Prompt& prompt, SecretBuffer& out) {
    return run_agent(runner_, command(prompt), prompt, out);
}

bool PlymouthPrompt::available(shufflecake::CommandRunner& runner) {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(5);
    auto ran = runner.run({"plymouth", "--ping"}, options);
    return ran.ok() && ran->succeeded();
}

}  // namespace reliant::unlock

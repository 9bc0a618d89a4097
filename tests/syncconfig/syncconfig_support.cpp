#include "syncconfig_support.h"

#include <fcntl.h>
#include <pty.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace fs = std::filesystem;

namespace reliant::syncconfig::testing {

std::string tool() { return reliant::testing::binary_dir() + "/bin/reliant-syncconfig"; }

Target::Target() {
    // A real home has ~/.local/state already (XDG); SyncConfig adds its
    // own directory there, which the snapshots of the home leave out.
    fs::create_directories(home() / ".local/state");
    fs::create_directories(bin() / "qubesdb");
    fs::create_directories(bin() / "qrexec/vms/work/rpc");
    fs::create_directories(source());
    const std::string fixtures = reliant::testing::source_dir() + "/tests/fixtures/";
    fs::copy_file(fixtures + "fake-qubesdb/qubesdb-read", bin() / "qubesdb-read");
    fs::copy_file(fixtures + "fake-qrexec/qrexec-client-vm", bin() / "qrexec-client-vm");
    reliant::testing::spit(bin() / "qrexec/self", "mgmt\n");
    reliant::testing::spit(bin() / "qrexec/policy", "qubes.SyncConfig+test mgmt work allow\n");
    set_deadline_ms(60000);
    enable("test", "allow=.bashrc allow=.gitconfig allow=.config/** exec=.local/bin/* allow=.local/bin/* "
                   "secret=.config/secret/** deny=.config/denied");
}

// The service wrapper: install/qubes.SyncConfig plus the options only tests
// use (the target's home and QubesDB, the receive deadline). The deadline is
// a hang bound, far above any receive; only stall tests lower it.
void Target::set_deadline_ms(int ms) const {
    const fs::path wrapper = bin() / "qrexec/vms/work/rpc/qubes.SyncConfig";
    reliant::testing::spit(wrapper, "#!/bin/sh\nexec '" + tool() + "' receive --home '" + home().string() +
                                        "' --qubesdb-read '" + qubesdb_read() + "' --deadline-ms " +
                                        std::to_string(ms) + " -- \"${1:-}\"\n");
    fs::permissions(wrapper, fs::perms::owner_all);
}

void Target::set_qubesdb(const std::string& key, const std::string& value) {
    const fs::path file = bin() / ("qubesdb" + key);
    fs::create_directories(file.parent_path());
    reliant::testing::spit(file, value);
}

void Target::remove_qubesdb(const std::string& key) { fs::remove(bin() / ("qubesdb" + key)); }

void Target::enable(const std::string& name, const std::string& value, const std::string& list) {
    set_qubesdb("/vm-config/syncconfig.profiles", list.empty() ? name : list);
    set_qubesdb("/vm-config/syncconfig.profile." + name, value);
}

ProcessResult Target::receive(const std::string& stream, const std::string& profile,
                              const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {tool(), "receive", "--home", home().string(), "--qubesdb-read", qubesdb_read(),
                                     "--deadline-ms", "60000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.push_back(profile);
    ProcessOptions options;
    options.input = std::as_bytes(std::span<const char>(stream.data(), stream.size()));
    options.environment.push_back("QREXEC_REMOTE_DOMAIN=mgmt");
    options.timeout = std::chrono::seconds(60);
    auto result = run_process(argv, options);
    if (!result) throw std::runtime_error(result.error().describe());
    return *result;
}

ProcessResult Target::run(std::vector<std::string> arguments, const std::vector<std::string>& environment) const {
    std::vector<std::string> argv = {tool()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    argv.insert(argv.end(), {"--home", home().string()});
    ProcessOptions options;
    options.environment.insert(options.environment.end(), environment.begin(), environment.end());
    options.timeout = std::chrono::seconds(60);
    auto result = run_process(argv, options);
    if (!result) throw std::runtime_error(result.error().describe());
    return *result;
}

std::vector<std::string> Target::pending() const {
    std::vector<std::string> ids;
    if (!fs::exists(state() / "pending")) return ids;
    for (const auto& entry : fs::directory_iterator(state() / "pending")) ids.push_back(entry.path().filename());
    std::sort(ids.begin(), ids.end());
    return ids;
}

void Target::write_home(const std::string& path, const std::string& content, mode_t mode) const {
    fs::create_directories((home() / path).parent_path());
    reliant::testing::spit(home() / path, content);
    ::chmod((home() / path).c_str(), mode);
}

std::map<std::string, std::string> snapshot(const fs::path& root, const std::string& skip) {
    std::map<std::string, std::string> out;
    if (!fs::exists(fs::symlink_status(root))) return out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const std::string rel = fs::relative(it->path(), root).string();
        if (!skip.empty() && (rel == skip || rel.starts_with(skip + "/"))) {
            if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
            continue;
        }
        struct stat st {};
        ::lstat(it->path().c_str(), &st);
        // Links count for files (a hard link is a change); a directory's
        // count only says how many subdirectories it has.
        std::string value = std::to_string(st.st_mode) + " " +
                            (S_ISDIR(st.st_mode) ? std::string("dir") : std::to_string(st.st_nlink)) + " ";
        if (S_ISLNK(st.st_mode))
            value += "-> " + fs::read_symlink(it->path()).string();
        else if (S_ISREG(st.st_mode))
            value += reliant::testing::slurp(it->path());
        out[rel] = value;
    }
    return out;
}

TtyRun run_on_tty(const std::vector<std::string>& argv, const std::string& input,
                  const std::vector<std::string>& environment) {
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) throw std::runtime_error("forkpty failed");
    if (pid == 0) {
        std::vector<char*> args, env;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        std::vector<std::string> full = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
        full.insert(full.end(), environment.begin(), environment.end());
        for (const auto& e : full) env.push_back(const_cast<char*>(e.c_str()));
        env.push_back(nullptr);
        ::execve(args[0], args.data(), env.data());
        ::_exit(127);
    }
    TtyRun run;
    if (!input.empty() && ::write(master, input.data(), input.size()) < 0) { /* the child may be gone already */
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    char buffer[4096];
    for (;;) {
        pollfd pfd{master, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, 200);
        if (ready > 0) {
            const ssize_t n = ::read(master, buffer, sizeof buffer);
            if (n > 0) {
                run.output.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            break;  // EIO: the child closed its side
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            ::close(master);
            return run;
        }
        if (std::chrono::steady_clock::now() > deadline) ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::close(master);
    return run;
}

}  // namespace reliant::syncconfig::testing

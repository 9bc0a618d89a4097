#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "common/secret_buffer.h"
#include "common/unique_fd.h"

namespace reliant {
namespace {

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("cannot make a pipe for its input or output");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// SIGPIPE from writing to a child that closed its stdin must not kill us:
// block it while the child runs and swallow what was raised meanwhile.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_only, &previous_);
    }
    ~SigpipeGuard() {
        if (!was_pending_) {
            sigset_t pipe_only;
            sigemptyset(&pipe_only);
            sigaddset(&pipe_only, SIGPIPE);
            const timespec zero{};
            while (sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t previous_{};
    bool was_pending_ = false;
};

class SpawnSetup {
public:
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions_);
        posix_spawnattr_init(&attributes_);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions_);
        posix_spawnattr_destroy(&attributes_);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;

    posix_spawn_file_actions_t* actions() { return &actions_; }
    posix_spawnattr_t* attributes() { return &attributes_; }

private:
    posix_spawn_file_actions_t actions_;
    posix_spawnattr_t attributes_;
};

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const auto& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

void capture(int fd, std::string& sink, std::size_t limit, bool& open) {
    char chunk[16384];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            const std::size_t room = limit > sink.size() ? limit - sink.size() : 0;
            sink.append(chunk, std::min(room, static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) open = false;
        if (n < 0 && errno == EINTR) continue;
        return;  // EAGAIN: nothing more for now
    }
}

// Like capture(), into a SecretBuffer; the bounce buffer is wiped after use.
void capture_secret(int fd, SecretBuffer& sink, bool& overflow, bool& open) {
    std::byte chunk[4096];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            if (!sink.append({chunk, static_cast<std::size_t>(n)})) overflow = true;
            continue;
        }
        if (n == 0) open = false;
        if (n < 0 && errno == EINTR) continue;
        break;  // EAGAIN: nothing more for now
    }
    explicit_bzero(chunk, sizeof chunk);
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

}  // namespace

std::string ProcessResult::describe() const {
    if (timed_out) return "timed out";
    if (exited) return "exited with status " + std::to_string(exit_code);
    return "killed by signal " + std::to_string(signal);
}

Result<std::string> find_program(const std::string& program, const std::string& search_path) {
    if (program.empty()) return Error("empty program name", EINVAL);
    if (program.find('/') != std::string::npos) return program;
    std::size_t start = 0;
    while (start <= search_path.size()) {
        const std::size_t end = std::min(search_path.find(':', start), search_path.size());
        const std::string candidate = search_path.substr(start, end - start) + "/" + program;
        if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return Error(program + " not found in " + search_path, ENOENT).advise("install it, or check the PATH");
}

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) return Error("no program to run", EINVAL);
    auto path = find_program(argv[0], options.search_path);
    if (!path) return std::move(path).error();

    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    if (!in) return std::move(in).error().context("cannot start " + argv[0]);
    if (!out) return std::move(out).error().context("cannot start " + argv[0]);
    if (!err) return std::move(err).error().context("cannot start " + argv[0]);

    SpawnSetup setup;
    posix_spawn_file_actions_adddup2(setup.actions(), in->read.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(setup.actions(), out->write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(setup.actions(), err->write.get(), STDERR_FILENO);
    sigset_t no_signals;
    sigemptyset(&no_signals);
    sigset_t all_signals;
    sigfillset(&all_signals);
    posix_spawnattr_setsigmask(setup.attributes(), &no_signals);
    posix_spawnattr_setsigdefault(setup.attributes(), &all_signals);
    posix_spawnattr_setpgroup(setup.attributes(), 0);  // its own group, killed as a whole on timeout
    posix_spawnattr_setflags(setup.attributes(),
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

    SigpipeGuard sigpipe_guard;
    auto args = c_strings(argv);
    auto env = c_strings(options.environment);
    pid_t pid = -1;
    if (const int rc =
            posix_spawn(&pid, path->c_str(), setup.actions(), setup.attributes(), args.data(), env.data());
        rc != 0)
        return Error::from_errno("cannot start " + argv[0], rc);

    in->read.reset();
    out->write.reset();
    err->write.reset();
    UniqueFd process(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!process) {
        const int saved = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return Error::from_errno("cannot watch " + argv[0] + " once started (pidfd_open); it was killed", saved)
            .advise("reliant needs Linux 5.3 or later");
    }
    set_nonblocking(in->write.get());
    set_nonblocking(out->read.get());
    set_nonblocking(err->read.get());

    ProcessResult result;
    std::span<const std::byte> pending = options.input;
    if (pending.empty()) in->write.reset();
    bool out_open = true, err_open = true, running = true;
    const auto deadline = std::chrono::steady_clock::now() + options.timeout;
    const bool has_deadline = options.timeout.count() > 0;

    // Run until the child has exited and both streams reached end of file.
    // Once it exited, streams held open by its descendants are not waited for.
    while (running || ((out_open || err_open) && !result.timed_out)) {
        std::array<pollfd, 4> fds{};
        nfds_t count = 0;
        if (in->write) fds[count++] = {in->write.get(), POLLOUT, 0};
        if (out_open) fds[count++] = {out->read.get(), POLLIN, 0};
        if (err_open) fds[count++] = {err->read.get(), POLLIN, 0};
        if (running) fds[count++] = {process.get(), POLLIN, 0};
        const int wait_ms = !running ? 0 : has_deadline ? remaining_ms(deadline) : -1;
        const int ready = ::poll(fds.data(), count, wait_ms);
        if (ready < 0 && errno != EINTR) {
            const int saved = errno;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            return Error::from_errno("cannot wait for " + argv[0] + " (poll); it was killed", saved);
        }
        if (in->write && !pending.empty()) {
            const ssize_t n = ::write(in->write.get(), pending.data(), pending.size());
            if (n > 0) pending = pending.subspan(static_cast<std::size_t>(n));
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || pending.empty()) in->write.reset();
        }
        if (out_open && options.secret_output != nullptr)
            capture_secret(out->read.get(), *options.secret_output, result.secret_overflow, out_open);
        else if (out_open)
            capture(out->read.get(), result.out, options.max_output, out_open);
        if (err_open) capture(err->read.get(), result.err, options.max_output, err_open);
        if (running) {
            siginfo_t info{};
            if (::waitid(P_PIDFD, static_cast<id_t>(process.get()), &info, WEXITED | WNOHANG) == 0 &&
                info.si_pid != 0) {
                running = false;
                result.exited = info.si_code == CLD_EXITED;
                result.exit_code = result.exited ? info.si_status : -1;
                result.signal = result.exited ? 0 : info.si_status;
            } else if (has_deadline && remaining_ms(deadline) == 0) {
                result.timed_out = true;
                ::kill(-pid, SIGKILL);
                ::kill(pid, SIGKILL);
            }
        } else if (ready == 0) {
            break;  // exited, and nothing more is buffered
        }
    }
    return result;
}

}  // namespace reliant

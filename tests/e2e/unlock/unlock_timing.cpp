// unlock-timing: TEST-ONLY, in the unlock e2e initramfs (scenario timing).
// Times repeated runs of reliant-unlock with a wrong, the decoy and the
// hidden passphrase, interleaved, in one boot. It answers reliant-unlock's
// systemd-ask-password prompt itself, as a password agent does (a datagram
// "+<passphrase>" to the Socket= of /run/systemd/ask-password/ask.*), so the
// clock starts when the answer is sent, and stops:
//   verdict  when reliant-unlock decides: it creates /run/shufflecake to mount
//            (accepted), or exits (not accepted, with rd.reliant.tries=1);
//   exit     when reliant-unlock exits (after mounting, when accepted).
// After each run the volumes are unmounted and closed (`shufflecake close`).
//
// Usage: unlock-timing DEVICE PASSPHRASE-DISK OUT-DIR; the number of rounds
// is reliant_test.timing=N on the kernel command line. PASSPHRASE-DISK holds three lines, wrong, decoy, hidden, then a NUL. The
// passphrases stay in SecretBuffers and are never printed. OUT-DIR/timing.tsv
// gets one line per run; the host judges the figures (timing_verdict.py).
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/block_device.h"
#include "common/kernel_cmdline.h"
#include "common/secret_buffer.h"
#include "common/unique_fd.h"

namespace {

using namespace reliant;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* unlock_binary = "/usr/libexec/reliant/reliant-unlock";
constexpr const char* ask_directory = "/run/systemd/ask-password";
constexpr const char* mount_root = "/run/shufflecake";

struct PassphraseClass {
    const char* name;
    int expected_status;  // reliant-unlock's exit status
    int expected_mounts;
};
constexpr std::array<PassphraseClass, 3> classes = {{{"wrong", 4, 0}, {"decoy", 0, 1}, {"hidden", 0, 3}}};

[[noreturn]] void die(const std::string& why) {
    std::cerr << "unlock-timing: " << why << std::endl;
    std::exit(2);
}

// Three lines (wrong, decoy, hidden) from the raw passphrase disk.
std::vector<SecretBuffer> read_passphrases(const std::string& disk) {
    UniqueFd fd(::open(disk.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) die("cannot open the passphrase disk");
    std::vector<SecretBuffer> lines;
    auto current = SecretBuffer::create();
    if (!current) die("no secret buffer");
    char c = 0;
    while (lines.size() < classes.size() && ::read(fd.get(), &c, 1) == 1 && c != '\0') {
        if (c == '\n') {
            lines.push_back(std::move(*current));
            current = SecretBuffer::create();
            if (!current) die("no secret buffer");
        } else if (!current->push_back(c)) {
            die("a passphrase is too long");
        }
    }
    c = 0;
    if (lines.size() != classes.size()) die("the passphrase disk does not hold three lines");
    return lines;
}

std::optional<std::string> socket_of(const fs::path& ask_file) {
    std::ifstream in(ask_file);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("Socket=")) return line.substr(7);
    return std::nullopt;
}

// What a password agent does: "+<passphrase>" to the asker's socket.
bool answer(const std::string& socket_path, const SecretBuffer& passphrase) {
    auto datagram = SecretBuffer::create();
    if (!datagram || !datagram->push_back('+') || !datagram->append(passphrase.bytes())) return false;
    UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (!sock || socket_path.size() >= sizeof address.sun_path) return false;
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const auto bytes = datagram->bytes();
    return ::sendto(sock.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&address),
                    sizeof address) == static_cast<ssize_t>(bytes.size());
}

pid_t spawn_unlock(const fs::path& cmdline, const fs::path& log) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(127);
        const std::string cmdline_option = "--cmdline=" + cmdline.string();
        const char* argv[] = {unlock_binary, cmdline_option.c_str(), "--volume-target=crypt", "--prompt=systemd",
                              nullptr};
        ::execv(unlock_binary, const_cast<char* const*>(argv));
        ::_exit(127);
    }
    return pid;
}

std::vector<std::string> mounted_volumes() {
    std::vector<std::string> points;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string id, parent, numbers, root, point;
        fields >> id >> parent >> numbers >> root >> point;
        if (point.starts_with(std::string(mount_root) + "/")) points.push_back(point);
    }
    return points;
}

void run_command(const std::vector<std::string>& arguments) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
        argv.push_back(nullptr);
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
}

// Back to a locked device: nothing mounted, no volume open.
bool close_everything(const std::string& device) {
    auto points = mounted_volumes();
    for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), 0);
    run_command({"/usr/bin/shufflecake", "close", device});
    std::error_code ec;
    fs::remove_all(mount_root, ec);
    bool clean = mounted_volumes().empty();
    for (const auto& entry : fs::directory_iterator("/sys/block", ec))
        if (entry.path().filename().string().starts_with("dm-")) clean = false;
    return clean;
}

struct Attempt {
    double verdict_ms = -1;
    double exit_ms = -1;
    int status = -1;
    int mounts = 0;
};

double since(Clock::time_point start, Clock::time_point end) {
    return std::chrono::duration<double, std::milli>(end - start).count();
}

Attempt time_one(const SecretBuffer& passphrase, const fs::path& out, const std::string& label) {
    fs::create_directories(ask_directory);
    UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!watch || ::inotify_add_watch(watch.get(), ask_directory, IN_CLOSE_WRITE | IN_MOVED_TO) < 0 ||
        ::inotify_add_watch(watch.get(), "/run", IN_CREATE) < 0)
        die("inotify failed");
    const pid_t pid = spawn_unlock(out / "cmdline", out / ("unlock-" + label + ".log"));
    UniqueFd child(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!child) die("pidfd_open failed");

    Attempt attempt;
    std::optional<Clock::time_point> answered;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    for (bool exited = false; !exited;) {
        if (Clock::now() > deadline) die("reliant-unlock did not finish in 120 s");
        pollfd ready[2] = {{watch.get(), POLLIN, 0}, {child.get(), POLLIN, 0}};
        if (::poll(ready, 2, 1000) < 0 && errno != EINTR) die("poll failed");
        const auto now = Clock::now();
        if (ready[0].revents & POLLIN) {
            alignas(inotify_event) char buffer[4096];
            const ssize_t n = ::read(watch.get(), buffer, sizeof buffer);
            for (ssize_t at = 0; at < n;) {
                const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
                const std::string name = event->len ? event->name : "";
                if (name.starts_with("ask.") && !answered) {
                    const auto socket_path = socket_of(fs::path(ask_directory) / name);
                    if (socket_path && answer(*socket_path, passphrase)) answered = Clock::now();
                } else if (name == "shufflecake" && answered && attempt.verdict_ms < 0) {
                    attempt.verdict_ms = since(*answered, now);
                }
                at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            }
        }
        if (ready[1].revents & POLLIN) {
            attempt.mounts = static_cast<int>(mounted_volumes().size());
            int status = 0;
            ::waitpid(pid, &status, 0);
            attempt.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (!answered) die("reliant-unlock exited before it asked");
            attempt.exit_ms = since(*answered, now);
            if (attempt.verdict_ms < 0) attempt.verdict_ms = attempt.exit_ms;
            exited = true;
        }
    }
    return attempt;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) die("usage: unlock-timing DEVICE PASSPHRASE-DISK OUT-DIR");
    const auto cmdline = KernelCmdline::read();
    const auto rounds_text = cmdline ? cmdline->get("reliant_test.timing") : std::nullopt;
    const int rounds = rounds_text ? std::atoi(rounds_text->c_str()) : 0;
    if (rounds <= 0) die("no reliant_test.timing=N on the kernel command line");
    const std::string device_spec = argv[1];
    const fs::path out = argv[3];
    fs::create_directories(out);
    const auto device = wait_for_block_device(device_spec, std::chrono::seconds(60));
    if (!device) die("the Shufflecake device did not appear");
    const auto passphrase_disk = wait_for_block_device(argv[2], std::chrono::seconds(60));
    if (!passphrase_disk) die("the passphrase disk did not appear");
    const auto passphrases = read_passphrases(passphrase_disk->path);
    std::ofstream(out / "cmdline") << "rd.reliant=1 rd.reliant.device=" << device_spec << " rd.reliant.tries=1\n";

    std::ofstream table(out / "timing.tsv");
    table << "class\tround\tverdict_ms\texit_ms\tstatus\tmounts\n";
    int unexpected = 0;
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < classes.size(); ++k) {
            const std::size_t which = (k + static_cast<std::size_t>(round)) % classes.size();  // rotate the order
            const PassphraseClass& kind = classes[which];
            const std::string label = std::string(kind.name) + "-" + std::to_string(round);
            const Attempt attempt = time_one(passphrases[which], out, label);
            const bool expected = attempt.status == kind.expected_status && attempt.mounts == kind.expected_mounts;
            if (!expected) ++unexpected;
            if (!close_everything(device->path.string())) die("volumes stayed open after " + label);
            char line[160];
            std::snprintf(line, sizeof line, "%s\t%d\t%.3f\t%.3f\t%d\t%d\n", kind.name, round, attempt.verdict_ms,
                          attempt.exit_ms, attempt.status, attempt.mounts);
            table << line << std::flush;
            std::cout << "unlock-timing: " << line << std::flush;
        }
    }
    std::ofstream(out / "timing-status") << unexpected << '\n';
    return unexpected == 0 ? 0 : 1;
}

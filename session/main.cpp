// reliant-session: the real root's side of reliant (session.h). Called by
// the units in /usr/lib/systemd/system and, under the name reliant-seal, as
// a systemd-shutdown hook. docs/install.md.
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/arguments.h"
#include "common/log.h"
#include "common/file_io.h"
#include "common/process.h"
#include "session/session.h"
#include "session/status.h"
#include "shufflecake-glue/libdevmapper_device_mapper.h"

namespace {

using namespace reliant;
using namespace reliant::session;

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) { stop_requested = 1; }

// systemd stops the save-triggered split with SIGTERM (KillMode=mixed: only
// this process). A wait ends at once; a running healer is let finish, since
// the shutdown split comes right after and a finished write is never torn.
class SystemClock final : public Clock {
public:
    time_point now() override { return std::chrono::steady_clock::now(); }
    bool sleep_for(std::chrono::milliseconds duration) override {
        const auto until = now() + duration;
        while (!stop_requested && now() < until)
            std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
                std::chrono::milliseconds(50),
                std::chrono::duration_cast<std::chrono::milliseconds>(until - now()) + std::chrono::milliseconds(1)));
        return !stop_requested;
    }
};

constexpr const char* usage =
    "usage: reliant-session [OPTIONS] COMMAND\n"
    "commands:\n"
    "  split [--debounce [--quiet-ms N] [--max-delay-ms N]]   qubes.xml -> the shards\n"
    "        [--console]                                      (shutdown) qubes lost with the session, on the console\n"
    "  close [--volume-target TYPE]                           unmount and close the volumes\n"
    "  seal-arm                                               (maintenance) check, arm the seal hook\n"
    "  seal                                                   (maintenance, shutdown hook) seal, record\n"
    "  status                                                 what merge and the last split did (root)\n"
    "  summary                                                (boot, root) the counts for the notice\n"
    "  repair VOLUME rename QUBE NEW | VOLUME drop QUBE       (root) fix a volume frozen at this boot\n"
    "  notice [--follow] [--notify-send PATH]                 (after login) a desktop notice if merge\n"
    "                                                         froze, held or changed anything; --follow:\n"
    "                                                         also when a split finds qubes lost at shutdown\n"
    "  journal                                                (maintenance) note base qubes removed, created\n"
    "  successor [OLD NEW | --forget OLD]                     (maintenance) NEW takes OLD's place for the\n"
    "                                                         qubes of every volume; alone: the journal\n"
    "options (tests): --cmdline FILE --run-dir DIR --qubes-xml FILE --volume-root DIR\n"
    "                 --healer PATH --overlay PATH --settings FILE --seal-timeout-ms N --base-journal FILE\n"
    "Installed as /usr/lib/systemd/system-shutdown/reliant-seal it runs `seal`. docs/install.md\n";

int fail(const Error& error) {
    log::error(error);
    return exit_failure;
}

// A report in /run/reliant, or "" when there is none (yet).
Result<std::string> report_text(const std::filesystem::path& path) {
    auto text = read_regular_file(path, 16u << 20);
    if (!text && text.error().code() == ENOENT) return std::string();
    return text;
}

Error unreadable_report(Error error) {
    if (error.code() == EACCES) error.advise("the reports are root's (they name hidden qubes): run it with sudo");
    return error;
}

int run_status(const Paths& paths) {
    auto merge = report_text(paths.merge_report());
    if (!merge) return fail(unreadable_report(std::move(merge).error()));
    auto split = report_text(paths.split_report());
    if (!split) return fail(unreadable_report(std::move(split).error()));
    auto status = write_status({*merge, *split}, std::cout);
    return status ? 0 : fail(status.error());
}

// At boot (reliant-summary.service): the merge report's counts, for the
// user's notice. Nothing in other boots (no merge report).
int run_summary(const Paths& paths) {
    auto merge = report_text(paths.merge_report());
    if (!merge) return fail(merge.error());
    if (merge->empty()) {
        std::cout << "reliant-session summary: no merge this boot; nothing to sum up" << std::endl;
        return 0;
    }
    auto counts = count_merge(*merge);
    if (!counts) return fail(counts.error());
    auto written = write_file_atomically(paths.summary(), summary_text(*counts), 0644);
    return written ? 0 : fail(written.error());
}

Status show_notice(const std::string& notify_send, const NoticeText& notice) {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(30);
    // What notify-send needs to reach the desktop's notification daemon.
    for (const char* name : {"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "HOME"})
        if (const char* value = std::getenv(name)) options.environment.push_back(std::string(name) + "=" + value);
    auto ran = run_process({notify_send, "--app-name=reliant", notice.urgent ? "--urgency=critical" : "--urgency=normal",
                            "--icon=dialog-warning", notice.title, notice.body},
                           options);
    std::cout << notice.title << ": " << notice.body << std::endl;  // the session's log, for the record
    if (!ran) return std::move(ran).error().context("running " + notify_send);
    if (!ran->succeeded()) return Error(notify_send + " " + ran->describe());
    return success();
}

// --follow: the summary, looked at every 2 s for the session's life (a stat
// and a 4 KiB read); a notice whenever more qubes would end with it.
int follow_notices(const Paths& paths, const std::string& notify_send, StatusCounts seen) {
    SystemClock clock;
    while (clock.sleep_for(std::chrono::seconds(2))) {
        auto now = read_summary(paths.summary());
        if (!now || !*now) continue;  // gone, or not reliant's: look again
        if (const auto notice = notice_for_change(seen, **now))
            if (auto shown = show_notice(notify_send, *notice); !shown) log::warning(shown.error().describe());
        seen = **now;
    }
    return 0;
}

// After login, as the user: a desktop notice when merge froze a volume, held
// a qube for review or changed anything, and (--follow) whenever a split finds
// more qubes that end with the session. The summary names nothing.
int run_notice(const Paths& paths, const Arguments& arguments) {
    auto counts = read_summary(paths.summary());
    if (!counts) return fail(counts.error());
    if (!*counts) return 0;  // not a normal reliant boot
    const std::string notify_send = arguments.option("notify-send").value_or("/usr/bin/notify-send");
    if (const auto notice = notice_for(**counts))
        if (auto shown = show_notice(notify_send, *notice); !shown) return fail(shown.error());
    return arguments.flag("follow") ? follow_notices(paths, notify_send, **counts) : 0;
}

Result<std::chrono::milliseconds> milliseconds(const Arguments& arguments, const std::string& name,
                                               std::chrono::milliseconds fallback) {
    const auto text = arguments.option(name);
    if (!text) return fallback;
    try {
        std::size_t used = 0;
        const long long value = std::stoll(*text, &used);
        if (used == text->size() && value >= 0) return std::chrono::milliseconds(value);
    } catch (const std::exception&) {
    }
    return Error("--" + name + " takes a number of milliseconds", EINVAL);
}

// The shutdown split (--console): the desktop is gone, the console is what
// the person sees. Qubes created this session in a pool of the base end now;
// said in counts, never names.
void tell_console_of_lost_qubes(const Paths& paths) {
    auto report = report_text(paths.split_report());
    if (!report || report->empty()) return;
    const auto lost = count_lost(*report);
    if (!lost || *lost == 0) return;
    std::ofstream console("/dev/console");
    if (!console) return;
    console << "reliant: " << *lost
            << " qube(s) created this session lived in a pool of the base (RAM) and end with it; next time clone "
               "them onto a volume's pool (qvm-clone -P) before shutting down\n";
}

int run_split(const Paths& paths, const Arguments& arguments) {
    auto kind = boot_kind(paths.cmdline);
    if (!kind) return fail(kind.error());
    if (*kind != BootKind::normal) {
        std::cout << "reliant-session split: not a normal reliant boot; nothing to split" << std::endl;
        return 0;
    }
    shufflecake::SystemCommandRunner runner;
    if (!arguments.flag("debounce")) {
        auto status = split_once(paths, runner, std::cout);
        if (arguments.flag("console")) tell_console_of_lost_qubes(paths);
        return status ? 0 : fail(status.error());
    }
    DebounceSettings settings;
    auto quiet = milliseconds(arguments, "quiet-ms", settings.quiet);
    auto max_delay = milliseconds(arguments, "max-delay-ms", settings.max_delay);
    if (!quiet || !max_delay) {
        std::cerr << (quiet ? max_delay.error() : quiet.error()).describe() << '\n' << usage;
        return exit_usage;
    }
    settings.quiet = *quiet;
    settings.max_delay = *max_delay;
    SystemClock clock;
    const auto result = run_debounced([&] { return file_signature(paths.qubes_xml); }, clock, settings,
                                      [&] { return split_once(paths, runner, std::cout); });
    if (result.outcome == DebounceOutcome::stopped) {
        std::cout << "reliant-session split: stopped while waiting; the shutdown split takes over" << std::endl;
        return 0;
    }
    return result.status ? 0 : fail(result.status.error());
}

// successor OLD NEW, successor --forget OLD, successor (the journal).
int run_successor(const Paths& paths, const Arguments& arguments) {
    const std::vector<std::string> names(arguments.operands().begin() + 1, arguments.operands().end());
    std::vector<std::string> action;
    if (const auto forget = arguments.option("forget"); forget && names.empty())
        action = {"forget", *forget};
    else if (!arguments.option("forget") && names.size() == 2)
        action = {"successor", names[0], names[1]};
    else if (!arguments.option("forget") && names.empty())
        action = {"show"};
    if (action.empty()) {
        std::cerr << usage;
        return exit_usage;
    }
    shufflecake::SystemCommandRunner runner;
    auto status = run_journal_action(paths, runner, action, std::cout);
    return status ? 0 : fail(status.error());
}

int run_close(const Paths& paths, const Arguments& arguments) {
    shufflecake::LibDevmapper dm;
    shufflecake::SystemMountTable mounts;
    std::vector<std::string> targets;
    if (auto target = arguments.option("volume-target")) targets.push_back(*target);
    auto status = close_volumes(paths, system_device_resolver(paths.dev_root), dm, mounts, targets, std::cout);
    return status ? 0 : fail(status.error());
}

// systemd-shutdown shows neither a hook's stdout nor kmsg below the console
// log level: the person leaving maintenance mode reads the console. Other
// boots run the hook too, and have nothing to say there.
int run_seal(const Paths& paths, const Arguments& arguments, bool shutdown_hook) {
    std::ofstream console;
    if (const auto armed = seal_is_armed(paths); shutdown_hook && armed && *armed) console.open("/dev/console");
    std::ostream& out = console.is_open() ? static_cast<std::ostream&>(console) : std::cout;
    SealSettings settings;
    auto timeout = milliseconds(arguments, "seal-timeout-ms", settings.timeout);
    if (!timeout) return fail(timeout.error());
    settings.timeout = *timeout;
    shufflecake::SystemCommandRunner runner;
    SystemMounter mounter;
    auto status = seal_and_record(paths, system_device_resolver(paths.dev_root), runner, mounter, settings, out);
    if (!status) out << "reliant-session seal: the base was NOT sealed: " << status.error().describe() << '\n';
    out.flush();
    return status ? 0 : fail(status.error());
}

}  // namespace

int main(int argc, char** argv) {
    const std::string invoked = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "";
    const bool shutdown_hook = invoked == "reliant-seal";
    log::Config config;
    config.tag = "reliant-session";
    // In the shutdown hook journald is gone: the console and kmsg remain.
    config.to_kmsg = shutdown_hook;
    log::configure(config);

    std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
    if (shutdown_hook) words = {"seal"};  // systemd-shutdown passes the verb (poweroff, reboot, ...)
    const ArgumentSpec spec{{"debounce", "follow", "console"},
                            {"cmdline", "run-dir", "qubes-xml", "volume-root", "healer", "overlay", "settings",
                             "quiet-ms", "max-delay-ms", "volume-target", "seal-timeout-ms", "base-journal",
                             "forget", "notify-send"}};
    auto arguments = Arguments::parse(words, spec);
    const bool takes_names = arguments && !arguments->operands().empty() &&
                             (arguments->operands()[0] == "successor" || arguments->operands()[0] == "repair");
    if (!arguments || arguments->operands().empty() || (arguments->operands().size() != 1 && !takes_names)) {
        if (!arguments) std::cerr << "reliant-session: " << arguments.error().describe() << '\n';
        std::cerr << usage;
        return exit_usage;
    }
    Paths paths;
    if (auto v = arguments->option("cmdline")) paths.cmdline = *v;
    if (auto v = arguments->option("run-dir")) paths.run_dir = *v;
    if (auto v = arguments->option("qubes-xml")) paths.qubes_xml = *v;
    if (auto v = arguments->option("volume-root")) paths.volume_root = paths.shard_root = *v;
    if (auto v = arguments->option("healer")) paths.healer = *v;
    if (auto v = arguments->option("overlay")) paths.overlay = *v;
    if (auto v = arguments->option("settings")) paths.settings = *v;
    if (auto v = arguments->option("base-journal")) paths.base_journal = *v;

    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);

    const std::string& command = arguments->operands().front();
    if (command == "split") return run_split(paths, *arguments);
    if (command == "close") return run_close(paths, *arguments);
    if (command == "seal-arm") {
        auto status = arm_seal(paths, system_device_resolver(paths.dev_root), std::cout);
        return status ? 0 : fail(status.error());
    }
    if (command == "seal") return run_seal(paths, *arguments, shutdown_hook);
    if (command == "status") return run_status(paths);
    if (command == "summary") return run_summary(paths);
    if (command == "notice") return run_notice(paths, *arguments);
    if (command == "journal") {
        shufflecake::SystemCommandRunner runner;
        auto status = run_journal_action(paths, runner, {"record"}, std::cout);
        return status ? 0 : fail(status.error());
    }
    if (command == "successor") return run_successor(paths, *arguments);
    if (command == "repair") {
        const std::vector<std::string> fix(arguments->operands().begin() + 1, arguments->operands().end());
        if (fix.empty()) {
            std::cerr << usage;
            return exit_usage;
        }
        shufflecake::SystemCommandRunner runner;
        auto status = session::run_repair(paths, runner, fix, std::cout);
        return status ? 0 : fail(status.error());
    }
    std::cerr << "reliant-session: unknown command " << command << '\n' << usage;
    return exit_usage;
}

#include "session/session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <ostream>
#include <thread>

#include "common/file_io.h"
#include "common/kernel_cmdline.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "session/grub_env.h"
#include "session/settings.h"
#include "session/status.h"
#include "shufflecake-glue/glue.h"

namespace reliant::session {
namespace {

Result<BootOptions> read_boot_options(const fs::path& cmdline_path) {
    auto cmdline = KernelCmdline::read(cmdline_path);
    if (!cmdline) return std::move(cmdline).error();
    return parse_boot_options(*cmdline);
}

Status make_directory(const fs::path& directory, fs::perms perms) {
    std::error_code ec;
    if (fs::is_directory(directory, ec)) return success();
    fs::create_directories(directory, ec);
    if (ec) return Error("cannot create " + directory.string(), ec.value());
    fs::permissions(directory, perms, ec);
    if (ec) return Error("cannot set the mode of " + directory.string(), ec.value());
    return success();
}

// Forwards a child's output to ours: counts and messages, never a qube's or
// a pool's name (the healer and reliant-overlay print none). A failed split
// write names the mount point of a volume this boot opened and merged
// (docs/shards.md): a decoy session has only the decoy volume, and the
// journal of a normal boot is in RAM.
void forward(const ProcessResult& result, std::ostream& out) {
    for (const std::string* text : {&result.out, &result.err}) {
        if (text->empty()) continue;
        out << *text;
        if (text->back() != '\n') out << '\n';
    }
}

// A healer command the user asked for (journal, repair): its output passed
// on; a failure says the healer's own line tells why (it refused, or wrote
// nothing).
Status run_healer(shufflecake::CommandRunner& runner, const std::vector<std::string>& command,
                  std::chrono::milliseconds timeout, std::ostream& out) {
    ProcessOptions options;
    options.timeout = timeout;
    auto ran = runner.run(command, options);
    if (!ran) return std::move(ran).error().context("running the healer");
    forward(*ran, out);
    if (!ran->succeeded())
        return Error("reliant-healer " + command.at(1) + " " + ran->describe() + ": nothing changed")
            .advise("the healer's line above says why");
    return success();
}

class FileLock {
public:
    static Result<FileLock> exclusive(const fs::path& path) {
        auto fd = open_regular_file(AT_FDCWD, path, O_RDWR);
        if (!fd) return std::move(fd).error();
        while (::flock(fd->get(), LOCK_EX) != 0)
            if (errno != EINTR) return Error::from_errno("cannot lock " + path.string());
        return FileLock(std::move(*fd));
    }

private:
    explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;  // the lock goes with the descriptor
};

bool seal_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._:/=,+-").find(c) != std::string_view::npos;
}

Status write_record(const fs::path& file, const std::string& seal, std::string_view status) {
    GrubEnv env;
    if (auto existing = read_file(file, grub_env_size * 4); existing) {
        if (auto parsed = GrubEnv::parse(*existing); parsed) env = std::move(*parsed);
        else log::warning("the seal record was not a GRUB environment block; it is rewritten");
    }
    if (!seal.empty())
        if (auto set = env.set("reliant_seal", seal); !set) return set;
    if (auto set = env.set("reliant_seal_status", status); !set) return set;
    auto bytes = env.render();
    if (!bytes) return std::move(bytes).error();
    if (auto made = make_directory(file.parent_path(), fs::perms(0755)); !made) return made;
    remove_stale_temporaries(file);
    return write_file_atomically(file, *bytes, 0644);
}

struct FoundRecord {
    RecordLocation location;
    BlockDevice device;
};

// The record's location from the settings file, and its device.
Result<FoundRecord> find_record(const Paths& paths, const DeviceResolver& resolve) {
    auto settings = Settings::read(paths.settings);
    if (!settings) return std::move(settings).error();
    auto location = record_location(*settings);
    if (!location) return std::move(location).error().context(paths.settings.string());
    auto device = resolve(location->device);
    if (!device) return std::move(device).error().context("the seal record's device (RELIANT_RECORD_DEVICE)");
    return FoundRecord{std::move(*location), std::move(*device)};
}

}  // namespace

Result<BootKind> boot_kind(const fs::path& cmdline) {
    auto options = read_boot_options(cmdline);
    if (!options) return std::move(options).error();
    if (!options->enabled) return BootKind::other;
    return options->mode == BootMode::maintenance ? BootKind::maintenance : BootKind::normal;
}

// ---- split ----

std::vector<std::string> split_command(const Paths& paths) {
    std::vector<std::string> command{paths.healer.string(),
            "split",
            "--in",
            paths.qubes_xml.string(),
            "--base-out",
            paths.split_base_out().string(),
            "--shard-root",
            paths.shard_root.string(),
            "--volume-root",
            paths.volume_root.string(),
            "--merge-report",
            paths.merge_report().string(),
            "--report",
            paths.split_report().string()};
    command.insert(command.end(), paths.healer_options.begin(), paths.healer_options.end());
    return command;
}

// The notice's count of qubes that end with the session, from the report
// the split just wrote (session/status.h). Best effort: the split's own
// outcome never depends on it.
void record_lost_count(const Paths& paths) {
    auto report = read_regular_file(paths.split_report(), 16u << 20);
    if (!report) return;
    auto lost = count_lost(*report);
    if (!lost) return;
    StatusCounts counts;
    if (auto existing = read_summary(paths.summary()); existing && *existing) counts = **existing;
    counts.lost = *lost;
    if (auto written = write_file_atomically(paths.summary(), summary_text(counts), 0644); !written)
        log::warning(written.error().describe());
}

Status split_once(const Paths& paths, shufflecake::CommandRunner& runner, std::ostream& out) {
    std::error_code ec;
    if (!fs::is_regular_file(paths.merge_report(), ec))
        return Error("no merge report at " + paths.merge_report().string() +
                         ": this boot did not merge, so nothing is split",
                     ENOENT)
            .advise("the boot's merge failed or did not run: see journalctl -u reliant-heal");
    if (auto made = make_directory(paths.split_base_out().parent_path(), fs::perms(0700)); !made) return made;
    auto lock = FileLock::exclusive(paths.split_lock());
    if (!lock) return std::move(lock).error();

    ProcessOptions options;
    options.timeout = std::chrono::minutes(5);
    auto ran = runner.run(split_command(paths), options);
    if (!ran) return std::move(ran).error().context("running the healer");
    forward(*ran, out);
    record_lost_count(paths);
    // Its exit status is the reason (no errno: nothing failed an I/O call here).
    if (!ran->succeeded())
        return Error("reliant-healer split " + ran->describe() + ": not everything was written")
            .advise("read " + paths.split_report().string() + " (which shard, why) and the healer's line above");
    return success();
}

// ---- the base journal ----

std::vector<std::string> journal_command(const Paths& paths, const std::vector<std::string>& action) {
    std::vector<std::string> command{paths.healer.string(), "journal",  "--base", paths.qubes_xml.string(),
                                     "--journal",           paths.base_journal.string()};
    command.insert(command.end(), action.begin(), action.end());
    return command;
}

Status run_journal_action(const Paths& paths, shufflecake::CommandRunner& runner,
                          const std::vector<std::string>& action, std::ostream& out) {
    auto kind = boot_kind(paths.cmdline);
    if (!kind) return std::move(kind).error();
    if (*kind != BootKind::maintenance) {
        if (action == std::vector<std::string>{"record"}) {
            out << "reliant-session journal: not a maintenance boot; nothing to record\n";
            return success();
        }
        return Error("the base journal changes only in maintenance mode (the base is read-only now)", EROFS)
            .advise("reboot into reliant's maintenance entry, replace the qube there, and state its successor "
                    "(docs/install.md, 3.8)");
    }
    return run_healer(runner, journal_command(paths, action), std::chrono::minutes(1), out);
}

// ---- repair ----

std::vector<std::string> repair_command(const Paths& paths, const std::vector<std::string>& action) {
    std::vector<std::string> command{paths.healer.string(), "repair", "--shard-root", paths.shard_root.string(),
                                     "--volume-root", paths.volume_root.string(), "--merge-report",
                                     paths.merge_report().string()};
    command.insert(command.end(), action.begin(), action.end());
    return command;
}

Status run_repair(const Paths& paths, shufflecake::CommandRunner& runner, const std::vector<std::string>& action,
                  std::ostream& out) {
    auto kind = boot_kind(paths.cmdline);
    if (!kind) return std::move(kind).error();
    if (*kind != BootKind::normal)
        return Error("repair works on a volume this boot opened and froze; this is no normal reliant boot", EINVAL)
            .advise("boot with the volume's passphrase, then sudo reliant-session status");
    return run_healer(runner, repair_command(paths, action), std::chrono::minutes(2), out);
}

// ---- close ----

DeviceResolver system_device_resolver(const fs::path& dev_root) {
    return [dev_root](const std::string& spec) { return resolve_block_device(spec, dev_root); };
}

Status close_volumes(const Paths& paths, const DeviceResolver& resolve, shufflecake::DeviceMapper& dm,
                     shufflecake::MountTable& mounts, const std::vector<std::string>& volume_targets,
                     std::ostream& out) {
    auto options = read_boot_options(paths.cmdline);
    if (!options) return std::move(options).error();
    if (!options->enabled || options->mode == BootMode::maintenance) {
        out << "reliant-session close: not a normal reliant boot; nothing to close\n";
        return success();
    }
    if (options->device.empty())
        return Error("rd.reliant.device= is not set on the kernel command line")
            .advise("set it to the Shufflecake partition (docs/cmdline.md)");
    auto device = resolve(options->device);
    if (!device) return std::move(device).error().context("the Shufflecake device");

    shufflecake::SystemCommandRunner unused_runner;  // closing runs no command
    shufflecake::GlueConfig config;
    if (!volume_targets.empty()) config.volume_targets = volume_targets;
    shufflecake::ShufflecakeGlue glue(unused_runner, dm, mounts, config);
    if (auto closed = glue.close_device(device->number); !closed) return closed;
    out << "reliant-session close: the Shufflecake volumes are closed\n";
    return success();
}

// ---- seal ----

Status SystemMounter::mount(const fs::path& device, const fs::path& target, const std::string& fstype) {
    if (::mount(device.c_str(), target.c_str(), fstype.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return Error::from_errno("cannot mount " + device.string() + " (" + fstype + ") on " + target.string());
    return success();
}

Status SystemMounter::unmount(const fs::path& target) {
    for (int attempt = 0;; ++attempt) {
        if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return success();
        if (errno != EBUSY || attempt == 20) return Error::from_errno("cannot unmount " + target.string());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

Result<std::string> checked_seal_arguments(std::string_view printed) {
    while (!printed.empty() && printed.back() == '\n') printed.remove_suffix(1);
    if (printed.empty()) return Error("reliant-overlay seal printed no seal arguments");
    if (printed.size() > 900)
        return Error("the seal arguments reliant-overlay printed are longer than the 900 bytes the seal record "
                     "holds");
    bool integrity = false;
    std::size_t start = 0;
    while (start <= printed.size()) {
        const auto end = std::min(printed.find(' ', start), printed.size());
        const auto word = printed.substr(start, end - start);
        if (!word.starts_with("rd.reliant.") || word.find('=') == std::string_view::npos ||
            !std::all_of(word.begin(), word.end(), seal_word_char))
            return Error("unexpected seal argument: " + std::string(word), EINVAL);
        integrity = integrity || word.starts_with("rd.reliant.integrity=");
        start = end + 1;
    }
    if (!integrity) return Error("the seal arguments name no rd.reliant.integrity", EINVAL);
    return std::string(printed);
}

Status arm_seal(const Paths& paths, const DeviceResolver& resolve, std::ostream& out) {
    auto options = read_boot_options(paths.cmdline);
    if (!options) return std::move(options).error();
    if (!options->enabled || options->mode != BootMode::maintenance) {
        out << "reliant-session seal-arm: not a maintenance boot; nothing to seal\n";
        return success();
    }
    auto record = find_record(paths, resolve);
    if (!record) return std::move(record).error();
    const std::string base_spec = options->base;
    if (base_spec.empty()) return Error("no base: neither rd.reliant.base= nor root= is set", EINVAL);
    auto base = resolve(base_spec);
    if (!base) return std::move(base).error().context("the base (rd.reliant.base= or root=)");
    if (base->number == record->device.number)
        return Error("the seal record must live outside the base: RELIANT_RECORD_DEVICE is the base", EINVAL);
    if (auto made = make_directory(paths.run_dir, fs::perms(0755)); !made) return made;
    if (auto written = write_file_atomically(paths.seal_armed(), "armed\n", 0600); !written) return written;
    out << "reliant-session seal-arm: the base will be sealed at shutdown\n";
    return success();
}

Result<bool> seal_is_armed(const Paths& paths) {
    auto kind = boot_kind(paths.cmdline);
    if (!kind) return std::move(kind).error();
    std::error_code ec;
    return *kind == BootKind::maintenance && fs::exists(paths.seal_armed(), ec);
}

Status seal_and_record(const Paths& paths, const DeviceResolver& resolve, shufflecake::CommandRunner& runner,
                       Mounter& mounter, const SealSettings& seal_settings, std::ostream& out) {
    auto armed = seal_is_armed(paths);
    if (!armed) return std::move(armed).error();
    if (!*armed) {
        out << "reliant-session seal: not an armed maintenance boot; nothing to seal\n";
        return success();
    }
    auto found = find_record(paths, resolve);
    if (!found) return std::move(found).error();

    const fs::path mount_point = paths.record_mount();
    if (auto made = make_directory(mount_point, fs::perms(0700)); !made) return made;
    if (auto mounted = mounter.mount(found->device.path, mount_point, found->location.fstype); !mounted)
        return mounted;
    const fs::path record = mount_point / found->location.path;

    // Marked first, so that a seal cut short (power, the hook's time limit)
    // leaves "sealing" rather than a stale "sealed".
    Status status = write_record(record, "", "sealing");
    if (status) {
        ProcessOptions options;
        options.timeout = seal_settings.timeout;
        auto ran = runner.run({paths.overlay.string(), "--cmdline", paths.cmdline.string(), "seal", "--record",
                               paths.seal_args().string()},
                              options);
        Result<std::string> arguments = Error("not run", 0);
        if (!ran) {
            arguments = std::move(ran).error().context("running reliant-overlay seal");
        } else {
            forward(*ran, out);
            if (!ran->succeeded()) {
                arguments = Error("reliant-overlay seal " + ran->describe() + ": the base is not sealed")
                                .advise("read its message above, fix the cause, then boot the maintenance "
                                        "entry again and leave it the normal way to seal");
            } else {
                auto printed = read_file(paths.seal_args(), 4096);
                arguments = printed ? checked_seal_arguments(*printed) : Result<std::string>(std::move(printed).error());
            }
        }
        if (arguments) {
            status = write_record(record, *arguments, "sealed");
            if (status) out << "reliant-session seal: sealed; the next normal boot carries the new seal\n";
        } else {
            if (auto marked = write_record(record, "", "failed"); !marked)
                log::error("cannot record the failed seal: ", marked.error());
            status = std::move(arguments).error();
        }
    }
    if (auto unmounted = mounter.unmount(mount_point); !unmounted && status) status = unmounted;
    return status;
}

}  // namespace reliant::session

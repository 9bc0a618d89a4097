// reliant-syncconfig: push user configuration into qubes (docs/syncconfig.md).
//
//   receive PROFILE   the qubes.SyncConfig service (install/qubes.SyncConfig)
//   pending           list staged transactions
//   review [ID]       review one on this terminal; apply on a typed "yes"
//   undo [--force]    undo the last applied transaction
//   recover           finish or roll back an interrupted apply or undo
//   push --source DIR --profile P [--secret PATTERN] [--dry-run] TARGET...
//
// Options only the tests use: --home, --qubesdb-read, --deadline-ms,
// --max-pending, --reserve-bytes, --qrexec-client. The service wrapper never
// passes them, and a qrexec caller cannot change the wrapper's argv.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "common/log.h"
#include "syncconfig/apply.h"
#include "syncconfig/display.h"
#include "syncconfig/receiver.h"
#include "syncconfig/review.h"
#include "syncconfig/sender.h"

using namespace reliant;
using namespace reliant::syncconfig;

namespace {

constexpr const char* usage =
    "usage: reliant-syncconfig receive PROFILE\n"
    "       reliant-syncconfig pending | review [ID] | undo [--force] | recover\n"
    "       reliant-syncconfig push --source DIR --profile NAME [--secret PATTERN] [--dry-run] TARGET...\n";

// The home of the user we run as, from /etc/passwd (never $HOME: the
// environment of a service is not ours to trust).
std::string home_of(const Arguments& args) {
    if (auto home = args.option("home")) return *home;
    auto passwd = read_file("/etc/passwd", 4u << 20);
    auto home = passwd ? home_from_passwd(*passwd, ::getuid()) : Result<std::string>(passwd.error());
    if (!home) {
        log::error("no home directory: ", home.error());
        std::exit(5);
    }
    return *home;
}

std::uint64_t number(const Arguments& args, const char* name, std::uint64_t fallback) {
    auto value = args.option(name);
    if (!value) return fallback;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(value->c_str(), &end, 10);
    if (value->empty() || *end != '\0') {
        log::error("--", name, " takes a decimal number");
        std::exit(2);
    }
    return n;
}

// Review, apply and undo take the user's decision: they refuse to run as
// somebody's qrexec service, whose stdin would be the caller's stream.
bool called_through_qrexec() {
    if (std::getenv("QREXEC_REMOTE_DOMAIN") == nullptr) return false;
    log::error("refusing to run inside a qrexec call: review and undo take your decision on your own terminal");
    return true;
}

Result<StateDir> open_state(const Arguments& args, bool recover_first) {
    auto state = StateDir::open(home_of(args));
    if (!state) return state;
    if (auto locked = state->lock(); !locked) {
        if (locked.error().code() == EWOULDBLOCK) return Error("another SyncConfig command is running", EBUSY);
        return std::move(locked).error();
    }
    if (recover_first) {
        auto recovered = recover(*state);
        if (!recovered) return std::move(recovered).error();
        if (*recovered) log::notice("finished an interrupted transaction");
    }
    return state;
}

int run_receive(const Arguments& args) {
    if (args.operands().size() != 1) {
        std::fputs(usage, stderr);
        return 5;
    }
    ExecQubesDb db(args.option("qubesdb-read").value_or("/usr/bin/qubesdb-read"));
    ReceiveOptions options;
    options.argument = args.operands()[0];
    const char* remote = std::getenv("QREXEC_REMOTE_DOMAIN");
    options.remote_domain = remote ? remote : "";
    options.home = home_of(args);
    options.qubesdb = &db;
    options.deadline = std::chrono::milliseconds(number(args, "deadline-ms", 120000));
    options.max_pending = number(args, "max-pending", 8);
    options.reserve_bytes = number(args, "reserve-bytes", 64ull << 20);
    const ReceiveResult result = receive(STDIN_FILENO, options);
    // Counts and rule words only: never paths or content from the stream.
    log::notice("receive: profile ", valid_profile_name(options.argument) ? options.argument : std::string("(invalid)"),
                ": ", std::string(describe(result.response.status)), ": ", result.reason);
    const std::string response = encode_response(result.response);
    if (::write(STDOUT_FILENO, response.data(), response.size()) < 0) { /* the sender went away */
    }
    return exit_status(result.response.status);
}

int run_pending(const Arguments& args) {
    auto state = open_state(args, true);
    if (!state) {
        log::error(state.error());
        return 1;
    }
    auto ids = state->pending_ids();
    if (!ids) {
        log::error(ids.error());
        return 1;
    }
    for (const std::string& id : *ids) {
        auto pending = load_pending(*state, id);
        if (!pending) {
            std::cout << id << "  (unreadable: " << sanitize_line(pending.error().describe(), 200) << ")\n";
            continue;
        }
        std::cout << id << "  from " << pending->source << "  profile " << pending->manifest.profile << "  "
                  << pending->manifest.entries.size() << " file(s)\n";
    }
    return 0;
}

int run_review(const Arguments& args) {
    if (called_through_qrexec()) return 2;
    auto state = open_state(args, true);
    if (!state) {
        log::error(state.error());
        return 1;
    }
    std::string id;
    if (!args.operands().empty()) {
        id = args.operands()[0];
    } else {
        auto ids = state->pending_ids();
        if (!ids || ids->empty()) {
            std::cout << "no pending transaction\n";
            return 0;
        }
        id = ids->front();
    }
    if (!valid_id(id)) {
        log::error("not a transaction id");
        return 2;
    }
    ExecQubesDb db(args.option("qubesdb-read").value_or("/usr/bin/qubesdb-read"));
    return review_on_terminal(*state, db, id);
}

int run_undo(const Arguments& args) {
    if (called_through_qrexec()) return 2;
    auto state = open_state(args, true);
    if (!state) {
        log::error(state.error());
        return 1;
    }
    auto undo = plan_undo(*state, args.flag("force"));
    if (!undo) {
        log::error(undo.error());
        return 1;
    }
    if (auto s = run_transaction(*state, *undo); !s) {
        (void)recover(*state);
        log::error(s.error());
        return 1;
    }
    std::cout << "undone: " << undo->changes.size() << " file(s) restored\n";
    return 0;
}

int run_recover(const Arguments& args) {
    auto state = open_state(args, false);
    if (!state) {
        log::error(state.error());
        return 1;
    }
    auto recovered = recover(*state);
    if (!recovered) {
        log::error(recovered.error());
        return 1;
    }
    std::cout << (*recovered ? "recovered an interrupted transaction\n" : "nothing to recover\n");
    return 0;
}

int run_push(const Arguments& args) {
    PushOptions options;
    options.source = args.option("source").value_or("");
    options.profile = args.option("profile").value_or("");
    options.targets = args.operands();
    options.dry_run = args.flag("dry-run");
    if (auto secret = args.option("secret")) options.secret_patterns.push_back(*secret);
    options.qrexec_client = args.option("qrexec-client").value_or(options.qrexec_client);
    options.timeout = std::chrono::milliseconds(number(args, "timeout-ms", 300000));
    if (options.source.empty() || !valid_profile_name(options.profile) || options.targets.empty()) {
        std::fputs(usage, stderr);
        return 2;
    }
    for (const std::string& pattern : options.secret_patterns)
        if (!check_pattern(pattern).ok()) {
            log::error("--secret: not a valid pattern");
            return 2;
        }
    std::string out;
    const int status = push(options, out);
    std::cout << out;
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    log::configure({.tag = "reliant-syncconfig"});
    if (argc < 2) {
        std::fputs(usage, stderr);
        return 2;
    }
    const std::string command = argv[1];
    const std::vector<std::string> words(argv + 2, argv + argc);
    ArgumentSpec spec;
    spec.options = {"home", "qubesdb-read"};
    if (command == "receive") spec.options.insert({"deadline-ms", "max-pending", "reserve-bytes"});
    if (command == "undo") spec.flags = {"force"};
    if (command == "push") {
        spec.options = {"source", "profile", "secret", "qrexec-client", "timeout-ms"};
        spec.flags = {"dry-run"};
    }
    auto args = Arguments::parse(words, spec);
    if (!args) {
        log::error(args.error());
        return 2;
    }
    if (command == "receive") return run_receive(*args);
    if (command == "pending") return run_pending(*args);
    if (command == "review") return run_review(*args);
    if (command == "undo") return run_undo(*args);
    if (command == "recover") return run_recover(*args);
    if (command == "push") return run_push(*args);
    std::fputs(usage, stderr);
    return 2;
}

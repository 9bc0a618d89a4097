// reliant-syncconfig-dom0: SyncConfig's dom0 side (docs/syncconfig.md).
//
//   apply --config FILE [--dry-run]   policy, target features, persistence
//   lint FILE...                      every rule line of policy files: grammar, wide grants
//
// Options for tests and unusual layouts: --volume-root DIR (default
// /run/shufflecake), --policy-dir DIR (default /etc/qubes/policy.d),
// --qvm-features PROGRAM (default qvm-features).
//
// A second tool rather than verbs of reliant-syncconfig: it runs only in
// dom0 and reads shards (healer, libxml2), which the binary installed in
// every template has no use for.
#include <cstdio>
#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "syncconfig/dom0_run.h"

using namespace reliant;
using namespace reliant::syncconfig;

namespace {

constexpr const char* usage =
    "usage: reliant-syncconfig-dom0 apply --config FILE [--dry-run] [--volume-root DIR] [--policy-dir DIR]\n"
    "                                     [--qvm-features PROGRAM]\n"
    "       reliant-syncconfig-dom0 lint FILE...\n";

// The parsers name their input "config" or "policy"; the user knows it by its path.
Error in_file(Error error, const std::string& path) {
    const int line = error.input_line();
    return std::move(error.at(path, line));
}

// Messages go to the user who ran us, never to a log: they may name hidden qubes.
int fail(const Error& error, int status) {
    std::cerr << "reliant-syncconfig-dom0: " << error.describe() << "\n";
    return status;
}

int run_apply(const Arguments& args) {
    const auto config_path = args.option("config");
    if (!config_path || !args.operands().empty()) {
        std::fputs(usage, stderr);
        return 2;
    }
    auto text = read_file(*config_path, dom0_config_max_bytes);
    if (!text) return fail(std::move(text).error().context("reading " + *config_path), 2);
    auto config = parse_dom0_config(*text);
    if (!config) return fail(in_file(config.error(), *config_path), 2);
    Dom0Options options;
    if (auto v = args.option("volume-root")) options.volume_root = *v;
    if (auto v = args.option("policy-dir")) options.policy_dir = *v;
    if (auto v = args.option("qvm-features")) options.qvm_features = *v;
    auto plan = plan_dom0(*config, options);
    if (!plan) return fail(plan.error(), 2);
    if (args.flag("dry-run")) {
        print_dom0_plan(*plan, std::cout);
        return 0;
    }
    shufflecake::SystemCommandRunner runner;
    if (auto s = apply_dom0_plan(*plan, runner, std::cout); !s) return fail(s.error(), 1);
    return 0;
}

int run_lint(const Arguments& args) {
    if (args.operands().empty()) {
        std::fputs(usage, stderr);
        return 2;
    }
    int status = 0;
    for (const std::string& path : args.operands()) {
        auto text = read_file(path, 1u << 20);
        if (!text) {
            status = fail(std::move(text).error().context("reading " + path), 1);
            continue;
        }
        auto lines = parse_policy_text(*text);
        if (!lines) {
            status = fail(in_file(lines.error(), path), 1);
            continue;
        }
        for (const PolicyLine& line : *lines)
            if (auto wide = wide_grant(line); !wide.empty()) {
                std::cout << path << ": " << format_policy_line(line) << ": grants more than named qubes: " << wide
                          << "\n";
                status = 1;
            }
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command != "apply" && command != "lint") {
        std::fputs(usage, stderr);
        return 2;
    }
    const ArgumentSpec spec = command == "apply"
                                  ? ArgumentSpec{{"dry-run"}, {"config", "volume-root", "policy-dir", "qvm-features"}}
                                  : ArgumentSpec{};
    auto args = Arguments::parse(std::vector<std::string>(argv + 2, argv + argc), spec);
    if (!args) return fail(args.error(), 2);
    return command == "apply" ? run_apply(*args) : run_lint(*args);
}

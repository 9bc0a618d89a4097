#include "syncconfig/dom0_run.h"

#include "common/file_io.h"
#include "syncconfig/display.h"

namespace reliant::syncconfig {
namespace {

constexpr std::chrono::milliseconds qvm_features_timeout{60000};

void print_bind_dirs_and_notes(const Dom0Plan& plan, std::ostream& out) {
    for (const auto& [target, text] : plan.bind_dirs)
        out << "bind-dirs for " << target << " (Qubes 4.2: install it yourself):\n" << text;
    for (const std::string& note : plan.notes) out << "note: " << note << "\n";
}

// Runs one qvm-features call; its standard output when it succeeded.
Result<std::string> run(shufflecake::CommandRunner& runner, const std::vector<std::string>& argv, const char* step) {
    ProcessOptions options;
    options.timeout = qvm_features_timeout;
    options.max_output = 1u << 20;
    auto result = runner.run(argv, options);
    if (!result) return std::move(result).error().context(show_command(argv));
    if (!result->succeeded()) {
        const std::string said = result->err.substr(0, result->err.find('\n'));
        return Error(std::string(step) + ": " + show_command(argv) + " " + result->describe() +
                     (said.empty() ? "" : ": " + sanitize_line(said, 300)));
    }
    return std::move(result->out);
}

// The owned features a target's listing shows that the plan does not keep.
// A listing line is "NAME VALUE" (column -t); feature names hold no space.
std::vector<std::string> stale_features(std::string_view listing, const std::set<std::string>& kept) {
    std::vector<std::string> stale;
    while (!listing.empty()) {
        const std::size_t end = listing.find('\n');
        const std::string_view line = listing.substr(0, end);
        listing = end == std::string_view::npos ? std::string_view() : listing.substr(end + 1);
        const std::string name(line.substr(0, line.find_first_of(" \t")));
        if (owned_feature(name) && !kept.contains(name)) stale.push_back(name);
    }
    return stale;
}

}  // namespace

std::string show_command(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& word : argv) {
        if (!out.empty()) out += ' ';
        out += word.find(' ') == std::string::npos && !word.empty() ? word : "'" + word + "'";
    }
    return out;
}

void print_dom0_plan(const Dom0Plan& plan, std::ostream& out) {
    for (const auto& argv : plan.existence_checks) out << "would check: " << show_command(argv) << "\n";
    for (const auto& argv : plan.feature_calls) out << "would run: " << show_command(argv) << "\n";
    out << "would unset: the features named " << owned_feature_prefixes[0] << "* or " << owned_feature_prefixes[1]
        << "* that a target's listing shows and the lines above do not set\n";
    for (const PlannedFile& file : plan.files)
        out << "would write " << file.path.string() << ":\n" << file.content << "-- end of " << file.path.string()
            << "\n";
    print_bind_dirs_and_notes(plan, out);
}

Status apply_dom0_plan(const Dom0Plan& plan, shufflecake::CommandRunner& runner, std::ostream& out) {
    std::vector<std::vector<std::string>> unset_calls;
    for (const auto& argv : plan.existence_checks) {
        auto listing = run(runner, argv, "a named qube does not exist (or qubesd cannot be asked)");
        if (!listing)
            return std::move(listing).error().advise(
                "create the qube, or open its volume: a qube of a closed volume cannot be placed; nothing was "
                "changed");
        const std::string& qube = argv.back();
        if (const auto kept = plan.owned.find(qube); kept != plan.owned.end())
            for (std::string& name : stale_features(*listing, kept->second))
                unset_calls.push_back({plan.qvm_features, "--unset", "--", qube, std::move(name)});
    }
    for (const PlannedFile& file : plan.files) {
        std::error_code ec;
        if (!std::filesystem::is_directory(file.path.parent_path(), ec))
            return Error("cannot write " + file.path.string() + ": " + file.path.parent_path().string() +
                         " is not a directory; nothing was changed");
        if (auto s = check_replaceable(file.path); !s)
            return std::move(s).error().context("cannot write " + file.path.string() + ", nothing was changed");
    }
    for (const auto& argv : plan.feature_calls) {
        if (auto s = run(runner, argv, "setting a feature failed"); !s)
            return std::move(s).error().advise("no policy file was written; fix the cause and run again");
        out << "ran: " << show_command(argv) << "\n";
    }
    // What the configuration no longer asks for, once the new values are in place.
    for (const auto& argv : unset_calls) {
        if (auto s = run(runner, argv, "unsetting a feature failed"); !s)
            return std::move(s).error().advise("no policy file was written; fix the cause and run again");
        out << "ran: " << show_command(argv) << "\n";
    }
    for (const PlannedFile& file : plan.files) {
        if (auto s = write_file_atomically(file.path, file.content, 0644); !s)
            return std::move(s).error().context("writing " + file.path.string());
        out << "wrote " << file.path.string() << "\n";
    }
    print_bind_dirs_and_notes(plan, out);
    return success();
}

}  // namespace reliant::syncconfig

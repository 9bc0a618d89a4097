// reliant-healer journal: the base journal (healer/base_journal.h), kept by
// reliant-session in maintenance boots. Names base qubes only.
#include <sys/stat.h>

#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "healer/base_journal.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/xml_reader.h"

namespace reliant::healer {
namespace {

const char* const usage =
    "usage: reliant-healer journal --base QUBES.xml --journal FILE ACTION\n"
    "  record                 note the base qubes removed and created since the last record\n"
    "  successor OLD NEW      base qube NEW takes the place of OLD (removed, or to be)\n"
    "  forget OLD             withdraw the successor stated for OLD\n"
    "  show                   what the journal holds\n";

int fail_usage(const std::string& why) {
    std::cerr << "reliant-healer journal: " << why << '\n' << usage;
    return 2;
}

int fail(const Error& error) {
    std::cerr << "reliant-healer journal: " << error.describe() << '\n';
    return 1;
}

// The journal at `path`, or an empty one when there is none yet.
Result<BaseJournal> load_journal(const std::string& path) {
    auto bytes = read_regular_file(path, BaseJournal::max_bytes + 1);
    if (!bytes && bytes.error().code() == ENOENT) return BaseJournal{};
    if (!bytes) return std::move(bytes).error();
    auto journal = parse_base_journal(*bytes);
    if (!journal) return std::move(journal).error().context(path);
    return journal;
}

Result<Document> load_base(const std::string& path) {
    const XmlLimits limits;
    auto bytes = read_file(path, limits.max_bytes);
    if (!bytes) return std::move(bytes).error();
    Diagnostics diagnostics(path);
    auto document = read_document(*bytes, diagnostics);
    if (!document) return Error(path + ": not a qubes.xml qubesd would read", EINVAL);
    return std::move(*document);
}

Status save_journal(const std::string& path, const BaseJournal& journal) {
    const std::filesystem::path file(path);
    // /var/lib/reliant on the first record; its parent exists on any dom0.
    if (::mkdir(file.parent_path().c_str(), 0755) != 0 && errno != EEXIST)
        return Error::from_errno("creating " + file.parent_path().string());
    remove_stale_temporaries(file);
    return write_file_atomically(file, to_json(journal), 0644);
}

}  // namespace

int run_journal(const std::vector<std::string>& words) {
    auto arguments = Arguments::parse(words, ArgumentSpec{{}, {"base", "journal"}});
    if (!arguments) return fail_usage(arguments.error().describe());
    const auto base_path = arguments->option("base");
    const auto journal_path = arguments->option("journal");
    const std::vector<std::string>& operands = arguments->operands();
    if (!base_path || !journal_path || operands.empty()) return fail_usage("--base, --journal and an action are required");
    const std::string& action = operands.front();
    const std::size_t wanted = action == "successor" ? 3 : action == "forget" ? 2 : 1;
    if (operands.size() != wanted) return fail_usage("wrong number of names for " + action);
    if (action != "record" && action != "successor" && action != "forget" && action != "show")
        return fail_usage("unknown action " + action);

    auto journal = load_journal(*journal_path);
    if (!journal) return fail(journal.error());
    if (action == "show") {
        std::cout << describe(*journal);
        return 0;
    }
    auto base = load_base(*base_path);
    if (!base) return fail(base.error());
    if (action == "record") {
        for (const JournalEvent& event : record_changes(*journal, *base))
            std::cout << "reliant-healer journal: " << event.event << " " << event.qube.klass << " "
                      << event.qube.name << '\n';
    } else if (action == "successor") {
        if (auto stated = state_successor(*journal, *base, operands[1], operands[2]); !stated)
            return fail(stated.error());
        std::cout << "reliant-healer journal: " << operands[2] << " takes the place of " << operands[1]
                  << " for the qubes of every volume, from the next boot\n";
    } else {
        if (auto forgotten = forget_successor(*journal, operands[1]); !forgotten) return fail(forgotten.error());
        std::cout << "reliant-healer journal: no successor stated for " << operands[1] << " any more\n";
    }
    if (auto saved = save_journal(*journal_path, *journal); !saved) return fail(saved.error());
    return 0;
}

}  // namespace reliant::healer

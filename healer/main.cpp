// reliant-healer: validates, merges and splits qubes.xml for reliant.
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "common/log.h"
#include "healer/commands.h"

namespace {

const char* const usage =
    "usage: reliant-healer COMMAND [OPTIONS] ...\n"
    "  check FILE...       report whether qubesd would load each file (exit 0 yes, 1 no)\n"
    "  list FILE           the qubes in FILE and where each lives (base or a volume)\n"
    "  merge ...           base qubes.xml + the shards of the open volumes -> one qubes.xml\n"
    "  split ...           qubesd's qubes.xml -> the base and one shard per volume\n"
    "  journal ...         (maintenance) base qubes removed and created, successors stated\n"
    "  repair ...          a chosen fix for a shard frozen at this boot, on its volume\n";

int dispatch(int argc, char** argv) {
    reliant::log::configure({.tag = "reliant-healer"});
    if (argc < 2) {
        std::cerr << usage;
        return 2;
    }
    const std::string command = argv[1];
    const std::vector<std::string> arguments(argv + 2, argv + argc);
    if (command == "check") return reliant::healer::run_check(arguments);
    if (command == "list") return reliant::healer::run_list(arguments);
    if (command == "merge") return reliant::healer::run_merge(arguments);
    if (command == "split") return reliant::healer::run_split(arguments);
    if (command == "journal") return reliant::healer::run_journal(arguments);
    if (command == "repair") return reliant::healer::run_repair(arguments);
    if (command == "--help" || command == "help") {
        std::cout << usage;
        return 0;
    }
    std::cerr << "reliant-healer: unknown command " << command << '\n' << usage;
    return 2;
}

}  // namespace

// Input is bounded (healer/xml_reader.h, healer/shard_files.h), but a small
// machine can still run out: a clear failure, never an abort with a core.
int main(int argc, char** argv) {
    try {
        return dispatch(argc, argv);
    } catch (const std::bad_alloc&) {
        std::cerr << "reliant-healer: out of memory; nothing more written\n";
        return 1;
    }
}

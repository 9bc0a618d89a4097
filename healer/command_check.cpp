#include <algorithm>
#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "healer/command_options.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/validator.h"

namespace reliant::healer {
namespace {

constexpr int exit_loads = 0;
constexpr int exit_fails = 1;
constexpr int exit_usage = 2;

const char* const usage =
    "usage: reliant-healer check [--json] [--release any|4.3|main] [--root DIR] [--sysfs DIR]\n"
    "                            [--pci-root-buses 0000:00,...] [--reference FILE] FILE...\n";

// Reads and builds one file; I/O errors (other than size) are returned.
Result<std::optional<Document>> load(const std::string& path, Diagnostics& out) {
    const XmlLimits limits;
    auto bytes = read_file(path, limits.max_bytes);
    if (!bytes) {
        if (bytes.error().code() != EFBIG) return std::move(bytes).error();
        out.error("V1", 0, "larger than the limit of " + std::to_string(limits.max_bytes) + " bytes");
        return std::optional<Document>();
    }
    return read_document(*bytes, out);
}

void print(const Diagnostics& diagnostics, bool json) {
    auto items = diagnostics.items();
    std::stable_sort(items.begin(), items.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    for (const auto& item : items) std::cout << (json ? format_json(item) : format_text(item)) << '\n';
}

}  // namespace

int run_check(const std::vector<std::string>& words) {
    ArgumentSpec spec{{"json"}, validation_option_names};
    spec.options.insert("reference");
    auto arguments = Arguments::parse(words, spec);
    if (!arguments || arguments->operands().empty()) {
        if (!arguments) std::cerr << "reliant-healer check: " << arguments.error().describe() << '\n';
        std::cerr << usage;
        return exit_usage;
    }
    auto options = validation_options(*arguments);
    if (!options) {
        std::cerr << "reliant-healer check: " << options.error().describe() << '\n' << usage;
        return exit_usage;
    }
    std::optional<Document> reference;
    if (const auto path = arguments->option("reference")) {
        Diagnostics ignored(*path);
        auto loaded = load(*path, ignored);
        if (!loaded || !*loaded) {
            // The reference's own problems are not ours to report; the
            // reason here is whether it could be read and parsed at all.
            std::cerr << "reliant-healer check: cannot use the reference " << *path << ": "
                      << (!loaded ? loaded.error().describe() : "it is not loadable XML (check it alone to see why)")
                      << '\n';
            return exit_usage;
        }
        reference = std::move(**loaded);
    }

    int status = exit_loads;
    for (const std::string& path : arguments->operands()) {
        Diagnostics diagnostics(path);
        auto document = load(path, diagnostics);
        if (!document) {
            std::cerr << "reliant-healer check: " << document.error().describe() << '\n';
            status = exit_usage;
            continue;
        }
        if (*document) {
            validate(**document, diagnostics, *options);
            if (reference) compare_with_reference(*reference, **document, diagnostics);
        }
        print(diagnostics, arguments->flag("json"));
        if (diagnostics.has_errors() && status == exit_loads) status = exit_fails;
    }
    std::cout.flush();
    return status;
}

}  // namespace reliant::healer

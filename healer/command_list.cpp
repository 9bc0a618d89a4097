// reliant-healer list FILE: the qubes qubesd would see in FILE, one per line:
// name, class, and where the qube lives (base or the volume). For the user
// who asks; never called from a unit that logs.
#include <iomanip>
#include <iostream>

#include "common/arguments.h"
#include "common/file_io.h"
#include "healer/commands.h"
#include "healer/document_reader.h"
#include "healer/ownership.h"

namespace reliant::healer {

int run_list(const std::vector<std::string>& words) {
    const ArgumentSpec spec{{}, {"volume-root"}};
    auto arguments = Arguments::parse(words, spec);
    if (!arguments || arguments->operands().size() != 1) {
        std::cerr << "usage: reliant-healer list [--volume-root /run/shufflecake] FILE\n";
        return 2;
    }
    const std::string path = arguments->operands().front();
    const std::filesystem::path volume_root = arguments->option("volume-root").value_or("/run/shufflecake");
    auto bytes = read_file(path, XmlLimits{}.max_bytes);
    if (!bytes) {
        std::cerr << "reliant-healer list: " << bytes.error().describe() << '\n';
        return 2;
    }
    Diagnostics diagnostics(path);
    const auto document = read_document(*bytes, diagnostics);
    if (!document) {
        for (const auto& d : diagnostics.items()) std::cerr << format_text(d) << '\n';
        return 1;
    }
    for (const Domain& domain : document->domains) {
        const auto volume = qube_volume(domain, *document, volume_root);
        std::cout << std::left << std::setw(32) << domain.qube_name().value_or("?") << std::setw(14)
                  << domain.klass.value_or("?") << (volume ? volume->name() : "base") << '\n';
    }
    return 0;
}

}  // namespace reliant::healer

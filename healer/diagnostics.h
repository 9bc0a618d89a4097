// Findings about a qubes.xml file, one per problem, in compiler style:
//   FILE:LINE: error[V14]: qid 12 used by both 'work' and 'vault'
// Errors are problems that stop qubesd from loading the file (rules of
// severity F); warnings are those it survives (R: breaks at run time,
// H: hygiene). Diagnostics name qubes: they are output for the user who
// asked, never log lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace reliant::healer {

enum class Severity { error, warning };

struct Diagnostic {
    std::string file;
    int line = 0;
    Severity severity = Severity::error;
    std::string rule;  // "V14", "M4"
    std::string message;
};

std::string format_text(const Diagnostic& diagnostic);
// One JSON object: {"file":…,"line":…,"severity":…,"rule":…,"message":…}
std::string format_json(const Diagnostic& diagnostic);

class Diagnostics {
public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    void error(std::string_view rule, int line, std::string message);
    void warning(std::string_view rule, int line, std::string message);
    void add(Diagnostic diagnostic) { items_.push_back(std::move(diagnostic)); }

    const std::string& file() const { return file_; }
    const std::vector<Diagnostic>& items() const { return items_; }
    bool has_errors() const;
    bool has(std::string_view rule, Severity severity) const;
    std::size_t count(Severity severity) const;

private:
    std::string file_;
    std::vector<Diagnostic> items_;
};

}  // namespace reliant::healer

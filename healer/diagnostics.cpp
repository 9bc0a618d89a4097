#include "healer/diagnostics.h"

#include <algorithm>

#include "common/json.h"

namespace reliant::healer {
namespace {

const char* severity_name(Severity severity) { return severity == Severity::error ? "error" : "warning"; }

}  // namespace

std::string format_text(const Diagnostic& d) {
    std::string text = d.file + ":";
    if (d.line > 0) text += std::to_string(d.line) + ":";
    return text + " " + severity_name(d.severity) + "[" + d.rule + "]: " + d.message;
}

std::string format_json(const Diagnostic& d) {
    return "{\"file\":" + json_quote(d.file) + ",\"line\":" + std::to_string(d.line) + ",\"severity\":\"" +
           severity_name(d.severity) + "\",\"rule\":" + json_quote(d.rule) +
           ",\"message\":" + json_quote(d.message) + "}";
}

void Diagnostics::error(std::string_view rule, int line, std::string message) {
    items_.push_back({file_, line, Severity::error, std::string(rule), std::move(message)});
}

void Diagnostics::warning(std::string_view rule, int line, std::string message) {
    items_.push_back({file_, line, Severity::warning, std::string(rule), std::move(message)});
}

bool Diagnostics::has_errors() const { return count(Severity::error) > 0; }

bool Diagnostics::has(std::string_view rule, Severity severity) const {
    return std::any_of(items_.begin(), items_.end(),
                       [&](const Diagnostic& d) { return d.rule == rule && d.severity == severity; });
}

std::size_t Diagnostics::count(Severity severity) const {
    return static_cast<std::size_t>(std::count_if(
        items_.begin(), items_.end(), [&](const Diagnostic& d) { return d.severity == severity; }));
}

}  // namespace reliant::healer

#include "syncconfig/policy_v5.h"

#include <algorithm>
#include <array>

#include "healer/python_values.h"

namespace reliant::syncconfig {
namespace {

bool rpc_char(char c, bool plus_allowed) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || (plus_allowed && c == '+');
}

// Where a token may stand (parser.py: Source, Target, Redirect).
enum class Place { source, target, redirect };

// The token classes of parser.py and the places each may take.
bool valid_token(std::string_view token, Place place) {
    if (token.empty()) return false;
    if (token.front() != '@' && token != "*") return true;  // a name or uuid:, resolved at call time
    if (token == "*" || token == "@anyvm") return place != Place::redirect;
    if (token == "@adminvm") return true;
    if (token == "@default") return place == Place::target;
    if (token == "@dispvm") return place != Place::source;
    // A prefixed token needs a value that does not itself start with "@"
    // ("@dispvm:@tag:X" is the one longer prefix).
    const auto value_of = [&](std::string_view prefix) -> std::string_view {
        return token.starts_with(prefix) ? token.substr(prefix.size()) : std::string_view();
    };
    for (std::string_view prefix : {"@type:", "@tag:", "@dispvm:@tag:"}) {
        const std::string_view value = value_of(prefix);
        if (!value.empty() && value.front() != '@') return place != Place::redirect;
    }
    if (token.starts_with("@dispvm:")) {
        const std::string_view rest = token.substr(8);
        return !rest.empty() && rest.front() != '@';
    }
    return false;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    const auto space = [](char c) { return c == ' ' || c == '\t'; };
    while (i < line.size()) {
        while (i < line.size() && space(line[i])) ++i;
        const std::size_t start = i;
        while (i < line.size() && !space(line[i])) ++i;
        if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

Status check_service_argument(std::string_view service, std::string_view argument) {
    if (service != "*" && (service.empty() || !std::all_of(service.begin(), service.end(),
                                                            [](char c) { return rpc_char(c, false); })))
        return Error("service name with characters outside [A-Za-z0-9._-]");
    if (argument == "*") return success();
    if (!argument.starts_with("+")) return Error("argument does not start with +");
    if (!std::all_of(argument.begin(), argument.end(), [](char c) { return rpc_char(c, true); }))
        return Error("argument with characters outside [A-Za-z0-9+._-]");
    if (service == "*") return Error("only * argument allowed for * service");
    return success();
}

Status check_params(const PolicyLine& line) {
    std::vector<std::string_view> allowed;
    if (line.action == "deny")
        allowed = {"notify"};
    else if (line.action == "allow")
        allowed = {"target", "user", "notify", "autostart"};
    else
        allowed = {"target", "default_target", "user", "notify", "autostart"};
    for (std::size_t i = 0; i < line.params.size(); ++i) {
        const auto& [key, value] = line.params[i];
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            return Error("parameter " + key + "= is not one of action " + line.action + "'s");
        for (std::size_t j = 0; j < i; ++j)
            if (line.params[j].first == key) return Error("parameter given twice: " + key);
        if ((key == "notify" || key == "autostart") && value != "yes" && value != "no")
            return Error(key + " takes yes or no");
        if ((key == "target" || key == "default_target") && !valid_token(value, Place::redirect))
            return Error("invalid " + key + "= token");
    }
    if (line.target == "@default" && line.action == "allow" && !line.param("target"))
        return Error("allow action for @default rule must specify target=");
    return success();
}

}  // namespace

const std::string* PolicyLine::param(std::string_view key) const {
    for (const auto& [k, v] : params)
        if (k == key) return &v;
    return nullptr;
}

Result<PolicyLine> parse_policy_line(std::string_view text) {
    for (char c : text)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || static_cast<unsigned char>(c) >= 0x7f)
            return Error("a control or non-ASCII byte in a policy line (Python splits on Unicode spaces too)");
    const std::vector<std::string_view> fields = split_fields(text);
    if (fields.size() < 5) return Error("wrong number of fields");
    PolicyLine line;
    line.service = fields[0];
    line.argument = fields[1];
    line.source = fields[2];
    line.target = fields[3];
    line.action = fields[4];
    if (auto s = check_service_argument(line.service, line.argument); !s) return std::move(s).error();
    if (!valid_token(line.source, Place::source)) return Error("invalid source token");
    if (!valid_token(line.target, Place::target)) return Error("invalid target token");
    if (line.action != "allow" && line.action != "deny" && line.action != "ask")
        return Error("invalid action: not allow, deny or ask");
    for (std::size_t i = 5; i < fields.size(); ++i) {
        const std::size_t equals = fields[i].find('=');
        if (equals == std::string_view::npos) return Error("invalid action parameter syntax (no =)");
        line.params.emplace_back(std::string(fields[i].substr(0, equals)), std::string(fields[i].substr(equals + 1)));
    }
    if (auto s = check_params(line); !s) return std::move(s).error();
    return line;
}

Result<std::vector<PolicyLine>> parse_policy_text(std::string_view text) {
    std::vector<PolicyLine> lines;
    int number = 0;
    while (!text.empty()) {
        ++number;
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        if (line.front() == '!') return Error("a directive (not written by this tool)").at("policy", number);
        auto parsed = parse_policy_line(line);
        if (!parsed) return std::move(parsed).error().at("policy", number);
        lines.push_back(std::move(*parsed));
    }
    return lines;
}

std::string format_policy_line(const PolicyLine& line) {
    std::string out = line.service + " " + line.argument + " " + line.source + " " + line.target + " " + line.action;
    for (const auto& [key, value] : line.params) out += " " + key + "=" + value;
    return out;
}

bool explicit_qube_token(std::string_view token) {
    return healer::qube_name_problem(token).empty();
}

std::string wide_grant(const PolicyLine& line) {
    if (line.action == "deny") return {};
    if (line.service == "*" || line.argument == "*") return "a * service or argument";
    if (!explicit_qube_token(line.source)) return "source " + line.source + " is not a qube name";
    if (!explicit_qube_token(line.target)) return "target " + line.target + " is not a qube name";
    for (std::string_view key : {"target", "default_target"})
        if (const std::string* value = line.param(key); value && !explicit_qube_token(*value))
            return std::string(key) + "=" + *value + " is not a qube name";
    return {};
}

}  // namespace reliant::syncconfig

// Command-line arguments of reliant's tools: subcommand options as
// "--flag", "--name VALUE" or "--name=VALUE", then operands. Each command
// declares what it accepts, so a typo is an error rather than ignored.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"

namespace reliant {

struct ArgumentSpec {
    std::set<std::string> flags;    // without leading dashes: "json"
    std::set<std::string> options;  // taking a value: "out"
};

class Arguments {
public:
    static Result<Arguments> parse(const std::vector<std::string>& words, const ArgumentSpec& spec);

    bool flag(const std::string& name) const { return flags_.contains(name); }
    std::optional<std::string> option(const std::string& name) const;
    const std::vector<std::string>& operands() const { return operands_; }

private:
    std::set<std::string> flags_;
    std::map<std::string, std::string> options_;
    std::vector<std::string> operands_;
};

}  // namespace reliant

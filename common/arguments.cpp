#include "common/arguments.h"

namespace reliant {

Result<Arguments> Arguments::parse(const std::vector<std::string>& words, const ArgumentSpec& spec) {
    Arguments arguments;
    bool only_operands = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (only_operands || !word.starts_with("--")) {
            if (!only_operands && word.starts_with("-") && word != "-")
                return Error("unknown option " + word, EINVAL);
            arguments.operands_.push_back(word);
            continue;
        }
        if (word == "--") {
            only_operands = true;
            continue;
        }
        const std::size_t equals = word.find('=');
        const std::string name = word.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
        if (spec.flags.contains(name)) {
            if (equals != std::string::npos) return Error("option --" + name + " takes no value", EINVAL);
            arguments.flags_.insert(name);
        } else if (spec.options.contains(name)) {
            if (equals != std::string::npos) {
                arguments.options_[name] = word.substr(equals + 1);
            } else {
                if (i + 1 == words.size()) return Error("option --" + name + " needs a value", EINVAL);
                arguments.options_[name] = words[++i];
            }
        } else {
            return Error("unknown option --" + name, EINVAL);
        }
    }
    return arguments;
}

std::optional<std::string> Arguments::option(const std::string& name) const {
    const auto it = options_.find(name);
    return it == options_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

}  // namespace reliant

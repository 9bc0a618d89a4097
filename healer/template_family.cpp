#include "healer/template_family.h"

#include <algorithm>

namespace reliant::healer {
namespace {

bool is_version(std::string_view token) {
    return !token.empty() && std::isdigit(static_cast<unsigned char>(token.front())) &&
           std::all_of(token.begin(), token.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

std::vector<std::string_view> tokens(std::string_view name) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t dash = name.find('-', start);
        parts.push_back(
            name.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
        if (dash == std::string_view::npos) return parts;
        start = dash + 1;
    }
}

// Version numbers in order: "debian-12.1-xfce" -> {12, 1}.
std::vector<long long> versions(std::string_view name) {
    std::vector<long long> numbers;
    for (const auto token : tokens(name)) {
        if (!is_version(token)) continue;
        long long number = 0;
        for (const char c : token) {
            if (c == '.') {
                numbers.push_back(number);
                number = 0;
            } else if (number < 1'000'000'000) {
                number = number * 10 + (c - '0');
            }
        }
        numbers.push_back(number);
    }
    return numbers;
}

}  // namespace

std::optional<std::string> template_family(std::string_view name) {
    std::string family;
    bool versioned = false;
    for (const auto token : tokens(name)) {
        if (!family.empty()) family += '-';
        if (is_version(token)) {
            family += '#';
            versioned = true;
        } else {
            family += token;
        }
    }
    return versioned ? std::optional<std::string>(family) : std::nullopt;
}

std::optional<std::string> newest_in_family(std::string_view missing,
                                            const std::vector<std::string>& candidates) {
    const auto family = template_family(missing);
    if (!family) return std::nullopt;
    std::optional<std::string> best;
    for (const std::string& candidate : candidates) {
        if (candidate == missing || template_family(candidate) != family) continue;
        if (!best || versions(candidate) > versions(*best) ||
            (versions(candidate) == versions(*best) && candidate < *best))
            best = candidate;
    }
    return best;
}

}  // namespace reliant::healer

#include "syncconfig/paths.h"

#include <cerrno>
#include <vector>

namespace reliant::syncconfig {

namespace {

bool allowed_byte(unsigned char c) { return (c >= 0x21 && c <= 0x7e && c != '\\') || c == ' '; }

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            parts.push_back(path.substr(start));
            return parts;
        }
        parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
}

Status check_components(std::string_view path, const PathLimits& limits, bool pattern) {
    const char* what = pattern ? "pattern" : "path";
    if (path.empty()) return Error(std::string("empty ") + what, EINVAL);
    if (path.size() > limits.max_path)
        return Error(std::string(what) + " longer than " + std::to_string(limits.max_path) + " bytes", EINVAL);
    for (unsigned char c : path)
        if (!allowed_byte(c) && c != '/')
            return Error(std::string(what) + " holds a byte outside printable ASCII (or a backslash)", EINVAL);
    if (path.front() == '/') return Error(std::string("absolute ") + what, EINVAL);
    const auto parts = split(path);
    if (parts.size() > limits.max_depth)
        return Error(std::string(what) + " deeper than " + std::to_string(limits.max_depth) + " components", EINVAL);
    for (std::string_view part : parts) {
        if (part.empty()) return Error(std::string(what) + " with an empty component (// or a trailing /)", EINVAL);
        if (part == "." || part == "..") return Error(std::string(what) + " with a . or .. component", EINVAL);
        if (part.size() > limits.max_component)
            return Error(std::string(what) + " component longer than " + std::to_string(limits.max_component) +
                             " bytes",
                         EINVAL);
        if (part.front() == ' ' || part.back() == ' ')
            return Error(std::string(what) + " component starting or ending with a space", EINVAL);
        if (pattern && part != "**" && part.find("**") != std::string_view::npos)
            return Error("pattern with ** inside a component", EINVAL);
    }
    return success();
}

// '*' matches any run of bytes within one component. Iterative with one
// backtrack point: O(pattern x text) at worst, no recursion.
bool component_match(std::string_view pattern, std::string_view text) {
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace

Status check_path(std::string_view path, const PathLimits& limits) { return check_components(path, limits, false); }

Status check_pattern(std::string_view pattern, const PathLimits& limits) {
    return check_components(pattern, limits, true);
}

std::string fold_case(std::string_view path) {
    std::string folded(path);
    for (char& c : folded)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return folded;
}

bool glob_match(std::string_view pattern, std::string_view path) {
    const auto pat = split(pattern);
    const auto txt = split(path);
    // reach[j]: the first i pattern components can match the first j path
    // components. One row per pattern component: O(|pat| x |txt|) steps.
    std::vector<char> reach(txt.size() + 1, 0), next(txt.size() + 1, 0);
    reach[0] = 1;
    for (std::string_view component : pat) {
        std::fill(next.begin(), next.end(), 0);
        if (component == "**") {
            char any = 0;
            for (std::size_t j = 0; j <= txt.size(); ++j) {
                any = static_cast<char>(any | reach[j]);
                next[j] = any;
            }
        } else {
            for (std::size_t j = 0; j < txt.size(); ++j)
                if (reach[j] && component_match(component, txt[j])) next[j + 1] = 1;
        }
        reach.swap(next);
    }
    return reach[txt.size()] != 0;
}

}  // namespace reliant::syncconfig

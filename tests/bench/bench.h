// A minimal benchmark harness: runs each candidate and its baseline
// alternately in the same process, many times, and reports min and median.
// Numbers in docs come from these runs, never from timed unit tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace reliant::bench {

struct Measurement {
    std::string name;
    std::vector<double> milliseconds;

    double median() const {
        auto sorted = milliseconds;
        std::sort(sorted.begin(), sorted.end());
        return sorted[sorted.size() / 2];
    }
    double min() const { return *std::min_element(milliseconds.begin(), milliseconds.end()); }
};

// Interleaves the functions round by round so that machine noise (another
// process, frequency changes) hits all of them alike.
inline std::vector<Measurement> run(const std::vector<std::pair<std::string, std::function<void()>>>& cases,
                                    int rounds) {
    std::vector<Measurement> results;
    for (const auto& [name, fn] : cases) {
        results.push_back({name, {}});
        fn();  // warm up: page cache, allocator
    }
    for (int round = 0; round < rounds; ++round)
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const auto start = std::chrono::steady_clock::now();
            cases[i].second();
            const std::chrono::duration<double, std::milli> elapsed =
                std::chrono::steady_clock::now() - start;
            results[i].milliseconds.push_back(elapsed.count());
        }
    return results;
}

inline void print(const std::vector<Measurement>& results) {
    std::printf("%-48s %10s %10s\n", "case", "min ms", "median ms");
    for (const auto& m : results) std::printf("%-48s %10.2f %10.2f\n", m.name.c_str(), m.min(), m.median());
}

}  // namespace reliant::bench

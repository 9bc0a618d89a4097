#include "session/debounce.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <map>

#include "test_support.h"

using namespace reliant;
using namespace reliant::session;
using namespace std::chrono_literals;

namespace {

// A clock that only moves when slept on; `changes` says at which times (ms
// since start) qubesd "saves", which bumps the file's signature.
class ScriptedClock final : public Clock {
public:
    time_point now() override { return start_ + elapsed_; }
    bool sleep_for(std::chrono::milliseconds duration) override {
        if (stop_at && elapsed_ >= *stop_at) return false;
        elapsed_ += duration;
        return true;
    }
    std::chrono::milliseconds elapsed() const { return elapsed_; }
    std::optional<std::chrono::milliseconds> stop_at;

private:
    time_point start_{};
    std::chrono::milliseconds elapsed_{0};
};

struct ScriptedFile {
    const ScriptedClock& clock;
    std::vector<std::chrono::milliseconds> saves;  // times of saves
    FileSignature probe() const {
        FileSignature signature;
        signature.exists = true;
        for (const auto save : saves)
            if (clock.elapsed() >= save) ++signature.inode;
        return signature;
    }
};

const DebounceSettings settings{2000ms, 10000ms, 100ms};

}  // namespace

TEST_CASE("debounce: one save, then quiet: one split after the quiet period") {
    ScriptedClock clock;
    ScriptedFile file{clock, {0ms}};
    std::vector<std::chrono::milliseconds> split_times;
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings, [&] {
        split_times.push_back(clock.elapsed());
        return success();
    });
    CHECK(result.outcome == DebounceOutcome::done);
    CHECK(result.splits == 1);
    REQUIRE(split_times.size() == 1);
    CHECK(split_times[0] == 2000ms);
}

TEST_CASE("debounce: a burst of saves is one split, quiet counted from the last save") {
    ScriptedClock clock;
    ScriptedFile file{clock, {0ms, 300ms, 700ms, 1500ms}};
    std::vector<std::chrono::milliseconds> split_times;
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings, [&] {
        split_times.push_back(clock.elapsed());
        return success();
    });
    CHECK(result.splits == 1);
    REQUIRE(split_times.size() == 1);
    CHECK(split_times[0] >= 3500ms);  // 1500 + 2000
    CHECK(split_times[0] <= 3600ms);  // within one poll
}

TEST_CASE("debounce: saves that never stop still split at the latest every max_delay") {
    ScriptedClock clock;
    ScriptedFile file{clock, {}};
    for (int t = 0; t <= 60000; t += 500) file.saves.push_back(std::chrono::milliseconds(t));
    std::vector<std::chrono::milliseconds> split_times;
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings, [&] {
        split_times.push_back(clock.elapsed());
        clock.sleep_for(600ms);  // the healer takes a while; qubesd saves meanwhile
        if (split_times.size() == 3) file.saves.erase(file.saves.begin() + 10, file.saves.end());  // quiet now
        return success();
    });
    CHECK(result.outcome == DebounceOutcome::done);
    REQUIRE(split_times.size() == 4);
    CHECK(split_times[0] == 10000ms);
    CHECK(split_times[1] - split_times[0] <= 10600ms);
    CHECK(split_times[2] - split_times[1] <= 10600ms);
    CHECK(split_times[3] - split_times[2] == 2600ms);  // the split's 600 ms, then 2 s of quiet
}

TEST_CASE("debounce: a save during the split splits again") {
    ScriptedClock clock;
    ScriptedFile file{clock, {0ms}};
    int splits = 0;
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings, [&] {
        if (++splits == 1) file.saves.push_back(clock.elapsed());  // lands while the healer runs
        return success();
    });
    CHECK(result.splits == 2);
    CHECK(splits == 2);
}

TEST_CASE("debounce: the last split's status is returned") {
    ScriptedClock clock;
    ScriptedFile file{clock, {0ms}};
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings,
                                      [&]() -> Status { return Error("healer failed", EIO); });
    CHECK(result.outcome == DebounceOutcome::done);
    CHECK_FALSE(result.status.ok());
}

TEST_CASE("debounce: a stop request while waiting ends without splitting") {
    ScriptedClock clock;
    clock.stop_at = 500ms;
    ScriptedFile file{clock, {0ms}};
    int splits = 0;
    const auto result = run_debounced([&] { return file.probe(); }, clock, settings, [&] {
        ++splits;
        return success();
    });
    CHECK(result.outcome == DebounceOutcome::stopped);
    CHECK(splits == 0);
}

TEST_CASE("file signature: a rename over the file and an in-place write both change it") {
    reliant::testing::TempDir dir;
    const auto file = dir / "qubes.xml";
    CHECK_FALSE(file_signature(file).exists);
    reliant::testing::spit(file, "<qubes/>");
    const auto first = file_signature(file);
    CHECK(first.exists);
    CHECK(file_signature(file) == first);
    reliant::testing::spit(dir / "new", "<qubes/>");  // same size and content
    REQUIRE(std::rename((dir / "new").c_str(), file.c_str()) == 0);
    const auto renamed = file_signature(file);
    CHECK(renamed != first);
    reliant::testing::spit(file, "<qubes></qubes>");
    CHECK(file_signature(file) != renamed);
}

// Time, behind an interface so the attempt pacing is tested without sleeping.
#pragma once

#include <chrono>
#include <thread>

namespace reliant::unlock {

class Clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual time_point now() = 0;
    virtual void sleep_until(time_point when) = 0;
};

class SteadyClock final : public Clock {
public:
    time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep_until(time_point when) override { std::this_thread::sleep_until(when); }
};

}  // namespace reliant::unlock

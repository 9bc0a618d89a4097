// Boot-time verification of the same base, both ways, in one run:
//   verity-open  activate dm-verity with the root hash and read through it
//                once (what `reliant-overlay verify` does), then deactivate
//   whole-hash   SHA-256 over the whole device, compared with the seal
// Caches are dropped before every measurement, as at boot. Needs root and
// device-mapper (runs in the QEMU guest, tests/bench/integrity/).
//
// usage: integrity-bench --data DEV --hash DEV --root-hash HEX --sha256 HEX [--rounds N]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "overlay/integrity.h"
#include "overlay/loop_device.h"

namespace {

using reliant::Status;
using namespace reliant::overlay;

void drop_caches() {
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (::write(fd, "3", 1) != 1) std::perror("drop_caches");
        ::close(fd);
    }
}

double timed_ms(const std::function<Status()>& step, bool& ok) {
    drop_caches();
    const auto start = std::chrono::steady_clock::now();
    const Status status = step();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!status) {
        std::fprintf(stderr, "integrity-bench: %s\n", status.error().describe().c_str());
        ok = false;
    }
    return std::chrono::duration<double, std::milli>(elapsed).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string data, hash, root_hash, sha256;
    int rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--data")
            data = value;
        else if (key == "--hash")
            hash = value;
        else if (key == "--root-hash")
            root_hash = value;
        else if (key == "--sha256")
            sha256 = value;
        else if (key == "--rounds")
            rounds = std::max(1, std::atoi(value.c_str()));
    }
    if (data.empty() || hash.empty() || root_hash.empty() || sha256.empty()) {
        std::fprintf(
            stderr,
            "usage: integrity-bench --data DEV --hash DEV --root-hash HEX --sha256 HEX [--rounds N]\n");
        return 2;
    }
    const auto bytes = block_device_size(data);
    std::printf("base %s: %llu bytes\n", data.c_str(),
                bytes ? static_cast<unsigned long long>(*bytes) : 0ull);

    bool ok = true;
    std::vector<double> verity, whole;
    const VerityLayout layout{data, hash, 0};
    for (int round = 1; round <= rounds; ++round) {
        // Alternate the order, so neither method always runs first.
        auto open_close = [&] {
            auto mapped = open_verity(layout, root_hash, "reliant-bench");
            if (!mapped) return Status(std::move(mapped).error());
            return close_verity("reliant-bench");
        };
        auto hash_all = [&] { return check_whole_device_hash(data, sha256); };
        if (round % 2) {
            verity.push_back(timed_ms(open_close, ok));
            whole.push_back(timed_ms(hash_all, ok));
        } else {
            whole.push_back(timed_ms(hash_all, ok));
            verity.push_back(timed_ms(open_close, ok));
        }
        std::printf("round %d: verity-open %.1f ms, whole-hash %.1f ms\n", round, verity.back(),
                    whole.back());
    }
    std::printf("median of %d: verity-open %.1f ms, whole-hash %.1f ms, ratio %.0fx\n", rounds,
                median(verity), median(whole), median(whole) / std::max(median(verity), 0.001));
    std::fflush(stdout);
    return ok ? 0 : 1;
}

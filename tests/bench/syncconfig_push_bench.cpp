// SyncConfig: pushing 200 files (2 MiB in all, 20 directories under
// ~/.config) to one target, stream and apply, against `cp -r` of the same
// tree, in the same run (docs/syncconfig.md, "Benchmark").
//
// Candidate, in-process with the real code: collect (the sender's walk, hash
// and checks), encode the stream, receive it from a pipe fed by a second
// thread (decode, check against the profile, hash, stage durably), then
// build the review and apply it as one transaction (backups, temporaries,
// fsync, renames, journal). Baseline: `cp -r` of the source tree to a new
// directory (a child process; no fsync). Each round writes into a fresh
// home, so both always create 200 new files.
//   build/dev/tests/bench/bench-syncconfig-push [ROUNDS]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench.h"
#include "common/file_io.h"
#include "common/process.h"
#include "syncconfig/apply.h"
#include "syncconfig/receiver.h"
#include "syncconfig/review.h"
#include "syncconfig/sender.h"

using namespace reliant;
using namespace reliant::syncconfig;
namespace fs = std::filesystem;

namespace {

constexpr int file_count = 200;
constexpr std::size_t total_bytes = 2u << 20;

// dom0's enablement of the profile, as the target's QubesDB would hold it.
class BenchQubesDb : public QubesDb {
public:
    Result<std::optional<std::string>> read(std::string_view key) override {
        if (key == qubesdb_profiles_key) return std::optional<std::string>("bench");
        if (key == std::string(qubesdb_profile_prefix) + "bench") return std::optional<std::string>("allow=**");
        return std::optional<std::string>();
    }
};

void make_tree(const fs::path& root) {
    std::uint32_t state = 12345;
    for (int i = 0; i < file_count; ++i) {
        const std::size_t size =
            i + 1 < file_count ? total_bytes / file_count : total_bytes - (file_count - 1) * (total_bytes / file_count);
        std::string content(size, ' ');
        for (char& c : content) {
            state = state * 1103515245u + 12345u;
            c = static_cast<char>('a' + (state >> 16) % 26);
            if ((state >> 8) % 64 == 0) c = '\n';
        }
        const fs::path file = root / ".config" / ("d" + std::to_string(i % 20)) / ("f" + std::to_string(i) + ".conf");
        fs::create_directories(file.parent_path());
        if (!write_file_atomically(file, content, 0644)) std::abort();
    }
}

// Where the candidate's time goes, summed over its calls (warm-up included).
struct Phases {
    double stream_ms = 0, apply_ms = 0;
    int calls = 0;
} phases;

double since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Push and apply into `home`: false on any failure.
bool push_and_apply(const std::string& source, const std::string& home) {
    const auto start = std::chrono::steady_clock::now();
    auto collected = collect(source, "bench", "target", {});
    if (!collected || collected->entries.size() != file_count) return false;
    const std::string stream = encode_stream(1, "bench", collected->entries, collected->contents);
    int fds[2];
    if (::pipe(fds) != 0) return false;
    std::thread writer([&] {
        std::size_t done = 0;
        while (done < stream.size()) {
            const ssize_t n = ::write(fds[1], stream.data() + done, stream.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::close(fds[1]);
    });
    BenchQubesDb db;
    ReceiveOptions options;
    options.argument = "bench";
    options.remote_domain = "config-mgmt";
    options.home = home;
    options.qubesdb = &db;
    const ReceiveResult received = receive(fds[0], options);
    writer.join();
    ::close(fds[0]);
    if (received.response.status != ResponseStatus::staged) {
        std::fprintf(stderr, "receive: %s\n", received.reason.c_str());
        return false;
    }
    phases.stream_ms += since(start);
    const auto apply_start = std::chrono::steady_clock::now();
    auto state = StateDir::open(home);
    if (!state || !state->lock()) return false;
    auto model = build_review(*state, db, received.id);
    if (!model) return false;
    const Transaction transaction = to_transaction(*model);
    if (transaction.changes.size() != file_count) return false;
    auto applied = run_transaction(*state, transaction);
    phases.apply_ms += since(apply_start);
    ++phases.calls;
    if (!applied) std::fprintf(stderr, "apply: %s\n", applied.error().describe().c_str());
    return applied.ok();
}

bool same_file(const fs::path& a, const fs::path& b, const std::string& path) {
    auto left = read_file(a / path, total_bytes);
    auto right = read_file(b / path, total_bytes);
    return left && right && *left == *right;
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/reliant-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return 2;
    const fs::path base = pattern;
    const fs::path profile = base / "source/profiles/bench";
    make_tree(profile);
    const std::string source = (base / "source").string();
    int round = 0;
    bool ok = true;
    const auto results = bench::run(
        {{"cp -r of the tree (baseline)",
          [&] {
              const fs::path to = base / ("cp-" + std::to_string(round++));
              auto result = run_process({"cp", "-r", profile.string(), to.string()});
              ok = ok && result && result->succeeded() && fs::exists(to / ".config/d19/f199.conf");
          }},
         {"SyncConfig: collect, stream, receive, review, apply",
          [&] {
              const fs::path home = base / ("home-" + std::to_string(round++));
              fs::create_directories(home);
              ok = ok && push_and_apply(source, home.string()) && same_file(home, profile, ".config/d19/f199.conf");
          }}},
        rounds);
    std::printf("%d files, %zu bytes\n", file_count, total_bytes);
    bench::print(results);
    std::printf("ratio (median): %.1fx\n", results[1].median() / results[0].median());
    if (phases.calls > 0)
        std::printf("SyncConfig mean per push: stream (collect, encode, receive, stage) %.1f ms, "
                    "review + apply %.1f ms\n",
                    phases.stream_ms / phases.calls, phases.apply_ms / phases.calls);
    std::error_code ignored;
    fs::remove_all(base, ignored);
    if (!ok) {
        std::fprintf(stderr, "a round failed\n");
        return 1;
    }
    return 0;
}

// Shared state of one validation run: what qubesd would have loaded so far.
// Each validate_*.cpp file checks one stage of the loader against it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "healer/python_values.h"
#include "healer/qubes_schema.h"
#include "healer/validator.h"

namespace reliant::healer::detail {

struct LoadedLabel {
    const Label* label;
    std::optional<std::string> name;
};

struct LoadedPool {
    const Pool* pool;
    std::string driver;
    std::string name;
    // The pool's revisions_to_keep as the driver stored it: an int for file,
    // the raw string for the drivers that do not convert it.
    std::optional<std::string> revisions_to_keep;
    std::string dir_path;
    std::string volume_group;
};

// One <domain> as qubesd would construct it.
struct Qube {
    const Domain* domain = nullptr;
    std::optional<VmClass> klass;
    bool in_collection = false;  // constructed and added to app.domains
    std::string name;            // "dom0" for the AdminVM
    bool has_name = false;
    std::optional<long long> qid;
    std::optional<Uuid> uuid;
    bool template_for_dispvms = false;
    bool provides_network = false;
    std::optional<long long> dispid;
    std::string kernel;       // the loaded kernel property ("" = none)
    bool kernel_set = false;  // false: the default kernel
    std::optional<std::string> ip;

    // Stage 4.
    std::optional<std::size_t> template_qube;
    enum class Net { absent, none, qube, invalid } net = Net::absent;
    std::size_t netvm = 0;

    int line() const { return domain->line; }
    bool is(VmClass c) const { return klass == c; }
};

class Context {
public:
    Context(const Document& doc, Diagnostics& diagnostics, const ValidationOptions& opts)
        : document(doc), out(diagnostics), options(opts) {}

    const Document& document;
    Diagnostics& out;
    const ValidationOptions& options;

    std::map<long long, LoadedLabel> labels;                        // by index; a later id replaces
    std::map<std::string, LoadedPool, std::less<>> pools;           // loaded pools only
    std::map<std::string, std::string, std::less<>> skipped_pools;  // name -> why qubesd skipped it
    std::vector<Qube> qubes;                                        // document order
    std::unordered_map<std::string, std::size_t> by_name;           // qubes in app.domains

    // Stands in for the <domain> of the dom0 qubesd creates when there is none.
    Domain implicit_dom0;

    // Global references as loaded (stage 3).
    std::optional<std::size_t> default_netvm;

    bool main_counts() const { return options.release != QubesRelease::r4_3; }
    bool r4_3_counts() const { return options.release != QubesRelease::main; }

    void error(std::string_view rule, int line, std::string message) {
        out.error(rule, line, std::move(message));
    }
    void warning(std::string_view rule, int line, std::string message) {
        out.warning(rule, line, std::move(message));
    }

    std::optional<std::size_t> find(std::string_view name) const;
    const Qube* qube_named(std::string_view name) const;
    // "'work'", or "the domain at line 40" when it has no name.
    std::string describe(const Qube& qube) const;
    // The qube's netvm after defaults: nullopt when it has none.
    std::optional<std::size_t> effective_netvm(const Qube& qube) const;
};

// The loader's stages, in order.
void check_labels(Context& context);
void check_pools(Context& context);
void construct_qubes(Context& context);
void check_global_properties(Context& context);
void check_references(Context& context);
void check_extras(Context& context);
void check_storage(Context& context);
void check_runtime(Context& context);  // netvm cycles, dispids, IPs, kernels

// Label lookup as setter_label and app.get_label do it; an empty string on
// success, else why it fails.
std::string resolve_label(const Context& context, const std::optional<std::string>& value,
                          bool& non_canonical);

// Why qubesd's setter (or type) for `spec` refuses `value`; empty when it
// accepts it. Accepted but non-canonical spellings set `note`.
std::string setter_problem(const Context& context, const PropertySpec& spec,
                           const std::optional<std::string>& value, std::string& note);

std::string in_quotes(std::string_view text);

}  // namespace reliant::healer::detail

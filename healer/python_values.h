// The value parsers qubesd's property setters rely on, reproduced so that the
// validator accepts exactly what qubesd accepts: Python's int(), uuid.UUID(),
// ipaddress, qubes.property.bool and qubes.utils.parse_bool.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reliant::healer {

// Python int(text): surrounding whitespace (Unicode spaces included), a sign,
// decimal digits (any Unicode decimal digit, as int() takes "\u0664\u0660") with
// single underscores between them. Values beyond the 64-bit range saturate (every
// range check qubesd makes then fails, as it would on the big integer).
std::optional<long long> python_int(std::string_view text);

// Python len(text) of UTF-8 text: characters, not bytes (nullopt: not UTF-8).
std::optional<std::size_t> python_length(std::string_view text);

// qubes.property.bool: 0/no/false/off and 1/yes/true/on, any case.
std::optional<bool> property_bool(std::string_view text);
// The spelling qubesd writes back ("True"/"False").
bool is_canonical_bool(std::string_view text);

// qubes.utils.parse_bool (pool options): True/1/on, False/0/off/"", exact case.
std::optional<bool> utils_parse_bool(std::string_view text);

using Uuid = std::array<std::uint8_t, 16>;
// uuid.UUID(text): accepts braces, "urn:uuid:", upper case, hyphens anywhere,
// and what int(hex, 16) takes (Unicode digits, spaces, "+", "0x", "_").
std::optional<Uuid> python_uuid(std::string_view text);
std::string canonical_uuid(const Uuid& uuid);
bool is_nil(const Uuid& uuid);

// ipaddress.IPv4Address / IPv6Address on a string.
bool python_ipv4(std::string_view text);
bool python_ipv6(std::string_view text);

// qubes.vm.mix.net.vmid_to_ipv4: "10.137.x.y" from a qid, "10.138.x.y" from a dispid.
std::string vmid_to_ipv4(std::string_view prefix, long long vmid);

// qubes.vm.validate_name: why `name` would be refused by the Admin API, or empty.
std::string qube_name_problem(std::string_view name);

}  // namespace reliant::healer

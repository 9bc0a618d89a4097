// A small, valid system (what qubesd itself would write) and helpers to break
// it one rule at a time.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "healer/document_reader.h"
#include "healer/validator.h"

namespace reliant::healer::testing {

// dom0; template fedora; sys-net (provides network); dvm (disposable
// template); work (default netvm); disp (a DispVM of dvm); secret, a hidden
// qube whose private volume is on the deniable pool sflc_0_1.
inline const std::string valid_system = R"(<qubes>
  <labels>
    <label id="label-1" color="0xcc0000">red</label>
    <label id="label-6" color="0x3465a4">blue</label>
    <label id="label-8" color="0x000000">black</label>
  </labels>
  <pools>
    <pool name="linux-kernel" dir_path="/var/lib/qubes/vm-kernels" driver="linux-kernel"/>
    <pool name="vm-pool" volume_group="qubes_dom0" thin_pool="vm-pool" driver="lvm_thin" revisions_to_keep="2" ephemeral_volatile="False"/>
    <pool name="sflc_0_1" dir_path="/run/shufflecake/sflc_0_1/pool" driver="file-reflink" revisions_to_keep="1" ephemeral_volatile="False"/>
  </pools>
  <properties>
    <property name="default_dispvm">dvm</property>
    <property name="default_kernel">6.12.47-1.fc41</property>
    <property name="default_netvm">sys-net</property>
    <property name="default_pool">vm-pool</property>
    <property name="default_template">fedora</property>
  </properties>
  <domains>
    <domain id="domain-0" class="AdminVM">
      <properties>
        <property name="label">black</property>
      </properties>
      <features/>
      <tags/>
    </domain>
    <domain id="domain-3" class="AppVM">
      <properties>
        <property name="label">red</property>
        <property name="name">dvm</property>
        <property name="qid">3</property>
        <property name="template_for_dispvms">True</property>
        <property name="uuid">33333333-3333-4333-8333-333333333333</property>
        <property name="template">fedora</property>
      </properties>
      <features/>
      <tags/>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-dvm-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>
        <volume name="private" pool="vm-pool" vid="qubes_dom0/vm-dvm-private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>
        <volume name="volatile" pool="vm-pool" vid="qubes_dom0/vm-dvm-volatile" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="False" size="10737418240"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-5" class="DispVM">
      <properties>
        <property name="dispid">42</property>
        <property name="label">red</property>
        <property name="name">disp</property>
        <property name="qid">5</property>
        <property name="uuid">55555555-5555-4555-8555-555555555555</property>
        <property name="template">dvm</property>
      </properties>
      <features/>
      <tags/>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-disp-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>
        <volume name="private" pool="vm-pool" vid="qubes_dom0/vm-disp-private" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="2147483648" source="qubes_dom0/vm-dvm-private"/>
        <volume name="volatile" pool="vm-pool" vid="qubes_dom0/vm-disp-volatile" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="False" size="12884901888"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-1" class="TemplateVM">
      <properties>
        <property name="label">black</property>
        <property name="name">fedora</property>
        <property name="qid">1</property>
        <property name="uuid">11111111-1111-4111-8111-111111111111</property>
      </properties>
      <features>
        <feature name="os">Linux</feature>
      </features>
      <tags/>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-fedora-root" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="21474836480"/>
        <volume name="private" pool="vm-pool" vid="qubes_dom0/vm-fedora-private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>
        <volume name="volatile" pool="vm-pool" vid="qubes_dom0/vm-fedora-volatile" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="False" size="10737418240"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-6" class="AppVM">
      <properties>
        <property name="label">blue</property>
        <property name="name">secret</property>
        <property name="qid">6</property>
        <property name="uuid">66666666-6666-4666-8666-666666666666</property>
        <property name="template">fedora</property>
      </properties>
      <features/>
      <tags/>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-secret-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>
        <volume name="private" pool="sflc_0_1" vid="appvms/secret/private" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>
        <volume name="volatile" pool="sflc_0_1" vid="appvms/secret/volatile" revisions_to_keep="1" rw="True" save_on_stop="False" snap_on_start="False" size="10737418240"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-2" class="AppVM">
      <properties>
        <property name="label">red</property>
        <property name="name">sys-net</property>
        <property name="provides_network">True</property>
        <property name="qid">2</property>
        <property name="uuid">22222222-2222-4222-8222-222222222222</property>
        <property name="netvm"></property>
        <property name="template">fedora</property>
      </properties>
      <features/>
      <tags/>
      <devices class="pci">
        <device backend-domain="dom0" id="00_14.3" mode="required" identity="0280:8086:a0f0::p028000">
          <option name="no-strict-reset">True</option>
        </device>
      </devices>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-sys-net-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>
        <volume name="private" pool="vm-pool" vid="qubes_dom0/vm-sys-net-private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>
        <volume name="volatile" pool="vm-pool" vid="qubes_dom0/vm-sys-net-volatile" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="False" size="10737418240"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-4" class="AppVM">
      <properties>
        <property name="label">blue</property>
        <property name="name">work</property>
        <property name="qid">4</property>
        <property name="uuid">44444444-4444-4444-8444-444444444444</property>
        <property name="template">fedora</property>
      </properties>
      <features/>
      <tags/>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-work-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>
        <volume name="private" pool="vm-pool" vid="qubes_dom0/vm-work-private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>
        <volume name="volatile" pool="vm-pool" vid="qubes_dom0/vm-work-volatile" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="False" size="10737418240"/>
        <volume name="kernel" pool="linux-kernel" vid="6.12.47-1.fc41" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="False"/>
      </volume-config>
    </domain>
  </domains>
</qubes>
)";

// Replaces the only occurrence of `from` (failing the test if it is not unique).
inline std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "not found: " << from);
    REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, "not unique: " << from);
    return text.replace(at, from.size(), to);
}

struct Verdict {
    Diagnostics diagnostics{"qubes.xml"};

    bool loads() const { return !diagnostics.has_errors(); }
    bool error(std::string_view rule) const { return diagnostics.has(rule, Severity::error); }
    bool warning(std::string_view rule) const { return diagnostics.has(rule, Severity::warning); }
    bool clean() const { return diagnostics.items().empty(); }
    std::string text() const {
        std::string all;
        for (const auto& d : diagnostics.items()) all += format_text(d) + "\n";
        return all;
    }
};

inline Verdict judge(const std::string& xml, ValidationOptions options = {}) {
    Verdict verdict;
    if (!options.pci_root_buses) options.pci_root_buses = std::vector<std::string>{"0000:00"};
    options.root = "/nonexistent-root";
    if (const auto document = read_document(xml, verdict.diagnostics))
        validate(*document, verdict.diagnostics, options);
    return verdict;
}

}  // namespace reliant::healer::testing

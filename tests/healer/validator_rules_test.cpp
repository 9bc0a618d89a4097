// One test per rule V1..V40 (and M4): a minimal document that breaks the rule
// next to the valid system that keeps it. Errors are what makes qubesd fail
// to load (F rules); warnings what it survives (R and H rules).
#include <doctest/doctest.h>

#include "../bench/worst_shard.h"
#include "healer/serializer.h"
#include "healer/validator_cost.h"
#include "test_support.h"
#include "validator_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

// A property line of the valid system, for targeted edits.
std::string prop(const std::string& name, const std::string& value) {
    return "<property name=\"" + name + "\">" + value + "</property>";
}

const std::string work_qid = prop("qid", "4");
const std::string work_name = prop("name", "work");
const std::string work_label =
    "<property name=\"label\">blue</property>\n        <property name=\"name\">work</property>";
const std::string work_template =
    "<property name=\"uuid\">44444444-4444-4444-8444-444444444444</property>\n        <property "
    "name=\"template\">fedora</property>";
const std::string work_private =
    R"(<volume name="private" pool="vm-pool" vid="qubes_dom0/vm-work-private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>)";
const std::string work_root =
    R"(<volume name="root" pool="vm-pool" vid="qubes_dom0/vm-work-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>)";
const std::string work_kernel_line =
    "<volume name=\"kernel\" pool=\"linux-kernel\" vid=\"6.12.47-1.fc41\" revisions_to_keep=\"0\" "
    "rw=\"False\" save_on_stop=\"False\" snap_on_start=\"False\"/>\n      </volume-config>\n    </domain>\n  "
    "</domains>";
const std::string secret_private =
    R"(<volume name="private" pool="sflc_0_1" vid="appvms/secret/private" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>)";
const std::string vm_pool =
    R"(<pool name="vm-pool" volume_group="qubes_dom0" thin_pool="vm-pool" driver="lvm_thin" revisions_to_keep="2" ephemeral_volatile="False"/>)";
const std::string sflc_pool =
    R"(<pool name="sflc_0_1" dir_path="/run/shufflecake/sflc_0_1/pool" driver="file-reflink" revisions_to_keep="1" ephemeral_volatile="False"/>)";
const std::string pci_device =
    R"(<device backend-domain="dom0" id="00_14.3" mode="required" identity="0280:8086:a0f0::p028000">)";

void expect_error(const std::string& xml, std::string_view rule, ValidationOptions options = {}) {
    const auto verdict = judge(xml, options);
    CHECK_MESSAGE(verdict.error(rule), "expected error[" << rule << "], got:\n" << verdict.text());
    CHECK_FALSE(verdict.loads());
}

void expect_warning(const std::string& xml, std::string_view rule) {
    const auto verdict = judge(xml);
    CHECK_MESSAGE(verdict.warning(rule), "expected warning[" << rule << "], got:\n" << verdict.text());
    CHECK_MESSAGE(verdict.loads(), "expected to load, got:\n" << verdict.text());
}

}  // namespace

TEST_CASE("the valid system keeps every rule") {
    const auto verdict = judge(valid_system);
    CHECK_MESSAGE(verdict.clean(), verdict.text());
}

TEST_CASE("V1 document form") {
    expect_error(valid_system.substr(0, valid_system.size() / 2), "V1");
    expect_error(valid_system + "<qubes/>\n", "V1");
    expect_error("<!DOCTYPE qubes [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>\n" +
                     replace(valid_system, "<feature name=\"os\">Linux</feature>",
                             "<feature name=\"os\">&x;</feature>"),
                 "V1");
    expect_warning("<?xml version='1.0' encoding='UTF-8'?>\n" + valid_system, "V1");
    expect_warning("<!DOCTYPE qubes>\n" + valid_system, "V1");
    std::string reordered = valid_system;
    const auto labels_start = reordered.find("  <labels>");
    const auto labels_end = reordered.find("  </labels>\n") + 12;
    const std::string labels = reordered.substr(labels_start, labels_end - labels_start);
    reordered.erase(labels_start, labels_end - labels_start);
    reordered.insert(reordered.find("  </pools>\n") + 11, labels);
    expect_warning(reordered, "V1");
}

TEST_CASE("V1 internal entities are expanded as qubesd does, DOCTYPE is refused in untrusted input") {
    const std::string with_entity =
        "<!DOCTYPE qubes [<!ENTITY net \"sys-net\">]>\n" +
        replace(valid_system, prop("default_netvm", "sys-net"), prop("default_netvm", "&net;"));
    const auto verdict = judge(with_entity);
    CHECK(verdict.loads());
    CHECK(verdict.warning("V1"));
    Diagnostics out("shard.xml");
    ReadOptions strict;
    strict.doctype = DoctypePolicy::reject;
    CHECK(read_document(with_entity, out, strict).has_value());
    CHECK(out.has("V1", Severity::error));
}

TEST_CASE("V2 content qubesd ignores") {
    expect_warning(replace(valid_system, "<domains>", "<domains><!-- note -->"), "V2");
    expect_warning(replace(valid_system, "<domains>", "<domains><?pi x?>"), "V2");
    expect_warning(
        replace(valid_system, "<tags/>\n      <devices", "<tags/>\n      <shard/>\n      <devices"), "V2");
    expect_warning(replace(valid_system, "<domain id=\"domain-4\" class=\"AppVM\">",
                           "<domain id=\"domain-4\" class=\"AppVM\" shard=\"1\">"),
                   "V2");
    expect_warning(replace(valid_system, work_qid, prop("qid", " 4 ")), "V2");
    expect_warning(replace(valid_system, "<qubes>", "<qubes xmlns=\"http://qubes-os.org/qubes/3\">"), "V2");
}

TEST_CASE("V3 label ids") {
    expect_error(replace(valid_system, "id=\"label-6\"", "id=\"lbl6\""), "V3");
    expect_error(replace(valid_system, "id=\"label-6\"", "id=\"label-six\""), "V3");
    expect_warning(replace(valid_system, "<label id=\"label-8\"",
                           "<label id=\"label-9\" color=\"0x008080\">teal</label><label id=\"label-9\" "
                           "color=\"0xff00ff\">pink</label><label id=\"label-8\""),
                   "V3");
    // A duplicate index that removes a label in use is fatal through V5.
    expect_error(replace(valid_system, "<label id=\"label-8\"",
                         "<label id=\"label-6\" color=\"0x000080\">navy</label><label id=\"label-8\""),
                 "V5");
}

TEST_CASE("V4 label names and colours") {
    expect_warning(replace(valid_system, "color=\"0x3465a4\"", "color=\"#3465a4\""), "V4");
    expect_warning(replace(valid_system, "<label id=\"label-6\"",
                           "<label id=\"label-3\" color=\"0xedd400\">amber</label><label id=\"label-6\""),
                   "V4");
}

TEST_CASE("V5 labels resolve") {
    expect_error(
        replace(
            valid_system, work_label,
            "<property name=\"label\">magenta</property>\n        <property name=\"name\">work</property>"),
        "V5");
    expect_error(
        replace(
            valid_system, work_label,
            "<property name=\"label\" ref=\"label-42\"/>\n        <property name=\"name\">work</property>"),
        "V5");
    expect_warning(
        replace(
            valid_system, work_label,
            "<property name=\"label\" ref=\"label-6\"/>\n        <property name=\"name\">work</property>"),
        "V5");
    expect_warning(replace(valid_system, work_label, work_name), "V5");
}

TEST_CASE("V6 pool names") {
    expect_error(replace(valid_system, vm_pool, vm_pool + "<pool dir_path=\"/x\" driver=\"file\"/>"), "V6");
    expect_warning(replace(valid_system, sflc_pool, sflc_pool + sflc_pool), "V6");
}

TEST_CASE("V7 pool drivers") {
    expect_warning(
        replace(
            valid_system, sflc_pool,
            sflc_pool +
                R"(<pool name="sflc_0_9" dir_path="/run/shufflecake/sflc_0_9/pool" driver="shufflecake"/>)"),
        "V7");
    const auto used =
        judge(replace(valid_system, "dir_path=\"/run/shufflecake/sflc_0_1/pool\" driver=\"file-reflink\"",
                      "dir_path=\"/run/shufflecake/sflc_0_1/pool\" driver=\"shufflecake\""));
    CHECK(used.warning("V7"));
    CHECK(used.error("V33"));
}

TEST_CASE("V8 pool arguments fit the driver") {
    expect_error(replace(valid_system, " thin_pool=\"vm-pool\"", ""), "V8");
    expect_error(replace(valid_system, "driver=\"lvm_thin\"", "driver=\"lvm_thin\" size=\"1\""), "V8");
    expect_error(replace(valid_system, "driver=\"linux-kernel\"/>",
                         "driver=\"linux-kernel\" revisions_to_keep=\"0\"/>"),
                 "V8");
    expect_error(
        replace(valid_system, sflc_pool,
                sflc_pool +
                    R"(<pool name="files" dir_path="/var/lib/qubes" driver="file" revisions_to_keep="2"/>)"),
        "V8");
    expect_error(
        replace(valid_system, sflc_pool, sflc_pool + R"(<pool name="cb" driver="callback" conf_id="x"/>)"),
        "V8");
}

TEST_CASE("V9 pool values") {
    expect_error(
        replace(valid_system, "driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"False\"",
                "driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"false\""),
        "V9");
    expect_warning(replace(valid_system, "driver=\"file-reflink\" revisions_to_keep=\"1\"",
                           "driver=\"file-reflink\" revisions_to_keep=\"one\""),
                   "V9");
    expect_warning(
        replace(valid_system, "driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"False\"",
                "driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"0\""),
        "V9");
}

TEST_CASE("V10 global default pools name loaded pools") {
    expect_error(replace(valid_system, prop("default_pool", "vm-pool"), prop("default_pool", "pool00")),
                 "V10");
    expect_error(replace(valid_system, prop("default_pool", "vm-pool"), "<property name=\"default_pool\"/>"),
                 "V10");
}

TEST_CASE("V11 domain classes") {
    expect_error(replace(valid_system, "<domain id=\"domain-4\" class=\"AppVM\">",
                         "<domain id=\"domain-4\" class=\"HVM\">"),
                 "V11");
    expect_error(
        replace(valid_system, "<domain id=\"domain-4\" class=\"AppVM\">", "<domain id=\"domain-4\">"), "V11");
}

TEST_CASE("V12 the AdminVM") {
    const std::string dom0 =
        "<domain id=\"domain-0\" class=\"AdminVM\">\n      <properties>\n        <property "
        "name=\"label\">black</property>\n      </properties>\n      <features/>\n      <tags/>\n    "
        "</domain>\n";
    expect_error(replace(valid_system, "  </domains>", "    " + dom0 + "  </domains>"), "V12");
    expect_error(replace(valid_system, "<property name=\"label\">black</property>\n      </properties>",
                         "<property name=\"label\">black</property>\n        <property "
                         "name=\"name\">dom0</property>\n      </properties>"),
                 "V12");
    expect_warning(replace(valid_system, "    " + dom0, ""), "V12");
}

TEST_CASE("V13 identity of every other qube") {
    expect_error(replace(valid_system, work_qid, ""), "V13");
    // qubesd reads every earlier qube's uuid when it adds the next one: a
    // missing uuid is fatal unless the qube is the last domain (checked
    // against the real loader), where a new one is made up at each load.
    expect_error(
        replace(valid_system, "<property name=\"uuid\">66666666-6666-4666-8666-666666666666</property>", ""),
        "V13");
    expect_warning(
        replace(valid_system, "<property name=\"uuid\">44444444-4444-4444-8444-444444444444</property>", ""),
        "V13");
    expect_error(replace(valid_system, work_qid, prop("qid", "10001")), "V13");
    expect_error(replace(valid_system, "44444444-4444-4444-8444-444444444444", "not-a-uuid"), "V13");
    expect_warning(
        replace(valid_system, "44444444-4444-4444-8444-444444444444", "44444444-4444-4444-8444-44444444444A"),
        "V13");
}

TEST_CASE("V14 names and qids are unique") {
    expect_error(replace(valid_system, work_name, prop("name", "fedora")), "V14");
    expect_error(replace(valid_system, work_name, prop("name", "dom0")), "V14");
    expect_error(replace(valid_system, work_qid, prop("qid", "1")), "V14");
    expect_error(replace(valid_system, work_qid, prop("qid", "0")), "V14");
}

TEST_CASE("V15 UUIDs and name syntax") {
    expect_warning(
        replace(valid_system, "44444444-4444-4444-8444-444444444444", "11111111-1111-4111-8111-111111111111"),
        "V15");
    expect_warning(replace(valid_system, work_name, prop("name", "my journal!")), "V15");
    expect_warning(replace(valid_system, work_name, prop("name", "journal-dm")), "V15");
    // The nil UUID is dom0's: fatal for a networked qube, survivable for an offline one.
    const std::string nil =
        replace(valid_system, "44444444-4444-4444-8444-444444444444", "00000000-0000-0000-0000-000000000000");
    expect_error(nil, "V15");
    const std::string nil_template = replace(work_template, "44444444-4444-4444-8444-444444444444",
                                             "00000000-0000-0000-0000-000000000000");
    expect_warning(
        replace(nil, nil_template, nil_template + "\n        <property name=\"netvm\"></property>"), "V15");
}

TEST_CASE("V16 domain ids") {
    expect_warning(replace(valid_system, "<domain id=\"domain-4\"", "<domain id=\"domain-999\""), "V16");
}

TEST_CASE("V17 properties of the class") {
    expect_error(replace(valid_system, work_qid, work_qid + prop("frobnicate", "1")), "V17");
    expect_error(replace(valid_system, work_qid, work_qid + prop("klass", "AppVM")), "V17");
    expect_error(replace(valid_system, "<property name=\"name\">fedora</property>",
                         "<property name=\"name\">fedora</property>" + prop("template", "fedora")),
                 "V17");
    expect_warning(replace(valid_system, prop("default_pool", "vm-pool"),
                           prop("default_pool", "vm-pool") + prop("frobnicate", "1")),
                   "V17");
    const std::string global_maxmem = replace(valid_system, prop("default_pool", "vm-pool"),
                                              prop("default_pool", "vm-pool") + prop("maxmem", "4000"));
    expect_error(global_maxmem, "V17");  // fatal on main
    ValidationOptions r4_3;
    r4_3.release = QubesRelease::r4_3;
    CHECK(judge(global_maxmem, r4_3).loads());  // ignored on 4.3
}

TEST_CASE("V18 repeated properties") {
    expect_error(replace(valid_system, work_qid, work_qid + work_qid), "V18");
    expect_warning(replace(valid_system, work_template,
                           work_template + prop("netvm", "sys-net") + "<property name=\"netvm\"></property>"),
                   "V18");
}

TEST_CASE("V19 values pass their setters") {
    expect_error(replace(valid_system, prop("provides_network", "True"), prop("provides_network", "maybe")),
                 "V19");
    expect_warning(replace(valid_system, prop("provides_network", "True"), prop("provides_network", "yes")),
                   "V19");
    expect_error(replace(valid_system, work_qid, work_qid + prop("virt_mode", "kvm")), "V19");
    expect_error(replace(valid_system, work_qid, work_qid + prop("memory", "0")), "V19");
    expect_error(
        replace(valid_system, work_qid, work_qid + prop("keyboard_layout", "us+intl+compose:ralt+x")), "V19");
    expect_error(replace(valid_system, work_qid, work_qid + prop("mac", "00:16:3e:5e:6c")), "V19");
    expect_error(replace(valid_system, work_qid, work_qid + prop("ip", "10.137.0.256")), "V19");
    expect_error(replace(valid_system, work_qid, work_qid + prop("kernel", "../boot")), "V19");
    expect_warning(replace(valid_system, work_qid, work_qid + prop("kernel", "9.9.9-1.fc41")), "V19");
    CHECK(judge(replace(valid_system, work_qid,
                        work_qid + prop("ip", "10.137.0.200") + prop("mac", "00:16:3E:5E:6C:00") +
                            prop("keyboard_layout", "us++") + prop("default_user", "user")))
              .clean());
}

TEST_CASE("V20 references name existing qubes of the right class") {
    expect_error(replace(valid_system, work_template, replace(work_template, "fedora", "debian-13-xfce")),
                 "V20");
    expect_error(replace(valid_system, work_template, replace(work_template, ">fedora<", ">dvm<")), "V20");
    expect_error(replace(valid_system, work_template, work_template + prop("netvm", "sys-vpn2")), "V20");
    expect_error(replace(valid_system, work_template, work_template + prop("guivm", "sys-gui")), "V20");
    expect_error(
        replace(valid_system, work_template, work_template + "<property name=\"netvm\" ref=\"domain-2\"/>"),
        "V20");
    expect_error(replace(valid_system, prop("default_template", "fedora"), prop("default_template", "work")),
                 "V20");
}

TEST_CASE("V21 netvm provides network") {
    expect_error(replace(valid_system, work_template, work_template + prop("netvm", "fedora")), "V21");
    expect_error(replace(valid_system, work_template, work_template + prop("netvm", "dom0")), "V21");
}

TEST_CASE("V22 templates of AppVMs and DispVMs") {
    expect_error(replace(valid_system, work_template,
                         "<property name=\"uuid\">44444444-4444-4444-8444-444444444444</property>"),
                 "V22");
    expect_error(replace(valid_system, work_template,
                         "<property name=\"uuid\">44444444-4444-4444-8444-444444444444</property>\n        "
                         "<property name=\"template\"></property>"),
                 "V22");
    expect_error(replace(valid_system, prop("template", "dvm"), prop("template", "work")), "V22");
}

TEST_CASE("V23 disposable templates") {
    expect_error(replace(valid_system, work_template, work_template + prop("default_dispvm", "dvm-gone")),
                 "V23");
    expect_warning(replace(valid_system, work_template, work_template + prop("default_dispvm", "work")),
                   "V23");
    expect_warning(replace(valid_system, prop("default_dispvm", "dvm"), prop("default_dispvm", "work")),
                   "V23");
    CHECK(judge(replace(valid_system, work_template, work_template + prop("default_dispvm", "dvm"))).clean());
}

TEST_CASE("V24 service qubes are networked") {
    expect_warning(replace(valid_system, prop("default_netvm", "sys-net"), prop("default_netvm", "work")),
                   "V24");
    expect_warning(replace(valid_system, prop("default_pool", "vm-pool"),
                           prop("clockvm", "fedora") + prop("default_pool", "vm-pool")),
                   "V24");
    CHECK(judge(replace(valid_system, prop("default_pool", "vm-pool"),
                        prop("clockvm", "sys-net") + prop("default_pool", "vm-pool")))
              .clean());
}

TEST_CASE("V25 netvm cycles, counting defaults") {
    // sys-net (provides network) has no explicit netvm: it takes the default, itself.
    const auto verdict = judge(replace(
        valid_system,
        "<property name=\"netvm\"></property>\n        <property name=\"template\">fedora</property>\n      "
        "</properties>\n      <features/>\n      <tags/>\n      <devices",
        "<property name=\"template\">fedora</property>\n      </properties>\n      <features/>\n      "
        "<tags/>\n      <devices"));
    CHECK(verdict.warning("V25"));
    CHECK(verdict.loads());
}

TEST_CASE("V26 absent and empty stay distinct (against a reference)") {
    Diagnostics ignored("r");
    const auto before = read_document(valid_system, ignored);
    const auto made_empty = read_document(
        replace(valid_system, work_template, work_template + "<property name=\"netvm\"></property>"),
        ignored);
    const auto made_absent = read_document(
        replace(
            valid_system,
            "<property name=\"netvm\"></property>\n        <property name=\"template\">fedora</property>\n   "
            "   </properties>\n      <features/>\n      <tags/>\n      <devices",
            "<property name=\"template\">fedora</property>\n      </properties>\n      <features/>\n      "
            "<tags/>\n      <devices"),
        ignored);
    REQUIRE(before);
    REQUIRE(made_empty);
    REQUIRE(made_absent);
    Diagnostics same("x"), empty("x"), absent("x");
    compare_with_reference(*before, *before, same);
    compare_with_reference(*before, *made_empty, empty);
    compare_with_reference(*before, *made_absent, absent);
    CHECK(same.items().empty());
    CHECK(empty.has("V26", Severity::warning));
    CHECK(absent.has("V26", Severity::warning));
}

TEST_CASE("V27 tags and feature names") {
    expect_error(
        replace(valid_system, "<feature name=\"os\">Linux</feature>\n      </features>\n      <tags/>",
                "<feature name=\"os\">Linux</feature>\n      </features>\n      <tags><tag "
                "name=\"shard.sflc_0_1\"/></tags>"),
        "V27");
    expect_warning(
        replace(
            valid_system, "<feature name=\"os\">Linux</feature>\n      </features>\n      <tags/>",
            "<feature name=\"os\">Linux</feature>\n      </features>\n      <tags><tag name=\"\"/></tags>"),
        "V27");
    expect_error(replace(valid_system, "<feature name=\"os\">Linux</feature>", "<feature>Linux</feature>"),
                 "V27");
}

TEST_CASE("V28 features") {
    expect_warning(replace(valid_system, "<feature name=\"os\">Linux</feature>",
                           "<feature name=\"os\">Linux</feature><feature name=\"os\"></feature>"),
                   "V28");
    const std::string dvm_features =
        "<property name=\"template\">fedora</property>\n      </properties>\n      <features/>\n      "
        "<tags/>\n      <volume-config>\n        <volume name=\"root\" pool=\"vm-pool\" "
        "vid=\"qubes_dom0/vm-dvm-root\"";
    expect_warning(
        replace(valid_system, dvm_features,
                replace(dvm_features, "<features/>",
                        "<features><feature name=\"preload-dispvm\">disp1234</feature></features>")),
        "V28");
}

TEST_CASE("V29 device assignments") {
    expect_error(
        replace(valid_system, pci_device, replace(pci_device, "mode=\"required\"", "mode=\"manual\"")),
        "V29");
    expect_warning(
        replace(valid_system, pci_device, replace(pci_device, "mode=\"required\"", "mode=\"bogus\"")), "V29");
    expect_warning(replace(valid_system, pci_device,
                           replace(pci_device, "backend-domain=\"dom0\"", "backend-domain=\"sys-usb2\"")),
                   "V29");
    expect_error(replace(valid_system, pci_device, replace(pci_device, "id=\"00_14.3\"", "id=\"zz\"")),
                 "V29");
    expect_error(
        replace(valid_system, pci_device, replace(pci_device, "id=\"00_14.3\"", "id=\"1f_1c.0-00_00.0\"")),
        "V29");
    CHECK(
        judge(replace(valid_system, pci_device, replace(pci_device, "id=\"00_14.3\"", "id=\"0000:03:00.0\"")))
            .clean());
    CHECK(judge(replace(valid_system, pci_device,
                        replace(pci_device, "id=\"00_14.3\"", "id=\"00_1c.0-00_00.0\"")))
              .clean());
}

TEST_CASE("V30 RemoteVM and AdminVM carry no storage") {
    const std::string remote =
        "<domain id=\"domain-9\" class=\"RemoteVM\"><properties><property "
        "name=\"label\">red</property><property name=\"name\">remote</property><property "
        "name=\"qid\">9</property><property "
        "name=\"uuid\">99999999-9999-4999-8999-999999999999</property></properties><features/><tags/>";
    CHECK(judge(replace(valid_system, "  </domains>", remote + "</domain>\n  </domains>")).clean());
    expect_warning(replace(valid_system, "  </domains>", remote + "<volume-config/></domain>\n  </domains>"),
                   "V30");
}

TEST_CASE("V31 volume attributes") {
    expect_error(
        replace(valid_system, work_private,
                replace(work_private, "size=\"2147483648\"", "size=\"2147483648\" encrypted=\"True\"")),
        "V31");
    expect_error(
        replace(valid_system, work_private, replace(work_private, "size=\"2147483648\"", "size=\"2G\"")),
        "V31");
    expect_error(
        replace(valid_system, work_private, replace(work_private, "<volume name=\"private\"", "<volume")),
        "V31");
}

TEST_CASE("V31 kernel volumes go through the same volume checks (found by differential testing)") {
    expect_error(replace(valid_system, work_kernel_line,
                         replace(work_kernel_line, "snap_on_start=\"False\"/>",
                                 "snap_on_start=\"False\" size=\"linux-kernel\"/>")),
                 "V31");
}

TEST_CASE(
    "V35 a kernel volume's explicit source must be an installed kernel (found by differential testing)") {
    expect_error(replace(valid_system, work_kernel_line,
                         replace(work_kernel_line, "snap_on_start=\"False\"/>",
                                 "snap_on_start=\"False\" source=\"False\"/>")),
                 "V35");
}

TEST_CASE("V32 volume booleans") {
    expect_warning(replace(valid_system, work_private, replace(work_private, "rw=\"True\"", "rw=\"true\"")),
                   "V32");
}

TEST_CASE("V33 volumes name loaded pools") {
    expect_error(replace(valid_system, secret_private,
                         replace(secret_private, "pool=\"sflc_0_1\"", "pool=\"sflc_0_7\"")),
                 "V33");
    expect_warning(replace(valid_system, work_private, replace(work_private, " pool=\"vm-pool\"", "")),
                   "V33");
    expect_error(replace(valid_system, work_private,
                         work_private + "<volume name=\"data\" vid=\"qubes_dom0/vm-work-data\" rw=\"True\" "
                                        "save_on_stop=\"True\" snap_on_start=\"False\" size=\"1\"/>"),
                 "V33");
}

TEST_CASE("V34 snap_on_start and source go together") {
    expect_error(
        replace(
            valid_system,
            R"(<volume name="root" pool="vm-pool" vid="qubes_dom0/vm-fedora-root" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False")",
            R"(<volume name="root" pool="vm-pool" vid="qubes_dom0/vm-fedora-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True")"),
        "V34");
    expect_error(replace(valid_system, work_private,
                         replace(work_private, "size=\"2147483648\"",
                                 "size=\"2147483648\" source=\"qubes_dom0/vm-fedora-private\"")),
                 "V34");
}

TEST_CASE("V35 sources are the template chain's origin") {
    // lvm fabricates any vid (a warning); file-reflink must find it (fatal).
    expect_warning(replace(valid_system, work_root,
                           replace(work_root, "source=\"qubes_dom0/vm-fedora-root\"",
                                   "source=\"qubes_dom0/vm-nosuch-root\"")),
                   "V35");
    const std::string hidden_root =
        R"(<volume name="root" pool="sflc_0_1" vid="appvms/secret/root" revisions_to_keep="1" rw="True" save_on_stop="False" snap_on_start="True" size="1" source="vm-templates/nosuch/root"/>)";
    expect_error(
        replace(
            valid_system,
            R"(<volume name="root" pool="vm-pool" vid="qubes_dom0/vm-secret-root" revisions_to_keep="2" rw="True" save_on_stop="False" snap_on_start="True" size="21474836480" source="qubes_dom0/vm-fedora-root"/>)",
            hidden_root),
        "V35");
}

TEST_CASE("V36 volume ids") {
    expect_warning(
        replace(valid_system, work_private, replace(work_private, "vm-work-private", "vm-fedora-private")),
        "V36");
    expect_warning(replace(valid_system, work_private,
                           replace(work_private, "qubes_dom0/vm-work-private", "vm-work-private")),
                   "V36");
}

TEST_CASE("V36 a vid spelled True/False is a boolean to qubesd (found by differential testing)") {
    expect_error(replace(valid_system, work_root,
                         replace(work_root, "vid=\"qubes_dom0/vm-work-root\"", "vid=\"False\"")),
                 "V36");
}

TEST_CASE("V37 driver limits") {
    expect_warning(replace(valid_system, work_root,
                           replace(work_root, "save_on_stop=\"False\"", "save_on_stop=\"True\"")),
                   "V37");
    expect_error(
        replace(valid_system, work_kernel_line, replace(work_kernel_line, "rw=\"False\"", "rw=\"True\"")),
        "V37");
    const std::string file_pool =
        R"(<pool name="files" dir_path="/var/lib/qubes" driver="file" revisions_to_keep="1" ephemeral_volatile="False"/>)";
    const std::string with_file_pool = replace(valid_system, sflc_pool, sflc_pool + file_pool);
    expect_error(
        replace(
            with_file_pool, work_private,
            R"(<volume name="private" pool="files" vid="appvms/work/private" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>)"),
        "V37");
    // The file driver resets revisions of volumes that are not saved.
    CHECK(
        judge(
            replace(
                with_file_pool, work_private,
                R"(<volume name="private" pool="files" vid="appvms/work/private" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False" size="2147483648"/>)"))
            .clean());
}

TEST_CASE("V38 revisions_to_keep") {
    expect_warning(replace(valid_system, work_root,
                           replace(work_root, "revisions_to_keep=\"2\"", "revisions_to_keep=\"-1\"")),
                   "V38");
}

TEST_CASE("V39 dispids and IPs") {
    const std::string second_disp =
        "<domain id=\"domain-7\" class=\"DispVM\"><properties><property "
        "name=\"dispid\">42</property><property name=\"label\">red</property><property "
        "name=\"name\">disp2</property><property name=\"qid\">7</property><property "
        "name=\"uuid\">77777777-7777-4777-8777-777777777777</property><property "
        "name=\"template\">dvm</property></properties><features/><tags/></domain>\n";
    expect_warning(replace(valid_system, "  </domains>", second_disp + "  </domains>"), "V39");
    expect_warning(replace(valid_system, work_qid, work_qid + prop("ip", "10.137.0.2")), "V39");
}

TEST_CASE("V40 shard membership survives through features qubesd keeps") {
    // Membership is kept by uuid and by an x-shard feature; qubesd accepts both.
    CHECK(
        judge(replace(valid_system,
                      "<property name=\"uuid\">66666666-6666-4666-8666-666666666666</property>\n        "
                      "<property name=\"template\">fedora</property>\n      </properties>\n      <features/>",
                      "<property name=\"uuid\">66666666-6666-4666-8666-666666666666</property>\n        "
                      "<property name=\"template\">fedora</property>\n      </properties>\n      "
                      "<features><feature name=\"x-shard\">sflc_0_1</feature></features>"))
            .clean());
}

TEST_CASE("M4 a deniable pool no qube uses reveals its volume") {
    expect_warning(
        replace(
            valid_system, sflc_pool,
            sflc_pool +
                R"(<pool name="sflc_0_2" dir_path="/run/shufflecake/sflc_0_2/pool" driver="file-reflink" revisions_to_keep="1" ephemeral_volatile="False"/>)"),
        "M4");
}

// Issue 16: what qubesd does at load that the rules above must follow, each
// next to the spelling or layout it accepts (cases 130-158 of the corpus are
// the same checks on a full system, with the real loader's verdicts).
TEST_CASE("V19 devices_denied is compared case-sensitively, after deduplication") {
    const std::string work_with = work_template + "\n        ";
    expect_error(replace(valid_system, work_template, work_with + prop("devices_denied", "P0200**")), "V19");
    expect_error(replace(valid_system, work_template, work_with + prop("devices_denied", "p0200*")), "V19");
    const auto verdict = judge(
        replace(valid_system, work_template, work_with + prop("devices_denied", "p0200**u03****p0200**")));
    CHECK_MESSAGE(verdict.loads(), verdict.text());
}

TEST_CASE("V19 kernelopts are limited to 512 characters, not bytes") {
    const std::string work_with = work_template + "\n        ";
    std::string accented;
    for (int i = 0; i < 300; ++i) accented += "\u00e9";  // 600 bytes
    const auto verdict =
        judge(replace(valid_system, work_template, work_with + prop("kernelopts", accented)));
    CHECK_MESSAGE(verdict.loads(), verdict.text());
    expect_error(replace(valid_system, work_template, work_with + prop("kernelopts", std::string(513, 'a'))),
                 "V19");
}

TEST_CASE("V19 integers and uuids in every spelling Python takes") {
    const std::string work_with = work_template + "\n        ";
    for (const char* memory : {"\u0664\u0660\u0660", "\u00a0400\u2003", "\uff14\uff10\uff10", "4_00"}) {
        CAPTURE(memory);
        const auto verdict = judge(replace(valid_system, work_template, work_with + prop("memory", memory)));
        CHECK_MESSAGE(verdict.loads(), verdict.text());
    }
    expect_error(replace(valid_system, work_template, work_with + prop("memory", "4\u00b2")), "V19");
    for (const char* uuid :
         {"{44444444-4444-4444-8444-444444444444}", "urn:uuid:44444444-4444-4444-8444-444444444444",
          "44444444444444448444444444444444", "44444444-4444-4444-8444-44444444444F"}) {
        CAPTURE(uuid);
        const auto verdict = judge(
            replace(valid_system, prop("uuid", "44444444-4444-4444-8444-444444444444"), prop("uuid", uuid)));
        CHECK_MESSAGE(verdict.loads(), verdict.text());
    }
}

TEST_CASE("V27 a guivm, audiovm or relayvm whose name cannot be a tag stops the load") {
    // A qube named "sys.gui" loads (qubesd does not validate names at load);
    // naming it as a guivm makes qubesd add the tag "guivm-sys.gui", which fails.
    const std::string renamed = replace(valid_system, work_name, prop("name", "sys.gui"));
    const auto alone = judge(renamed);
    CHECK_MESSAGE(alone.loads(), alone.text());
    const std::string secret_template =
        "<property name=\"uuid\">66666666-6666-4666-8666-666666666666</property>";
    expect_error(replace(renamed, secret_template, secret_template + "\n        " + prop("guivm", "sys.gui")),
                 "V27");
    expect_error(
        replace(renamed, secret_template, secret_template + "\n        " + prop("audiovm", "sys.gui")),
        "V27");
    // The default: every qube without its own guivm gets the global one.
    expect_error(
        replace(renamed, "<property name=\"default_dispvm\">dvm</property>",
                "<property name=\"default_dispvm\">dvm</property>\n    " + prop("default_guivm", "sys.gui")),
        "V27");
    const std::string plus = replace(valid_system, work_name, prop("name", "sys+audio"));
    expect_error(
        replace(plus, secret_template, secret_template + "\n        " + prop("audiovm", "sys+audio")), "V27");
}

TEST_CASE("V28 a preload-dispvm list qubesd rewrites at load must pass the feature's checks") {
    const auto with_features = [](const std::string& features) {
        return replace(
            valid_system,
            "<property name=\"template\">fedora</property>\n      </properties>\n      <features/>\n      "
            "<tags/>\n      <volume-config>\n        <volume name=\"root\" pool=\"vm-pool\" "
            "vid=\"qubes_dom0/vm-dvm-root\"",
            "<property name=\"template\">fedora</property>\n      </properties>\n      <features>\n" +
                features +
                "      </features>\n      <tags/>\n      <volume-config>\n        <volume name=\"root\" "
                "pool=\"vm-pool\" vid=\"qubes_dom0/vm-dvm-root\"");
    };
    const auto feature = [](const std::string& name, const std::string& value) {
        return "        <feature name=\"" + name + "\">" + value + "</feature>\n";
    };
    // An absent name triggers the rewrite; what is left must be duplicate-free.
    expect_error(
        with_features(feature("preload-dispvm-max", "3") + feature("preload-dispvm", "disp disp gone")),
        "V28");
    // preload-dispvm-max must then be int()-able, the global one on dom0 for the global default_dispvm.
    expect_error(with_features(feature("preload-dispvm-max", "two") + feature("preload-dispvm", "gone")),
                 "V28");
    expect_error(
        replace(with_features(feature("preload-dispvm", "gone")),
                "<property name=\"label\">black</property>\n      </properties>\n      <features/>",
                "<property name=\"label\">black</property>\n      </properties>\n      <features>\n" +
                    feature("preload-dispvm-max", "2.0") + "      </features>"),
        "V28");
    // Loads: all of the duplicates are absent; a Unicode digit; nothing absent (no rewrite).
    for (const std::string& loads :
         {with_features(feature("preload-dispvm-max", "3") + feature("preload-dispvm", "gone gone")),
          with_features(feature("preload-dispvm-max", "\u0662") + feature("preload-dispvm", "gone")),
          with_features(feature("preload-dispvm-max", "two") + feature("preload-dispvm", "disp disp"))}) {
        const auto verdict = judge(loads);
        CHECK_MESSAGE(verdict.loads(), verdict.text());
    }
}

TEST_CASE("V8 and V31 namespaced attributes on a pool or a volume are keyword arguments too") {
    expect_error(replace(valid_system, "<pool name=\"vm-pool\"",
                         "<pool xmlns:x=\"urn:x\" x:note=\"1\" name=\"vm-pool\""),
                 "V8");
    expect_error(
        replace(valid_system, work_private,
                replace(work_private, "<volume name", "<volume xmlns:x=\"urn:x\" x:note=\"1\" name")),
        "V31");
    // Elsewhere qubesd reads attributes by name and never sees them.
    const auto verdict =
        judge(replace(valid_system, "<domain id=\"domain-4\" class=\"AppVM\">",
                      "<domain xmlns:x=\"urn:x\" x:note=\"1\" id=\"domain-4\" class=\"AppVM\">"));
    CHECK_MESSAGE(verdict.loads(), verdict.text());
}

TEST_CASE("V17 and V21 the legacy default_fw_netvm becomes the netvm of qubes that provide network") {
    const std::string globals = "<property name=\"default_dispvm\">dvm</property>";
    const std::string netvm_line = "<property name=\"netvm\"></property>";
    // sys-net provides network and loses its own (empty) netvm element.
    const std::string base = replace(valid_system, netvm_line + "\n        ", "");
    // default_fw_netvm names a qube that provides no network, default_netvm is
    // absent: sys-net gets netvm 'work', which fails.
    const std::string no_default = replace(base, "    " + prop("default_netvm", "sys-net") + "\n", "");
    expect_error(replace(no_default, globals, globals + "\n    " + prop("default_fw_netvm", "work")), "V21");
    // A name that does not exist, or the same as default_netvm, is only dropped.
    for (const char* target : {"gone", "sys-net"}) {
        CAPTURE(target);
        const auto verdict =
            judge(replace(valid_system, globals, globals + "\n    " + prop("default_fw_netvm", target)));
        CHECK_MESSAGE(verdict.loads(), verdict.text());
        CHECK(verdict.warning("V17"));
    }
}

// The load-cost bound merge applies to shards (healer/validator_cost.h).
namespace {

Document parsed(const std::string& xml) {
    Diagnostics diagnostics("test");
    auto document = read_document(xml, diagnostics);
    REQUIRE_MESSAGE(document, diagnostics.items().size());
    return *document;
}

// A shard-like document of AppVMs: {name, netvm} ("" = no netvm element).
Document qubes_with_netvms(const std::vector<std::pair<std::string, std::string>>& qubes) {
    std::string xml = "<qubes><labels/><pools/><properties/><domains>";
    for (const auto& [name, netvm] : qubes) {
        xml += "<domain class=\"AppVM\"><properties><property name=\"name\">" + name +
               "</property><property name=\"provides_network\">True</property>"
               "<property name=\"template\">fedora</property>";
        if (!netvm.empty()) xml += "<property name=\"netvm\">" + netvm + "</property>";
        xml += "</properties></domain>";
    }
    return parsed(xml + "</domains></qubes>");
}

}  // namespace

TEST_CASE("load cost: netvm chains through the system are bounded, loops refused") {
    const Document system = parsed(valid_system);  // sys-net has no netvm; default_netvm is sys-net
    // n1 -> sys-net is 1 hop; n8 is 8 hops deep, the limit.
    std::vector<std::pair<std::string, std::string>> chain{{"n1", "sys-net"}};
    for (int i = 2; i <= 8; ++i) chain.push_back({"n" + std::to_string(i), "n" + std::to_string(i - 1)});
    const LoadCost at_limit = load_cost(qubes_with_netvms(chain), system, 8);
    CHECK(at_limit.deepest_netvm == 8);
    CHECK(load_cost_problems(qubes_with_netvms(chain), system).empty());
    chain.push_back({"n9", "n8"});
    const auto deeper = load_cost_problems(qubes_with_netvms(chain), system);
    REQUIRE(deeper.size() == 1);
    CHECK(deeper.front().find("netvm chain") != std::string::npos);
    // The default netvm counts: no netvm element means default_netvm (sys-net).
    CHECK(load_cost(qubes_with_netvms({{"plain", ""}}), system, 8).deepest_netvm == 1);
    // A loop never ends.
    CHECK_FALSE(load_cost_problems(qubes_with_netvms({{"a", "b"}, {"b", "a"}}), system).empty());
    CHECK_FALSE(load_cost_problems(qubes_with_netvms({{"self", "self"}}), system).empty());
}

TEST_CASE("load cost: qubes and lookups per shard are bounded") {
    const Document system = parsed(valid_system);
    const Document two = qubes_with_netvms({{"a", "sys-net"}, {"b", "a"}});
    // Lookups: a has template + netvm (2) + 1 hop, b has 2 + 2 hops.
    CHECK(load_cost(two, system, 8).lookups == 7);
    LoadCostLimits limits;
    CHECK(load_cost_problems(two, system, limits).empty());
    limits.max_lookups = 6;
    CHECK(load_cost_problems(two, system, limits).size() == 1);
    limits = {};
    limits.max_qubes = 1;
    CHECK(load_cost_problems(two, system, limits).size() == 1);
    // Device assignments and preload-dispvm names are lookups too.
    Document busy = two;
    busy.domains[0].set_feature("preload-dispvm", "b b b");
    CHECK(load_cost(busy, system, 8).lookups == 10);
}

// The worst shard the limits allow (the one the load-cost benchmark times,
// and whose merged output the real loader was timed on) merges; one lookup
// more and merge freezes it with the reason.
TEST_CASE("load cost: merge takes the worst allowed shard and freezes one beyond it") {
    Diagnostics diagnostics("system-small");
    const auto small = read_document(
        reliant::testing::slurp(reliant::testing::test_data_dir() + "/fixtures/system-small.xml"),
        diagnostics);
    REQUIRE(small);
    MergeOptions options;
    options.validation.pci_root_buses = std::vector<std::string>{"0000:00"};
    auto worst = reliant::bench::worst_allowed_shard(*small, options.load_cost);
    REQUIRE(worst);
    const auto merge_worst = [&] {
        std::vector<ShardInput> inputs;
        for (const Shard& shard : worst->shards) inputs.push_back({shard.volume, serialize_shard(shard), {}});
        return merge(worst->base, inputs, options);
    };
    const MergeResult taken = merge_worst();
    REQUIRE(taken.merged);
    for (const ShardOutcome& outcome : taken.report.shards) {
        CAPTURE(outcome.volume);
        CHECK(outcome.status == "merged");
    }
    Domain& dvm = *worst->shards[worst->filled].content.domain("cost-dvm");
    dvm.set_feature("preload-dispvm", dvm.feature("preload-dispvm")->value + " cost-app-1");
    const MergeResult frozen = merge_worst();
    REQUIRE(frozen.merged);
    const ShardOutcome& outcome = frozen.report.shards[worst->filled];
    CHECK(outcome.status == "frozen");
    REQUIRE(outcome.reasons.size() == 1);
    CHECK(outcome.reasons.front().find("look qubes up 4097 times") != std::string::npos);
}

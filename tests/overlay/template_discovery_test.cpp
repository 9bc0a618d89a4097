// Which images `loops` takes from the merged qubes.xml.
#include "overlay/template_discovery.h"

#include <doctest/doctest.h>

#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

constexpr const char* merged_xml = R"(<?xml version='1.0' encoding='UTF-8'?>
<qubes>
  <labels><label id="label-1" color="0xcc0000">red</label></labels>
  <pools>
    <pool name="varlibqubes" dir_path="/var/lib/qubes" driver="file" revisions_to_keep="1" ephemeral_volatile="False"/>
    <pool name="vm-pool" volume_group="qubes_dom0" thin_pool="vm-pool" driver="lvm_thin" revisions_to_keep="2" ephemeral_volatile="False"/>
    <pool name="sflc_0_1" dir_path="/run/shufflecake/sflc_0_1/pool" driver="file-reflink" revisions_to_keep="1" ephemeral_volatile="False"/>
  </pools>
  <properties/>
  <domains>
    <domain id="domain-1" class="TemplateVM">
      <properties><property name="name">fedora</property><property name="label">red</property></properties>
      <volume-config>
        <volume name="root" pool="varlibqubes" vid="vm-templates/fedora/root" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False"/>
        <volume name="private" pool="varlibqubes" vid="vm-templates/fedora/private" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-2" class="TemplateVM">
      <properties><property name="name">lvm-template</property><property name="label">red</property></properties>
      <volume-config>
        <volume name="root" pool="vm-pool" vid="qubes_dom0/vm-lvm-template-root" revisions_to_keep="2" rw="True" save_on_stop="True" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-3" class="AppVM">
      <properties><property name="name">reader</property><property name="label">red</property><property name="template">fedora</property></properties>
      <volume-config>
        <volume name="root" pool="varlibqubes" vid="appvms/reader/root" revisions_to_keep="0" rw="False" save_on_stop="False" snap_on_start="True" source="vm-templates/fedora/root"/>
        <volume name="data" pool="varlibqubes" vid="appvms/reader/data" revisions_to_keep="0" rw="False" save_on_stop="True" snap_on_start="False"/>
        <volume name="private" pool="varlibqubes" vid="appvms/reader/private" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False"/>
        <volume name="evil" pool="varlibqubes" vid="../../../etc/shadow" revisions_to_keep="0" rw="False" save_on_stop="True" snap_on_start="False"/>
      </volume-config>
    </domain>
    <domain id="domain-4" class="TemplateVM">
      <properties><property name="name">hidden-template</property><property name="label">red</property></properties>
      <volume-config>
        <volume name="root" pool="sflc_0_1" vid="vm-templates/hidden-template/root" revisions_to_keep="1" rw="True" save_on_stop="True" snap_on_start="False"/>
      </volume-config>
    </domain>
  </domains>
</qubes>
)";

}  // namespace

TEST_CASE("template roots and read-only volumes of file pools, each image once, hostile paths dropped") {
    TempDir dir;
    reliant::testing::spit(dir / "qubes.xml", merged_xml);
    const auto found = discover_template_images(dir / "qubes.xml");
    REQUIRE(found.ok());
    REQUIRE(found->images.size() == 3);
    // Sorted by path. The read-only snapshot of fedora's root adds nothing new;
    // the lvm template and read-write volumes are not images at all.
    CHECK(found->images[0].path == "/run/shufflecake/sflc_0_1/pool/vm-templates/hidden-template/root.img");
    CHECK(found->images[0].kind == ImageKind::template_root);
    CHECK(found->images[1].path == "/var/lib/qubes/appvms/reader/data.img");
    CHECK(found->images[1].kind == ImageKind::read_only_volume);
    CHECK(found->images[2].path == "/var/lib/qubes/vm-templates/fedora/root.img");
    CHECK(found->images[2].kind == ImageKind::template_root);
    CHECK(found->unusable == 1);
}

TEST_CASE("the shared fixture: base templates on LVM need no loop device, the shard's template is listed") {
    const auto found =
        discover_template_images(fs::path(reliant::testing::test_data_dir()) / "fixtures/system-small.xml");
    REQUIRE(found.ok());
    REQUIRE(found->images.size() == 1);
    CHECK(found->images[0].path == "/run/shufflecake/sflc_0_1/pool/vm-templates/kicksecure-17/root.img");
    CHECK(found->unusable == 0);
}

TEST_CASE("a file that is not qubes.xml is an error, not an empty list") {
    TempDir dir;
    reliant::testing::spit(dir / "qubes.xml", "<qubes><domains>");
    CHECK_FALSE(discover_template_images(dir / "qubes.xml").ok());
    CHECK_FALSE(discover_template_images(dir / "absent.xml").ok());
}

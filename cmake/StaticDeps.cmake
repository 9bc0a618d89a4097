# Builds libdevmapper.a, libcryptsetup.a and libxml2.a from Debian's source
# packages (apt-get source), configured minimal: no udev, no selinux, no NLS,
# no ICU. ExternalProject stamps keep the result in the build tree, so a second
# build does not fetch or rebuild them.

include(ExternalProject)

set(RELIANT_DEPS_DIR "${CMAKE_BINARY_DIR}/_deps" CACHE PATH
    "Where the static third-party libraries are fetched and built")
set(_fetch "${PROJECT_SOURCE_DIR}/scripts/fetch-debian-source")
cmake_host_system_information(RESULT _jobs QUERY NUMBER_OF_LOGICAL_CORES)

function(_reliant_static_archive var name)
  find_library(${var} NAMES lib${name}.a REQUIRED NO_CACHE)
  set(${var} "${${var}}" PARENT_SCOPE)
endfunction()

_reliant_static_archive(LIBCRYPTO_A crypto)
_reliant_static_archive(JSONC_A json-c)
_reliant_static_archive(UUID_A uuid)

# --- lvm2 -> libdevmapper.a -------------------------------------------------
set(_lvm2_src "${RELIANT_DEPS_DIR}/lvm2/source")
ExternalProject_Add(dep_lvm2
  PREFIX "${RELIANT_DEPS_DIR}/lvm2"
  SOURCE_DIR "${_lvm2_src}"
  DOWNLOAD_COMMAND "${_fetch}" lvm2 "${_lvm2_src}"
  BUILD_IN_SOURCE ON
  CONFIGURE_COMMAND ./configure --enable-static_link
    --disable-udev_sync --disable-udev_rules --disable-selinux --disable-readline
    --disable-blkid_wiping --disable-systemd-journal --disable-notify-dbus
    --disable-dmeventd --disable-nls --with-thin=none --with-cache=none
    --with-vdo=none --with-writecache=none --with-integrity=none
  BUILD_COMMAND make -j${_jobs} device-mapper
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS "${_lvm2_src}/libdm/ioctl/libdevmapper.a"
  LOG_DOWNLOAD ON LOG_CONFIGURE ON LOG_BUILD ON LOG_OUTPUT_ON_FAILURE ON)

file(MAKE_DIRECTORY "${_lvm2_src}/libdm")
add_library(reliant::devmapper STATIC IMPORTED GLOBAL)
set_target_properties(reliant::devmapper PROPERTIES
  IMPORTED_LOCATION "${_lvm2_src}/libdm/ioctl/libdevmapper.a"
  INTERFACE_INCLUDE_DIRECTORIES "${_lvm2_src}/libdm"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
add_dependencies(reliant::devmapper dep_lvm2)

# --- cryptsetup -> libcryptsetup.a -----------------------------------------
set(_cs_src "${RELIANT_DEPS_DIR}/cryptsetup/source")
ExternalProject_Add(dep_cryptsetup
  PREFIX "${RELIANT_DEPS_DIR}/cryptsetup"
  SOURCE_DIR "${_cs_src}"
  DOWNLOAD_COMMAND "${_fetch}" cryptsetup "${_cs_src}"
  BUILD_IN_SOURCE ON
  # The orig tarball is a git snapshot without configure: autogen first.
  CONFIGURE_COMMAND ./autogen.sh
  COMMAND ${CMAKE_COMMAND} -E env
    "DEVMAPPER_CFLAGS=-I${_lvm2_src}/libdm"
    "DEVMAPPER_LIBS=${_lvm2_src}/libdm/ioctl/libdevmapper.a -lpthread -lm"
    ./configure --enable-static --disable-shared --disable-nls --disable-asciidoc
      --disable-ssh-token --disable-external-tokens --disable-selinux --disable-udev
      --disable-cryptsetup --disable-veritysetup --disable-integritysetup
      --disable-blkid --disable-luks2-reencryption --disable-keyring
      --with-crypto_backend=openssl
  BUILD_COMMAND make -j${_jobs} libcryptsetup.la
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS "${_cs_src}/.libs/libcryptsetup.a"
  DEPENDS dep_lvm2
  LOG_DOWNLOAD ON LOG_CONFIGURE ON LOG_BUILD ON LOG_OUTPUT_ON_FAILURE ON)

file(MAKE_DIRECTORY "${_cs_src}/lib")
add_library(reliant::crypto STATIC IMPORTED GLOBAL)
set_target_properties(reliant::crypto PROPERTIES
  IMPORTED_LOCATION "${LIBCRYPTO_A}"
  INTERFACE_LINK_LIBRARIES "Threads::Threads")

add_library(reliant::cryptsetup STATIC IMPORTED GLOBAL)
set_target_properties(reliant::cryptsetup PROPERTIES
  IMPORTED_LOCATION "${_cs_src}/.libs/libcryptsetup.a"
  INTERFACE_INCLUDE_DIRECTORIES "${_cs_src}/lib"
  INTERFACE_LINK_LIBRARIES "reliant::devmapper;${JSONC_A};${UUID_A};reliant::crypto;Threads::Threads;m")
add_dependencies(reliant::cryptsetup dep_cryptsetup)

# --- libxml2 (no ICU, no iconv, no network) ---------------------------------
# The source tree ships a stale libxml/xmlversion.h: the generated one must come first.
set(_xml_src "${RELIANT_DEPS_DIR}/libxml2/source")
set(_xml_bin "${RELIANT_DEPS_DIR}/libxml2/build")
ExternalProject_Add(dep_libxml2
  PREFIX "${RELIANT_DEPS_DIR}/libxml2"
  SOURCE_DIR "${_xml_src}"
  BINARY_DIR "${_xml_bin}"
  DOWNLOAD_COMMAND "${_fetch}" libxml2 "${_xml_src}"
  CMAKE_ARGS -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
    -DCMAKE_POSITION_INDEPENDENT_CODE=OFF
    -DLIBXML2_WITH_ICU=OFF -DLIBXML2_WITH_ICONV=OFF -DLIBXML2_WITH_LZMA=OFF
    -DLIBXML2_WITH_ZLIB=OFF -DLIBXML2_WITH_PYTHON=OFF -DLIBXML2_WITH_HTTP=OFF
    -DLIBXML2_WITH_FTP=OFF -DLIBXML2_WITH_TESTS=OFF -DLIBXML2_WITH_PROGRAMS=OFF
    -DLIBXML2_WITH_LEGACY=OFF -DLIBXML2_WITH_MODULES=OFF -DLIBXML2_WITH_CATALOG=OFF
  BUILD_COMMAND ${CMAKE_COMMAND} --build . --target LibXml2 -j${_jobs}
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS "${_xml_bin}/libxml2.a"
  LOG_DOWNLOAD ON LOG_CONFIGURE ON LOG_BUILD ON LOG_OUTPUT_ON_FAILURE ON)

file(MAKE_DIRECTORY "${_xml_src}/include" "${_xml_bin}")
add_library(reliant::xml2 STATIC IMPORTED GLOBAL)
set_target_properties(reliant::xml2 PROPERTIES
  IMPORTED_LOCATION "${_xml_bin}/libxml2.a"
  INTERFACE_INCLUDE_DIRECTORIES "${_xml_bin};${_xml_src}/include"
  INTERFACE_COMPILE_DEFINITIONS "LIBXML_STATIC"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
add_dependencies(reliant::xml2 dep_libxml2)

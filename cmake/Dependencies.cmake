# Provides the imported targets every component links against:
#   reliant::xml2        libxml2
#   reliant::devmapper   libdevmapper
#   reliant::cryptsetup  libcryptsetup (pulls in devmapper, json-c, uuid, libcrypto)
#   reliant::crypto      OpenSSL libcrypto
#
# Static build: Debian ships no libcryptsetup.a or libdevmapper.a, and its
# libxml2.a drags in 31 MB of ICU data, so those three are built from Debian's
# own source packages inside the build tree (StaticDeps.cmake). The remaining
# archives (libcrypto, json-c, uuid) come from Debian's -dev packages.
# Dynamic build: the system's shared libraries, through pkg-config.

find_package(Threads REQUIRED)

if(RELIANT_STATIC)
  include(StaticDeps)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(XML2 REQUIRED IMPORTED_TARGET libxml-2.0)
  pkg_check_modules(DEVMAPPER REQUIRED IMPORTED_TARGET devmapper)
  pkg_check_modules(CRYPTSETUP REQUIRED IMPORTED_TARGET libcryptsetup)
  pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  add_library(reliant::xml2 ALIAS PkgConfig::XML2)
  add_library(reliant::devmapper ALIAS PkgConfig::DEVMAPPER)
  add_library(reliant::cryptsetup ALIAS PkgConfig::CRYPTSETUP)
  add_library(reliant::crypto ALIAS PkgConfig::LIBCRYPTO)
endif()

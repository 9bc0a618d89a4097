# reliant_tool(NAME SOURCES... LIBS ...): one executable the initramfs runs.
# It is installed to /usr/libexec/reliant and, in the static build, checked to
# be a static ELF by the `static-binaries` test.
set(RELIANT_LIBEXECDIR "libexec/reliant")
set_property(GLOBAL PROPERTY RELIANT_TOOLS "")

function(reliant_tool name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  install(TARGETS ${name} RUNTIME DESTINATION ${RELIANT_LIBEXECDIR})
  set_property(GLOBAL APPEND PROPERTY RELIANT_TOOLS ${name})
endfunction()

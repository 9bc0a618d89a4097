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
  # Every tool also lands in <build>/bin, where reliant-install takes them
  # from (reliant-install --bin-dir build/static/bin).
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory "${PROJECT_BINARY_DIR}/bin"
    COMMAND ${CMAKE_COMMAND} -E copy_if_different "$<TARGET_FILE:${name}>" "${PROJECT_BINARY_DIR}/bin/${name}"
    VERBATIM)
  set_property(GLOBAL APPEND PROPERTY RELIANT_TOOLS ${name})
endfunction()

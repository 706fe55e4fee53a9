# Man pages: scdoc sources in docs/man, compressed as Debian ships them.
find_program(SCDOC scdoc)
set(TEND_MAN_PAGES tend.1 tend-run.1 tend-timeout.1 tend-init.1 tend-agent.8 tend-server.8)
if(SCDOC)
  set(man_outputs)
  foreach(page ${TEND_MAN_PAGES})
    string(REGEX MATCH "[0-9]$" section ${page})
    set(src ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
      COMMAND sh -c "'${SCDOC}' < '${src}' | gzip -9n > '${out}.tmp' && mv '${out}.tmp' '${out}'"
      DEPENDS ${src}
      COMMENT "Man page ${page}"
      VERBATIM)
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT bin)
    list(APPEND man_outputs ${out})
  endforeach()
  add_custom_target(tend_man ALL DEPENDS ${man_outputs})
else()
  message(WARNING "scdoc not found: no man pages (scripts/deps.sh installs it)")
endif()

# The agent as a system service: a systemd unit and agent.conf (component `system`). With the
# prefix /usr the configuration goes to /etc (as GNUInstallDirs says), elsewhere to PREFIX/etc,
# following `cmake --install --prefix`. The unit names the paths of the configured prefix.
set(TEND_AGENT_CONF ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tend/agent.conf)
set(TEND_AGENT_BIN ${CMAKE_INSTALL_FULL_BINDIR}/tend-agent)
configure_file(tend-agent.service.in ${CMAKE_CURRENT_BINARY_DIR}/tend-agent.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tend-agent.service DESTINATION lib/systemd/system
  COMPONENT system)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(conf_dir /etc/tend)
else()
  set(conf_dir ${CMAKE_INSTALL_SYSCONFDIR}/tend)
endif()
install(FILES agent.conf DESTINATION ${conf_dir} COMPONENT system)

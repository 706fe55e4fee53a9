# The agent as a system service: a systemd unit and /etc/tend/agent.conf (component `system`).
# With the prefix /usr the configuration goes to /etc (GNUInstallDirs), elsewhere to PREFIX/etc.
set(TEND_AGENT_CONF ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tend/agent.conf)
set(TEND_AGENT_BIN ${CMAKE_INSTALL_FULL_BINDIR}/tend-agent)
configure_file(tend-agent.service.in ${CMAKE_CURRENT_BINARY_DIR}/tend-agent.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tend-agent.service DESTINATION lib/systemd/system
  COMPONENT system)
install(FILES agent.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tend COMPONENT system)

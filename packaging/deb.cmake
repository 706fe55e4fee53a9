# The Debian package: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr
# (scripts/package.sh) gives tend_VERSION_ARCH.deb with every component.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tend)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tend maintainers <tend@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "run and supervise process trees that cannot escape (timeout, init, job service)")
set(CPACK_PACKAGE_DESCRIPTION
  "tend puts a job and every process it starts in a cgroup v2 scope at birth, so no descendant
can escape by setsid or double-forking; the job ends when its scope is empty, and every wait is
bounded. `tend run` is a timeout(1) that contains the whole tree, `tend init` a PID 1 for
containers, `tend-agent` a job service with an HTTP API and durable job records. Includes
libtend (C++20) with its headers, CMake package and pkg-config file.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# One package holds the library's headers too; they include <nlohmann/json_fwd.hpp>.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, nlohmann-json3-dev")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_TEND_STRIP ${CMAKE_STRIP})
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/strip_static.cmake)
# conffiles makes dpkg keep an edited /etc/tend/agent.conf on upgrade; the scripts tell systemd.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/conffiles
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Checked when cpack runs: a .deb built for another prefix would point systemd at the wrong path.
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_BINARY_DIR}/cpack_project_config.cmake)
file(WRITE ${CPACK_PROJECT_CONFIG_FILE}
  "if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT \"${CMAKE_INSTALL_PREFIX}\" STREQUAL \"/usr\")\n"
  "  message(FATAL_ERROR \"the .deb needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr \"\n"
  "    \"(this one has ${CMAKE_INSTALL_PREFIX}); scripts/package.sh does it\")\n"
  "endif()\n")
include(CPack)

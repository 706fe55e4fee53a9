# CPack pre-build script: libtend.a without its debug sections (as dh_strip does for Debian's
# static libraries); CPACK_STRIP_FILES only strips programs and shared libraries.
file(GLOB_RECURSE archives "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.a")
foreach(archive ${archives})
  execute_process(COMMAND "${CPACK_TEND_STRIP}" --strip-debug "${archive}" COMMAND_ERROR_IS_FATAL ANY)
endforeach()

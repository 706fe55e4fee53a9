# Shell completions: the text `tend completion bash|zsh` prints, installed where Debian's
# bash-completion and zsh look for them.
set(completion_dir ${CMAKE_CURRENT_BINARY_DIR}/completion)
add_custom_command(OUTPUT ${completion_dir}/tend ${completion_dir}/_tend
  COMMAND ${CMAKE_COMMAND} -E make_directory ${completion_dir}
  COMMAND sh -c "'$<TARGET_FILE:tend>' completion bash > '${completion_dir}/tend'"
  COMMAND sh -c "'$<TARGET_FILE:tend>' completion zsh > '${completion_dir}/_tend'"
  DEPENDS tend
  COMMENT "Shell completions from `tend completion`"
  VERBATIM)
add_custom_target(tend_completion_files ALL DEPENDS ${completion_dir}/tend ${completion_dir}/_tend)
install(FILES ${completion_dir}/tend DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  COMPONENT bin)
install(FILES ${completion_dir}/_tend DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions
  COMPONENT bin)

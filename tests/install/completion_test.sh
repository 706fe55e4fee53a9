#!/usr/bin/env bash
# `tend completion bash|zsh`: bash completes commands, options (read from --help) and option
# values; zsh loads the script both ways (autoloaded from fpath, sourced).
source "$(dirname "$0")/lib.sh"

expect_status 0 "$TEND" completion --help >/dev/null
expect_status 125 "$TEND" completion fish 2>/dev/null
expect_status 125 "$TEND" completion 2>/dev/null
expect_status 125 "$TEND" completion bash zsh 2>/dev/null

# bash: call the completion function as readline would, with tend's own path as the command.
source <("$TEND" completion bash)
complete -p tend | grep -c -- "-F _tend" >/dev/null || fail "bash: 'complete -F _tend tend' not registered"
complete_words() {
  COMP_WORDS=("$TEND" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _tend
  printf '%s\n' "${COMPREPLY[@]}"
}
expect() { # expect WORD CMDLINE...: WORD must be among the completions of CMDLINE
  local word=$1
  shift
  local got
  got=$(complete_words "$@")
  grep -qx -- "$word" <<<"$got" || fail "bash: 'tend $*<TAB>' does not offer '$word'"
}
expect_not() {
  local word=$1
  shift
  local got
  got=$(complete_words "$@")
  grep -qx -- "$word" <<<"$got" && fail "bash: 'tend $*<TAB>' offers '$word'"
  return 0
}

# Every command `tend --help` lists is completed.
# ("  run     run a command ...", "  submit, jobs, logs, cancel   talk to ...")
commands=$("$TEND" --help | sed -nE 's/^  ([a-z][-a-z]*(, [a-z][-a-z]*)*) .*/\1/p' | tr -d ,)
[[ $(wc -w <<<"$commands") -ge 5 ]] || fail "cannot read the commands of tend --help: $commands"
for c in $commands; do expect "$c" ""; done
expect run ru
expect_not init ru
# Options come from the face's own --help.
for opt in --timeout --kill-after --signal --orphans --preserve-status --json --scope -t -v; do
  expect "$opt" run -
done
expect --grace init --gr
expect --json doctor --
# Option values.
expect cgroup run --scope ""
expect session run --scope ""
expect wait run --orphans w
expect TERM run -s T
expect KILL init --pdeathsig K
expect zsh completion ""
expect bash completion ""
# After --, the job's command line (commands first).
expect true run -t 1 -- tru
echo "ok: bash completes commands, options from --help, option values, the job's command"

# zsh: the same text works autoloaded from fpath (the package) and sourced (by hand).
command -v zsh >/dev/null || missing "zsh is not installed (TEND_TEST_EXTRAS=1 scripts/deps.sh)"
"$TEND" completion zsh >"$WORK/_tend"
zsh -n "$WORK/_tend" || fail "zsh: syntax"
got=$(zsh -f -c "fpath=('$WORK' \$fpath); autoload -U compinit; compinit -u -D; print -r -- \$_comps[tend]")
[[ $got == _tend ]] || fail "zsh: autoloaded, tend is completed by '$got'"
got=$(zsh -f -c "autoload -U compinit; compinit -u -D; source '$WORK/_tend'; print -r -- \$_comps[tend]")
[[ $got == _tend ]] || fail "zsh: sourced, tend is completed by '$got'"
echo "ok: zsh loads _tend from fpath and by source"

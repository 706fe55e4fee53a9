// The completion scripts. Subcommands and the values of a few options are listed here; every
// option is read from `tend COMMAND --help` when the user presses TAB, so the scripts cannot
// fall behind the options a face adds (tests/install/completion_test.sh checks the commands).
#include "scripts.hpp"

namespace tend::completion_face {

const char* const kBashScript =
    R"BASH(# bash completion for tend                                  -*- shell-script -*-
# Printed by `tend completion bash`; options are read from `tend COMMAND --help`.

_tend_options() {
    "$1" "$2" --help 2>/dev/null | sed -nE 's/^ {1,8}(-.*)/\1/p' | sed -E 's/  .*//' |
        grep -oE -- '--?[A-Za-z0-9][-A-Za-z0-9]*'
}

_tend() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local tend=${COMP_WORDS[0]} i
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "run timeout init doctor agent server submit jobs logs cancel rm machines completion
                                 --help --version" -- "$cur"))
        return
    fi
    local sub=${COMP_WORDS[1]}
    # After `--` comes the job's own command line: complete it as that command's.
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            if declare -F _command_offset >/dev/null; then
                _command_offset $((i + 1))
            elif ((i + 1 == COMP_CWORD)); then
                COMPREPLY=($(compgen -c -- "$cur"))
            fi
            return
        fi
    done
    case $sub:$prev in
        completion:completion)
            COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
        *:-s | *:--signal | *:-p | *:--pdeathsig)
            COMPREPLY=($(compgen -W "$(compgen -A signal | sed 's/^SIG//')" -- "$cur")); return ;;
        *:--orphans)
            COMPREPLY=($(compgen -W "kill wait leave" -- "$cur")); return ;;
        *:--scope)
            COMPREPLY=($(compgen -W "cgroup session" -- "$cur")); return ;;
        *:--state)
            COMPREPLY=($(compgen -W "queued running succeeded failed timed_out cancelled lost" \
                -- "$cur")); return ;;
        *:--cwd | *:--data)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        *:--user)
            COMPREPLY=($(compgen -u -- "$cur")); return ;;
        *:--group)
            COMPREPLY=($(compgen -g -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_tend_options "$tend" "$sub")" -- "$cur"))
    fi
    # Anything else: bash's default (file names), from `complete -o default`.
}

complete -o default -F _tend tend
)BASH";

const char* const kZshScript = R"ZSH(#compdef tend
# zsh completion for tend. Printed by `tend completion zsh`; options are read from
# `tend COMMAND --help`.

_tend() {
  local -a cmds opts
  cmds=(
    'run:run a command with a timeout, containing its whole process tree'
    'timeout:GNU timeout syntax, containing the whole tree'
    'init:be PID 1 or a subreaper: reap, forward signals, stop gracefully'
    'doctor:show what this kernel offers and the containment level in force'
    'agent:the job service: HTTP API, durable records, web page'
    'server:the control plane of a fleet: one API and page for many agents, on etcd'
    'submit:submit a job to a running agent, or to machines of a fleet through a server'
    'jobs:list the jobs of a running agent or server'
    'logs:print the output of a job'
    'cancel:cancel a job'
    'rm:remove finished jobs from an agent'
    'machines:list the machines of a fleet'
    'completion:print a shell completion script'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'tend command' cmds
    return
  fi
  local sub=$words[2] i
  # After `--` comes the job's own command line: complete it as that command's.
  for (( i = 3; i < CURRENT; i++ )); do
    if [[ $words[i] == -- ]]; then
      shift i words
      (( CURRENT -= i ))
      _normal
      return
    fi
  done
  case $sub:$words[CURRENT-1] in
    completion:completion) compadd bash zsh; return ;;
    *:(-s|--signal|-p|--pdeathsig)) compadd -- ${signals:#(EXIT|ZERR|DEBUG|ERR)}; return ;;
    *:--orphans) compadd kill wait leave; return ;;
    *:--scope) compadd cgroup session; return ;;
    *:--state) compadd queued running succeeded failed timed_out cancelled lost; return ;;
    *:(--cwd|--data)) _directories; return ;;
    *:--user) _users; return ;;
    *:--group) _groups; return ;;
  esac
  if [[ $PREFIX == -* ]]; then
    opts=(${(f)"$($words[1] $sub --help 2>/dev/null | sed -nE 's/^ {1,8}(-.*)/\1/p' |
                  sed -E 's/  .*//' | grep -oE -- '--?[A-Za-z0-9][-A-Za-z0-9]*')"})
    compadd -- $opts
    return
  fi
  _files
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _tend "$@"
else
  compdef _tend tend
fi
)ZSH";

}  // namespace tend::completion_face

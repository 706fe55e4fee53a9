#!/usr/bin/env bash
# reap_bench: how fast does an init reap a burst of orphans, and does it wake up while idle?
#
# For each init (tend init, tini, dumb-init, catatonit, and a raw `waitpid(-1, WNOHANG)` loop
# as the floor), as PID 1 of a fresh PID namespace (unshare -fp --mount-proc):
#   burst: the main process double-forks N orphans that block on a pipe, then closes the pipe:
#          all N exit at once, as zombies of PID 1. It measures, from inside the namespace, the
#          time until PID 1 has no child left but itself (/proc/1/task/1/children).
#   idle:  PID 1 supervises `sleep`; its context switches are counted over IDLE seconds.
# Needs root (or user namespaces) and a C compiler. Not a test: it prints a table.
#
# usage: bench/reap_bench.sh [TEND_BINARY]   env: N=10000 RUNS=5 IDLE=10
set -euo pipefail

TEND=${1:-${TEND:-build/src/cli/tend}}
N=${N:-10000}
RUNS=${RUNS:-5}
IDLE=${IDLE:-10}

[[ -x "$TEND" ]] || { echo "reap_bench: no tend binary at $TEND (pass its path)" >&2; exit 2; }
TEND=$(realpath "$TEND")
work=$(mktemp -d /tmp/reap-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

# The orphan burst, run as the init's main process.
cat >"$work/burst.c" <<'EOF'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Number of PID 1's children other than us (zombies count: they are in the list until reaped).
static int others_of_pid1(char* buf, size_t size) {
  FILE* f = fopen("/proc/1/task/1/children", "re");
  if (!f) { perror("children"); exit(1); }
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = 0;
  int count = 0;
  for (char* p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
    if (atoi(p) != getpid()) ++count;
  return count;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  int fds[2];
  if (pipe(fds) != 0) { perror("pipe"); return 1; }
  pid_t middle = fork();
  if (middle == 0) {  // forks the orphans-to-be, then exits so that PID 1 adopts them
    close(fds[1]);
    for (int i = 0; i < n; ++i) {
      pid_t p = fork();
      if (p == 0) { char c; (void)!read(fds[0], &c, 1); _exit(0); }
      if (p < 0) { perror("fork"); _exit(1); }
    }
    _exit(0);
  }
  close(fds[0]);
  int st;
  waitpid(middle, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  size_t size = (size_t)n * 12 + 4096;
  char* buf = malloc(size);
  int adopted = others_of_pid1(buf, size);
  double t0 = now();
  close(fds[1]);  // every orphan reads EOF and exits now
  int left = adopted;
  while ((left = others_of_pid1(buf, size)) > 0) usleep(1000);
  printf("%d %.4f\n", adopted, now() - t0);
  return 0;
}
EOF

# The floor: the simplest correct reaper, a waitpid(-1, WNOHANG) loop on SIGCHLD.
cat >"$work/rawinit.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  (void)argc;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t main_pid = fork();
  if (main_pid == 0) {
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    execvp(argv[2], argv + 2);  // argv[1] is "--"
    _exit(127);
  }
  int code = 0;
  for (;;) {
    int sig;
    sigwait(&set, &sig);
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
      if (p == main_pid) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (p < 0 || code || kill(main_pid, 0) != 0) return code;
  }
}
EOF
cc -O2 -o "$work/burst" "$work/burst.c"
cc -O2 -o "$work/rawinit" "$work/rawinit.c"

declare -A INIT=(
  [tend]="$TEND init --"
  [tini]="tini -s --"
  [dumb-init]="dumb-init --"
  [catatonit]="catatonit --"
  [raw-waitpid]="$work/rawinit --"
)
ORDER=(tend tini dumb-init catatonit raw-waitpid)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "machine: $(nproc) CPUs, kernel $(uname -r), $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "burst: $N orphans exit at once; $RUNS runs each, median (min-max) seconds until PID 1 has reaped them all"
printf '%-12s %10s %18s %14s\n' init median "min-max" "idle wake-ups"
for name in "${ORDER[@]}"; do
  read -r -a cmd <<<"${INIT[$name]}"
  times=()
  for ((r = 0; r < RUNS; r++)); do
    out=$(unshare -fp --mount-proc "${cmd[@]}" "$work/burst" "$N")
    read -r adopted secs <<<"$out"
    [[ "$adopted" == "$N" ]] || { echo "reap_bench: $name: only $adopted orphans adopted" >&2; exit 1; }
    times+=("$secs")
  done
  med=$(printf '%s\n' "${times[@]}" | median)
  range="$(printf '%s\n' "${times[@]}" | sort -n | head -1)-$(printf '%s\n' "${times[@]}" | sort -n | tail -1)"

  # Idle: PID 1's voluntary + involuntary context switches while its one child sleeps.
  unshare -fp --mount-proc "${cmd[@]}" sleep $((IDLE + 3)) 2>/dev/null &
  outer=$!
  init=""
  for _ in $(seq 200); do
    init=$(cat /proc/$outer/task/$outer/children 2>/dev/null | awk '{print $1}')
    [[ -n "$init" ]] && break
    sleep 0.01
  done
  sleep 1
  ctx() { awk '/ctxt_switches/ {s += $2} END {print s}' "/proc/$1/status"; }
  before=$(ctx "$init")
  sleep "$IDLE"
  after=$(ctx "$init")
  kill -KILL "$init" 2>/dev/null || true
  wait "$outer" 2>/dev/null || true
  printf '%-12s %10s %18s %14s\n' "$name" "$med" "$range" "$((after - before)) in ${IDLE}s"
done

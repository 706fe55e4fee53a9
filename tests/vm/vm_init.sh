#!/bin/sh
# /init of the test VM (pure cgroup v2). Each test runs `tend` from a cgroup of its own, the way a
# systemd unit with Delegate=yes would start it, and prints one line:
#   RESULT <name> PASS|FAIL <detail>
# run_vm.sh on the host collects them. Ends with VM-TESTS-DONE and powers off.
export PATH=/usr/local/bin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
CG=/sys/fs/cgroup
mkdir -p $CG && mount -t cgroup2 cgroup2 $CG
echo "INFO kernel $(uname -r) controllers: $(cat $CG/cgroup.controllers)"
echo "+memory +pids +cpu" >$CG/cgroup.subtree_control

result() { # NAME STATUS(0 ok) DETAIL
  if [ "$2" = 0 ]; then echo "RESULT $1 PASS $3"; else echo "RESULT $1 FAIL $3"; fi
}
# in_cgroup DIR [spawn_bench] ARGS...: tend (or the benchmark) started alone in $CG/DIR (a subshell moves itself, then execs).
in_cgroup() {
  d=$1
  shift
  prog=tend
  if [ "$1" = spawn_bench ]; then
    prog=spawn_bench
    shift
  fi
  mkdir -p $CG/$d
  (echo 0 >$CG/$d/cgroup.procs && exec $prog "$@")
}
json_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }
no_job_cgroups() { ! ls -d $CG/$1/tend-[0-9]* >/dev/null 2>&1; }

tend doctor | sed -n '/^limits/,/^$/p' | sed 's/^/INFO doctor /'

# 1. Memory: 100 MiB written under a 20 MiB limit is killed, and said so.
in_cgroup t1 run -v --json /tmp/1.json --memory 20M -- eat 100 >/tmp/1.out 2>&1
rc=$?
ok=0
[ $rc = 137 ] || ok=1
grep -q '"oom_killed":true' /tmp/1.json || ok=1
grep -q '"limits_level":"cgroup2"' /tmp/1.json || ok=1
grep -q '"description":"out of memory (limit 20 MiB)"' /tmp/1.json || ok=1
grep -q 'out of memory (limit 20 MiB)' /tmp/1.out || ok=1
grep -q survived /tmp/1.out && ok=1
no_job_cgroups t1 || ok=1
result memory_oom_kill $ok "exit=$rc peak=$(json_num peak_memory_bytes /tmp/1.json) $([ $ok = 0 ] || cat /tmp/1.out /tmp/1.json)"

# 2. The delegation layout, seen from inside a job: tend in t2/tend-supervisor, the job in a
#    sibling with its limits, nothing left directly in t2, the controllers enabled for t2's children.
in_cgroup t2 run --memory 64M --pids 100 --cpu 0.5 -- sh -c '
  own=$(sed -n "s/^0:://p" /proc/self/cgroup)
  echo "job $own"
  echo "tend $(sed -n "s/^0:://p" /proc/$PPID/cgroup)"
  echo "direct $(wc -l </sys/fs/cgroup/t2/cgroup.procs)"
  echo "limits $(cat /sys/fs/cgroup$own/memory.max) $(cat /sys/fs/cgroup$own/pids.max) $(cat /sys/fs/cgroup$own/cpu.max)"
  echo "subtree $(cat /sys/fs/cgroup/t2/cgroup.subtree_control)"' >/tmp/2.out 2>&1
rc=$?
ok=0
[ $rc = 0 ] || ok=1
grep -q '^job /t2/tend-[0-9]' /tmp/2.out || ok=1
grep -q '^tend /t2/tend-supervisor$' /tmp/2.out || ok=1
grep -q '^direct 0$' /tmp/2.out || ok=1
grep -q '^limits 67108864 100 50000 100000$' /tmp/2.out || ok=1
grep -q '^subtree .*memory' /tmp/2.out && grep -q '^subtree .*pids' /tmp/2.out || ok=1
no_job_cgroups t2 || ok=1
result delegation_layout $ok "exit=$rc $(tr '\n' ';' </tmp/2.out)"

# 3. Processes: 100 sleeps under --pids 20; forks fail inside, the timeout ends the job normally.
#    (A failed fork ends a non-interactive sh: the loop runs in a subshell, then exec waits.)
in_cgroup t3 run --json /tmp/3.json --pids 20 -t 3 -k 2 -- sh -c \
  '(for i in $(seq 100); do sleep 100 & done) 2>/dev/null; echo spawned; exec sleep 100' \
  >/tmp/3.out 2>&1
rc=$?
ok=0
refused=$(json_num pids_refused /tmp/3.json)
peak=$(json_num peak_processes /tmp/3.json)
[ $rc = 124 ] || ok=1
grep -q spawned /tmp/3.out || ok=1
grep -q '"killed":false' /tmp/3.json || ok=1
[ -n "$refused" ] && [ "$refused" -gt 0 ] || ok=1
[ -z "$peak" ] || [ "$peak" -le 20 ] || ok=1
no_job_cgroups t3 || ok=1
left=$(ps -o comm,args | grep -c '[s]leep 100')
[ "$left" = 0 ] || ok=1
result pids_limit $ok "exit=$rc refused=$refused peak=${peak:-null} left=$left $([ $ok = 0 ] || cat /tmp/3.out /tmp/3.json)"

# 4. CPU: a busy loop for 2 s at 0.2 CPUs uses at most 0.6 s of CPU.
in_cgroup t4 run --json /tmp/4.json --cpu 0.2 -t 2 -- sh -c 'while :; do :; done' >/tmp/4.out 2>&1
rc=$?
user=$(json_num cpu_user_us /tmp/4.json)
sys=$(json_num cpu_system_us /tmp/4.json)
thr=$(json_num cpu_throttled_us /tmp/4.json)
cpu=$((${user:-999999999} + ${sys:-0}))
ok=0
[ $rc = 124 ] || ok=1
[ $cpu -le 600000 ] || ok=1
[ -n "$thr" ] && [ "$thr" -gt 0 ] || ok=1
result cpu_quota $ok "exit=$rc cpu_us=$cpu throttled_us=$thr"

# 5. Another process in tend's cgroup: the controllers cannot be enabled; refused, nothing runs.
mkdir -p $CG/t5
sleep 60 &
other=$!
echo $other >$CG/t5/cgroup.procs
in_cgroup t5 run --memory 20M -- touch /tmp/ran5 >/tmp/5.out 2>&1
rc=$?
kill $other
ok=0
[ $rc = 125 ] || ok=1
grep -q 'holds processes other than this one' /tmp/5.out || ok=1
[ ! -e /tmp/ran5 ] || ok=1
result refused_not_alone $ok "exit=$rc $(cat /tmp/5.out)"

# 6. A controller the parent does not hand down (cpu not in cgroup.controllers): refused.
mkdir -p $CG/t6
echo "+memory" >$CG/t6/cgroup.subtree_control
in_cgroup t6/inner run --cpu 1 -- touch /tmp/ran6 >/tmp/6.out 2>&1
rc=$?
ok=0
[ $rc = 125 ] || ok=1
grep -q 'cannot limit cpu: cgroup v2: not in /sys/fs/cgroup/t6/inner/cgroup.controllers' /tmp/6.out || ok=1
[ ! -e /tmp/ran6 ] || ok=1
result refused_not_delegated $ok "exit=$rc $(cat /tmp/6.out)"

# 7. Without limits nothing changes: no leaf, no controllers enabled.
in_cgroup t7 run -- sh -c 'exit 7' >/tmp/7.out 2>&1
rc=$?
ok=0
[ $rc = 7 ] || ok=1
[ ! -e $CG/t7/tend-supervisor ] || ok=1
[ -z "$(cat $CG/t7/cgroup.subtree_control)" ] || ok=1
result no_limits_untouched $ok "exit=$rc $(cat /tmp/7.out)"

# Optional (run_vm.sh with a bench binary): the spawn benchmark, from a cgroup of its own.
if [ -x /usr/local/bin/spawn_bench ]; then
  in_cgroup tb spawn_bench 2 2>&1 | sed 's/^/BENCH /'
fi

echo VM-TESTS-DONE
poweroff -f

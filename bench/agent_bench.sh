#!/usr/bin/env bash
# agent_bench: the job service under load, against bare `tend run` in the same run.
#   throughput: JOBS trivial jobs (`true`) from CLIENTS concurrent clients; jobs/s and the
#               submit->finished latency (p50/p99), vs CLIENTS workers running `tend run -- true`.
#   idle cost:  SLEEPERS concurrent `sleep 60` jobs: agent RSS and RSS per job supervisor (shim).
#   big output: one job writing 1 GiB: agent and shim peak RSS, throughput vs `head -c 1G > file`.
# Not a test: it prints a table. Needs python3.
#
# usage: bench/agent_bench.sh [TEND_BINARY]   env: JOBS=1000 CLIENTS=32 SLEEPERS=500 AGENT_ARGS=
#        PARTS=throughput,idle,output BENCH_TMP=/tmp (where the data directory goes)
set -euo pipefail

TEND=$(realpath "${1:-${TEND:-build/src/cli/tend}}")
JOBS=${JOBS:-1000}
CLIENTS=${CLIENTS:-32}
SLEEPERS=${SLEEPERS:-500}
PARTS=${PARTS:-throughput,idle,output}  # which parts to run
want() { [[ ",$PARTS," == *",$1,"* ]]; }
[[ -x "$TEND" ]] || { echo "agent_bench: no tend binary at $TEND" >&2; exit 2; }
work=$(mktemp -d "${BENCH_TMP:-/tmp}/agent-bench-XXXXXX")  # BENCH_TMP=/dev/shm: no disk
agent_pid=
cleanup() { [[ -n "$agent_pid" ]] && kill "$agent_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_agent() {  # start_agent EXTRA_ARGS...
  rm -f "$work/data/address"
  "$TEND" agent --listen 127.0.0.1:0 --data "$work/data" "$@" >"$work/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 200); do [[ -s "$work/data/address" ]] && break; sleep 0.05; done
  ADDR=$(cat "$work/data/address"); TOKEN=$(cat "$work/data/token")
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

echo "machine: $(nproc) CPUs, $(uname -r), $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)"

# --- throughput ---------------------------------------------------------------------------------
if want throughput; then
# AGENT_ARGS: more agent options, e.g. "--keep-jobs 200" to measure with retention removing jobs.
# shellcheck disable=SC2086
start_agent --max-running 64 --max-queued 100000 ${AGENT_ARGS:-}
python3 - "$ADDR" "$TOKEN" "$JOBS" "$CLIENTS" "$TEND" <<'PY'
import http.client, json, os, subprocess, sys, threading, time
addr, token, jobs, clients, tend = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host, port = addr.rsplit(":", 1)
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
lat, lock, counter = [], threading.Lock(), [0]
def take():
    with lock:
        if counter[0] >= jobs: return False
        counter[0] += 1
        return True
def client():
    c = http.client.HTTPConnection(host, int(port))
    while take():
        t0 = time.monotonic()
        c.request("POST", "/v1/jobs", json.dumps({"command": ["true"]}), H)
        r = c.getresponse(); jid = json.loads(r.read())["id"]
        c.request("GET", f"/v1/jobs/{jid}/output?follow=1", headers=H)
        c.getresponse().read()   # ends when the job has ended
        c.request("GET", f"/v1/jobs/{jid}", headers=H)
        st = json.loads(c.getresponse().read())["state"]
        assert st == "succeeded", st
        with lock: lat.append(time.monotonic() - t0)
def pct(v, p): v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
def busy_s():  # CPU time used by the whole machine so far (user+nice+system+irq+softirq)
    f = open("/proc/stat").readline().split()[1:]
    return (int(f[0]) + int(f[1]) + int(f[2]) + int(f[5]) + int(f[6])) / os.sysconf("SC_CLK_TCK")
b0 = busy_s()
t0 = time.monotonic()
ts = [threading.Thread(target=client) for _ in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
agent_s = time.monotonic() - t0
agent_cpu = busy_s() - b0
# The reference: the same number of bare `tend run -- true`, CLIENTS at a time.
rlat, counter[0] = [], 0
def runner():
    while take():
        t = time.monotonic()
        subprocess.run([tend, "run", "--", "true"], check=True)
        with lock: rlat.append(time.monotonic() - t)
b0 = busy_s()
t0 = time.monotonic()
ts = [threading.Thread(target=runner) for _ in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
run_s = time.monotonic() - t0
run_cpu = busy_s() - b0
run_children = os.times().children_user + os.times().children_system
print(f"throughput: {jobs} jobs, {clients} clients")
print(f"  agent:        {jobs/agent_s:7.1f} jobs/s  p50 {pct(lat,.5)*1000:6.1f} ms  p99 {pct(lat,.99)*1000:6.1f} ms")
print(f"  tend run:     {jobs/run_s:7.1f} jobs/s  p50 {pct(rlat,.5)*1000:6.1f} ms  p99 {pct(rlat,.99)*1000:6.1f} ms")
print(f"  agent / tend run: {100*(jobs/agent_s)/(jobs/run_s):.0f} %")
print(f"  machine CPU per job (all processes, clients included): agent {agent_cpu*1000/jobs:.1f} ms, "
      f"tend run {run_cpu*1000/jobs:.1f} ms (of which `tend run` with its job: {run_children*1000/jobs:.1f} ms)")
PY
# utime+stime of the agent, and cutime+cstime: the shims it reaped (with the jobs they reaped).
echo "  agent CPU: $(awk '{printf "%.1f ms per job; its shims with their jobs: %.1f ms per job", ($14+$15)*1000/'"$(getconf CLK_TCK)"'/'"$JOBS"', ($16+$17)*1000/'"$(getconf CLK_TCK)"'/'"$JOBS"'}' /proc/$agent_pid/stat)"
stop_agent
fi

# --- idle cost of many running jobs --------------------------------------------------------------
if want idle; then
start_agent --max-running "$SLEEPERS" --max-queued 100000
for _ in $(seq "$SLEEPERS"); do
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"command":["sleep","60"]}' "http://$ADDR/v1/jobs"
done
for _ in $(seq 300); do
  n=$(pgrep -fc "agent-shim $work/data" || true)
  [[ "$n" -ge "$SLEEPERS" ]] && break; sleep 0.1
done
sleep 1
shims=$(pgrep -f "agent-shim $work/data")
total=0; count=0
for p in $shims; do r=$(rss_kib "$p" 2>/dev/null || echo 0); total=$((total + r)); count=$((count + 1)); done
echo "idle: $count running sleep jobs"
echo "  agent RSS: $(rss_kib "$agent_pid") KiB"
echo "  shim RSS:  $((total / (count > 0 ? count : 1))) KiB average (RSS counts shared pages: libc, the tend binary)"
# Unshared memory per shim (Private_* from smaps_rollup) is the real cost of one more job.
priv=0
for p in $shims; do
  v=$(awk '/^Private_(Clean|Dirty)/ {s += $2} END {print s+0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  priv=$((priv + v))
done
echo "  shim private memory: $((priv / (count > 0 ? count : 1))) KiB average"
curl -s "http://$ADDR/v1/jobs?state=running&limit=500" -H "Authorization: Bearer $TOKEN" |
  python3 -c 'import json,sys; [print(j["id"]) for j in json.load(sys.stdin)["jobs"]]' |
  while read -r id; do curl -s -o /dev/null -d '' -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/jobs/$id/cancel"; done
stop_agent
fi

# --- one job writing 1 GiB ----------------------------------------------------------------------
if want output; then
start_agent
t0=$(date +%s.%N)
id=$(curl -s -H "Authorization: Bearer $TOKEN" -d '{"command":["head","-c","1073741824","/dev/zero"]}' "http://$ADDR/v1/jobs" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
peak_shim=0
while :; do
  st=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/jobs/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  for p in $(pgrep -f "agent-shim $work/data" || true); do h=$(hwm_kib "$p" 2>/dev/null || echo 0); ((h > peak_shim)) && peak_shim=$h; done
  [[ "$st" != queued && "$st" != running ]] && break
  sleep 0.05
done
t1=$(date +%s.%N)
agent_hwm=$(hwm_kib "$agent_pid")
stop_agent
t2=$(date +%s.%N); head -c 1073741824 /dev/zero >"$work/ref"; sync -f "$work/ref"; t3=$(date +%s.%N); rm -f "$work/ref"
python3 - "$t0" "$t1" "$t2" "$t3" "$agent_hwm" "$peak_shim" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
print("big output: 1 GiB from one job (64 MiB kept: head + tail)")
print(f"  agent peak RSS: {int(sys.argv[5])//1024} MiB, shim peak RSS: {int(sys.argv[6])//1024} MiB")
print(f"  agent job: {1024/(t1-t0):7.0f} MiB/s  ({t1-t0:.2f} s submit to finished)")
print(f"  head > file: {1024/(t3-t2):7.0f} MiB/s  ({t3-t2:.2f} s)")
PY
fi

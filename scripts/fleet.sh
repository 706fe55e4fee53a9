#!/usr/bin/env bash
# A whole fleet on this machine: a 3-member etcd on loopback (Debian's etcd-server), three agents
# on 127.0.0.11-13 (labels role=web, role=web, role=db) and one `tend server`; prints the
# server's URL and the token's path, then waits. Ctrl-C (or SIGTERM) stops everything it started.
# State in $TEND_FLEET_DIR (default ./tend-fleet). Needs no root unless apt must install etcd.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(realpath -m "${TEND_FLEET_DIR:-./tend-fleet}")"
TEND_TEST_EXTRAS=0 "$root/scripts/deps.sh"
if ! command -v etcd >/dev/null; then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    etcd-server >/dev/null
fi
cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTEND_BUILD_TESTS=OFF -DTEND_BUILD_BENCH=OFF >/dev/null
cmake --build "$root/build-release" -j"$(nproc)" --target tend >/dev/null
tend="$root/build-release/src/cli/tend"

mkdir -p "$dir"
pids=()
stop() {
  trap - EXIT INT TERM
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# The fleet's token: made once, shared by the server and the agents.
if [[ ! -s "$dir/token" ]]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token")
fi

etcd_ports=(23791 23792 23793)
peers=""
for i in 0 1 2; do peers+="${peers:+,}e$i=http://127.0.0.1:$((23801 + i))"; done
endpoints=""
for i in 0 1 2; do
  client="http://127.0.0.1:${etcd_ports[$i]}"
  endpoints+="${endpoints:+,}$client"
  state=new
  [[ -d "$dir/etcd$i/member" ]] && state=existing
  etcd --name "e$i" --data-dir "$dir/etcd$i" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "http://127.0.0.1:$((23801 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((23801 + i))" \
    --initial-cluster "$peers" --initial-cluster-state "$state" \
    --initial-cluster-token tend-fleet --heartbeat-interval 100 --election-timeout 1000 \
    --experimental-watch-progress-notify-interval 1s --logger zap --log-outputs stderr \
    >"$dir/etcd$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 ||
  { echo "fleet: etcd did not become healthy (logs in $dir/etcd*.log)" >&2; exit 1; }

labels=(role=web role=web role=db)
for i in 1 2 3; do
  "$tend" agent --etcd "$endpoints" --name "m$i" --label "${labels[$((i - 1))]}" \
    --listen "127.0.0.1$i:8600" --data "$dir/agent$i" --token-file "$dir/token" \
    >"$dir/agent$i.log" 2>&1 &
  pids+=($!)
done

rm -f "$dir/server/address"
mkdir -p "$dir/server"
"$tend" server --etcd "$endpoints" --listen 127.0.0.1:8700 --data "$dir/server" \
  --token-file "$dir/token" >"$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$dir/server/address" ]] && break; sleep 0.1; done
[[ -s "$dir/server/address" ]] || { echo "fleet: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }

cat <<MSG
tend fleet: server http://$(cat "$dir/server/address")/  token in $dir/token
            etcd $endpoints; agents m1 m2 (role=web) m3 (role=db) on 127.0.0.11-13:8600
            logs in $dir; try:
  TEND_ADDR=$(cat "$dir/server/address") TEND_TOKEN=\$(cat $dir/token) $tend machines
Ctrl-C stops the fleet.
MSG
wait -n "${pids[@]}" || true
echo "fleet: a process ended (see the logs in $dir); stopping" >&2

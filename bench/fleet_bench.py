#!/usr/bin/env python3
"""The fleet's costs on one machine (issue 9's targets), on loopback only.

  python3 bench/fleet_bench.py build-rel        # the build directory holding src/cli/tend

Starts its own 3-member etcd (Debian's etcd-server, data in /dev/shm), 30 agents on
127.0.0.101-130 (each with its own data directory in /dev/shm) and one `tend server`, then:
  1. idle: CPU seconds (utime+stime from /proc/PID/stat) of etcd, the server and the agents
     over IDLE seconds with nothing to do;
  2. fan-out: one `true` job to N = 3, 10, 30 machines through the server, submit -> every run
     finished (polling GET /v1/jobs/{id}), p50/p99 over FANOUT jobs; reference in the same run:
     the same N jobs posted straight to the N agents at once, until all finished;
  3. throughput: JOBS `true` jobs through the server to 3 agents (round-robin, CLIENTS in
     flight) vs the same jobs posted straight to the 3 agents; jobs/s;
  4. etcd writes per run: the server's tend_etcd_writes_total plus the agents'
     tend_fleet_etcd_writes_total over phases 2 and 3 (lease keep-alives are not writes: they
     are counted apart), and the agents' report txns and late reports.
Every wait has a deadline; everything it started is stopped at the end (also on error).
Environment: AGENTS (30), IDLE (60), FANOUT (20), JOBS (300), CLIENTS (24), POLL_MS (10),
JOB_CACHE (the server's --job-cache; unset: its default, 0: polls read etcd), LONG_POLL (1: the
clients of the server long-poll GET /v1/jobs/ID?wait=10s, as `tend submit --wait` does, instead
of polling every POLL_MS; the agents' clients poll as before).
"""
import concurrent.futures as cf
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

AGENTS = int(os.environ.get("AGENTS", 30))
IDLE = float(os.environ.get("IDLE", 60))
FANOUT = int(os.environ.get("FANOUT", 20))
JOBS = int(os.environ.get("JOBS", 300))
CLIENTS = int(os.environ.get("CLIENTS", 24))
POLL = float(os.environ.get("POLL_MS", 10)) / 1000
JOB_CACHE = os.environ.get("JOB_CACHE")
LONG_POLL = os.environ.get("LONG_POLL") == "1"
FINAL = {"succeeded", "failed", "cancelled"}
TICK = os.sysconf("SC_CLK_TCK")


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def wait_for(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise SystemExit(f"fleet_bench: {what} did not happen within {timeout} s")


class Api:
    """One keep-alive connection to one HTTP service (one per thread)."""

    def __init__(self, addr, token, long_poll=False):
        self.long_poll = long_poll
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, json.dumps(body) if body is not None else None,
                                  self.headers)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError

    def submit(self, body):
        for _ in range(200):
            status, data = self.call("POST", "/v1/jobs", body)
            if status in (200, 201, 202):
                return json.loads(data)["id"]
            if status not in (429, 503):
                raise SystemExit(f"fleet_bench: POST /v1/jobs answered {status}: {data[:300]!r}")
            time.sleep(0.05)
        raise SystemExit("fleet_bench: submissions kept being refused (429/503)")

    def wait_final(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = "?wait=10s" if self.long_poll else ""
            status, data = self.call("GET", f"/v1/jobs/{job_id}{wait}")
            if status == 200:
                state = json.loads(data)["state"]
                if state in FINAL:
                    if state != "succeeded":
                        raise SystemExit(f"fleet_bench: job {job_id} ended {state}: {data[:400]!r}")
                    return
                if self.long_poll:
                    continue  # the server answered a change (or its deadline): ask again
            time.sleep(POLL)
        raise SystemExit(f"fleet_bench: job {job_id} did not finish within {timeout} s")

    def metrics(self):
        status, data = self.call("GET", "/metrics")
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out


class Fleet:
    def __init__(self, tend, root):
        self.tend, self.root = tend, root
        self.procs = []  # (name, Popen)
        self.token = secrets.token_hex(32)
        self.token_file = os.path.join(root, "token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, self.token.encode())
        os.close(fd)

    def spawn(self, name, argv):
        log = open(os.path.join(self.root, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append((name, p))
        return p

    def start_etcd(self):
        ports = free_ports(6)
        client = [f"http://127.0.0.1:{p}" for p in ports[:3]]
        peer = [f"http://127.0.0.1:{p}" for p in ports[3:]]
        cluster = ",".join(f"e{i}={peer[i]}" for i in range(3))
        self.etcd = []
        for i in range(3):
            self.etcd.append(self.spawn(f"etcd{i}", [
                "etcd", "--name", f"e{i}", "--data-dir", os.path.join(self.root, f"etcd{i}"),
                "--listen-client-urls", client[i], "--advertise-client-urls", client[i],
                "--listen-peer-urls", peer[i], "--initial-advertise-peer-urls", peer[i],
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "tend-fleet-bench", "--heartbeat-interval", "100",
                "--election-timeout", "1000", "--experimental-watch-progress-notify-interval",
                "1s", "--logger", "zap", "--log-outputs", "stderr"]))
        self.endpoints = ",".join(client)
        wait_for("etcd healthy", lambda: subprocess.run(
            ["etcdctl", "--endpoints", self.endpoints, "endpoint", "health"],
            capture_output=True).returncode == 0, 60)

    def start_agents(self, n):
        self.agents = []  # (name, pid, address)
        for i in range(1, n + 1):
            data = os.path.join(self.root, f"agent{i}")
            os.mkdir(data)
            p = self.spawn(f"agent{i}", [
                self.tend, "agent", "--etcd", self.endpoints, "--name", f"m{i}",
                "--listen", f"127.0.0.{100 + i}:0", "--data", data, "--token-file",
                self.token_file])
            self.agents.append([f"m{i}", p.pid, data])
        for a in self.agents:
            path = os.path.join(a[2], "address")
            a[2] = wait_for(f"agent {a[0]} address", lambda: os.path.exists(path) and
                            open(path).read().strip(), 60)

    def start_server(self):
        data = os.path.join(self.root, "server")
        os.mkdir(data)
        self.server = self.spawn("server", [
            self.tend, "server", "--etcd", self.endpoints, "--listen", "127.0.0.1:0", "--data",
            data, "--token-file", self.token_file] +
            (["--job-cache", JOB_CACHE] if JOB_CACHE is not None else []))
        path = os.path.join(data, "address")
        self.server_addr = wait_for("server address", lambda: os.path.exists(path) and
                                    open(path).read().strip(), 60)

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise SystemExit(f"fleet_bench: {name} exited ({p.returncode}); see {self.root}")

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def writes(fleet):
    """{"writes": etcd writes of the server and every agent, "keepalives": the agents' lease
    renewals (not writes), "reports": their report txns, "late": records the fallback wrote}."""
    out = {"writes": Api(fleet.server_addr, fleet.token).metrics().get("tend_etcd_writes_total", 0),
           "keepalives": 0, "reports": 0, "late": 0}
    for _, _, addr in fleet.agents:
        m = Api(addr, fleet.token).metrics()
        out["writes"] += m.get("tend_fleet_etcd_writes_total", 0)
        out["keepalives"] += m.get("tend_fleet_etcd_keepalives_total", 0)
        out["reports"] += m.get("tend_fleet_report_rounds_total", 0)
        out["late"] += m.get("tend_fleet_late_reports_total", 0)
    return out


def print_writes(phase, w0, w1, runs):
    d = {k: w1[k] - w0[k] for k in w0}
    print(f"etcd writes during {phase}: {d['writes']:.0f} for {runs} runs: "
          f"{d['writes'] / runs:.2f} per run (lease keep-alives apart: {d['keepalives']:.0f}, "
          f"{d['keepalives'] / runs:.2f} per run); agents' report txns {d['reports']:.0f}, "
          f"late reports {d['late']:.0f}")


def fan_out(fleet, n):
    names = [a[0] for a in fleet.agents[:n]]
    addrs = [a[2] for a in fleet.agents[:n]]
    server = Api(fleet.server_addr, fleet.token, LONG_POLL)
    direct = [Api(a, fleet.token) for a in addrs]
    body = {"command": ["true"]}
    via, ref = [], []

    def one_direct(api):
        api.wait_final(api.submit(body))

    with cf.ThreadPoolExecutor(n) as pool:
        for _ in range(FANOUT):
            # Alternate the two sides so drift in the machine's load hits both alike.
            t0 = time.perf_counter()
            server.wait_final(server.submit(dict(body, target={"machines": names})))
            via.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            list(pool.map(one_direct, direct))
            ref.append(time.perf_counter() - t0)
    return via, ref


def throughput(fleet, via_server):
    names = [a[0] for a in fleet.agents[:3]]
    addrs = [a[2] for a in fleet.agents[:3]]
    counter = iter(range(JOBS))
    lock = threading.Lock()
    local = threading.local()

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if via_server:
                if not hasattr(local, "api"):
                    local.api = Api(fleet.server_addr, fleet.token, LONG_POLL)
                api = local.api
                body = {"command": ["true"], "target": {"machines": [names[i % 3]]}}
            else:
                if not hasattr(local, "apis"):
                    local.apis = [Api(a, fleet.token) for a in addrs]
                api = local.apis[i % 3]
                body = {"command": ["true"]}
            api.wait_final(api.submit(body))

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(CLIENTS) as pool:
        for f in [pool.submit(worker) for _ in range(CLIENTS)]:
            f.result()
    return JOBS / (time.perf_counter() - t0)


def main(build):
    tend = os.path.abspath(os.path.join(build, "src", "cli", "tend"))
    if not os.access(tend, os.X_OK) or not shutil.which("etcd"):
        raise SystemExit(f"fleet_bench: needs {tend} and etcd (apt-get install etcd-server)")
    root = tempfile.mkdtemp(prefix="tend-fleet-bench-", dir="/dev/shm")
    fleet = Fleet(tend, root)
    print(f"load average before: {open('/proc/loadavg').read().strip()}")
    print(f"nproc {os.cpu_count()}, kernel {os.uname().release}; state in {root}")
    ok = False
    try:
        fleet.start_etcd()
        fleet.start_agents(AGENTS)
        fleet.start_server()
        srv = Api(fleet.server_addr, fleet.token)

        def all_online():
            st, data = srv.call("GET", "/v1/machines")
            return st == 200 and sum(m["state"] == "online"
                                     for m in json.loads(data)["machines"]) == AGENTS
        wait_for(f"{AGENTS} machines online", all_online, 120)
        time.sleep(3)  # let the start-up settle
        fleet.check_alive()

        # 1. idle cost
        pids = {"etcd": [p.pid for p in fleet.etcd], "server": [fleet.server.pid],
                "agents": [a[1] for a in fleet.agents]}
        before = {k: sum(map(cpu_seconds, v)) for k, v in pids.items()}
        t0 = time.monotonic()
        time.sleep(IDLE)
        span = time.monotonic() - t0
        after = {k: sum(map(cpu_seconds, v)) for k, v in pids.items()}
        print(f"idle, {AGENTS} agents, {span:.1f} s: CPU seconds " + ", ".join(
            f"{k} {after[k] - before[k]:.2f}" for k in pids) +
            f" (per agent {(after['agents'] - before['agents']) / AGENTS:.3f}; "
            f"per etcd member {(after['etcd'] - before['etcd']) / 3:.2f}); "
            f"as CPU share: etcd {(after['etcd'] - before['etcd']) / span * 100:.1f} %, "
            f"server {(after['server'] - before['server']) / span * 100:.2f} %, "
            f"agents {(after['agents'] - before['agents']) / span * 100:.1f} %")

        # 2. fan-out, and the writes it costs
        w0 = writes(fleet)
        runs = 0
        for n in (3, 10, 30):
            if n > AGENTS:
                break
            via, ref = fan_out(fleet, n)
            runs += n * FANOUT
            print(f"fan-out N={n:2d} ({FANOUT} jobs): via server p50 {pct(via, .5)*1000:.0f} ms "
                  f"p99 {pct(via, .99)*1000:.0f} ms; direct p50 {pct(ref, .5)*1000:.0f} ms "
                  f"p99 {pct(ref, .99)*1000:.0f} ms; ratio p50 {pct(via, .5)/pct(ref, .5):.2f}x "
                  f"p99 {pct(via, .99)/pct(ref, .99):.2f}x")
        fleet.check_alive()
        time.sleep(2.5)  # failed report writes are retried every 2 s
        print_writes(f"fan-out ({FANOUT * 3} jobs)", w0, writes(fleet), runs)

        # 3. throughput, and the writes per single-machine job
        def cpu():
            # The clients (this script's threads, one Python process) count too: they poll.
            return dict({k: sum(map(cpu_seconds, v)) for k, v in pids.items()},
                        clients=cpu_seconds(os.getpid()))
        c0 = cpu()
        direct = throughput(fleet, False)
        c1 = cpu()
        w0 = writes(fleet)
        server_api = Api(fleet.server_addr, fleet.token)
        m0 = server_api.metrics()
        via = throughput(fleet, True)
        m1 = server_api.metrics()
        c2 = cpu()
        time.sleep(2.5)
        w1 = writes(fleet)
        for side, a, b in (("direct", c0, c1), ("via server", c1, c2)):
            print(f"CPU ms per job, {side}: " + ", ".join(
                f"{k} {(b[k] - a[k]) / JOBS * 1000:.1f}" for k in a))
        print(f"throughput, 3 agents, {JOBS} jobs, {CLIENTS} in flight: via server {via:.1f} jobs/s, "
              f"direct {direct:.1f} jobs/s: {via / direct * 100:.0f} %")
        print_writes("throughput", w0, w1, JOBS)

        def delta(name):
            return m1.get(name, 0) - m0.get(name, 0)
        print(f"server, throughput: {delta('tend_etcd_calls_total'):.0f} etcd calls; "
              f"job polls from the view {delta('tend_server_job_cache_hits_total'):.0f}, "
              f"from etcd {delta('tend_server_job_cache_misses_total'):.0f} "
              f"(JOB_CACHE={JOB_CACHE if JOB_CACHE is not None else 'default'}, "
              f"LONG_POLL={int(LONG_POLL)})")
        fleet.check_alive()
        ok = True
    finally:
        fleet.stop()
        print(f"load average after: {open('/proc/loadavg').read().strip()}")
        if ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"fleet_bench: logs kept in {root}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])

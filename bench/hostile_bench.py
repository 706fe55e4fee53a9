#!/usr/bin/env python3
"""The agent's HTTP layer under hostile load (issue 8's targets), on loopback only.

  python3 bench/hostile_bench.py build-release/src/cli/tend

Starts an agent with a fresh data directory, then measures /healthz latency (p50/p99 over
sequential fresh connections) first with no load (the reference, same run), then with
300 slowloris connections + 200 idle keep-alive connections + 150 followers of a running job
held open; then 1,000 clients connecting at once; then a 4 x 40 MiB header bomb. Prints the
agent's RSS at each step. Bounded: every loop has a count and a deadline; it stops by itself.
"""
import asyncio, json, os, resource, signal, subprocess, sys, tempfile, time

SLOW, IDLE, FOLLOW, BURST = 300, 200, 150, 1000


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1


async def request(host, port, raw, until=b"\r\n\r\n", timeout=10):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    w.write(raw)
    await w.drain()
    data = b""
    try:
        while until not in data:
            chunk = await asyncio.wait_for(r.read(65536), timeout)
            if not chunk:
                break
            data += chunk
    finally:
        w.close()
    return data


async def healthz_latencies(host, port, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        d = await request(host, port, b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        if d.startswith(b"HTTP/1.1 200"):
            out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return out


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


async def main(tend):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    data = tempfile.mkdtemp(prefix="tend-hostile-bench-")
    log = open(os.path.join(data, "agent.log"), "w")
    agent = subprocess.Popen([tend, "agent", "--listen", "127.0.0.1:0", "--data", data],
                             stdout=log, stderr=log)
    try:
        addr = ""
        for _ in range(200):
            try:
                addr = open(os.path.join(data, "address")).read().strip()
                if addr:
                    break
            except FileNotFoundError:
                pass
            await asyncio.sleep(0.05)
        host, port = addr.rsplit(":", 1)
        port = int(port)
        token = open(os.path.join(data, "token")).read().strip()
        auth = f"Authorization: Bearer {token}\r\n".encode()

        ref = await healthz_latencies(host, port, 300)
        print(f"reference (no load): /healthz p50 {pct(ref, .5):.2f} ms p99 {pct(ref, .99):.2f} ms; "
              f"agent RSS {rss_mib(agent.pid):.1f} MiB")

        body = json.dumps({"command": ["sleep", "120"]}).encode()
        d = await request(host, port, b"POST /v1/jobs HTTP/1.1\r\nHost: b\r\n" + auth +
                          b"Content-Type: application/json\r\nContent-Length: " +
                          str(len(body)).encode() + b"\r\n\r\n" + body, until=b"}")
        job = json.loads(d.split(b"\r\n\r\n", 1)[1])["id"]

        held = []
        for _ in range(SLOW):  # slowloris: a head that never ends
            r, w = await asyncio.open_connection(host, port)
            w.write(b"GET /healthz HTTP/1.1\r\nHost: b\r\n")
            held.append(w)
        for _ in range(IDLE):  # idle keep-alive: one request, then silence
            r, w = await asyncio.open_connection(host, port)
            w.write(b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")
            await w.drain()
            await r.readuntil(b"}\n")
            held.append(w)
        for _ in range(FOLLOW):
            r, w = await asyncio.open_connection(host, port)
            w.write(f"GET /v1/jobs/{job}/output?follow=1 HTTP/1.1\r\nHost: b\r\n".encode() + auth + b"\r\n")
            await w.drain()
            await r.readuntil(b"\r\n\r\n")
            held.append(w)

        async def slowloris_lines():
            for i in range(4):  # a header line every 2 s, within the 10 s head deadline
                await asyncio.sleep(2)
                for w in held[:SLOW]:
                    if not w.is_closing():
                        w.write(f"X-Slow-{i}: 1\r\n".encode())
        drip = asyncio.create_task(slowloris_lines())
        loaded = await healthz_latencies(host, port, 300)
        await drip
        print(f"with {SLOW} slowloris + {IDLE} idle + {FOLLOW} followers: /healthz p50 "
              f"{pct(loaded, .5):.2f} ms p99 {pct(loaded, .99):.2f} ms "
              f"({len(loaded)}/300 answered); p99 ratio to reference {pct(loaded, .99) / pct(ref, .99):.2f}x; "
              f"agent RSS {rss_mib(agent.pid):.1f} MiB")
        for w in held:
            w.close()

        t0 = time.perf_counter()
        res = await asyncio.gather(*[request(host, port, b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", timeout=30)
                                     for _ in range(BURST)], return_exceptions=True)
        ok = sum(1 for x in res if isinstance(x, bytes) and x.startswith(b"HTTP/1.1 200"))
        print(f"{BURST} clients at once: {ok} answered 200 in {time.perf_counter() - t0:.2f} s; "
              f"agent RSS {rss_mib(agent.pid):.1f} MiB")

        before = rss_mib(agent.pid)
        line = b"X-Bomb: " + b"a" * 1000 + b"\r\n"
        chunk = line * 1024
        for _ in range(4):
            try:
                r, w = await asyncio.open_connection(host, port)
                w.write(b"GET /healthz HTTP/1.1\r\nHost: b\r\n")
                for _ in range(40):
                    w.write(chunk)
                    await asyncio.wait_for(w.drain(), 5)
                w.close()
            except (ConnectionError, asyncio.TimeoutError):
                pass
        await asyncio.sleep(0.5)
        print(f"4 x 40 MiB header bomb: agent RSS {before:.1f} -> {rss_mib(agent.pid):.1f} MiB")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
        # The job's shim keeps running after the agent (that is the point of shims): stop it.
        subprocess.run(["pkill", "-f", f"agent-shim {data}"], check=False)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "build/src/cli/tend"))

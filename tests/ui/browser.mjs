// What the browser tests share: waiting, a free port, finding a test's processes in /proc, Debian's
// chromium started one way with a page that records its script errors and foreign requests, and
// steps that build on each other.
import {readFileSync, readdirSync} from 'node:fs';
import net from 'node:net';
import {it} from 'node:test';

import {chromium} from 'playwright-core';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `n` distinct free loopback ports for the servers a test starts, drawn at random below the
// kernel's ephemeral range (as tests/fleet/etcd_cluster.cpp does): between our release and the
// server's bind, a port from listen(0) could be taken by any listener on port 0 or outgoing
// connection of the tests ctest runs beside this one, which draw from that range; a port below
// it is taken only by whoever asks for it by number. All are held until all are chosen, so none
// repeats.
export async function freePorts(n) {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
  const lowest = 10000;
  const high = Math.min(Number.isInteger(low) && low > lowest ? low : 32768, 65536);
  const listen = (port) => new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
  const held = [];
  try {
    for (let tries = 0; held.length < n; ++tries) {
      if (tries >= 1000) throw new Error(`no ${n} free ports in [${lowest}, ${high})`);
      const server = await listen(lowest + Math.floor(Math.random() * (high - lowest)));
      if (server) held.push(server);
    }
    return held.map((s) => s.address().port);
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

// PIDs of live processes (not zombies, not this one) whose /proc/PID/`file` ('environ' or
// 'cmdline'), split at NUL, holds `entry`.
export function processesWith(file, entry) {
  const pids = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const fields = readFileSync(`/proc/${pid}/${file}`, 'latin1');
      const state = readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /, '')[0];
      if (state !== 'Z' && fields.split('\0').includes(entry)) pids.push(Number(pid));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

// Debian's chromium (TEND_CHROMIUM to use another), headless and asking nothing of the network.
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.TEND_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page of `browser` (newPage `options`) that pushes its script errors to `pageErrors` and every
// request outside `base` (but those `allowed` says are fine) to `foreignRequests`.
export async function openPage(browser, base, options, {pageErrors, foreignRequests, allowed = () => false}) {
  const page = await browser.newPage(options);
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (req) => {
    if (!req.url().startsWith(`${base}/`) && !allowed(req.url())) foreignRequests.push(req.url());
  });
  return page;
}

// `step(name, body)`: a test that skips once an earlier step has failed (the steps build on each
// other: the rest skip instead of timing out one by one). `onFailure(err)` adds what helps (a
// screenshot, logs) before the failure is reported. `step.failed()`: the failed step's name, or null.
export function stepsThatBuildOnEachOther(onFailure) {
  let failedStep = null;
  const step = (name, body) => it(name, async (t) => {
    if (failedStep) return t.skip(`needs the step that failed: ${failedStep}`);
    try {
      await body();
    } catch (err) {
      failedStep = name;
      await onFailure(err);
      throw err;
    }
  });
  step.failed = () => failedStep;
  return step;
}

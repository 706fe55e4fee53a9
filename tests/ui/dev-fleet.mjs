#!/usr/bin/env node
// A stand-in for `tend server` and its fleet, for working on the fleet page without etcd or agents:
//   node tests/ui/dev-fleet.mjs [--listen 127.0.0.1:8700] [--token TOKEN]
// It serves src/server/web straight from disk (edit, reload) and the part of the server's API the
// page uses, over three pretend machines (web1, web2 role=web; db1 role=db) whose runs are plain
// local child processes. `kill -USR1` toggles db1 between online and unreachable. ctest never uses
// it: the browser test (fleet_page.test.mjs) runs against a real etcd, real agents, a real server.
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', '..', 'src', 'server', 'web');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const [host, port] = option('--listen', '127.0.0.1:8700').split(':');
const token = option('--token', randomBytes(16).toString('hex'));

const assets = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/assets/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/assets/style.css': ['style.css', 'text/css; charset=utf-8'],
};
const machines = [
  {name: 'db1', labels: {role: 'db'}, state: 'online'},
  {name: 'web1', labels: {role: 'web'}, state: 'online'},
  {name: 'web2', labels: {role: 'web'}, state: 'online'},
];
process.on('SIGUSR1', () => {
  machines[0].state = machines[0].state === 'online' ? 'unreachable' : 'online';
  machines[0].last_seen = new Date().toISOString();
});
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
const jobs = new Map();
let nextId = 1;

const send = (res, status, body) => {
  res.writeHead(status, {'Content-Type': 'application/json'});
  res.end(JSON.stringify(body));
};
const fail = (res, status, field, message) => send(res, status, {error: {field, message}});

function select(target) {
  const online = machines.filter((m) => m.state === 'online');
  if (target?.all === true) return online.map((m) => m.name);
  if (target?.match) return online.filter((m) => Object.entries(target.match).every(([k, v]) => m.labels[k] === v)).map((m) => m.name);
  if (Array.isArray(target?.machines)) return target.machines.every((n) => machines.some((m) => m.name === n)) ? target.machines : [];
  return [];
}

function startRun(job, machine) {
  const {command, interpreter, script} = job.spec;
  const argv = command || [interpreter || 'sh', '-c', script];
  const run = {machine, state: 'running', exit_code: null, signal: null, error: null,
               started_at: new Date().toISOString(), finished_at: null, output: Buffer.alloc(0)};
  const child = spawn(argv[0], argv.slice(1), {env: {...process.env, TEND_JOB_ID: job.id, TEND_MACHINE: machine},
                                               stdio: ['ignore', 'pipe', 'pipe']});
  const keep = (chunk) => { run.output = Buffer.concat([run.output, chunk]); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (e) => { run.state = 'failed'; run.error = e.message; });
  child.on('close', (code, signal) => {
    run.finished_at = new Date().toISOString();
    run.exit_code = code;
    run.signal = signal;
    if (run.state === 'running') run.state = code === 0 ? 'succeeded' : 'failed';
  });
  run.child = child;
  return run;
}

function publicJob(job) {
  const runs = job.runs.map(({child, output, ...r}) => ({...r, output_bytes: output.length}));
  const ended = runs.every((r) => FINAL.has(r.state));
  const state = !ended ? 'running' : runs.every((r) => r.state === 'succeeded') ? 'succeeded'
      : runs.some((r) => r.state === 'cancelled') ? 'cancelled' : 'failed';
  return {...job.spec, id: job.id, machines: job.runs.map((r) => r.machine), state, runs};
}

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && assets[url.pathname]) {
    const [file, type] = assets[url.pathname];
    res.writeHead(200, {'Content-Type': type, 'Cache-Control': 'no-cache'});
    return res.end(readFileSync(path.join(webDir, file)));
  }
  if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, '', 'missing or wrong token');
  let m;
  if (req.method === 'GET' && url.pathname === '/v1/machines') {
    return send(res, 200, {machines: machines.map((x) => ({...x, running: [...jobs.values()].filter(
        (j) => j.runs.some((r) => r.machine === x.name && r.state === 'running')).length}))});
  }
  if (req.method === 'GET' && url.pathname === '/v1/jobs') {
    return send(res, 200, {jobs: [...jobs.values()].reverse().map(publicJob), next_cursor: null});
  }
  if (req.method === 'POST' && url.pathname === '/v1/jobs') {
    let body = '';
    req.on('data', (c) => (body += c));
    return req.on('end', () => {
      const spec = JSON.parse(body || '{}');
      const names = select(spec.target);
      if (!names.length) return fail(res, 400, 'target', 'no machine matches');
      const id = String(nextId++).padStart(6, '0');
      const job = {id, spec: {...spec, created_at: new Date().toISOString()}};
      job.runs = names.map((n) => startRun(job, n));
      jobs.set(id, job);
      send(res, 201, {id, state: 'queued', machines: names});
    });
  }
  if ((m = url.pathname.match(/^\/v1\/jobs\/([^/]+)(\/cancel|\/runs\/([^/]+)\/output)?$/))) {
    const job = jobs.get(decodeURIComponent(m[1]));
    if (!job) return fail(res, 404, 'id', 'no such job');
    if (!m[2]) return send(res, 200, publicJob(job));
    if (m[2] === '/cancel') {
      if (job.runs.every((r) => FINAL.has(r.state))) return fail(res, 409, 'id', 'already finished');
      for (const r of job.runs) if (!FINAL.has(r.state)) { r.state = 'cancelled'; r.child.kill('SIGKILL'); }
      return send(res, 202, publicJob(job));
    }
    const run = job.runs.find((r) => r.machine === decodeURIComponent(m[3]));
    if (!run) return fail(res, 404, 'machine', 'not a machine of this job');
    const offset = Number(url.searchParams.get('offset') || 0);
    res.writeHead(200, {'Content-Type': 'text/plain', 'X-Tend-Output-Size': String(run.output.length)});
    return res.end(run.output.subarray(offset));
  }
  return fail(res, 404, '', 'no such route');
}).listen(Number(port), host, () => console.log(`dev fleet on http://${host}:${port}/  token ${token}`));

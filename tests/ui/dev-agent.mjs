#!/usr/bin/env node
// A stand-in for `tend agent`, for working on the web page without building tend:
//   node tests/ui/dev-agent.mjs agent --listen 127.0.0.1:8600 --data /tmp/tend-dev
// It serves src/agent/server/web straight from disk (edit, reload) and implements the part of the HTTP API
// the page uses, with plain child processes (no scopes). ctest never uses it: the browser test
// runs against the real agent. To run that test against this stand-in while editing the page:
//   TEND_BINARY=tests/ui/dev-agent.mjs node tests/ui/run.mjs
import {spawn} from 'node:child_process';
import {randomBytes, timingSafeEqual} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', '..', 'src', 'agent', 'server', 'web');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const [host, port] = option('--listen', '127.0.0.1:8600').split(':');
const dataDir = option('--data', './tend-data');

mkdirSync(dataDir, {recursive: true});
const tokenFile = path.join(dataDir, 'token');
if (!existsSync(tokenFile)) writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, {mode: 0o600});
const token = readFileSync(tokenFile, 'utf8').trim();

const assets = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/assets/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/assets/output.js': ['output.js', 'text/javascript; charset=utf-8'],
  '/assets/style.css': ['style.css', 'text/css; charset=utf-8'],
};
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
const jobs = new Map();
let nextId = 1;

function sendJson(res, status, body) {
  res.writeHead(status, {'Content-Type': 'application/json'});
  res.end(JSON.stringify(body));
}
const fail = (res, status, field, message) => sendJson(res, status, {error: {field, message}});

function authorized(req) {
  const given = Buffer.from((req.headers.authorization || '').replace(/^Bearer /, ''));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function publicJob(job) {
  const {child, chunks, followers, ...rest} = job;
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  return {...rest, duration_ms: job.started_at ? end - Date.parse(job.started_at) : null,
          output_bytes: chunks.reduce((n, c) => n + c.length, 0)};
}

function startJob(spec) {
  const id = String(nextId++).padStart(6, '0');
  const argv = spec.command || [spec.interpreter, '-c', spec.script];
  const now = new Date().toISOString();
  const job = {id, state: 'running', exit_code: null, signal: null, error: null, created_at: now,
               started_at: now, finished_at: null, labels: spec.labels || {}, chunks: [], followers: new Set(),
               ...(spec.command ? {command: spec.command} : {script: spec.script, interpreter: spec.interpreter})};
  const child = spawn(argv[0], argv.slice(1), {env: {...process.env, ...(spec.env || {})},
                                                cwd: spec.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe']});
  job.child = child;
  const onData = (chunk) => {
    job.chunks.push(chunk);
    for (const follower of job.followers) follower.write(chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('error', (err) => {
    job.error = err.message;
  });
  child.on('close', (code, signal) => {
    job.finished_at = new Date().toISOString();
    job.exit_code = code ?? (signal ? 128 + ({SIGTERM: 15, SIGKILL: 9}[signal] || 0) : null);
    job.signal = signal ? ({SIGTERM: 15, SIGKILL: 9}[signal] || signal) : null;
    if (job.state !== 'cancelled') job.state = code === 0 ? 'succeeded' : 'failed';
    for (const follower of job.followers) follower.end();
    job.followers.clear();
  });
  jobs.set(id, job);
  return job;
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && assets[url.pathname]) {
    const [file, type] = assets[url.pathname];
    res.writeHead(200, {'Content-Type': type, 'X-Frame-Options': 'DENY',
                        'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'"});
    return res.end(readFileSync(path.join(webDir, file)));
  }
  if (url.pathname === '/healthz') return sendJson(res, 200, {ok: true});
  if (!authorized(req)) return fail(res, 401, null, 'missing or wrong token');
  if (url.pathname === '/v1/agent') return sendJson(res, 200, {hostname: os.hostname()});
  if (url.pathname === '/v1/jobs' && req.method === 'POST') {
    let spec;
    try {
      spec = JSON.parse(await readBody(req));
    } catch (err) {
      return fail(res, 400, null, `malformed JSON: ${err.message}`);
    }
    if (!spec.command === !spec.script) return fail(res, 400, 'command', 'give exactly one of command or script');
    if (spec.timeout !== undefined && typeof spec.timeout !== 'number' && !/^\d+(\.\d+)?(ms|s|m|h)$/.test(spec.timeout)) {
      return fail(res, 400, 'timeout', `"${spec.timeout}" is not a duration like 30s, 500ms or 5m`);
    }
    const job = startJob(spec);
    res.setHeader('Location', `/v1/jobs/${job.id}`);
    return sendJson(res, 201, {id: job.id, state: job.state});
  }
  if (url.pathname === '/v1/jobs' && req.method === 'GET') {
    const state = url.searchParams.get('state');
    const labels = url.searchParams.getAll('label').map((l) => l.split(':'));
    const cursor = Number(url.searchParams.get('cursor') || Infinity);
    const limit = Number(url.searchParams.get('limit') || 50);
    const list = [...jobs.values()].reverse()
      .filter((j) => Number(j.id) < cursor)
      .filter((j) => !state || j.state === state)
      .filter((j) => labels.every(([k, v]) => j.labels[k] === v))
      .slice(0, limit);
    const next = list.length === limit ? String(Number(list.at(-1).id)) : null;
    return sendJson(res, 200, {jobs: list.map(publicJob), next_cursor: next});
  }
  const match = url.pathname.match(/^\/v1\/jobs\/([^/]+)(\/output|\/cancel)?$/);
  const job = match && jobs.get(match[1]);
  if (!job) return fail(res, 404, null, 'no such job');
  if (!match[2]) return sendJson(res, 200, publicJob(job));
  if (match[2] === '/cancel') {
    if (FINAL.has(job.state)) return fail(res, 409, null, 'job already finished');
    job.state = 'cancelled';
    process.kill(-job.child.pid, 'SIGTERM');
    return sendJson(res, 202, {id: job.id, state: job.state});
  }
  let offset = Number(url.searchParams.get('offset') || 0);
  const sse = url.searchParams.get('sse') === '1' || (req.headers.accept || '').includes('text/event-stream');
  const follower = sse ? {
    // Server-sent events as the agent sends them: the id of an output event is the offset after it.
    write(chunk) {
      offset += chunk.length;
      const data = chunk.toString().split('\n').map((line) => `data: ${line}\n`).join('');
      res.write(`event: output\nid: ${offset}\n${data}\n`);
    },
    end() {
      res.write(`event: state\ndata: ${JSON.stringify(publicJob(job))}\n\nevent: end\ndata: ${job.state}\n\n`);
      res.end();
    },
  } : {write: (chunk) => res.write(chunk), end: () => res.end()};
  res.writeHead(200, {'Content-Type': sse ? 'text/event-stream' : 'text/plain; charset=utf-8'});
  if (sse) res.write(`event: state\ndata: ${JSON.stringify(publicJob(job))}\n\n`);
  const backlog = Buffer.concat(job.chunks).subarray(offset);
  if (backlog.length) follower.write(backlog);
  if ((sse || url.searchParams.get('follow') === '1') && !job.finished_at) {
    job.followers.add(follower);
    req.on('close', () => job.followers.delete(follower));
  } else {
    follower.end();
  }
}).listen(Number(port), host, () => {
  console.log(`tend agent (dev stand-in) on http://${host}:${port}/ token ${token}`);
});

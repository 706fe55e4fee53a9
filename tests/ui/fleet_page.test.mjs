// The fleet's web page in a real browser against a real fleet: a 3-member etcd on loopback (data in
// /dev/shm), three `tend agent --etcd` with labels, one `tend server`. Token prompt, the machines,
// "matches N machines" as the target is typed, a script run on two machines by label with both
// outputs live side by side, a cancelled job (every row cancelled, no process left), a killed agent
// shown unreachable. Started by run.mjs (which checks chromium, playwright-core and etcd).
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, describe} from 'node:test';

import {freePorts, launchBrowser, openPage, processesWith, sleep, stepsThatBuildOnEachOther, waitFor}
  from './browser.mjs';

const BINARY = process.env.TEND_BINARY;
const ETCD = process.env.TEND_ETCD || '/usr/bin/etcd';
const ARTIFACTS = process.env.TEND_UI_ARTIFACTS || os.tmpdir();
// Where the documentation's screenshots go (docs/screenshots) when asked; else ARTIFACTS.
const SHOTS = process.env.TEND_UI_SCREENSHOTS || ARTIFACTS;
const TTL = '2s';  // an agent's lease: how soon a killed one shows unreachable
const AGENTS = [
  {name: 'web1', labels: ['role=web', 'zone=a']},
  {name: 'web2', labels: ['role=web', 'zone=b']},
  {name: 'db1', labels: ['role=db', 'zone=a']},
];
// A number no other process has on its command line: how the test finds the cancelled job's sleeps.
const SLEEP_MARK = `300.${randomBytes(3).readUIntBE(0, 3)}`;

// A child process with its output kept (for the failure message); killed by stop().
function start(name, argv, logs) {
  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']});
  logs[name] = '';
  const keep = (chunk) => { logs[name] = (logs[name] + chunk).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({code, signal})));
  return child;
}

async function stop(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]) === false) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

describe('tend server: the fleet web page', {timeout: 240_000}, () => {
  const logs = {};
  const etcds = [];
  const agents = {};
  let server;
  let dir;
  let shmDir;
  let base;
  let token;
  let browser;
  let page;
  const pageErrors = [];
  const foreignRequests = [];

  const api = async (urlPath, init = {}) => {
    const res = await fetch(base + urlPath, {...init, headers: {Authorization: `Bearer ${token}`}});
    assert.ok(res.ok, `${init.method || 'GET'} ${urlPath}: HTTP ${res.status}`);
    return res.json();
  };
  const jobIdFromUrl = () => decodeURIComponent(new URL(page.url()).hash.match(/^#\/jobs\/(.+)$/)[1]);
  const runRow = (m) => page.locator(`#runs-body tr[data-machine="${m}"]`);
  const machineRow = (m) => page.locator(`#machines-body tr[data-machine="${m}"]`);

  const step = stepsThatBuildOnEachOther(async (err) => {
    if (page) await page.screenshot({path: path.join(ARTIFACTS, 'fleet-failure.png'), fullPage: true}).catch(() => {});
    for (const [who, text] of Object.entries(logs)) err.message += `\n--- ${who} ---\n${text.slice(-3000)}`;
  });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tend-ui-fleet-'));
    shmDir = mkdtempSync('/dev/shm/tend-ui-etcd-');
    token = randomBytes(32).toString('hex');
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${token}\n`, {mode: 0o600});

    // etcd: 3 members, heartbeat 100 ms, election 1 s (as the fleet harness, tests/fleet).
    // Every port of the fleet at once (etcd's client and peer ports, the agents', the server's).
    const ports = await freePorts(6 + AGENTS.length + 1);
    const members = [];
    for (let i = 0; i < 3; ++i) members.push({name: `m${i}`, client: ports.pop(), peer: ports.pop()});
    const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
    for (const m of members) {
      etcds.push(start(`etcd ${m.name}`, [ETCD, '--name', m.name, '--data-dir', path.join(shmDir, m.name),
        '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', shmDir,
        '--heartbeat-interval', '100', '--election-timeout', '1000', '--logger', 'zap', '--log-outputs', 'stderr'], logs));
    }
    const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`).join(',');
    for (const m of members) {
      await waitFor(`etcd ${m.name} to be healthy`, async () => {
        try {
          return (await (await fetch(`http://127.0.0.1:${m.client}/health`)).json()).health === 'true';
        } catch {
          return false;
        }
      }, 30_000);
    }

    for (const a of AGENTS) {
      const port = ports.pop();
      const data = path.join(dir, a.name);
      mkdirSync(data);
      agents[a.name] = start(`agent ${a.name}`, [BINARY, 'agent', '--etcd', endpoints, '--name', a.name,
        ...a.labels.flatMap((l) => ['--label', l]), '--ttl', TTL, '--listen', `127.0.0.1:${port}`,
        '--data', data, '--token-file', tokenFile], logs);
    }
    const port = ports.pop();
    base = `http://127.0.0.1:${port}`;
    mkdirSync(path.join(dir, 'server'));
    server = start('server', [BINARY, 'server', '--etcd', endpoints, '--listen', `127.0.0.1:${port}`,
      '--data', path.join(dir, 'server'), '--token-file', tokenFile], logs);
    await waitFor('the server to answer /healthz', async () => {
      if (server.exitCode !== null) throw new Error(`tend server exited:\n${logs.server}`);
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 30_000);
    await waitFor('3 machines online', async () => {
      for (const [name, a] of Object.entries(agents)) {
        if (a.exitCode !== null) throw new Error(`agent ${name} exited:\n${logs[`agent ${name}`]}`);
      }
      const {machines} = await api('/v1/machines');
      return machines.filter((m) => m.state === 'online').length === 3;
    }, 30_000);

    browser = await launchBrowser();
    page = await openPage(browser, base, {viewport: {width: 1280, height: 900}},
                          {pageErrors, foreignRequests, allowed: (url) => url.startsWith('data:')});
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stop(server);
    for (const a of Object.values(agents)) await stop(a);
    for (const e of etcds) await stop(e, 'SIGKILL');
    rmSync(shmDir, {recursive: true, force: true});
    if (!step.failed()) rmSync(dir, {recursive: true, force: true});
  });

  step('serves the page open, with ETag/304, CSP and no framing', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(await res.text(), /<title>tend fleet<\/title>/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const tag = res.headers.get('etag');
    assert.match(tag, /^"[0-9a-f]{16}"$/);
    const again = await fetch(`${base}/`, {headers: {'If-None-Match': tag}});
    assert.equal(again.status, 304);
    assert.equal((await fetch(`${base}/assets/app.js`)).status, 200);
    assert.equal((await fetch(`${base}/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/v1/machines`)).status, 401, 'the API still needs the token');
  });

  step('asks for the token once, keeps it for the tab, and lists the machines', async () => {
    await page.goto(`${base}/`);
    await page.locator('#token-panel').waitFor({state: 'visible'});
    await page.fill('#token-input', 'wrong');
    await page.click('#token-form button[type=submit]');
    await page.locator('#token-reason', {hasText: '401'}).waitFor();
    await page.fill('#token-input', token);
    await page.click('#token-form button[type=submit]');
    await page.locator('#machines-body tr').nth(2).waitFor();
    for (const a of AGENTS) {
      const row = machineRow(a.name);
      await row.locator('.badge', {hasText: 'online'}).waitFor();
      for (const l of a.labels) assert.ok((await row.locator('.labels').textContent()).includes(l));
    }
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tend.fleet.token')), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing kept beyond the tab');
    await page.reload();
    await page.locator('#machines-body tr').nth(2).waitFor();
    assert.ok(await page.locator('#token-panel').isHidden(), 'a reload does not ask again');
  });

  step('the target field counts the machines it matches as one types', async () => {
    const match = page.locator('#target-match');
    const expectMatch = async (text, re) => {
      await page.fill('#target-input', text);
      await waitFor(`"${text}" → ${re}`, async () => re.test(await match.textContent()), 5000);
    };
    await expectMatch('role=web', /^matches 2 machines: web1, web2$/);
    await expectMatch('role=web,zone=a', /^matches 1 machine: web1$/);
    await expectMatch('all', /^matches 3 machines: db1, web1, web2$/);
    await expectMatch('db1, web2', /^matches 2 machines: db1, web2$/);
    await expectMatch('web1,nosuch', /No machine named nosuch/);
    await expectMatch('role=nope', /No online machine has role=nope/);
    await expectMatch('web1,role=web', /either machine names or KEY=VALUE/);
    await page.screenshot({path: path.join(SHOTS, 'fleet-machines.png'), fullPage: true});
  });

  step('runs a script on two machines by label; both outputs are live side by side, in colour, both succeed', async () => {
    await page.fill('#target-input', 'role=web');
    await page.check('input[name=mode][value=script]');
    // The machine's name in red (SGR 31): the pane draws it as a terminal would, escapes gone.
    // After line1 each run waits for the test's gate: the runs cannot end before the test has
    // seen both first lines, however late a loaded machine shows them (a fixed 4 s run could).
    const gate = path.join(dir, 'lines-gate');
    await page.fill('#script-input',
                    'for i in 1 2 3 4 5 6 7 8; do printf "\\033[31m%s\\033[0m line%s\\n" "$TEND_MACHINE" $i; ' +
                    `if [ $i = 1 ]; then until [ -e ${gate} ]; do sleep 0.05; done; fi; sleep 0.5; done`);
    await page.selectOption('#interpreter-select', 'sh');
    await page.fill('#timeout-input', '60s');
    await page.click('#submit-button');
    await page.waitForURL(/#\/jobs\/.+/);
    const id = jobIdFromUrl();
    await runRow('web1').waitFor();
    await runRow('web2').waitFor();
    assert.equal(await page.locator('#runs-body tr').count(), 2, 'one row per machine, db1 not picked');
    await page.click('#show-all');
    const pane = (m) => page.locator(`#outputs .pane[data-machine="${m}"] pre`);
    // Live: the first lines are on the page while both runs are still running.
    for (const m of ['web1', 'web2']) {
      await waitFor(`${m}'s first line`, async () => (await pane(m).textContent()).includes(`${m} line1\n`), 20_000);
    }
    // (The rows may still say queued: they poll every 1.5 s, the agent reports "running" on its own.)
    const states = (await api(`/v1/jobs/${id}`)).runs.map((r) => r.state);
    assert.ok(states.every((s) => !['succeeded', 'failed'].includes(s)),
              `neither run has ended when the first lines show: ${states}`);
    await page.screenshot({path: path.join(SHOTS, 'fleet-job-live.png'), fullPage: true});
    writeFileSync(gate, '');
    for (const m of ['web1', 'web2']) {
      await runRow(m).locator('.badge', {hasText: 'succeeded'}).waitFor({timeout: 30_000});
      assert.equal(await runRow(m).locator('.exit').textContent(), '0');
      const want = Array.from({length: 8}, (_, i) => `${m} line${i + 1}\n`).join('');
      await waitFor(`${m}'s complete output`, async () => (await pane(m).textContent()) === want, 10_000);
      assert.deepEqual(await pane(m).locator('.a-fg1').allTextContents(), Array(8).fill(m), 'the names in red');
    }
    await page.locator('#job-state .badge', {hasText: 'succeeded'}).waitFor();
    assert.ok(await page.locator('#cancel-button').isHidden(), 'no cancel on a finished job');
    const job = await api(`/v1/jobs/${id}`);
    assert.deepEqual(job.runs.map((r) => [r.machine, r.state, r.exit_code]).sort(),
                     [['web1', 'succeeded', 0], ['web2', 'succeeded', 0]]);
    await page.screenshot({path: path.join(SHOTS, 'fleet-job.png'), fullPage: true});
    // The jobs list has it.
    await page.click('text=← Machines and jobs');
    await page.locator(`#jobs-body tr[data-job="${id}"] .badge`, {hasText: 'succeeded'}).waitFor();
  });

  step('cancels a long job on every machine after a confirmation', async () => {
    await page.fill('#target-input', 'all');
    await page.check('input[name=mode][value=command]');
    await page.fill('#command-input', `sleep ${SLEEP_MARK}`);
    await page.fill('#timeout-input', '');
    await page.click('#submit-button');
    await page.waitForURL(/#\/jobs\/.+/);
    const id = jobIdFromUrl();
    for (const a of AGENTS) await runRow(a.name).locator('.badge', {hasText: 'running'}).waitFor({timeout: 20_000});
    await waitFor('a sleep on each machine', () => processesWith('cmdline', SLEEP_MARK).length === 3, 10_000);
    // Dismissing the confirmation changes nothing.
    page.once('dialog', (d) => d.dismiss());
    await page.click('#cancel-button');
    await sleep(1500);
    assert.equal((await api(`/v1/jobs/${id}`)).state, 'running', 'dismissed: not cancelled');
    let asked = '';
    page.once('dialog', (d) => { asked = d.message(); d.accept(); });
    await page.click('#cancel-button');
    for (const a of AGENTS) await runRow(a.name).locator('.badge', {hasText: 'cancelled'}).waitFor({timeout: 20_000});
    assert.match(asked, /Cancel job .* 3 unfinished runs/);
    await page.locator('#job-state .badge', {hasText: 'cancelled'}).waitFor();
    await waitFor('no sleep left', () => processesWith('cmdline', SLEEP_MARK).length === 0, 10_000);
    const job = await api(`/v1/jobs/${id}`);
    assert.ok(job.runs.every((r) => r.state === 'cancelled'), JSON.stringify(job.runs));
    await page.screenshot({path: path.join(SHOTS, 'fleet-job-cancelled.png'), fullPage: true});
  });

  step('a killed agent shows unreachable (and stays listed)', async () => {
    await page.goto(`${base}/#/`);
    await machineRow('db1').locator('.badge', {hasText: 'online'}).waitFor();
    agents.db1.kill('SIGKILL');
    await agents.db1.exited;
    // Its lease (2 s) lapses; the page polls every 1.5 s.
    await machineRow('db1').locator('.badge', {hasText: 'unreachable'}).waitFor({timeout: 20_000});
    for (const m of ['web1', 'web2']) await machineRow(m).locator('.badge', {hasText: 'online'}).waitFor();
    // Only online machines count for a selector or all; a name is still a known machine.
    await page.fill('#target-input', 'all');
    await waitFor('all = the 2 online', async () => /^matches 2 machines: web1, web2$/.test(
        await page.locator('#target-match').textContent()), 5000);
    await page.fill('#target-input', 'role=db');
    await waitFor('role=db matches none', async () => /No online machine/.test(
        await page.locator('#target-match').textContent()), 5000);
    await page.fill('#target-input', '');
    await page.screenshot({path: path.join(SHOTS, 'fleet-unreachable.png'), fullPage: true});
  });

  step('the page threw nothing and loaded nothing from elsewhere', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreignRequests, []);
  });
});

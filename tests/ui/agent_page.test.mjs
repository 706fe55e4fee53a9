// The agent's web page in a real browser against a real `tend agent`: token prompt, submit, live
// output, cancel, states, filters. Started by run.mjs (which checks chromium and playwright-core).
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {after, before, describe, it} from 'node:test';

import {chromium} from 'playwright-core';

const BINARY = process.env.TEND_BINARY;
const ARTIFACTS = process.env.TEND_UI_ARTIFACTS || os.tmpdir();
// A unique variable in every job's environment: how the test finds a job's processes in /proc.
const MARKER = `TEND_UI_MARKER=${randomBytes(8).toString('hex')}`;
const LINES_COMMAND = 'sh -c \'for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; sleep 0.5; done\'';
const EXPECTED_LINES = Array.from({length: 10}, (_, i) => `line${i + 1}\n`).join('');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

// PIDs of live processes whose environment holds MARKER.
function markedProcesses() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      const state = readFileSync(`/proc/${entry}/stat`, 'latin1').replace(/^.*\) /, '')[0];
      if (state !== 'Z' && environ.split('\0').includes(MARKER)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('tend agent web page', {timeout: 180_000}, () => {
  let agent;
  let agentLog = '';
  let dataDir;
  let base;
  let token;
  let browser;
  let page;
  const pageErrors = [];
  const foreignRequests = [];
  let firstJobId;
  let sleepJobId;
  let scriptJobId;

  const api = async (urlPath) => {
    const response = await fetch(base + urlPath, {headers: {Authorization: `Bearer ${token}`}});
    assert.equal(response.status, 200, `GET ${urlPath}`);
    return response.json();
  };
  const jobIdFromUrl = () => decodeURIComponent(new URL(page.url()).hash.match(/^#\/jobs\/(.+)$/)[1]);
  const badge = () => page.locator('#job-state');
  const rowFor = (id) => page.locator(`#jobs-body tr[data-id="${id}"]`);

  // The steps build on each other: once one fails, the rest skip instead of timing out one by one.
  let failedStep = null;
  const step = (name, body) => it(name, async (t) => {
    if (failedStep) return t.skip(`needs the step that failed: ${failedStep}`);
    try {
      await body();
    } catch (err) {
      failedStep = name;
      if (page) await page.screenshot({path: path.join(ARTIFACTS, 'ui-failure.png'), fullPage: true}).catch(() => {});
      if (agentLog) err.message += `\n--- agent output ---\n${agentLog.slice(-4000)}`;
      throw err;
    }
  });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tend-ui-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    agent = spawn(BINARY, ['agent', '--listen', `127.0.0.1:${port}`, '--data', dataDir],
                  {stdio: ['ignore', 'pipe', 'pipe']});
    agent.stdout.on('data', (chunk) => (agentLog += chunk));
    agent.stderr.on('data', (chunk) => (agentLog += chunk));
    const exited = new Promise((resolve) => agent.once('exit', (code, signal) => resolve({code, signal})));
    await waitFor('the agent to answer /healthz', async () => {
      const early = await Promise.race([exited, sleep(0).then(() => null)]);
      if (early) throw new Error(`the agent exited (${JSON.stringify(early)}) before answering:\n${agentLog}`);
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 20_000);
    token = readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    assert.match(token, /^[0-9a-f]{64}$/, 'DATA/token holds 32 random bytes in hex');

    browser = await chromium.launch({
      executablePath: process.env.TEND_CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('request', (req) => {
      if (!req.url().startsWith(`${base}/`)) foreignRequests.push(req.url());
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]) === false) {
        agent.kill('SIGKILL');
        await exited;
      }
    }
    // Jobs can outlive the agent by design (each has its own supervisor): kill whatever is left.
    for (const pid of markedProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (dataDir) rmSync(dataDir, {recursive: true, force: true});
  });

  step('asks for the token, says when it is rejected, and keeps a good one', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', {name: 'Enter the API token'}).waitFor();
    await page.getByLabel('API token', {exact: true}).fill('0'.repeat(64));
    await page.getByRole('button', {name: 'Save token'}).click();
    await page.getByText('The agent rejected the saved token').waitFor();

    await page.getByLabel('API token', {exact: true}).fill(token);
    await page.getByRole('button', {name: 'Save token'}).click();
    await page.getByRole('heading', {name: 'Jobs', exact: true}).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('tend.token')), token);

    // A reload uses the stored token: no prompt.
    await page.reload();
    await page.getByRole('heading', {name: 'Jobs', exact: true}).waitFor();
    assert.equal(await page.locator('#token-panel').isHidden(), true);
  });

  step('refuses a bad submission with a clear message and starts nothing', async () => {
    await page.getByLabel('Command line').fill('sh -c \'unterminated');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('#submit-status', {hasText: 'unterminated'}).waitFor();

    await page.getByLabel('Command line').fill('true');
    await page.getByLabel('Timeout').fill('soon');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('#submit-status', {hasText: 'HTTP 400'}).waitFor();
    assert.equal(await page.getByLabel('Timeout').getAttribute('aria-invalid'), 'true');
    assert.deepEqual((await api('/v1/jobs')).jobs, []);
    await page.getByLabel('Timeout').fill('');
  });

  step('shows a job\'s output live, then its success', async () => {
    await page.getByLabel('Command line').fill(LINES_COMMAND);
    await page.getByLabel('Labels', {exact: true}).fill('suite=ui kind=lines');
    await page.getByLabel('Environment').fill(MARKER);
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL(/#\/jobs\/.+/);
    firstJobId = jobIdFromUrl();

    const output = page.locator('#output');
    await output.filter({hasText: 'line1'}).waitFor();
    // line1 is on screen while the job still runs: the output is live, not loaded at the end.
    const whileRunning = await api(`/v1/jobs/${encodeURIComponent(firstJobId)}`);
    assert.equal(whileRunning.state, 'running', 'the job was still running when line1 appeared');
    assert.ok(!(await output.textContent()).includes('line10'), 'line10 was not there yet');
    await badge().filter({hasText: 'running'}).waitFor();

    await badge().filter({hasText: 'succeeded'}).waitFor({timeout: 30_000});
    await page.locator('#output-status', {hasText: 'Complete'}).waitFor();
    assert.equal(await output.textContent(), EXPECTED_LINES, 'every line, once, in order');
    assert.equal(await page.getByRole('button', {name: 'Cancel job'}).isHidden(), true);
    const details = await page.locator('#job-details').textContent();
    assert.match(details, /Exit code\s*0/);
    assert.match(details, /suite=ui/);
  });

  step('runs a script and shows its failure and exit code', async () => {
    await page.getByRole('link', {name: '← All jobs'}).click();
    await rowFor(firstJobId).filter({hasText: 'succeeded'}).waitFor();
    await page.getByRole('radio', {name: 'Script'}).check();
    await page.getByLabel('Script text').fill('echo from-script\nexit 3\n');
    await page.getByLabel('Interpreter', {exact: true}).selectOption('sh');
    await page.getByLabel('Labels', {exact: true}).fill('suite=ui kind=script');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.endsWith(firstJobId));
    scriptJobId = jobIdFromUrl();
    await badge().filter({hasText: 'failed'}).waitFor({timeout: 20_000});
    await page.locator('#output', {hasText: 'from-script'}).waitFor();
    assert.match(await page.locator('#job-details').textContent(), /Exit code\s*3/);
    await page.getByRole('link', {name: '← All jobs'}).click();
    await rowFor(scriptJobId).filter({hasText: 'failed'}).waitFor();
    assert.equal(await rowFor(scriptJobId).locator('.col-command').textContent(), 'sh: echo from-script');
    await page.getByRole('radio', {name: 'Command'}).check();
  });

  step('cancels a running job with the button and leaves no process behind', async () => {

    await page.getByLabel('Command line').fill('sleep 300');
    await page.getByLabel('Labels', {exact: true}).fill('suite=ui kind=sleep');
    await page.getByLabel('Environment').fill(MARKER);
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.endsWith(scriptJobId));
    sleepJobId = jobIdFromUrl();
    await badge().filter({hasText: 'running'}).waitFor();
    await waitFor('the sleep to be running', () => markedProcesses().length > 0, 10_000);

    const started = Date.now();
    await page.getByRole('button', {name: 'Cancel job'}).click();
    await badge().filter({hasText: 'cancelled'}).waitFor({timeout: 20_000});
    assert.ok(Date.now() - started < 20_000);
    assert.equal(await page.getByRole('button', {name: 'Cancel job'}).isHidden(), true);
    assert.equal((await api(`/v1/jobs/${encodeURIComponent(sleepJobId)}`)).state, 'cancelled');
    await waitFor('no process of the jobs left', () => markedProcesses().length === 0, 5_000);
    await page.screenshot({path: path.join(ARTIFACTS, 'ui-job-cancelled.png'), fullPage: true});
  });

  step('lists the jobs with their states and filters them', async () => {
    await page.getByRole('link', {name: '← All jobs'}).click();
    await rowFor(sleepJobId).filter({hasText: 'cancelled'}).waitFor();
    await rowFor(firstJobId).filter({hasText: 'succeeded'}).waitFor();
    const rows = page.locator('#jobs-body tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)),
                     [sleepJobId, scriptJobId, firstJobId], 'every job, newest first');
    assert.match(await rowFor(firstJobId).locator('.col-exit').textContent(), /^0\b/);
    assert.match(await rowFor(firstJobId).locator('.col-command').textContent(), /^sh -c 'for i in/);
    await page.screenshot({path: path.join(ARTIFACTS, 'ui-jobs.png'), fullPage: true});

    await page.getByLabel('State').selectOption('cancelled');
    await waitFor('the state filter', async () => (await rows.count()) === 1, 10_000);
    assert.equal(await rows.first().getAttribute('data-id'), sleepJobId);

    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Label', {exact: true}).fill('kind=lines');
    await waitFor('the label filter', async () =>
      (await rows.count()) === 1 && (await rows.first().getAttribute('data-id')) === firstJobId, 10_000);

    await page.getByLabel('Label', {exact: true}).fill('kind=none');
    await page.getByText('No jobs match these filters.').waitFor();
    await page.getByRole('button', {name: 'Clear filters'}).click();
    await waitFor('all jobs again', async () => (await rows.count()) === 3, 10_000);
  });

  it('loaded nothing from outside the agent and threw no script error', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});

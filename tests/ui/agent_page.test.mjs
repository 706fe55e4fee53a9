// The agent's web page in a real browser against a real `tend agent`: token prompt, submit, live
// output, ANSI colours, search, download, cancel, states, filters, pagination, sparklines, the
// phone layout. Started by run.mjs (which checks chromium and playwright-core). Screenshots go to
// TEND_UI_SCREENSHOTS when set (scripts/ui-screenshots.sh: docs/screenshots), else the artifacts.
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, describe, it} from 'node:test';

import {freePorts, launchBrowser, openPage, processesWith, sleep, stepsThatBuildOnEachOther, waitFor}
  from './browser.mjs';

const BINARY = process.env.TEND_BINARY;
const ARTIFACTS = process.env.TEND_UI_ARTIFACTS || os.tmpdir();
const SCREENSHOTS = process.env.TEND_UI_SCREENSHOTS || ARTIFACTS;
// A unique variable in every job's environment: how the test finds a job's processes in /proc.
const MARKER = `TEND_UI_MARKER=${randomBytes(8).toString('hex')}`;
const LINES_COMMAND = 'sh -c \'for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; sleep 0.5; done\'';
const EXPECTED_LINES = Array.from({length: 10}, (_, i) => `line${i + 1}\n`).join('');
// PIDs of live processes whose environment holds MARKER.
const markedProcesses = () => processesWith('environ', MARKER);

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
  let rerunJobId;

  const api = async (urlPath) => {
    const response = await fetch(base + urlPath, {headers: {Authorization: `Bearer ${token}`}});
    assert.equal(response.status, 200, `GET ${urlPath}`);
    return response.json();
  };
  const submit = async (spec) => {
    const response = await fetch(`${base}/v1/jobs`, {
      method: 'POST', headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify(spec)});
    assert.equal(response.status, 201, `POST /v1/jobs ${JSON.stringify(spec)}: ${await response.clone().text()}`);
    return (await response.json()).id;
  };
  const finished = (id, timeoutMs = 20_000) => waitFor(`job ${id} to finish`, async () => {
    const job = await api(`/v1/jobs/${id}`);
    return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(job.state) && job;
  }, timeoutMs);
  const openNewJob = async () => {
    await page.getByRole('button', {name: 'New job'}).click();
    await page.locator('#submit-dialog[open]').waitFor();
  };
  const shot = (name, p = page) => p.screenshot({path: path.join(SCREENSHOTS, name)});
  const jobIdFromUrl = () => decodeURIComponent(new URL(page.url()).hash.match(/^#\/jobs\/(.+)$/)[1]);
  const badge = () => page.locator('#job-state');
  const rowFor = (id) => page.locator(`#jobs-body tr[data-id="${id}"]`);

  // The steps build on each other: once one fails, the rest skip instead of timing out one by one.
  const step = stepsThatBuildOnEachOther(async (err) => {
    if (page) await page.screenshot({path: path.join(ARTIFACTS, 'ui-failure.png'), fullPage: true}).catch(() => {});
    if (agentLog) err.message += `\n--- agent output ---\n${agentLog.slice(-4000)}`;
  });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'tend-ui-'));
    const [port] = await freePorts(1);
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

    browser = await launchBrowser();
    mkdirSync(SCREENSHOTS, {recursive: true});
    page = await openPage(browser, base, {viewport: {width: 1400, height: 900}, acceptDownloads: true},
                          {pageErrors, foreignRequests});
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
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tend.token')), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing kept beyond the tab');

    // A reload (the same tab) uses the stored token: no prompt.
    await page.reload();
    await page.getByRole('heading', {name: 'Jobs', exact: true}).waitFor();
    assert.equal(await page.locator('#token-panel').isHidden(), true);
  });

  step('puts the jobs list first, the machine in the header, and keeps its security headers', async () => {
    await page.locator('#hostname', {hasText: os.hostname()}).waitFor();
    assert.match(await page.title(), new RegExp(`Jobs — ${os.hostname()} — tend agent`));
    // The form waits behind "New job": the list's heading is near the top at 1400x900.
    assert.equal(await page.locator('#submit-dialog').isVisible(), false);
    const heading = await page.getByRole('heading', {name: 'Jobs', exact: true}).boundingBox();
    assert.ok(heading.y < 150, `the jobs heading is at y=${heading.y}`);
    const response = await fetch(`${base}/`);
    assert.match(response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.match(response.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  });

  step('refuses a bad submission with a clear message and starts nothing', async () => {
    await openNewJob();
    await page.getByLabel('Command line').fill('sh -c \'unterminated');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('#submit-status', {hasText: 'unterminated'}).waitFor();

    await page.getByLabel('Command line').fill('true');
    await page.getByLabel('Timeout').fill('soon');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('#submit-status', {hasText: 'HTTP 400'}).waitFor();
    assert.equal(await page.getByLabel('Timeout').getAttribute('aria-invalid'), 'true');
    assert.deepEqual((await api('/v1/jobs')).jobs, []);
    assert.equal(await page.locator('#submit-dialog').isVisible(), true, 'a refused job keeps the form open');
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
    assert.match(details, /Exit\s*0/);
    assert.match(details, /suite=ui/);
    assert.match(details, /Output\s*61 B/);
    assert.match(details, /Duration\s*[\d.]+ s/, 'a duration has its unit');
  });

  step('runs a script and shows its failure and exit code', async () => {
    await page.getByRole('link', {name: '← All jobs'}).click();
    await rowFor(firstJobId).filter({hasText: 'succeeded'}).waitFor();
    await openNewJob();
    // A new job starts from an empty form, not from the previous job's values.
    assert.equal(await page.getByLabel('Labels', {exact: true}).inputValue(), '');
    assert.equal(await page.getByLabel('Command line').inputValue(), '');
    await page.getByRole('radio', {name: 'Script'}).check();
    await page.getByLabel('Script text').fill('echo from-script\nexit 3\n');
    await page.getByLabel('Interpreter', {exact: true}).selectOption('sh');
    await page.getByLabel('Labels', {exact: true}).fill('suite=ui kind=script');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.endsWith(firstJobId));
    scriptJobId = jobIdFromUrl();
    await badge().filter({hasText: 'failed'}).waitFor({timeout: 20_000});
    await page.locator('#output', {hasText: 'from-script'}).waitFor();
    assert.match(await page.locator('#job-details').textContent(), /Exit\s*3/);
    await page.getByRole('link', {name: '← All jobs'}).click();
    await rowFor(scriptJobId).filter({hasText: 'failed'}).waitFor();
    assert.equal(await rowFor(scriptJobId).locator('.col-command').textContent(), 'sh: echo from-script');
  });

  step('renders ANSI colours and \\r, strips other escapes, and searches the output', async () => {
    const id = await submit({
      command: ['printf', '\x1b[31mred\x1b[0m plain \x1b[1;92mbold\x1b[0m\nprogress 10%%\rprogress 100%%\n\x1b[5;7mblink\x1b[2K\x1b]0;title\x07\x1b[0m\nlast\n'],
      labels: {suite: 'ui', kind: 'ansi'}});
    await finished(id);
    await page.goto(`${base}/#/jobs/${id}`);
    await page.locator('#output-status', {hasText: 'Complete'}).waitFor();
    const output = page.locator('#output');
    assert.equal(await output.textContent(), 'red plain bold\nprogress 100%\nblink\nlast\n',
                 'colours and escapes gone from the text, the \\r line overwritten');
    const red = output.locator('span.a-fg1', {hasText: 'red'});
    assert.equal(await red.evaluate((el) => getComputedStyle(el).color), 'rgb(229, 83, 75)');
    const bold = output.locator('span', {hasText: /^bold$/});
    assert.deepEqual(await bold.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).fontWeight]),
                     ['rgb(126, 231, 135)', '700']);
    assert.equal(await output.locator('span', {hasText: 'plain'}).evaluate((el) => getComputedStyle(el).color),
                 await output.evaluate((el) => getComputedStyle(el).color), 'reset: back to the pane colour');

    await page.getByLabel('Search the output').fill('PROGRESS');
    await page.locator('#search-count', {hasText: '1 line'}).waitFor();
    assert.deepEqual(await output.locator('.ln.hit').allTextContents(), ['progress 100%\n']);
    await page.getByLabel('Search the output').press('Enter');
    await page.locator('#search-count', {hasText: '1 of 1 line'}).waitFor();
    assert.equal(await output.locator('.ln.current').count(), 1);
    await shot('job-output.png');
    await page.getByLabel('Search the output').fill('no such text');
    await page.locator('#search-count', {hasText: 'no match'}).waitFor();
    await page.getByLabel('Search the output').fill('');
    assert.equal(await output.locator('.ln.hit').count(), 0);
  });

  step('shows when each line arrived, before the line, without changing the text', async () => {
    const id = await submit({command: ['sh', '-c', 'echo one; sleep 1; echo two; echo three'],
                             labels: {suite: 'times'}});
    await finished(id);
    await page.goto(`${base}/#/jobs/${id}`);
    await page.locator('#output-status', {hasText: 'Complete'}).waitFor();
    const output = page.locator('#output');
    const toggle = page.getByRole('button', {name: 'Timestamps'});
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.equal(await output.locator('.ln[data-ts]').count(), 0, 'no times until asked for');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    const lines = output.locator('.ln:not(.open)');
    await waitFor('every line to have its time', async () =>
      (await output.locator('.ln[data-ts]').count()) === 3, 10_000);
    assert.equal(await lines.count(), 3);
    const shown = await lines.evaluateAll((els) => els.map((el) => getComputedStyle(el, '::before').content));
    for (const text of shown) assert.match(text, /^"\d\d:\d\d:\d\d\.\d{3} "$/, `drawn before the line: ${shown}`);
    const ms = (text) => {
      const [, h, m, sec, milli] = text.match(/(\d\d):(\d\d):(\d\d)\.(\d{3})/).map(Number);
      return ((h * 60 + m) * 60 + sec) * 1000 + milli;
    };
    const apart = (ms(shown[1]) - ms(shown[0]) + 86_400_000) % 86_400_000;
    assert.ok(apart >= 800 && apart < 30_000, `"one" and "two" were written a second apart: ${shown}`);
    assert.equal(await output.textContent(), 'one\ntwo\nthree\n', 'the times are not part of the text');
    await shot('job-output-times.png');
    await toggle.click();
    assert.equal(await lines.first().evaluate((el) => getComputedStyle(el, '::before').content), 'none');
    // The later steps count the jobs: this one is not theirs.
    const removed = await fetch(`${base}/v1/jobs/${id}`, {method: 'DELETE', headers: {Authorization: `Bearer ${token}`}});
    assert.equal(removed.status, 200);
  });

  step('shows why a job ended: could not start, timed out (with unit and signal)', async () => {
    const nope = await submit({command: ['/bin/nope'], labels: {suite: 'ui', kind: 'exit'}});
    const timeout = await submit({command: ['sleep', '30'], timeout: 2, labels: {suite: 'ui', kind: 'exit'},
                                  env: {TEND_UI_MARKER: MARKER.split('=')[1]}});
    const nopeJob = await finished(nope);
    const timedOut = await finished(timeout);
    assert.equal(timedOut.state, 'timed_out');
    await page.goto(`${base}/#/jobs/${nope}`);
    await badge().filter({hasText: 'failed'}).waitFor();
    const exit = page.locator('#job-details dd[data-field="exit"]');
    assert.equal(await exit.textContent(), `${nopeJob.exit_status}: ${nopeJob.error}`);
    assert.match(await exit.textContent(), /^127: .*nope/);
    await page.goto(`${base}/#/jobs/${timeout}`);
    await badge().filter({hasText: 'timed out'}).waitFor();
    assert.match(await exit.textContent(), /^timed out after 2s \(SIGTERM\) · 124$/);
    assert.equal(await page.locator('#job-details dd[data-field="timeout"]').textContent(), '2s');
    await page.getByRole('link', {name: '← All jobs'}).click();
    assert.equal(await rowFor(nope).locator('.col-exit').textContent(), '127 (could not start)');
    assert.equal(await rowFor(nope).locator('.col-exit').getAttribute('title'), nopeJob.error);
    assert.match(await rowFor(timeout).locator('.col-exit').textContent(), /^timed out after 2s \(SIGTERM\)/);
  });

  step('opens a running job with MBs of output at its tail, live, and keeps selected text', async () => {
    // 3 MB of output, then a quiet wait: the job is running with a big output file.
    sleepJobId = await submit({
      command: ['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" x | fold -w 99; echo TAIL-END; exec sleep 300'],
      labels: {suite: 'ui', kind: 'sleep'}, env: {TEND_UI_MARKER: MARKER.split('=')[1]}});
    // Waited for as all of it written (up to TAIL-END, 3,030,312 bytes) while the job runs, not
    // as "over 3 MB": a poll can land while the last 30 kB are still on their way.
    const running = await waitFor('3 MB written while running', async () => {
      const job = await api(`/v1/jobs/${sleepJobId}`);
      return job.state === 'running' && job.output_bytes >= 3_030_312 && job;
    }, 20_000);
    assert.equal(running.output_bytes, 3_030_312, 'the live output_bytes is the size written so far');

    const started = Date.now();
    await page.goto(`${base}/#/jobs/${sleepJobId}`);
    await page.locator('#output', {hasText: 'TAIL-END'}).waitFor();
    const tailMs = Date.now() - started;
    const shown = await page.locator('#output').textContent();
    assert.ok(shown.length <= 256 * 1024, `only the tail was loaded (${shown.length} characters)`);
    assert.match(shown, /^x{99}\n/, 'the tail starts at a whole line');
    await page.locator('#output-note', {hasText: 'Showing the last 256 KiB of 2.9 MiB'}).waitFor();
    console.log(`# opened a running job with 2.9 MiB of output: tail on screen after ${tailMs} ms`);
    await badge().filter({hasText: 'running'}).waitFor();
    assert.match(await page.locator('#job-details dd[data-field="output"]').textContent(), /^2\.9 MiB so far$/);

    // Select the command while the job runs: the details update in place, the selection stays.
    const command = page.locator('#job-details dd[data-field="command"]');
    await command.evaluate((dd) => {
      dd.dataset.marked = 'same node';
      const range = document.createRange();
      range.selectNodeContents(dd);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    });
    const durationBefore = await page.locator('#job-details dd[data-field="duration"]').textContent();
    await waitFor('the duration to tick', async () =>
      (await page.locator('#job-details dd[data-field="duration"]').textContent()) !== durationBefore, 5_000);
    assert.equal(await page.evaluate(() => getSelection().toString()), await command.textContent());
    assert.equal(await command.getAttribute('data-marked'), 'same node');

    // The whole output downloads, not the tail on screen.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', {name: 'Download'}).click(),
    ]);
    const file = await download.path();
    assert.equal(statSync(file).size, running.output_bytes, 'every byte of the output');
    assert.equal(download.suggestedFilename(), `tend-job-${sleepJobId}.log`);
  });

  step('cancels a running job only once confirmed, and leaves no process behind', async () => {
    await waitFor('the sleep to be running', () => markedProcesses().length > 0, 10_000);
    const dialogs = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss();
    });
    await page.getByRole('button', {name: 'Cancel job'}).click();
    await waitFor('the confirmation', () => dialogs.length === 1, 5_000);
    assert.match(dialogs[0], new RegExp(`Cancel job ${sleepJobId}\\?`));
    await sleep(1500);
    assert.equal((await api(`/v1/jobs/${sleepJobId}`)).state, 'running', 'dismissed: nothing cancelled');

    page.once('dialog', (dialog) => dialog.accept());
    const started = Date.now();
    await page.getByRole('button', {name: 'Cancel job'}).click();
    await badge().filter({hasText: 'cancelled'}).waitFor({timeout: 20_000});
    assert.ok(Date.now() - started < 20_000);
    assert.equal(await page.getByRole('button', {name: 'Cancel job'}).isHidden(), true);
    assert.equal((await api(`/v1/jobs/${sleepJobId}`)).state, 'cancelled');
    await waitFor('no process of the jobs left', () => markedProcesses().length === 0, 5_000);
    await page.screenshot({path: path.join(ARTIFACTS, 'ui-job-cancelled.png'), fullPage: true});
  });

  step('runs a job again from a form filled from it', async () => {
    await page.goto(`${base}/#/jobs/${firstJobId}`);
    await badge().filter({hasText: 'succeeded'}).waitFor();
    await page.getByRole('button', {name: 'Run again'}).click();
    await page.locator('#submit-dialog[open]').waitFor();
    assert.equal(await page.getByLabel('Labels', {exact: true}).inputValue(), 'kind=lines suite=ui');
    assert.equal(await page.getByLabel('Environment').inputValue(), MARKER);
    await shot('new-job.png');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.endsWith(firstJobId));
    const again = await api(`/v1/jobs/${jobIdFromUrl()}`);
    const first = await api(`/v1/jobs/${firstJobId}`);
    assert.deepEqual([again.command, again.labels, again.env], [first.command, first.labels, first.env]);
    await page.getByRole('button', {name: 'Cancel job'}).waitFor();
    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', {name: 'Cancel job'}).click();
    await badge().filter({hasText: 'cancelled'}).waitFor({timeout: 20_000});
    rerunJobId = again.id;
  });

  step('lists the jobs with their states, live figures and sparklines, and filters them', async () => {
    await page.goto(`${base}/#/`);
    await rowFor(sleepJobId).filter({hasText: 'cancelled'}).waitFor();
    await rowFor(firstJobId).filter({hasText: 'succeeded'}).waitFor();
    const rows = page.locator('#jobs-body tr');
    const all = (await api('/v1/jobs')).jobs;
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), all.map((j) => j.id),
                     'every job, newest first');
    assert.equal(all.length, 7);
    assert.match(await rowFor(firstJobId).locator('.col-exit').textContent(), /^0\b/);
    assert.match(await rowFor(firstJobId).locator('.col-command').textContent(), /^sh -c 'for i in/);
    assert.equal(await rowFor(sleepJobId).locator('.col-output').textContent(), '2.9 MiB');
    await page.locator('#list-end', {hasText: 'All 7 jobs shown.'}).waitFor();
    assert.equal(await page.locator('#show-more').isHidden(), true);

    // One sparkline per label, one bar per finished run, coloured by outcome.
    const labels = [...new Set(all.filter((j) => j.state !== 'running').flatMap((j) => Object.entries(j.labels).map(([k, v]) => `${k}=${v}`)))].sort();
    assert.deepEqual(await page.locator('#label-trends .trend .label').allTextContents(), labels);
    const trend = (label) => page.locator('#label-trends .trend', {has: page.locator('.label', {hasText: new RegExp(`^${label}$`)})});
    assert.equal(await trend('kind=lines').locator('rect').count(), 2);
    assert.equal(await trend('suite=ui').locator('rect').count(), 7);
    const failedFill = await trend('kind=exit').locator(`rect[data-id="${all.find((j) => j.state === 'failed' && j.labels.kind === 'exit').id}"]`)
      .evaluate((el) => getComputedStyle(el).fill);
    assert.equal(failedFill, 'rgb(208, 54, 44)');
    assert.equal(await trend('kind=lines').locator('rect.bar-succeeded').evaluate((el) => getComputedStyle(el).fill), 'rgb(46, 158, 74)');
    await page.screenshot({path: path.join(ARTIFACTS, 'ui-jobs.png'), fullPage: true});
    await shot('jobs.png');

    await page.getByLabel('State').selectOption('cancelled');
    await waitFor('the state filter', async () => (await rows.count()) === 2, 10_000);
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), [rerunJobId, sleepJobId]);

    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Label', {exact: true}).fill('kind=script');
    await waitFor('the label filter', async () =>
      (await rows.count()) === 1 && (await rows.first().getAttribute('data-id')) === scriptJobId, 10_000);

    await page.getByLabel('Label', {exact: true}).fill('kind=none');
    await page.getByText('No jobs match these filters.').waitFor();
    await page.getByRole('button', {name: 'Clear filters'}).click();
    await waitFor('all jobs again', async () => (await rows.count()) === 7, 10_000);
  });

  step('pages through the jobs with the cursor, with no gap and no dead end', async () => {
    const batch = [];
    for (let i = 0; i < 45; i++) batch.push(await submit({command: ['true'], labels: {batch: 'page'}}));
    await page.goto(`${base}/#/?label=batch%3Dpage&per_page=20`);
    const rows = page.locator('#jobs-body tr');
    const ids = () => rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    await waitFor('the first page', async () => (await rows.count()) === 20, 10_000);
    await page.locator('#list-end', {hasText: '20 jobs shown'}).waitFor();
    await page.getByRole('button', {name: 'Show more jobs'}).click();
    await waitFor('the second page', async () => (await rows.count()) === 40, 10_000);

    // New jobs arrive while older pages are shown: they push rows down without a gap.
    for (let i = 0; i < 3; i++) batch.push(await submit({command: ['true'], labels: {batch: 'page'}}));
    await waitFor('the new jobs on top', async () => (await rows.count()) === 43, 10_000);
    assert.deepEqual(await ids(), [...batch].reverse().slice(0, 43), 'newest first, each job once');

    await page.getByRole('button', {name: 'Show more jobs'}).click();
    await page.locator('#list-end', {hasText: 'All 48 jobs shown.'}).waitFor();
    assert.deepEqual(await ids(), [...batch].reverse());
    assert.equal(await page.locator('#show-more').isHidden(), true, 'no button once the API has no next page');
  });

  step('shows state, command and exit of each job on a phone', async () => {
    const phone = await browser.newPage({viewport: {width: 390, height: 844}, isMobile: true, hasTouch: true});
    try {
      phone.on('pageerror', (err) => pageErrors.push(err.message));
      await phone.goto(`${base}/`);
      await phone.evaluate((t) => sessionStorage.setItem('tend.token', t), token);
      await phone.goto(`${base}/#/?label=suite%3Dui`);
      await phone.locator(`#jobs-body tr[data-id="${firstJobId}"]`).waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
      const cards = await phone.locator('#jobs-body tr').evaluateAll((trs) => trs.map((tr) => {
        const box = (sel) => {
          const r = tr.querySelector(sel).getBoundingClientRect();
          return {visible: r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= innerWidth + 0.5, top: r.top};
        };
        return {state: box('.col-state .badge'), command: box('.col-command'), exit: box('.col-exit'),
                text: tr.querySelector('.col-exit').textContent};
      }));
      assert.equal(cards.length, 7);
      for (const card of cards) {
        assert.ok(card.state.visible && card.command.visible && card.exit.visible, JSON.stringify(card));
      }
      await shot('phone-jobs.png', phone);
      assert.ok(cards[0].state.top < 844 / 2, `the first job is at the top of the screen (y=${cards[0].state.top})`);
      await phone.goto(`${base}/#/jobs/${firstJobId}`);
      await phone.locator('#output-status', {hasText: 'Complete'}).waitFor();
      await shot('phone-job.png', phone);
    } finally {
      await phone.close();
    }
  });

  step('follows 10 MB of output as it is written without freezing the tab', async () => {
    const id = await submit({
      command: ['sh', '-c', 'for i in $(seq 20); do head -c 500000 /dev/zero | tr "\\0" y | fold -w 119; echo; sleep 0.1; done; echo FOLLOW-END'],
      labels: {suite: 'follow'}});
    await page.goto(`${base}/#/`);
    await page.evaluate((jobId) => {
      window.longTasks = [];
      new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
        .observe({type: 'longtask'});
      location.hash = `#/jobs/${jobId}`;
    }, id);
    await page.locator('#output-status', {hasText: 'Complete'}).waitFor({timeout: 60_000});
    const job = await api(`/v1/jobs/${id}`);
    assert.equal(job.output_bytes, 20 * (500_000 + 4201 + 1) + 11);
    const shown = await page.locator('#output').textContent();
    assert.ok(shown.endsWith('y'.repeat(81) + '\nFOLLOW-END\n'), shown.slice(-200));
    assert.ok(shown.length <= 512 * 1024 * 1.25, `a bounded tail stays on screen (${shown.length})`);
    await page.locator('#output-note', {hasText: 'Earlier output is not shown here'}).waitFor();
    const tasks = await page.evaluate(() => window.longTasks);
    const longest = Math.max(0, ...tasks);
    console.log(`# followed ${job.output_bytes} bytes: ${tasks.length} tasks over 50 ms, longest ${Math.round(longest)} ms`);
    // 2 s: at 4x oversubscription a 200 ms task takes ~800 ms of wall time; drawing every chunk took 4.6 s.
    assert.ok(longest < 2000, `the tab froze for ${longest} ms`);
  });

  step('shows the limits a job ran under and the forks its process limit refused', async () => {
    const spec = {command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'],
                  limits: {pids: 3}, labels: {suite: 'limits'}, env: {TEND_UI_MARKER: MARKER.split('=')[1]}};
    const response = await fetch(`${base}/v1/jobs`, {
      method: 'POST', headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify(spec)});
    if (response.status === 400 && process.env.CI !== 'true') {
      // The host cannot limit processes (no pids controller for the agent): said, not hidden.
      console.log(`# SKIP the limits step: ${await response.text()}`);
      return;
    }
    assert.equal(response.status, 201, await response.clone().text());
    const id = (await response.json()).id;
    const job = await finished(id);
    assert.ok(job.pids_refused > 0, `the limit refused forks: ${JSON.stringify(job)}`);
    await page.goto(`${base}/#/jobs/${id}`);
    const dd = (field) => page.locator(`#job-details dd[data-field="${field}"]`);
    await dd('limits').waitFor();
    assert.equal(await dd('limits').textContent(), `3 processes (${job.limits_level})`);
    assert.equal(await dd('pids_refused').textContent(), `${job.pids_refused} (at the process limit)`);
  });

  it('loaded nothing from outside the agent and threw no script error', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});

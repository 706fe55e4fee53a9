// The tend agent's web page: a jobs table, a job's page with its live output, and a submit form.
// output.js renders the output and page.js (both loaded first) holds what the fleet's page shares:
// the token, requests, and the words for times, sizes and exits; this file is the rest.
// Plain DOM, no framework and no build step: the agent embeds this file as it is.
// User data only ever reaches the page through textContent, never as HTML.
'use strict';

(() => {
  const {ApiError, sleep, FINAL_STATES, isSet, quoteArg, showControls, describeCommand, formatLabels,
         formatTime, formatDuration, formatSeconds, formatBytes, formatExit, stateText} = window.TendPage;
  const TOKEN_KEY = 'tend.token';
  const LIST_POLL_MS = 1500;
  const JOB_POLL_MS = 1000;
  const TIMES_MS = 1000;  // between fetches of a running job's output times
  const RETRY_MS = 1000;
  const OUTPUT_TAIL_BYTES = 256 * 1024;  // what a job's page loads of a long output
  const OUTPUT_MAX_CHARS = 512 * 1024;   // what it keeps on screen while following
  const LIST_PAGE = 100;        // rows per "Show more"; #/?per_page=N changes it (1–500)
  const SPARK_RUNS = 24;        // runs per label in a sparkline
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- token and requests

  const api = window.TendPage.createApi({
    peer: 'agent',
    tokenKey: TOKEN_KEY,
    onShown: () => { $('new-job').hidden = true; },
    onHidden: () => {
      $('new-job').hidden = false;
      loadHostname();
    },
    onSaved: () => route(),
  });
  const request = api.request;

  // The machine's name in the header and the tab's title: which agent is this?
  let hostname = '';
  async function loadHostname() {
    if (hostname) return;
    try {
      const info = await request('/v1/agent');
      hostname = info?.hostname || '';
      setText($('hostname'), hostname);
      setTitle(titleBase);
    } catch {
      // An older agent without /v1/agent: the header just has no name.
    }
  }

  let titleBase = 'Jobs';
  function setTitle(what) {
    titleBase = what;
    document.title = `${what}${hostname ? ` — ${hostname}` : ''} — tend agent`;
  }

  const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------------- formatting

  function jobDuration(job) {
    if (typeof job.duration_ms === 'number' && FINAL_STATES.has(job.state)) return job.duration_ms;
    if (job.state === 'running' && job.started_at) return Date.now() - new Date(job.started_at).getTime();
    return typeof job.duration_ms === 'number' ? job.duration_ms : null;
  }

  // A job's limits as the agent applied them (its defaults included) and how: "64 MiB memory,
  // 100 processes, 1.5 CPUs (cgroup1)".
  function formatLimits(limits, level) {
    if (!limits || typeof limits !== 'object') return '';
    const parts = [
      typeof limits.memory === 'number' && `${formatBytes(limits.memory)} memory`,
      typeof limits.memory_high === 'number' && `slowed above ${formatBytes(limits.memory_high)}`,
      typeof limits.swap === 'number' && `${formatBytes(limits.swap)} swap`,
      typeof limits.pids === 'number' && `${limits.pids} process${limits.pids === 1 ? '' : 'es'}`,
      typeof limits.cpu === 'number' && `${limits.cpu} CPU${limits.cpu === 1 ? '' : 's'}`,
    ].filter(Boolean);
    if (!parts.length) return '';
    return `${parts.join(', ')}${level && level !== 'none' ? ` (${level})` : ''}`;
  }

  // The same with the agent's own words when it has them (e.g. execve's error for /bin/nope).
  function formatExitLong(job) {
    const short = formatExit(job);
    if (job.error && short.endsWith('(could not start)')) return `${short.replace(' (could not start)', '')}: ${job.error}`;
    return short === '—' || short === 'error' ? '' : short;  // the Error row says it
  }

  function setBadge(el, state) {
    const text = stateText(state);
    if (el.textContent !== text) el.textContent = text;
    el.className = `badge state-${state || 'unknown'}`;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // ---------------------------------------------------------------- command line parsing

  class InputError extends Error {
    constructor(field, message) {
      super(message);
      this.field = field;
    }
  }

  // Splits a command line into argv the way a POSIX shell would for plain words and quotes,
  // without expanding anything: '…' is literal, "…" allows \" \\ \$ \`, a backslash escapes
  // the next character outside quotes.
  function splitCommandLine(line) {
    const args = [];
    let current = '';
    let inWord = false;
    for (let i = 0; i < line.length;) {
      const c = line[i];
      if (c === '\'') {
        const end = line.indexOf('\'', i + 1);
        if (end < 0) throw new InputError('command', 'The command line has an unterminated \' quote.');
        current += line.slice(i + 1, end);
        i = end + 1;
        inWord = true;
      } else if (c === '"') {
        i++;
        inWord = true;
        for (;;) {
          if (i >= line.length) throw new InputError('command', 'The command line has an unterminated " quote.');
          const d = line[i];
          if (d === '"') {
            i++;
            break;
          }
          if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) {
            current += line[i + 1];
            i += 2;
          } else {
            current += d;
            i++;
          }
        }
      } else if (c === '\\' && i + 1 < line.length) {
        current += line[i + 1];
        i += 2;
        inWord = true;
      } else if (/\s/.test(c)) {
        if (inWord) args.push(current);
        current = '';
        inWord = false;
        i++;
      } else {
        current += c;
        inWord = true;
        i++;
      }
    }
    if (inWord) args.push(current);
    return args;
  }

  function parsePairs(text, field, what) {
    const pairs = {};
    for (const item of text.split(/[\s,]+/).filter(Boolean)) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new InputError(field, `${what} "${item}" is not key=value.`);
      pairs[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return pairs;
  }

  function parseEnv(text) {
    const env = {};
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq <= 0) throw new InputError('env', `Environment line "${line.trim()}" is not KEY=value.`);
      env[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    return env;
  }

  // ---------------------------------------------------------------- submit form

  const FIELD_INPUTS = {
    command: 'command-input', script: 'script-input', interpreter: 'interpreter-path',
    timeout: 'timeout-input', labels: 'labels-input', cwd: 'cwd-input', env: 'env-input',
  };

  function submitMode() {
    return document.querySelector('input[name="mode"]:checked').value;
  }

  function updateModeFields() {
    const script = submitMode() === 'script';
    $('command-fields').hidden = script;
    $('script-fields').hidden = !script;
    $('interpreter-path-field').hidden = $('interpreter-select').value !== 'path';
  }

  function updateArgvPreview() {
    const text = $('command-input').value;
    let preview = '';
    if (text.trim()) {
      try {
        preview = `Runs: ${JSON.stringify(splitCommandLine(text))}`;
      } catch (err) {
        preview = err.message;
      }
    }
    setText($('argv-preview'), preview);
  }

  function buildJobRequest() {
    const body = {};
    if (submitMode() === 'command') {
      const argv = splitCommandLine($('command-input').value);
      if (argv.length === 0) throw new InputError('command', 'Enter a command to run.');
      body.command = argv;
    } else {
      const script = $('script-input').value;
      if (script.trim() === '') throw new InputError('script', 'Enter a script to run.');
      body.script = script;
      const choice = $('interpreter-select').value;
      if (choice === 'path') {
        const path = $('interpreter-path').value.trim();
        if (!path.startsWith('/')) throw new InputError('interpreter', 'The interpreter path must be absolute.');
        body.interpreter = path;
      } else {
        body.interpreter = choice;
      }
    }
    const timeout = $('timeout-input').value.trim();
    if (timeout) body.timeout = /^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : timeout;
    const labels = parsePairs($('labels-input').value, 'labels', 'Label');
    if (Object.keys(labels).length) body.labels = labels;
    const cwd = $('cwd-input').value.trim();
    if (cwd) body.cwd = cwd;
    const env = parseEnv($('env-input').value);
    if (Object.keys(env).length) body.env = env;
    return {...formCarry, ...body};
  }

  // What "Run again" keeps from a job that the form has no field for (user, kill_after, stdin).
  const CARRIED_FIELDS = ['user', 'kill_after', 'stdin'];
  let formCarry = {};

  // A new job starts from an empty form, never from the previous job's values.
  function openSubmitForm(job = null) {
    const form = $('submit-form');
    form.reset();
    markInvalid(null);
    formCarry = {};
    setText($('submit-status'), '');
    $('submit-status').classList.remove('error');
    if (job) fillSubmitForm(job);
    updateModeFields();
    updateArgvPreview();
    setText($('submit-title'), job ? `Run job ${job.id} again` : 'New job');
    const dialog = $('submit-dialog');
    if (!dialog.open) dialog.showModal();
    (job?.script !== undefined ? $('script-input') : $('command-input')).focus();
  }

  function fillSubmitForm(job) {
    const script = typeof job.script === 'string';
    document.querySelector(`input[name="mode"][value="${script ? 'script' : 'command'}"]`).checked = true;
    if (script) {
      $('script-input').value = job.script;
      const known = [...$('interpreter-select').options].some((o) => o.value === job.interpreter && o.value !== 'path');
      $('interpreter-select').value = known ? job.interpreter : 'path';
      if (!known) $('interpreter-path').value = job.interpreter || '';
    } else if (Array.isArray(job.command)) {
      $('command-input').value = job.command.map(quoteArg).join(' ');
    }
    if (typeof job.timeout === 'number') $('timeout-input').value = String(job.timeout);
    $('labels-input').value = formatLabels(job.labels).join(' ');
    $('cwd-input').value = job.cwd || '';
    $('env-input').value = Object.entries(job.env || {}).map(([k, v]) => `${k}=${v}`).join('\n');
    for (const field of CARRIED_FIELDS) if (isSet(job[field])) formCarry[field] = job[field];
    const kept = Object.keys(formCarry);
    if (kept.length) setText($('submit-status'), `Also kept from job ${job.id}: ${kept.join(', ')}.`);
  }

  function markInvalid(field) {
    for (const id of Object.values(FIELD_INPUTS)) $(id).removeAttribute('aria-invalid');
    const id = FIELD_INPUTS[field];
    if (!id) return null;
    $(id).setAttribute('aria-invalid', 'true');
    return $(id);
  }

  async function submitJob(event) {
    event.preventDefault();
    const status = $('submit-status');
    status.classList.remove('error');
    let body;
    try {
      body = buildJobRequest();
    } catch (err) {
      status.textContent = err.message;
      status.classList.add('error');
      markInvalid(err.field)?.focus();
      return;
    }
    markInvalid(null);
    const button = $('submit-button');
    button.disabled = true;
    status.textContent = 'Submitting…';
    try {
      const job = await request('/v1/jobs', {method: 'POST', body});
      status.textContent = `Submitted job ${job.id}.`;
      $('submit-dialog').close();
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      status.textContent = err.message;
      status.classList.add('error');
      markInvalid(err.field);
    } finally {
      button.disabled = false;
    }
  }

  $('submit-form').addEventListener('submit', submitJob);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', updateModeFields);
  }
  $('interpreter-select').addEventListener('change', updateModeFields);
  $('command-input').addEventListener('input', updateArgvPreview);
  $('new-job').addEventListener('click', () => openSubmitForm());
  $('close-submit').addEventListener('click', () => $('submit-dialog').close());

  // ---------------------------------------------------------------- views and routing

  let currentView = null;  // {controller: AbortController}

  function parseRoute() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const job = hash.match(/^\/jobs\/([^/?]+)$/);
    if (job) return {name: 'job', id: decodeURIComponent(job[1])};
    const query = new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '');
    const perPage = Number(query.get('per_page'));
    return {name: 'jobs', state: query.get('state') || '', label: query.get('label') || '',
            perPage: Number.isInteger(perPage) && perPage >= 1 && perPage <= 500 ? perPage : LIST_PAGE};
  }

  function route() {
    currentView?.controller.abort();
    const controller = new AbortController();
    currentView = {controller};
    api.checkToken();  // without one, the view's requests wait for the prompt
    const target = parseRoute();
    $('jobs-view').hidden = target.name !== 'jobs';
    $('job-view').hidden = target.name !== 'job';
    if (target.name === 'job') {
      showJob(target.id, controller.signal);
    } else {
      showJobs(target, controller.signal);
    }
  }

  window.addEventListener('hashchange', route);

  // ---------------------------------------------------------------- jobs list

  // The list is the newest jobs (the head, refreshed on every poll) followed by older pages
  // loaded with "Show more" through the API's cursor. `boundary` is the cursor where the older
  // pages start: the head is re-read down to it, so new jobs pushing rows down never open a gap
  // between the two. Nothing caps the number of pages: "Show more" stays until the API says
  // there is no next page, and then the page says so.
  const listState = {
    perPage: LIST_PAGE, head: [], headNext: null, boundary: null, older: [], olderNext: null,
    generation: 0, refresh: null,
  };

  function resetList() {
    Object.assign(listState, {head: [], headNext: null, boundary: null, older: [], olderNext: null});
    listState.generation++;
  }

  function filterHash() {
    const query = new URLSearchParams();
    if ($('state-filter').value) query.set('state', $('state-filter').value);
    if ($('label-filter').value.trim()) query.set('label', $('label-filter').value.trim());
    if (listState.perPage !== LIST_PAGE) query.set('per_page', String(listState.perPage));
    const text = query.toString();
    return text ? `#/?${text}` : '#/';
  }

  function applyFilters() {
    resetList();
    const hash = filterHash();
    // replaceState keeps typing in the filter from flooding the history; the poller reads the form.
    if (location.hash !== hash) history.replaceState(null, '', hash);
    listState.refresh?.();
  }

  let labelTimer = 0;
  $('state-filter').addEventListener('change', applyFilters);
  $('label-filter').addEventListener('input', () => {
    clearTimeout(labelTimer);
    labelTimer = setTimeout(applyFilters, 300);
  });
  $('filter-form').addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilters();
  });
  $('clear-filters').addEventListener('click', () => {
    $('state-filter').value = '';
    $('label-filter').value = '';
    applyFilters();
  });

  function listQuery(cursor) {
    const query = new URLSearchParams({limit: String(listState.perPage)});
    if (cursor !== null && cursor !== undefined) query.set('cursor', cursor);
    if ($('state-filter').value) query.set('state', $('state-filter').value);
    for (const item of $('label-filter').value.split(/[\s,]+/).filter(Boolean)) {
      // The API's form is key:value; the page also accepts key=value, the form labels are typed in.
      const eq = item.indexOf('=');
      const colon = item.indexOf(':');
      query.append('label', eq > 0 && (colon < 0 || eq < colon) ? `${item.slice(0, eq)}:${item.slice(eq + 1)}` : item);
    }
    return query.toString();
  }

  async function fetchPage(cursor, signal) {
    const data = await request(`/v1/jobs?${listQuery(cursor)}`, {signal});
    return {jobs: Array.isArray(data?.jobs) ? data.jobs : [], next: data?.next_cursor ?? null};
  }

  // Reads the head: the first page, and more pages down to the boundary once older ones are shown.
  async function loadHead(signal) {
    const generation = listState.generation;
    const jobs = [];
    let page = await fetchPage(null, signal);
    jobs.push(...page.jobs);
    while (listState.boundary !== null && page.next !== null && Number(page.next) > listState.boundary) {
      page = await fetchPage(page.next, signal);
      jobs.push(...page.jobs);
    }
    if (generation !== listState.generation) return;
    const ids = new Set(jobs.map((job) => job.id));
    listState.head = jobs;
    listState.headNext = page.next;
    listState.older = listState.older.filter((job) => !ids.has(job.id));
    // Older jobs still running are few: each is re-read so its row does not freeze.
    const live = listState.older.filter((job) => !FINAL_STATES.has(job.state)).slice(0, 20);
    for (const job of live) {
      const fresh = await request(jobPath(job.id), {signal}).catch(() => null);
      if (fresh && generation === listState.generation) {
        listState.older[listState.older.indexOf(job)] = fresh;
      }
    }
  }

  const moreCursor = () => (listState.boundary === null ? listState.headNext : listState.olderNext);

  async function showMore() {
    const cursor = moreCursor();
    if (cursor === null) return;
    const button = $('show-more');
    const generation = listState.generation;
    button.disabled = true;
    setText($('list-end'), 'Loading…');
    try {
      const page = await fetchPage(cursor, undefined);
      if (generation !== listState.generation) return;
      if (listState.boundary === null) listState.boundary = Number(cursor);
      const shown = new Set([...listState.head, ...listState.older].map((job) => job.id));
      listState.older.push(...page.jobs.filter((job) => !shown.has(job.id)));
      listState.olderNext = page.next;
      renderList();
    } catch (err) {
      // The button stays: the reader can try again.
      $('list-end').classList.add('error');
      setText($('list-end'), `Could not load more jobs: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }
  $('show-more').addEventListener('click', showMore);

  function createJobRow(id) {
    const row = document.createElement('tr');
    row.dataset.id = id;
    const cells = ['id', 'state', 'command', 'labels', 'started', 'duration', 'output', 'exit'].map((name) => {
      const cell = document.createElement('td');
      cell.className = `col-${name}`;
      row.append(cell);
      return cell;
    });
    const link = document.createElement('a');
    link.href = `#/jobs/${encodeURIComponent(id)}`;
    link.textContent = id;
    cells[0].append(link);
    const badge = document.createElement('span');
    cells[1].append(badge);
    return row;
  }

  function updateJobRow(row, job) {
    const [, stateCell, commandCell, labelsCell, startedCell, durationCell, outputCell, exitCell] = row.cells;
    setBadge(stateCell.firstChild, job.state);
    const command = describeCommand(job);
    setText(commandCell, command);
    commandCell.title = command;
    const labels = formatLabels(job.labels);
    const labelsKey = labels.join('\n');
    if (labelsCell.dataset.key !== labelsKey) {
      labelsCell.dataset.key = labelsKey;
      labelsCell.replaceChildren(...labels.map((text) => {
        const chip = document.createElement('span');
        chip.className = 'label';
        chip.textContent = text;
        return chip;
      }));
    }
    setText(startedCell, formatTime(job.started_at));
    startedCell.title = job.started_at || `created ${job.created_at || ''}`;
    setText(durationCell, formatDuration(jobDuration(job)));
    setText(outputCell, job.started_at ? formatBytes(job.output_bytes) : '—');
    setText(exitCell, formatExit(job));
    exitCell.title = job.error || '';
  }

  // Updates rows in place, so a live refresh neither flickers nor steals keyboard focus.
  function renderJobs(jobs) {
    const body = $('jobs-body');
    const existing = new Map([...body.rows].map((row) => [row.dataset.id, row]));
    jobs.forEach((job, index) => {
      const row = existing.get(job.id) || createJobRow(job.id);
      existing.delete(job.id);
      updateJobRow(row, job);
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
    });
    for (const row of existing.values()) row.remove();
  }

  function renderList() {
    const jobs = [...listState.head, ...listState.older];
    renderJobs(jobs);
    renderTrends(jobs);
    const filtered = Boolean($('state-filter').value || $('label-filter').value.trim());
    const empty = $('jobs-empty');
    empty.hidden = jobs.length > 0;
    setText(empty, filtered ? 'No jobs match these filters.' : 'No jobs yet. Start one with "New job".');
    const more = moreCursor() !== null;
    $('show-more').hidden = !more;
    $('list-end').classList.remove('error');
    const count = `${jobs.length} job${jobs.length === 1 ? '' : 's'}`;
    setText($('list-end'), jobs.length === 0 ? '' : more ? `${count} shown; older ones are a click away.` : `All ${count} shown.`);
  }

  // ---------------------------------------------------------------- sparklines per label

  // The SVG namespace, from the HTML parser itself (index.html has an <svg> template).
  const SVG_NS = $('spark-template').content.firstElementChild.namespaceURI;

  // For each label among the jobs shown, the last runs as bars: height the duration (relative to
  // the longest of them), colour the outcome. Rebuilt only when a figure changed.
  function renderTrends(jobs) {
    const byLabel = new Map();
    for (const job of jobs) {
      if (!FINAL_STATES.has(job.state)) continue;
      for (const label of formatLabels(job.labels)) {
        if (!byLabel.has(label)) byLabel.set(label, []);
        byLabel.get(label).push(job);
      }
    }
    const labels = [...byLabel.keys()].sort().slice(0, 16);
    const key = labels.map((l) => `${l}:${byLabel.get(l).slice(0, SPARK_RUNS).map((j) => `${j.id}/${j.state}/${j.duration_ms}`)}`).join('|');
    const box = $('label-trends');
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.hidden = labels.length === 0;
    box.replaceChildren(...labels.map((label) => sparkline(label, byLabel.get(label).slice(0, SPARK_RUNS).reverse())));
  }

  function sparkline(label, runs) {
    const width = 4;
    const gap = 2;
    const height = 24;
    const longest = Math.max(1, ...runs.map((job) => job.duration_ms || 0));
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(SPARK_RUNS * (width + gap)));
    svg.setAttribute('height', String(height));
    svg.setAttribute('viewBox', `0 0 ${SPARK_RUNS * (width + gap)} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const failures = runs.filter((job) => job.state !== 'succeeded').length;
    svg.setAttribute('aria-label', `${label}: ${runs.length} runs, ${failures} not succeeded`);
    runs.forEach((job, i) => {
      const h = Math.max(2, Math.round(((job.duration_ms || 0) / longest) * height));
      const bar = document.createElementNS(SVG_NS, 'rect');
      bar.setAttribute('x', String(i * (width + gap)));
      bar.setAttribute('y', String(height - h));
      bar.setAttribute('width', String(width));
      bar.setAttribute('height', String(h));
      bar.setAttribute('class', `bar bar-${job.state}`);
      bar.dataset.id = job.id;
      const title = document.createElementNS(SVG_NS, 'title');
      title.textContent = `${job.id}: ${stateText(job.state)}, ${formatDuration(job.duration_ms)}, exit ${formatExit(job)}`;
      bar.append(title);
      svg.append(bar);
    });
    const link = document.createElement('a');
    link.className = 'trend';
    link.href = `#/?label=${encodeURIComponent(label)}`;
    link.title = `Show only ${label}`;
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    link.append(name, svg);
    return link;
  }

  async function showJobs(target, signal) {
    $('state-filter').value = target.state;
    $('label-filter').value = target.label;
    listState.perPage = target.perPage;
    resetList();
    setTitle('Jobs');
    let wake = null;
    listState.refresh = () => wake?.();
    const status = $('jobs-status');
    while (!signal.aborted) {
      try {
        await loadHead(signal);
        if (signal.aborted) break;
        renderList();
        status.classList.remove('error');
        setText(status, '');
      } catch (err) {
        if (signal.aborted) break;
        if (err.status !== 401) {
          status.classList.add('error');
          setText(status, `Could not load jobs: ${err.message}`);
        }
      }
      // Sleep until the next poll, a filter change, or the tab becoming visible again.
      await new Promise((resolve) => {
        wake = resolve;
        sleep(LIST_POLL_MS, signal).then(() => {
          if (!document.hidden) resolve();
        });
        const onVisible = () => {
          if (!document.hidden) resolve();
        };
        document.addEventListener('visibilitychange', onVisible, {once: true});
        signal.addEventListener('abort', resolve, {once: true});
      });
      wake = null;
    }
  }

  // ---------------------------------------------------------------- one job

  // The details of a job, one entry per field: a term, how to show the value (empty: hidden),
  // and whether it is code. To show a new figure, add an entry here.
  const DETAIL_FIELDS = [
    {key: 'command', term: 'Command', code: true,
     value: (j) => (Array.isArray(j.command) ? showControls(j.command.map(quoteArg).join(' ')) : '')},
    {key: 'interpreter', term: 'Interpreter', code: true, value: (j) => (typeof j.script === 'string' ? j.interpreter : '')},
    {key: 'script', term: 'Script', code: true, block: true, value: (j) => j.script},
    {key: 'exit', term: 'Exit', value: formatExitLong},
    {key: 'error', term: 'Error', value: (j) => (formatExitLong(j).endsWith(j.error) ? '' : j.error)},
    {key: 'created', term: 'Created', value: (j) => formatTime(j.created_at), title: (j) => j.created_at},
    {key: 'started', term: 'Started', value: (j) => j.started_at && formatTime(j.started_at), title: (j) => j.started_at},
    {key: 'finished', term: 'Finished', value: (j) => j.finished_at && formatTime(j.finished_at), title: (j) => j.finished_at},
    {key: 'duration', term: 'Duration', value: (j) => (j.started_at ? formatDuration(jobDuration(j)) : '')},
    {key: 'limits', term: 'Limits', value: (j) => formatLimits(j.limits, j.limits_level)},
    {key: 'cpu', term: 'CPU',
     value: (j) => (typeof j.cpu_user_ms === 'number' || typeof j.cpu_system_ms === 'number'
       ? `${formatDuration(j.cpu_user_ms ?? 0)} user, ${formatDuration(j.cpu_system_ms ?? 0)} system` : '')},
    {key: 'cpu_throttled', term: 'CPU held back',
     value: (j) => (typeof j.cpu_throttled_ms === 'number' && j.cpu_throttled_ms > 0 ? `${formatDuration(j.cpu_throttled_ms)} (at the CPU limit)` : '')},
    {key: 'peak_memory', term: 'Peak memory',
     value: (j) => (typeof j.peak_memory_bytes === 'number' && j.peak_memory_bytes > 0 ? formatBytes(j.peak_memory_bytes) : '')},
    {key: 'oom', term: 'Out of memory',
     value: (j) => (j.oom_killed ? `${j.reason || ''} (${j.oom_kills} killed by the OOM killer)`.trim() : '')},
    {key: 'peak_processes', term: 'Peak processes', value: (j) => (typeof j.peak_processes === 'number' ? String(j.peak_processes) : '')},
    {key: 'pids_refused', term: 'Forks refused',
     value: (j) => (typeof j.pids_refused === 'number' && j.pids_refused > 0 ? `${j.pids_refused} (at the process limit)` : '')},
    {key: 'now', term: 'Now',
     value: (j) => (j.state === 'running' && j.now && typeof j.now === 'object' ? [
       typeof j.now.memory_bytes === 'number' && `${formatBytes(j.now.memory_bytes)} memory`,
       typeof j.now.processes === 'number' && `${j.now.processes} process${j.now.processes === 1 ? '' : 'es'}`,
       typeof j.now.cpu_user_ms === 'number' && `${formatDuration(j.now.cpu_user_ms + (j.now.cpu_system_ms || 0))} CPU`,
     ].filter(Boolean).join(', ') : '')},
    {key: 'output', term: 'Output',
     value: (j) => (typeof j.output_bytes === 'number'
       ? `${formatBytes(j.output_bytes)}${j.output_dropped_bytes ? `, ${formatBytes(j.output_dropped_bytes)} dropped` : ''}${j.state === 'running' ? ' so far' : ''}` : ''),
     title: (j) => (typeof j.output_bytes === 'number' ? `${j.output_bytes} bytes` : '')},
    {key: 'leftovers', term: 'Leftover processes killed', value: (j) => (j.leftovers_killed ? String(j.leftovers_killed) : '')},
    {key: 'timeout', term: 'Timeout', value: (j) => formatSeconds(j.timeout)},
    {key: 'kill_after', term: 'Kill after', value: (j) => formatSeconds(j.kill_after)},
    {key: 'cwd', term: 'Working directory', code: true, value: (j) => j.cwd},
    {key: 'user', term: 'User', value: (j) => j.user},
    {key: 'labels', term: 'Labels', value: (j) => formatLabels(j.labels).join(', ')},
    {key: 'env', term: 'Environment', code: true, block: true,
     value: (j) => Object.entries(j.env && typeof j.env === 'object' ? j.env : {}).map(([k, v]) => `${k}=${v}`).join('\n')},
  ];

  // Updates the details in place: only a changed value's text node is touched, so text the reader
  // selected stays selected while the job runs.
  function renderJobDetails(job) {
    setBadge($('job-state'), job.state);
    $('cancel-button').hidden = FINAL_STATES.has(job.state);
    $('rerun-button').hidden = false;
    if (FINAL_STATES.has(job.state) && $('job-status').textContent.startsWith('Cancel requested')) {
      setText($('job-status'), '');
    }
    const list = $('job-details');
    for (const field of DETAIL_FIELDS) {
      let dd = list.querySelector(`dd[data-field="${field.key}"]`);
      const value = field.value(job);
      if (!dd) {
        if (!isSet(value)) continue;
        const dt = document.createElement('dt');
        dt.textContent = field.term;
        dd = document.createElement('dd');
        dd.dataset.field = field.key;
        if (field.code) dd.append(document.createElement(field.block ? 'pre' : 'code'));
        // Keep the order of DETAIL_FIELDS whatever order the fields appear in.
        const later = DETAIL_FIELDS.slice(DETAIL_FIELDS.indexOf(field) + 1)
          .map((f) => list.querySelector(`dd[data-field="${f.key}"]`)).find(Boolean);
        list.insertBefore(dt, later?.previousElementSibling || null);
        list.insertBefore(dd, later?.previousElementSibling || null);
      }
      const shown = isSet(value);
      dd.hidden = !shown;
      dd.previousElementSibling.hidden = !shown;
      setText(field.code ? dd.firstChild : dd, shown ? String(value) : '');
      const title = field.title?.(job) || '';
      if (dd.title !== title) dd.title = title;
    }
  }

  // Whole output as a file: a fetch that carries the token (the output URL needs the bearer
  // header, which a plain link cannot send), turned into a blob the browser saves. The output is
  // bounded by the agent's output limit (64 MiB by default), so the blob is too.
  async function downloadOutput(id, signal) {
    const button = $('download-output');
    button.disabled = true;
    const status = $('output-status');
    const before = status.textContent;
    setText(status, 'Downloading…');
    try {
      const response = await request(`${jobPath(id)}/output`, {signal, raw: true});
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `tend-job-${id}.log`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setText(status, `Downloaded ${formatBytes(blob.size)}.`);
      setTimeout(() => {
        if (status.textContent.startsWith('Downloaded')) setText(status, before);
      }, 4000);
    } catch (err) {
      if (!signal.aborted) setText(status, `Could not download: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  let currentPane = null;
  let currentTimes = null;
  let showTimes = false;

  const pad = (n, width = 2) => String(n).padStart(width, '0');
  const clockTime = (ms) => {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  };

  // When a job's output arrived (GET /v1/jobs/ID/output/times): [offset, unix ms] pairs sorted by
  // offset; a line shows the time of the last pair at or before its first byte. Fetched only while
  // "Timestamps" is on, at most every TIMES_MS. The shim writes a pair before the bytes it times,
  // so the pairs fetched cover every byte the page had received when the fetch began (`covered`).
  function createTimes(id, signal, pane) {
    let records = [];
    let covered = 0;
    let busy = false;
    let again = false;
    let lastLoad = -Infinity;
    const timeAt = (offset) => {
      if (offset >= covered) return null;
      let lo = 0;
      let hi = records.length;  // the first pair after `offset`
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (records[mid][0] <= offset) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0 ? '' : clockTime(records[lo - 1][1]);
    };
    async function load() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        const wait = lastLoad + TIMES_MS - performance.now();
        if (wait > 0) await sleep(wait, signal);
        if (signal.aborted) return;
        lastLoad = performance.now();
        const upTo = pane.offset();
        let from = records.length ? records[records.length - 1][0] : 0;
        for (;;) {
          const page = await request(`${jobPath(id)}/output/times?offset=${from}&limit=10000`, {signal});
          const last = records.length ? records[records.length - 1][0] : -1;
          records = records.concat(page.times.filter(([offset]) => offset > last));
          if (page.next_offset === null || page.next_offset === undefined) break;
          from = page.next_offset;
        }
        covered = Math.max(covered, upTo);
        pane.restamp();
      } catch {
        // no times this time: the next batch of lines asks again
      } finally {
        busy = false;
      }
      if (again && !signal.aborted) {
        again = false;
        load();
      }
    }
    return {
      timeAt,
      load,
      // The job is over: its tail's pairs are written now (the shim adds them last), so every line
      // is timed again from a fresh copy.
      reload() {
        records = [];
        covered = 0;
        pane.restamp(true);
      },
    };
  }

  function makeOutputPane() {
    $('output-note').hidden = true;
    $('output-search').value = '';
    setText($('search-count'), '');
    const pane = window.TendOutput.createPane($('output'), {
      maxChars: OUTPUT_MAX_CHARS,
      onTrim: () => pane.note('Earlier output is not shown here: "Download" has all of it.'),
      timeAt: (offset) => currentTimes?.timeAt(offset) ?? null,
      onUnstamped: () => currentTimes?.load(),
      onMatches: (count, current) => {
        setText($('search-count'), count === null ? '' : count === 0 ? 'no match'
          : `${current >= 0 ? `${current + 1} of ` : ''}${count} line${count === 1 ? '' : 's'}`);
      },
    });
    pane.note = (text) => {
      setText($('output-note'), text);
      $('output-note').hidden = false;
    };
    return pane;
  }

  // Parses a text/event-stream incrementally; calls onEvent({type, data, id}) per complete event.
  function createEventParser(onEvent) {
    let pending = '';
    let type = '';
    let data = [];
    let id = null;
    return (text) => {
      pending += text;
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
        const line = pending.slice(start, nl);
        start = nl + 1;
        if (line === '') {
          if (type || data.length) onEvent({type: type || 'message', data: data.join('\n'), id});
          type = '';
          data = [];
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;  // a keep-alive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      pending = pending.slice(start);
    };
  }

  // Follows GET /v1/jobs/ID/output?sse=1 through fetch(), so the token stays in a header (an
  // EventSource could only send it in the URL). Server-sent events rather than the plain ?follow=1
  // stream because HTTP servers compress text/plain (which holds it back until the end) but never
  // text/event-stream. Each output event's id is the byte offset after it: a dropped connection
  // resumes there.
  async function followOutput(id, startOffset, pane, onState, signal) {
    const status = $('output-status');
    let offset = startOffset;
    let sawOutput = false;
    while (!signal.aborted) {
      let ended = false;
      try {
        const response = await request(`${jobPath(id)}/output?sse=1&offset=${offset}`,
                                       {signal, raw: true, headers: {Accept: 'text/event-stream'}});
        setText(status, 'Live');
        const decoder = new TextDecoder();
        const parse = createEventParser((event) => {
          if (event.type === 'output') {
            if (event.data) sawOutput = true;
            pane.append(event.data, offset);
            if (event.id !== null && /^\d+$/.test(event.id)) offset = Number(event.id);
          } else if (event.type === 'state') {
            try {
              onState(JSON.parse(event.data));
            } catch {
              // a state we cannot read; the poll will bring it
            }
          } else if (event.type === 'end') {
            ended = true;
          }
        });
        const reader = response.body.getReader();
        let sliceStart = performance.now();
        while (!ended) {
          const {done, value} = await reader.read();
          if (done) break;
          parse(decoder.decode(value, {stream: true}));
          // Reads of buffered data resolve without leaving the task: give the page its turn.
          if (performance.now() - sliceStart > 25) {
            await sleep(0);
            sliceStart = performance.now();
          }
        }
        if (ended) {
          reader.cancel().catch(() => {});
          pane.flush();
          if (!sawOutput && offset === 0) pane.setText('(no output)');
          setText(status, 'Complete');
          return;
        }
        setText(status, 'Reconnecting…');
      } catch (err) {
        if (signal.aborted) return;
        if (err.status === 404) {
          setText(status, 'No output for this job.');
          return;
        }
        setText(status, `Reconnecting… (${err.message})`);
      }
      await sleep(RETRY_MS, signal);
    }
  }

  async function showJob(id, signal) {
    setTitle(`Job ${id}`);
    setText($('job-title'), `Job ${id}`);
    $('job-title').focus();
    $('job-state').textContent = '';
    $('job-state').className = 'badge';
    $('cancel-button').hidden = true;
    $('cancel-button').disabled = false;
    $('cancel-button').textContent = 'Cancel job';
    $('rerun-button').hidden = true;
    $('job-details').replaceChildren();
    const status = $('job-status');
    status.classList.remove('error');
    setText(status, 'Loading…');
    setText($('output-status'), '');
    const pane = makeOutputPane();
    currentPane = pane;
    currentTimes = createTimes(id, signal, pane);
    pane.showTimes(showTimes);

    let latest = null;
    const loadJob = async () => {
      const job = await request(jobPath(id), {signal});
      if (!signal.aborted) {
        latest = job;
        renderJobDetails(job);
      }
      return job;
    };

    $('rerun-button').onclick = () => latest && openSubmitForm(latest);
    $('download-output').onclick = () => downloadOutput(id, signal);
    $('cancel-button').onclick = async () => {
      // Stopping a job and everything it started cannot be undone: ask first.
      if (!window.confirm(`Cancel job ${id}? It and every process it started will be stopped.`)) return;
      const button = $('cancel-button');
      button.disabled = true;
      button.textContent = 'Cancelling…';
      status.classList.remove('error');
      try {
        await request(`${jobPath(id)}/cancel`, {method: 'POST', signal});
        setText(status, 'Cancel requested: stopping the job and everything it started.');
      } catch (err) {
        if (signal.aborted) return;
        status.classList.toggle('error', err.status !== 409);
        setText(status, err.status === 409 ? 'The job had already finished.' : `Could not cancel: ${err.message}`);
        button.disabled = false;
        button.textContent = 'Cancel job';
      }
      loadJob().catch(() => {});
    };

    // The first load decides where the output starts: a long output shows only its tail.
    for (;;) {
      try {
        await loadJob();
        setText(status, '');
        break;
      } catch (err) {
        if (signal.aborted) return;
        status.classList.add('error');
        if (err.status === 404) {
          setText(status, `There is no job ${id}.`);
          return;
        }
        setText(status, `Could not load the job: ${err.message}`);
        await sleep(RETRY_MS, signal);
      }
    }
    let startOffset = 0;
    if (typeof latest.output_bytes === 'number' && latest.output_bytes > OUTPUT_TAIL_BYTES) {
      startOffset = latest.output_bytes - OUTPUT_TAIL_BYTES;
      pane.startMidway();
      pane.note(`Showing the last ${formatBytes(OUTPUT_TAIL_BYTES)} of ${formatBytes(latest.output_bytes)}: "Download" has all of it.`);
    }
    followOutput(id, startOffset, pane, (job) => {
      if (signal.aborted || !job || job.id !== id) return;
      latest = job;
      renderJobDetails(job);
    }, signal).then(() => {
      // The end event comes with the final state; one more load brings the final figures.
      if (!signal.aborted) loadJob().catch(() => {});
      if (!signal.aborted && currentPane === pane) currentTimes.reload();
    });

    // State, duration and the cancel button stay live until the job is over.
    while (!signal.aborted && !FINAL_STATES.has(latest.state)) {
      await sleep(JOB_POLL_MS, signal);
      if (signal.aborted || document.hidden) continue;
      try {
        await loadJob();
        if (status.textContent.startsWith('Could not load')) {
          status.classList.remove('error');
          setText(status, '');
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err.status !== 401) {
          status.classList.add('error');
          setText(status, `Could not load the job: ${err.message}`);
        }
      }
    }
  }

  $('output-times').addEventListener('click', () => {
    showTimes = !showTimes;
    $('output-times').setAttribute('aria-pressed', String(showTimes));
    currentPane?.showTimes(showTimes);
  });

  // Search: typing marks the matching lines; Enter goes to the next (Shift+Enter: previous).
  $('output-search').addEventListener('input', () => currentPane?.search($('output-search').value));
  $('output-search').addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    currentPane?.next(event.shiftKey ? -1 : 1);
  });

  route();
})();

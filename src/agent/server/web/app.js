// The tend agent's web page: a jobs table, a job's page with its live output, and a submit form.
// Plain DOM, no framework and no build step: the agent embeds this file as it is.
// User data only ever reaches the page through textContent, never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tend.token';
  const LIST_POLL_MS = 1500;
  const JOB_POLL_MS = 1000;
  const RETRY_MS = 1000;
  const OUTPUT_TAIL_BYTES = 256 * 1024;  // what a job's page loads of a long output
  const OUTPUT_MAX_CHARS = 512 * 1024;   // what it keeps on screen while following
  const LIST_PAGE = 100;
  const FINAL_STATES = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
  const SIGNAL_NAMES = {
    1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
    9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM',
    15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
  };

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- token

  let memoryToken = '';  // used when the browser refuses localStorage (private mode, policies)
  let authBlocked = false;
  let blockReason = '';
  const authWaiters = [];

  function getToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch {
      return memoryToken;
    }
  }

  function setToken(token) {
    memoryToken = token;
    try {
      localStorage.setItem(TOKEN_KEY, token);
    } catch {
      // memoryToken keeps the page working for this tab.
    }
  }

  // Shows the token prompt; every request waits (see whenAuthorized) until a token is saved.
  function askForToken(reason) {
    const messages = {
      missing: 'This page needs the agent\'s API token.',
      rejected: 'The agent rejected the saved token (401 Unauthorized). Enter the current one.',
      change: 'Enter a new token.',
    };
    const wasShown = !$('token-panel').hidden;
    authBlocked = reason !== 'change';
    if (authBlocked) blockReason = reason;
    $('token-reason').textContent = messages[reason];
    $('token-cancel').hidden = reason !== 'change';
    $('token-panel').hidden = false;
    $('change-token').hidden = true;
    if (authBlocked) $('main').hidden = true;
    // A second 401 from a request already in flight must not wipe what the user is typing.
    if (!wasShown) {
      $('token-input').value = '';
      $('token-input').focus();
    }
  }

  function hideTokenPanel() {
    $('token-panel').hidden = true;
    $('change-token').hidden = false;
    $('main').hidden = false;
  }

  function unblock() {
    authBlocked = false;
    hideTokenPanel();
    authWaiters.splice(0).forEach((resolve) => resolve());
  }

  function whenAuthorized(signal) {
    if (!authBlocked) return Promise.resolve();
    return new Promise((resolve) => {
      authWaiters.push(resolve);
      signal?.addEventListener('abort', resolve, {once: true});
    });
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return;
    setToken(token);
    unblock();
    route();
  });
  $('token-cancel').addEventListener('click', hideTokenPanel);
  $('change-token').addEventListener('click', () => askForToken('change'));

  // ---------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, message, field) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  function authHeaders() {
    return {Authorization: `Bearer ${getToken()}`};
  }

  function setConnection(ok) {
    const el = $('connection');
    el.textContent = ok ? '' : 'Agent unreachable — retrying';
    el.classList.toggle('offline', !ok);
  }

  // fetch() that waits for a token, reports 401 and unreachable agents, and throws ApiError on
  // any non-2xx answer with the agent's own message ({"error": {"field", "message"}}).
  async function request(path, {method = 'GET', body, signal, raw = false, headers: extra = {}} = {}) {
    await whenAuthorized(signal);
    signal?.throwIfAborted();
    const headers = {...extra, ...authHeaders()};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method, headers, signal, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      setConnection(false);
      throw new ApiError(0, `Cannot reach the agent (${err.message}).`);
    }
    setConnection(true);
    if (response.status === 401) {
      askForToken('rejected');
      throw new ApiError(401, 'The agent rejected the token.');
    }
    if (raw && response.ok) return response;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error;
      const message = (error && error.message) || text.trim() || response.statusText;
      throw new ApiError(response.status, `${message} (HTTP ${response.status})`, error && error.field);
    }
    return data;
  }

  const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, {once: true});
    });
  }

  // ---------------------------------------------------------------- formatting

  function quoteArg(arg) {
    if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
    return `'${arg.replace(/'/g, `'\\''`)}'`;
  }

  function describeCommand(job) {
    if (Array.isArray(job.command)) return job.command.map(quoteArg).join(' ');
    if (typeof job.script === 'string') {
      const firstLine = job.script.split('\n').find((line) => line.trim() !== '') || '';
      return `${job.interpreter || 'sh'}: ${firstLine.trim()}`;
    }
    return '';
  }

  function formatLabels(labels) {
    if (!labels || typeof labels !== 'object') return [];
    return Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  }

  function formatTime(iso) {
    if (!iso) return '—';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    const sameDay = date.toDateString() === new Date().toDateString();
    return sameDay ? date.toLocaleTimeString() : date.toLocaleString();
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    const seconds = ms / 1000;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const s = Math.floor(seconds % 60).toString().padStart(2, '0');
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${s}s`;
    return `${Math.floor(minutes / 60)}h ${(minutes % 60).toString().padStart(2, '0')}m`;
  }

  function jobDuration(job) {
    if (typeof job.duration_ms === 'number' && FINAL_STATES.has(job.state)) return job.duration_ms;
    if (job.state === 'running' && job.started_at) return Date.now() - new Date(job.started_at).getTime();
    return typeof job.duration_ms === 'number' ? job.duration_ms : null;
  }

  function formatSignal(signal) {
    if (signal === null || signal === undefined || signal === 0 || signal === '') return '';
    return SIGNAL_NAMES[signal] || (typeof signal === 'string' ? signal : `signal ${signal}`);
  }

  function formatExit(job) {
    const signal = formatSignal(job.signal);
    // A job ended by a signal has no exit code; its status is then 128+N, as `tend run` reports it.
    let status = job.exit_code;
    if ((status === null || status === undefined) && signal) status = job.exit_status;
    const code = status === null || status === undefined ? '' : String(status);
    if (code && signal) return `${code} (${signal})`;
    return code || signal || '—';
  }

  function formatBytes(n) {
    if (typeof n !== 'number') return '—';
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  const stateText = (state) => (state || 'unknown').replace('_', ' ');

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
    return body;
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

  // ---------------------------------------------------------------- views and routing

  let currentView = null;  // {controller: AbortController}

  function parseRoute() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const job = hash.match(/^\/jobs\/([^/?]+)$/);
    if (job) return {name: 'job', id: decodeURIComponent(job[1])};
    const query = new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '');
    return {name: 'jobs', state: query.get('state') || '', label: query.get('label') || ''};
  }

  function route() {
    currentView?.controller.abort();
    const controller = new AbortController();
    currentView = {controller};
    if (!getToken()) {
      askForToken('missing');
    } else if (!authBlocked || blockReason === 'missing') {
      // A token that appeared meanwhile ends a 'missing' prompt.
      unblock();
    }
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
  window.addEventListener('storage', (event) => {
    // Another tab saved a token: try it here too.
    if (event.key === TOKEN_KEY && event.newValue && authBlocked) {
      unblock();
      route();
    }
  });

  // ---------------------------------------------------------------- jobs list

  const listState = {limit: LIST_PAGE, refresh: null};

  function filterHash() {
    const query = new URLSearchParams();
    if ($('state-filter').value) query.set('state', $('state-filter').value);
    if ($('label-filter').value.trim()) query.set('label', $('label-filter').value.trim());
    const text = query.toString();
    return text ? `#/?${text}` : '#/';
  }

  function applyFilters() {
    listState.limit = LIST_PAGE;
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
  $('show-more').addEventListener('click', () => {
    listState.limit = Math.min(500, listState.limit + LIST_PAGE);
    listState.refresh?.();
  });

  function listQuery() {
    const query = new URLSearchParams({limit: String(listState.limit)});
    if ($('state-filter').value) query.set('state', $('state-filter').value);
    for (const item of $('label-filter').value.split(/[\s,]+/).filter(Boolean)) {
      // The API's form is key:value; the page also accepts key=value, the form labels are typed in.
      const eq = item.indexOf('=');
      const colon = item.indexOf(':');
      query.append('label', eq > 0 && (colon < 0 || eq < colon) ? `${item.slice(0, eq)}:${item.slice(eq + 1)}` : item);
    }
    return query.toString();
  }

  function createJobRow(id) {
    const row = document.createElement('tr');
    row.dataset.id = id;
    const cells = ['id', 'state', 'command', 'labels', 'started', 'duration', 'exit'].map((name) => {
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
    const [, stateCell, commandCell, labelsCell, startedCell, durationCell, exitCell] = row.cells;
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
    setText(exitCell, formatExit(job));
  }

  // Updates rows in place, so a live refresh neither flickers nor steals keyboard focus.
  function renderJobs(jobs, nextCursor) {
    const body = $('jobs-body');
    const existing = new Map([...body.rows].map((row) => [row.dataset.id, row]));
    jobs.forEach((job, index) => {
      const row = existing.get(job.id) || createJobRow(job.id);
      existing.delete(job.id);
      updateJobRow(row, job);
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
    });
    for (const row of existing.values()) row.remove();

    const filtered = Boolean($('state-filter').value || $('label-filter').value.trim());
    const empty = $('jobs-empty');
    empty.hidden = jobs.length > 0;
    setText(empty, filtered ? 'No jobs match these filters.' : 'No jobs yet. Submit one above.');
    $('show-more').hidden = !nextCursor || listState.limit >= 500;
  }

  async function showJobs(target, signal) {
    $('state-filter').value = target.state;
    $('label-filter').value = target.label;
    updateModeFields();
    updateArgvPreview();
    document.title = 'Jobs — tend agent';
    let wake = null;
    listState.refresh = () => wake?.();
    const status = $('jobs-status');
    while (!signal.aborted) {
      try {
        const data = await request(`/v1/jobs?${listQuery()}`, {signal});
        if (signal.aborted) break;
        renderJobs(Array.isArray(data?.jobs) ? data.jobs : [], data?.next_cursor);
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

  function addDetail(list, term, value, options = {}) {
    if (value === undefined || value === null || value === '') return;
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    if (options.code) {
      const code = document.createElement(options.block ? 'pre' : 'code');
      code.textContent = value;
      dd.append(code);
    } else {
      dd.textContent = value;
    }
    if (options.title) dd.title = options.title;
    list.append(dt, dd);
  }

  function renderJobDetails(job) {
    setBadge($('job-state'), job.state);
    $('cancel-button').hidden = FINAL_STATES.has(job.state);
    if (FINAL_STATES.has(job.state) && $('job-status').textContent.startsWith('Cancel requested')) {
      setText($('job-status'), '');
    }
    const list = document.createElement('dl');
    list.id = 'job-details';
    list.className = 'details';
    if (Array.isArray(job.command)) {
      addDetail(list, 'Command', job.command.map(quoteArg).join(' '), {code: true});
    } else {
      addDetail(list, 'Interpreter', job.interpreter, {code: true});
      addDetail(list, 'Script', job.script, {code: true, block: true});
    }
    addDetail(list, 'Exit code', formatExit(job));
    addDetail(list, 'Error', job.error);
    addDetail(list, 'Created', formatTime(job.created_at), {title: job.created_at});
    addDetail(list, 'Started', job.started_at && formatTime(job.started_at), {title: job.started_at});
    addDetail(list, 'Finished', job.finished_at && formatTime(job.finished_at), {title: job.finished_at});
    addDetail(list, 'Duration', job.started_at ? formatDuration(jobDuration(job)) : '');
    if (typeof job.cpu_user_ms === 'number' || typeof job.cpu_system_ms === 'number') {
      addDetail(list, 'CPU', `${formatDuration(job.cpu_user_ms ?? 0)} user, ${formatDuration(job.cpu_system_ms ?? 0)} system`);
    }
    if (typeof job.peak_memory_bytes === 'number' && job.peak_memory_bytes > 0) {
      addDetail(list, 'Peak memory', formatBytes(job.peak_memory_bytes));
    }
    if (job.oom_killed) addDetail(list, 'Out of memory', `${job.reason || ''} (${job.oom_kills} killed by the OOM killer)`.trim());
    if (typeof job.peak_processes === 'number') addDetail(list, 'Peak processes', String(job.peak_processes));
    if (typeof job.output_bytes === 'number') {
      const dropped = job.output_dropped_bytes ? `, ${formatBytes(job.output_dropped_bytes)} dropped` : '';
      addDetail(list, 'Output', `${formatBytes(job.output_bytes)}${dropped}`);
    }
    if (job.leftovers_killed) addDetail(list, 'Leftover processes killed', String(job.leftovers_killed));
    addDetail(list, 'Timeout', job.timeout === undefined || job.timeout === null ? '' : String(job.timeout));
    addDetail(list, 'Kill after', job.kill_after === undefined || job.kill_after === null ? '' : String(job.kill_after));
    addDetail(list, 'Working directory', job.cwd, {code: true});
    addDetail(list, 'User', job.user);
    addDetail(list, 'Labels', formatLabels(job.labels).join(', '));
    const env = job.env && typeof job.env === 'object' ? Object.entries(job.env) : [];
    if (env.length) addDetail(list, 'Environment', env.map(([k, v]) => `${k}=${v}`).join('\n'), {code: true, block: true});
    $('job-details').replaceWith(list);
  }

  // The output pane keeps a bounded tail and follows the end unless the reader scrolled up.
  function makeOutputPane() {
    const pre = $('output');
    pre.textContent = '';
    $('output-note').hidden = true;
    let shown = '';
    return {
      append(text) {
        if (!text) return;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
        shown += text;
        if (shown.length > OUTPUT_MAX_CHARS * 1.25) {
          shown = shown.slice(-OUTPUT_MAX_CHARS);
          pre.textContent = shown;
          this.note('Earlier output is not shown.');
        } else {
          pre.append(text);
        }
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      },
      note(text) {
        setText($('output-note'), text);
        $('output-note').hidden = false;
      },
    };
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
            pane.append(event.data);
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
        while (!ended) {
          const {done, value} = await reader.read();
          if (done) break;
          parse(decoder.decode(value, {stream: true}));
        }
        if (ended) {
          reader.cancel().catch(() => {});
          if (!sawOutput && offset === 0) setText($('output'), '(no output)');
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
    document.title = `Job ${id} — tend agent`;
    setText($('job-title'), `Job ${id}`);
    $('job-title').focus();
    $('job-state').textContent = '';
    $('job-state').className = 'badge';
    $('cancel-button').hidden = true;
    $('cancel-button').disabled = false;
    $('cancel-button').textContent = 'Cancel job';
    $('job-details').replaceChildren();
    const status = $('job-status');
    status.classList.remove('error');
    setText(status, 'Loading…');
    setText($('output-status'), '');
    const pane = makeOutputPane();

    let latest = null;
    const loadJob = async () => {
      const job = await request(jobPath(id), {signal});
      if (!signal.aborted) {
        latest = job;
        renderJobDetails(job);
      }
      return job;
    };

    $('cancel-button').onclick = async () => {
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
      pane.note(`Showing the last ${formatBytes(OUTPUT_TAIL_BYTES)} of ${formatBytes(latest.output_bytes)}.`);
    }
    followOutput(id, startOffset, pane, (job) => {
      if (signal.aborted || !job || job.id !== id) return;
      latest = job;
      renderJobDetails(job);
    }, signal).then(() => {
      // The end event comes with the final state; one more load brings the final figures.
      if (!signal.aborted) loadJob().catch(() => {});
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

  route();
})();

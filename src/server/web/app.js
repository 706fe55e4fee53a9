// The fleet's web page, served by `tend server`: the machines, a form that runs a command or a
// script on the machines a target picks, the jobs, and a job's page with one row per machine and
// each machine's output. page.js (the token, requests, words for times, sizes and exits) and
// output.js (a terminal's rendering of the output) are shared with the agent's page and loaded
// first. Plain DOM, no framework, no build step: the server embeds this file.
// User data only ever reaches the page through textContent, never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tend.fleet.token';
  const POLL_MS = 1500;     // machines, jobs, a job's rows
  const OUTPUT_MS = 700;    // a shown output asks for what follows its offset this often
  const RETRY_MS = 1000;
  const OUTPUT_MAX_CHARS = 256 * 1024;  // what one pane keeps on screen
  const {ApiError, sleep, FINAL_STATES: FINAL, describeCommand, formatLabels, formatTime, formatDuration,
         formatSeconds, formatBytes, formatExit, stateText} = window.TendPage;

  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };

  // ---------------------------------------------------------------- token and requests

  const api = window.TendPage.createApi({peer: 'server', tokenKey: TOKEN_KEY, onSaved: () => route()});
  const request = api.request;
  const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------------- formatting

  const labelsText = (labels) => formatLabels(labels).join(' ');
  function formatAgo(iso) {
    const d = Date.parse(iso);
    if (Number.isNaN(d)) return '—';
    const s = Math.max(0, Math.round((Date.now() - d) / 1000));
    if (s < 5) return 'just now';
    if (s < 120) return `${s} s ago`;
    if (s < 7200) return `${Math.round(s / 60)} min ago`;
    return formatTime(iso);
  }
  function runDuration(run) {
    if (!run.started_at) return null;
    const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
    return end - Date.parse(run.started_at);
  }
  function badge(state) {
    const b = el('span', stateText(state), `badge state-${state}`);
    b.dataset.state = state || '';
    return b;
  }

  // ---------------------------------------------------------------- the target
  // The same rules as the server's (src/fleet/target): names must all be known machines (online or
  // not); a selector (KEY=VALUE,…) and `all` pick every ONLINE machine with all those labels.
  // Returns {target, names} or {error}.

  function parseTarget(text, machines) {
    const t = text.trim();
    if (!t) return {error: 'Enter all, machine names (a,b) or labels (role=web).'};
    const online = machines.filter((m) => m.state === 'online');
    if (t === 'all' || t === '*') {
      return online.length ? {target: {all: true}, names: online.map((m) => m.name)}
                           : {error: 'No machine is online.'};
    }
    const parts = t.split(',').map((p) => p.trim());
    if (parts.some((p) => p === '')) return {error: 'An empty item between commas.'};
    const withEq = parts.filter((p) => p.includes('='));
    if (withEq.length && withEq.length !== parts.length) {
      return {error: 'Give either machine names or KEY=VALUE labels, not both.'};
    }
    if (withEq.length) {
      const match = {};
      for (const p of parts) {
        const i = p.indexOf('=');
        const k = p.slice(0, i).trim();
        const v = p.slice(i + 1).trim();
        if (!k) return {error: `"${p}": a label needs a key.`};
        if (k in match && match[k] !== v) return {error: `Label ${k} is given twice.`};
        match[k] = v;
      }
      const names = online.filter((m) => Object.entries(match).every(([k, v]) => (m.labels || {})[k] === v))
                          .map((m) => m.name);
      return names.length ? {target: {match}, names}
                          : {error: `No online machine has ${labelsText(match)}.`};
    }
    const known = new Set(machines.map((m) => m.name));
    const unknown = parts.filter((p) => !known.has(p));
    if (unknown.length) return {error: `No machine named ${unknown.join(', ')}.`};
    const names = [...new Set(parts)].sort();
    return {target: {machines: names}, names};
  }

  // ---------------------------------------------------------------- machines and jobs (#/)

  let machines = [];  // the last /v1/machines answer, for the target field

  function renderMachines(list) {
    machines = list;
    const body = $('machines-body');
    body.replaceChildren(...list.map((m) => {
      const tr = el('tr');
      tr.dataset.machine = m.name;
      tr.dataset.state = m.state;
      tr.append(el('td', m.name, 'name'), el('td', labelsText(m.labels), 'labels'));
      const st = el('td');
      st.append(badge(m.state));
      tr.append(st, el('td', m.state === 'online' ? 'now' : formatAgo(m.last_seen)),
                el('td', String(m.running ?? 0), 'num'), el('td', m.version || '—'));
      return tr;
    }));
    const up = list.filter((m) => m.state === 'online').length;
    $('machines-summary').textContent = `${list.length} machine${list.length === 1 ? '' : 's'}, ${up} online`;
    $('machines-empty').hidden = list.length > 0;
    updateTargetMatch();
  }

  function updateTargetMatch() {
    const out = $('target-match');
    const r = parseTarget($('target-input').value, machines);
    if (!$('target-input').value.trim()) {  // nothing typed yet: no complaint
      out.classList.remove('error');
      out.textContent = '';
      out.dataset.count = '0';
      return;
    }
    out.classList.toggle('error', !!r.error);
    out.textContent = r.error ||
        `matches ${r.names.length} machine${r.names.length === 1 ? '' : 's'}: ${r.names.join(', ')}`;
    out.dataset.count = r.error ? '0' : String(r.names.length);
  }

  function renderJobs(jobs) {
    $('jobs-body').replaceChildren(...jobs.map((j) => {
      const tr = el('tr');
      tr.dataset.job = j.id;
      const link = el('a', j.id);
      link.href = `#/jobs/${encodeURIComponent(j.id)}`;
      const idCell = el('td');
      idCell.append(link);
      const st = el('td');
      st.append(badge(j.state));
      const runs = j.runs || [];
      const done = runs.filter((r) => r.state === 'succeeded').length;
      tr.append(idCell, st, el('td', describeCommand(j), 'command'),
                el('td', `${runs.map((r) => r.machine).join(', ')} (${done}/${runs.length} succeeded)`),
                el('td', formatTime(j.created_at)));
      return tr;
    }));
    $('jobs-empty').hidden = jobs.length > 0;
  }

  async function showHome(signal) {
    document.title = 'tend fleet';
    // Machines and jobs, each polled while the view is shown.
    const loop = async (load, statusEl) => {
      while (!signal.aborted) {
        try {
          await load();  // which also rewrites statusEl
          statusEl.classList.remove('error');
        } catch (err) {
          if (signal.aborted) return;
          if (err.status !== 401) {
            statusEl.classList.add('error');
            statusEl.textContent = err.message;
          }
        }
        await sleep(POLL_MS, signal);
      }
    };
    loop(async () => renderMachines((await request('/v1/machines', {signal})).machines || []),
         $('machines-summary'));
    loop(async () => {
      renderJobs((await request('/v1/jobs?limit=50', {signal})).jobs || []);
      $('jobs-status').textContent = '';
    }, $('jobs-status'));
  }

  // A command line to argv: split on whitespace, '…' and "…" keep spaces, \ escapes in "…" and bare.
  function splitArgs(line) {
    const args = [];
    let cur = null;
    let quote = null;
    for (let i = 0; i < line.length; ++i) {
      const c = line[i];
      if (quote === "'") {
        if (c === "'") quote = null; else cur += c;
      } else if (c === '\\' && i + 1 < line.length && quote !== "'") {
        cur = (cur ?? '') + line[++i];
      } else if (quote === '"') {
        if (c === '"') quote = null; else cur += c;
      } else if (c === "'" || c === '"') {
        quote = c;
        cur = cur ?? '';
      } else if (/\s/.test(c)) {
        if (cur !== null) args.push(cur);
        cur = null;
      } else {
        cur = (cur ?? '') + c;
      }
    }
    if (quote) throw new Error(`Unclosed ${quote} quote.`);
    if (cur !== null) args.push(cur);
    return args;
  }

  function mode() { return document.querySelector('input[name=mode]:checked').value; }
  document.querySelectorAll('input[name=mode]').forEach((r) => r.addEventListener('change', () => {
    $('command-fields').hidden = mode() !== 'command';
    $('script-fields').hidden = mode() !== 'script';
  }));
  $('target-input').addEventListener('input', updateTargetMatch);

  $('submit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const status = $('submit-status');
    status.classList.remove('error');
    const fail = (msg) => { status.classList.add('error'); status.textContent = msg; };
    const t = parseTarget($('target-input').value, machines);
    if (t.error) return fail(`Target: ${t.error}`);
    const body = {target: t.target};
    if (mode() === 'command') {
      let argv;
      try { argv = splitArgs($('command-input').value); } catch (err) { return fail(err.message); }
      if (!argv.length) return fail('Enter a command.');
      body.command = argv;
    } else {
      if (!$('script-input').value.trim()) return fail('Enter a script.');
      body.script = $('script-input').value;
      body.interpreter = $('interpreter-select').value;
    }
    const timeout = $('timeout-input').value.trim();
    if (timeout) body.timeout = /^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : timeout;
    $('submit-button').disabled = true;
    status.textContent = 'Submitting…';
    try {
      const job = await request('/v1/jobs', {method: 'POST', body});
      status.textContent = `Job ${job.id} on ${(job.machines || []).join(', ')}.`;
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      fail(err.field ? `${err.field}: ${err.message}` : err.message);
    } finally {
      $('submit-button').disabled = false;
    }
  });

  // ---------------------------------------------------------------- one job (#/jobs/ID)
  // One row per machine. A machine's output is shown in a pane (one, or all side by side) that
  // asks GET …/runs/MACHINE/output?offset=N for what follows the bytes it has, until its run has
  // ended and nothing more comes.

  function makePane(jobId, machine, signal, runOf) {
    const pane = el('section', undefined, 'pane');
    pane.dataset.machine = machine;
    const head = el('div', undefined, 'pane-head');
    const title = el('h3', machine);
    const note = el('span', '', 'status');
    head.append(title, note);
    const pre = el('pre', '', 'output');
    pre.tabIndex = 0;
    pane.append(head, pre);
    // Drawn as a terminal shows it (ANSI colours, \r), in batches, bounded on screen (output.js).
    const view = window.TendOutput.createPane(pre, {maxChars: OUTPUT_MAX_CHARS});
    const decoder = new TextDecoder();
    let offset = 0;
    (async () => {
      while (!signal.aborted) {
        const run = runOf();
        const ended = run && FINAL.has(run.state);
        let got = 0;
        let read = false;
        try {
          const res = await request(`${jobPath(jobId)}/runs/${encodeURIComponent(machine)}/output?offset=${offset}`,
                                    {signal, raw: true});
          const bytes = new Uint8Array(await res.arrayBuffer());
          got = bytes.length;
          if (got) view.append(decoder.decode(bytes, {stream: true}), offset);
          offset += got;
          read = true;
          note.textContent = ended ? `${formatBytes(offset)}, complete` : `${formatBytes(offset)}, live`;
        } catch (err) {
          if (signal.aborted) return;
          note.textContent = err.status === 503 ? 'machine unreachable: its output is on it'
                                                : `retrying (${err.message})`;
        }
        // An ended run whose last read brought nothing has all its output here.
        if (ended && read && got === 0) {
          view.append(decoder.decode());
          view.flush();
          if (!offset) view.setText('(no output)');
          pane.dataset.complete = 'true';
          return;
        }
        await sleep(got ? 0 : (ended ? RETRY_MS : OUTPUT_MS), signal);
      }
    })();
    return pane;
  }

  async function showJob(id, signal) {
    document.title = `Job ${id} — tend fleet`;
    $('job-title').textContent = `Job ${id}`;
    $('job-state').replaceChildren();
    $('job-command').textContent = '';
    $('runs-body').replaceChildren();
    $('outputs').replaceChildren();
    $('outputs-hint').hidden = false;
    const status = $('job-status');
    status.textContent = 'Loading…';
    status.classList.remove('error');
    const cancel = $('cancel-button');
    cancel.hidden = true;
    cancel.disabled = false;

    let job = null;
    const panes = new Map();  // machine -> pane element
    const runOf = (m) => () => (job?.runs || []).find((r) => r.machine === m);

    const layout = () => {
      const order = (job?.runs || []).map((r) => r.machine).filter((m) => panes.has(m));
      $('outputs').replaceChildren(...order.map((m) => panes.get(m)));
      $('outputs').dataset.count = String(order.length);
      $('outputs-hint').hidden = order.length > 0;
      const all = job && panes.size === job.runs.length;
      $('show-all').textContent = all ? 'Hide all outputs' : 'All machines side by side';
      document.querySelectorAll('#runs-body button.toggle').forEach((b) => {
        b.textContent = panes.has(b.dataset.machine) ? 'Hide' : 'Show';
        b.setAttribute('aria-expanded', String(panes.has(b.dataset.machine)));
      });
    };
    const toggle = (m, on = !panes.has(m)) => {
      if (on && !panes.has(m)) {
        const ctl = new AbortController();
        signal.addEventListener('abort', () => ctl.abort(), {once: true});
        const pane = makePane(id, m, ctl.signal, runOf(m));
        pane.ctl = ctl;
        panes.set(m, pane);
      } else if (!on && panes.has(m)) {
        panes.get(m).ctl.abort();
        panes.delete(m);
      }
    };
    $('show-all').onclick = () => {
      if (!job) return;
      const all = panes.size === job.runs.length;
      job.runs.forEach((r) => toggle(r.machine, !all));
      layout();
    };

    const render = () => {
      const st = $('job-state');
      st.replaceChildren(badge(job.state));
      $('job-command').textContent = `${describeCommand(job)}${job.timeout ? `  (timeout ${formatSeconds(job.timeout)})` : ''}`;
      cancel.hidden = FINAL.has(job.state);
      $('runs-body').replaceChildren(...job.runs.map((r) => {
        const tr = el('tr');
        tr.dataset.machine = r.machine;
        tr.dataset.state = r.state;
        const st = el('td');
        st.append(badge(r.state));
        if (r.error) st.title = r.error;  // e.g. why a run is lost: its machine, how long away
        const b = el('button', panes.has(r.machine) ? 'Hide' : 'Show', 'secondary toggle');
        b.type = 'button';
        b.dataset.machine = r.machine;
        b.onclick = () => { toggle(r.machine); layout(); };
        const bc = el('td');
        bc.append(b);
        const exit = el('td', formatExit(r, job.timeout), 'num exit');
        if (r.error) exit.title = r.error;
        tr.append(el('td', r.machine, 'name'), st, exit, el('td', formatDuration(runDuration(r)), 'num'),
                  el('td', formatBytes(r.output_bytes), 'num'), bc);
        return tr;
      }));
    };

    cancel.onclick = async () => {
      const n = job.runs.filter((r) => !FINAL.has(r.state)).length;
      if (!window.confirm(`Cancel job ${id}? This stops its ${n} unfinished run${n === 1 ? '' : 's'} ` +
                          'and everything they started, on every machine.')) return;
      cancel.disabled = true;
      try {
        await request(`${jobPath(id)}/cancel`, {method: 'POST', signal});
        status.classList.remove('error');
        status.textContent = 'Cancel requested on every machine.';
      } catch (err) {
        if (signal.aborted) return;
        status.classList.toggle('error', err.status !== 409);
        status.textContent = err.status === 409 ? 'The job had already finished.' : `Could not cancel: ${err.message}`;
        cancel.disabled = false;
      }
    };

    let first = true;
    while (!signal.aborted) {
      try {
        job = await request(jobPath(id), {signal});
        if (signal.aborted) return;
        render();
        if (first) {
          // One machine: its output at once. More: the user picks, or shows them all.
          if (job.runs.length === 1) toggle(job.runs[0].machine, true);
          first = false;
        }
        layout();
        if (status.textContent === 'Loading…' || status.textContent.startsWith('Could not load')) {
          status.textContent = '';
          status.classList.remove('error');
        }
      } catch (err) {
        if (signal.aborted) return;
        status.classList.add('error');
        if (err.status === 404) { status.textContent = `There is no job ${id}.`; return; }
        if (err.status !== 401) status.textContent = `Could not load the job: ${err.message}`;
      }
      // Finished: the rows change no more (the panes finish on their own).
      if (job && FINAL.has(job.state) && job.runs.every((r) => FINAL.has(r.state))) return;
      await sleep(POLL_MS, signal);
    }
  }

  // ---------------------------------------------------------------- routing

  let current = null;
  function route() {
    current?.abort();
    current = new AbortController();
    if (!api.checkToken()) return;  // the prompt's onSaved routes again
    const m = location.hash.match(/^#\/jobs\/(.+)$/);
    $('home-view').hidden = !!m;
    $('job-view').hidden = !m;
    if (m) showJob(decodeURIComponent(m[1]), current.signal);
    else showHome(current.signal);
  }
  window.addEventListener('hashchange', route);
  route();
})();

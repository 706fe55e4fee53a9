// What the agent's page and the fleet's page share, loaded before each page's app.js (and after
// output.js where a page has it): the API token and the requests that carry it, and the words and
// units both pages use for commands, times, sizes and exits, so that one thing reads the same on
// both pages.
//
// The token is kept in this tab's sessionStorage: it survives a reload, not the tab. Any holder of
// the token can run anything as root on the machine (on every machine, for the fleet's token:
// docs/security.md), so the page does not keep it on disk beyond the tab. Plain DOM, no framework,
// no build step: both faces embed this file as it is.
'use strict';

window.TendPage = (() => {
  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, message, field) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, {once: true});
    });
  }

  // ---------------------------------------------------------------- token and requests

  // The token prompt (the page's #token-panel, #token-form, #token-input, #token-reason,
  // #token-cancel, #change-token, #main, #connection) and request(), which waits while the prompt
  // is up, carries the token, and brings the prompt back on a 401.
  //   peer: the other side's name in messages ('agent', 'server').
  //   onShown(blocked) / onHidden(): what else the page hides or shows with the prompt.
  //   onSaved(): a token was entered (the page reloads its view).
  function createApi({peer, tokenKey, onShown = () => {}, onHidden = () => {}, onSaved = () => {}}) {
    let memoryToken = '';  // when the browser refuses sessionStorage (policies, some private modes)
    let blocked = false;   // requests wait: no token, or a rejected one
    let blockReason = '';
    const waiters = [];

    function getToken() {
      try {
        return sessionStorage.getItem(tokenKey) || memoryToken;
      } catch {
        return memoryToken;
      }
    }

    function setToken(token) {
      memoryToken = token;
      try {
        sessionStorage.setItem(tokenKey, token);
      } catch {
        // memoryToken keeps the page working for this tab.
      }
    }

    function askForToken(reason) {
      const messages = {
        missing: `This page needs the ${peer}'s API token.`,
        rejected: `The ${peer} rejected the saved token (401 Unauthorized). Enter the current one.`,
        change: 'Enter a new token.',
      };
      const wasShown = !$('token-panel').hidden;
      blocked = reason !== 'change';
      if (blocked) blockReason = reason;
      $('token-reason').textContent = messages[reason];
      $('token-cancel').hidden = reason !== 'change';
      $('token-panel').hidden = false;
      $('change-token').hidden = true;
      if (blocked) $('main').hidden = true;
      onShown(blocked);
      // A second 401 from a request already in flight must not wipe what the user is typing.
      if (!wasShown) {
        $('token-input').value = '';
        $('token-input').focus();
      }
    }

    function hidePrompt() {
      $('token-panel').hidden = true;
      $('change-token').hidden = false;
      $('main').hidden = false;
      onHidden();
    }

    function whenAuthorized(signal) {
      if (!blocked) return Promise.resolve();
      return new Promise((resolve) => {
        waiters.push(resolve);
        signal?.addEventListener('abort', resolve, {once: true});
      });
    }

    function unblock() {
      blocked = false;
      hidePrompt();
      waiters.splice(0).forEach((resolve) => resolve());
    }

    // Called as a view opens: asks for a token if there is none (false); a token that appeared
    // meanwhile ends a 'missing' prompt.
    function checkToken() {
      if (!getToken()) {
        askForToken('missing');
        return false;
      }
      if (!blocked || blockReason === 'missing') unblock();
      return true;
    }

    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) return;
      setToken(token);
      unblock();
      onSaved();
    });
    $('token-cancel').addEventListener('click', hidePrompt);
    $('change-token').addEventListener('click', () => askForToken('change'));

    function setConnection(ok) {
      const status = $('connection');
      status.textContent = ok ? '' : `${capitalize(peer)} unreachable — retrying`;
      status.classList.toggle('offline', !ok);
    }

    // fetch() with the token; throws ApiError on any non-2xx answer with the peer's own message
    // ({"error": {"field", "message"}}). raw: the Response itself (for output bytes).
    async function request(path, {method = 'GET', body, signal, raw = false, headers: extra = {}} = {}) {
      await whenAuthorized(signal);
      signal?.throwIfAborted();
      const headers = {...extra, Authorization: `Bearer ${getToken()}`};
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
        throw new ApiError(0, `Cannot reach the ${peer} (${err.message}).`);
      }
      setConnection(true);
      if (response.status === 401) {
        askForToken('rejected');
        throw new ApiError(401, `The ${peer} rejected the token.`);
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

    return {request, checkToken};
  }

  const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  // ---------------------------------------------------------------- words and units

  const FINAL_STATES = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
  const SIGNAL_NAMES = {
    1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
    9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM',
    15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
  };

  const isSet = (v) => v !== null && v !== undefined && v !== '';

  function quoteArg(arg) {
    if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
    return `'${arg.replace(/'/g, `'\\''`)}'`;
  }

  // Control characters made visible for display (\e for ESC, \n, \r, \t, \xNN): an argument
  // holding escape sequences reads as what it is, not as boxes.
  const CONTROL_NAMES = {'\x1b': '\\e', '\n': '\\n', '\r': '\\r', '\t': '\\t'};
  const showControls = (text) => text.replace(/[\x00-\x1f\x7f]/g,
    (c) => CONTROL_NAMES[c] || `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

  function describeCommand(job) {
    if (Array.isArray(job.command)) return showControls(job.command.map(quoteArg).join(' '));
    if (typeof job.script === 'string') {
      const firstLine = job.script.split('\n').find((line) => line.trim() !== '') || '';
      return `${job.interpreter || 'sh'}: ${showControls(firstLine.trim())}`;
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

  // Seconds as the API gives them (timeout, kill_after) with a unit: 2 → "2s", 0.5 → "500ms".
  function formatSeconds(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
    if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
    if (seconds < 60 || seconds % 60) return `${+seconds.toFixed(3)}s`;
    if (seconds < 3600 || seconds % 3600) return `${seconds / 60}m`;
    return `${seconds / 3600}h`;
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

  function formatSignal(signal) {
    if (signal === null || signal === undefined || signal === 0 || signal === '') return '';
    return SIGNAL_NAMES[signal] || (typeof signal === 'string' ? signal : `signal ${signal}`);
  }

  // How a job (or a fleet run) ended in a few words, as `tend run` would report it: the exit
  // status (N, 128+N for a signal, 124/137 for a timeout, 126/127 when the command could not start)
  // and why. `timeout`: the job's, in seconds (a run carries none of its own).
  function formatExit(end, timeout = end.timeout) {
    const signal = formatSignal(end.signal);
    const status = isSet(end.exit_status) ? end.exit_status : end.exit_code;
    const code = isSet(status) ? String(status) : '';
    if (end.state === 'timed_out') {
      const after = formatSeconds(timeout);
      return [`timed out${after ? ` after ${after}` : ''}`, signal && `(${signal})`, code && `· ${code}`]
        .filter(Boolean).join(' ');
    }
    if (end.error && code && !isSet(end.exit_code) && !signal) return `${code} (could not start)`;
    if (code && signal) return `${code} (${signal})`;
    return code || signal || (end.error && FINAL_STATES.has(end.state) ? 'error' : '—');
  }

  const stateText = (state) => (state || 'unknown').replace('_', ' ');

  return {
    ApiError, sleep, createApi, FINAL_STATES, isSet, quoteArg, showControls, describeCommand,
    formatLabels, formatTime, formatDuration, formatSeconds, formatBytes, formatSignal, formatExit,
    stateText,
  };
})();

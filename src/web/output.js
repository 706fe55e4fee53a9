// A job's output as a terminal would show it: SGR colours (30–37, 90–97, bold, reset; every other
// escape sequence is dropped), `\r` returning to the start of the line (a progress bar overwrites
// itself), `\b` stepping back. Each finished line is one <span class="ln"> ending in "\n", so the
// pane's textContent is the text a terminal would leave, and search works line by line.
// Text only ever reaches the DOM as text nodes. Each line knows the byte offset of its first byte
// (data-off), so it can show when that byte arrived (data-ts, drawn by CSS before the line: the
// text, search and copy stay the output's own).
'use strict';

window.TendOutput = (() => {
  const ESC = '\x1b';
  const FLUSH_MS = 50;
  const BATCH = 64 * 1024;

  // Terminal state carried across chunks: the open line (one style per cell), the cursor, the
  // current SGR style, and an escape sequence cut by the chunk boundary.
  class AnsiLines {
    constructor() {
      this.chars = [];
      this.styles = [];
      this.col = 0;
      this.style = '';
      this.fg = null;
      this.bold = false;
      this.pending = '';
    }

    setStyle(params) {
      const codes = params === '' ? [0] : params.split(';').map((p) => (p === '' ? 0 : Number(p)));
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        if (c === 0) {
          this.fg = null;
          this.bold = false;
        } else if (c === 1) this.bold = true;
        else if (c === 22) this.bold = false;
        else if (c >= 30 && c <= 37) this.fg = c - 30;
        else if (c >= 90 && c <= 97) this.fg = c - 90 + 8;
        else if (c === 39) this.fg = null;
        else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : 4;  // 256/true colour: skipped
      }
      const classes = [];
      if (this.fg !== null) classes.push(`a-fg${this.fg}`);
      if (this.bold) classes.push('a-b');
      this.style = classes.join(' ');
    }

    put(ch) {
      this.chars[this.col] = ch;
      this.styles[this.col] = this.style;
      this.col++;
    }

    // Length of the escape sequence at text[i] (which is ESC), or -1 if the text ends inside it.
    escapeLength(text, i) {
      if (i + 1 >= text.length) return -1;
      const kind = text[i + 1];
      if (kind === '[') {  // CSI: parameters, then a final byte @..~
        for (let j = i + 2; j < text.length; j++) {
          const code = text.charCodeAt(j);
          if (code >= 0x40 && code <= 0x7e) return j - i + 1;
        }
        return -1;
      }
      if (kind === ']') {  // OSC: ends with BEL or ESC \
        for (let j = i + 2; j < text.length; j++) {
          if (text[j] === '\x07') return j - i + 1;
          if (text[j] === ESC && j + 1 < text.length && text[j + 1] === '\\') return j - i + 2;
        }
        return -1;
      }
      return 2;
    }

    // Feeds text; calls onLine(cells) for each finished line. The open line stays in this.chars.
    feed(text, onLine) {
      text = this.pending + text;
      this.pending = '';
      for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (ch === '\n') {
          onLine(this.takeLine());
        } else if (ch === '\r') {
          this.col = 0;
        } else if (ch === '\b') {
          this.col = Math.max(0, this.col - 1);
        } else if (ch === ESC) {
          const n = this.escapeLength(text, i);
          if (n < 0) {
            this.pending = text.slice(i);
            break;
          }
          if (text[i + 1] === '[' && text[i + n - 1] === 'm') this.setStyle(text.slice(i + 2, i + n - 1));
          i += n - 1;
        } else if (ch === '\t' || ch >= ' ') {
          this.put(ch);
        }
      }
    }

    takeLine() {
      const line = {chars: this.chars, styles: this.styles};
      this.chars = [];
      this.styles = [];
      this.col = 0;
      return line;
    }
  }

  // Bytes `text` takes in UTF-8 (what the agent's offsets count).
  function utf8Length(text) {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  // Appends the runs of one line (cells of equal style joined) to `parent`.
  function renderCells(parent, {chars, styles}, tail = '') {
    let start = 0;
    for (let i = 1; i <= chars.length; i++) {
      if (i < chars.length && styles[i] === styles[start]) continue;
      const text = chars.slice(start, i).join('');
      if (styles[start]) {
        const span = document.createElement('span');
        span.className = styles[start];
        span.textContent = text;
        parent.append(span);
      } else if (text) {
        parent.append(text);
      }
      start = i;
    }
    if (tail) parent.append(tail);
  }

  // The output pane: a bounded number of characters on screen, follows the end unless the reader
  // scrolled up, and a search that marks matching lines.
  // `timeAt(offset)`: the text to show before a line starting at that byte, or null while not
  // known yet (then `onUnstamped` is called after the batch, to fetch more times).
  function createPane(pre, {maxChars, onTrim, onMatches, timeAt, onUnstamped}) {
    const term = new AnsiLines();
    const open = document.createElement('span');
    open.className = 'ln open';
    pre.replaceChildren(open);
    let shownChars = 0;
    let skipToNewline = false;
    let query = '';
    let current = -1;
    let stamped = false;
    // Byte offsets: `pos` is where the next appended text starts; `starts` holds the start of
    // every line queued but not drawn yet, the open line's first.
    let pos = 0;
    let starts = [];
    let startsHead = 0;
    const takeStart = () => {
      const start = starts[startsHead++];
      if (startsHead > 4096) {
        starts = starts.slice(startsHead);
        startsHead = 0;
      }
      return start;
    };

    // Gives `line` its time if it has none and it is known; false if it is still unknown.
    function stamp(line) {
      if (!stamped || line.dataset.ts !== undefined || line.dataset.off === undefined) return true;
      if (line === open && !open.firstChild) return true;  // nothing arrived yet on this line
      const ts = timeAt?.(Number(line.dataset.off));
      if (ts === null || ts === undefined) return false;
      line.dataset.ts = ts;
      return true;
    }

    function restamp(all) {
      if (all) for (const line of pre.querySelectorAll('.ln[data-ts]')) delete line.dataset.ts;
      let unknown = false;
      for (const line of pre.querySelectorAll('.ln:not([data-ts])')) unknown = !stamp(line) || unknown;
      if (unknown) onUnstamped?.();
    }

    const lineMatches = (el) => query !== '' && el.textContent.toLowerCase().includes(query);
    const hits = () => [...pre.querySelectorAll('.ln.hit')];

    function report() {
      const all = hits();
      onMatches?.(query ? all.length : null, current);
    }

    let queue = [];
    let timer = 0;

    function flush() {
      timer = 0;
      let text = queue.join('');
      queue = [];
      if (!text) return;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
      let trimmed = false;
      // What would be trimmed at once is never drawn: it only moves the terminal's state on.
      if (text.length > maxChars) {
        term.feed(text.slice(0, text.length - maxChars), takeStart);
        text = text.slice(text.length - maxChars);
        pre.replaceChildren(open);
        shownChars = 0;
        trimmed = true;
      }
      // At most BATCH characters drawn per task; the rest comes next task.
      if (text.length > BATCH) {
        queue = [text.slice(BATCH)];
        text = text.slice(0, BATCH);
        timer = setTimeout(flush, 0);
      }
      const fragment = document.createDocumentFragment();
      let found = false;
      let unknown = false;
      term.feed(text, (cells) => {
        const line = document.createElement('span');
        line.className = 'ln';
        const start = takeStart();
        if (start !== undefined) line.dataset.off = start;
        unknown = !stamp(line) || unknown;
        renderCells(line, cells, '\n');
        shownChars += cells.chars.length + 1;
        if (lineMatches(line)) {
          line.classList.add('hit');
          found = true;
        }
        fragment.append(line);
      });
      pre.insertBefore(fragment, open);
      open.replaceChildren();
      renderCells(open, term);
      if (starts[startsHead] !== undefined && open.dataset.off !== String(starts[startsHead])) {
        open.dataset.off = starts[startsHead];
        delete open.dataset.ts;
      }
      unknown = !stamp(open) || unknown;
      if (unknown) onUnstamped?.();
      open.classList.toggle('hit', lineMatches(open));
      // Trimmed down to maxChars once past 1.25×: the DOM work comes in batches.
      if (shownChars > maxChars * 1.25) {
        while (shownChars > maxChars && pre.firstChild !== open) {
          shownChars -= pre.firstChild.textContent.length;
          pre.firstChild.remove();
          trimmed = true;
        }
      }
      if (trimmed) onTrim?.();
      if (found || trimmed) report();
      if (atBottom && current < 0) pre.scrollTop = pre.scrollHeight;
    }

    return {
      // Starting in the middle of the output: the first, partial line is not shown.
      startMidway() {
        skipToNewline = true;
      },
      // Queues text; it reaches the screen at most every FLUSH_MS, in one batch, so a fast writer
      // costs one layout per batch rather than one per chunk (10 MB written at full speed froze
      // the tab for 4.6 s when every chunk was rendered as it came).
      // `at`: the byte offset of the text's first byte (else: right after the previous text).
      append(text, at) {
        if (!text) return;
        if (typeof at === 'number') pos = at;
        if (skipToNewline) {
          const nl = text.indexOf('\n');
          const skipped = nl < 0 ? text : text.slice(0, nl + 1);
          pos += utf8Length(skipped);
          if (nl < 0) return;
          text = text.slice(nl + 1);
          skipToNewline = false;
          if (!text) return;
        }
        if (startsHead >= starts.length) starts.push(pos);  // the first line's start
        // Per character, so the offsets stay right whatever the lines hold.
        for (let i = text.indexOf('\n'), from = 0; i >= 0; from = i + 1, i = text.indexOf('\n', from)) {
          pos += utf8Length(text.slice(from, i + 1));
          starts.push(pos);
        }
        pos += utf8Length(text.slice(text.lastIndexOf('\n') + 1));
        queue.push(text);
        if (!timer) timer = setTimeout(flush, FLUSH_MS);
      },
      // Renders what is queued now (the stream ended: the text on screen must be complete).
      flush() {
        do {
          clearTimeout(timer);
          flush();
        } while (queue.length);
        clearTimeout(timer);
        timer = 0;
      },
      search(text) {
        query = text.toLowerCase();
        current = -1;
        for (const line of pre.querySelectorAll('.ln')) {
          line.classList.toggle('hit', lineMatches(line));
          line.classList.remove('current');
        }
        report();
      },
      // Moves to the next (or previous) match and scrolls it into view.
      next(step = 1) {
        const all = hits();
        if (!all.length) return;
        all[current]?.classList.remove('current');
        current = (current + step + all.length) % all.length;
        all[current].classList.add('current');
        const top = all[current].offsetTop;  // the pane is position: relative, the lines' offsetParent
        pre.scrollTop = Math.max(0, top - pre.clientHeight / 3);
        report();
      },
      // The byte offset after all text appended so far.
      offset() {
        return pos;
      },
      // Shows or hides each line's time; showing fills in the times now known.
      showTimes(on) {
        stamped = on;
        pre.classList.toggle('stamped', on);
        if (on) restamp();
      },
      // New times are known: lines still without one get theirs (`all`: every line again).
      restamp(all = false) {
        if (stamped) restamp(all);
      },
      setText(text) {
        clearTimeout(timer);
        queue = [];
        pre.replaceChildren(open);
        open.replaceChildren(text);
      },
    };
  }

  return {AnsiLines, createPane, utf8Length};
})();

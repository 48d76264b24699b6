// Small DOM helpers. Text always goes in through textContent, never as markup: job
// steps, results and errors are whatever a client or a handler wrote, and must show as
// text, not run as code.

export function $(id) {
  return document.getElementById(id);
}

/** A new element with a class and text; children are appended in order. */
export function el(tag, { className = '', text = null, title = null } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  if (title !== null) node.title = title;
  node.append(...children);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function setText(id, text) {
  $(id).textContent = text;
}

export function formatTime(iso) {
  if (!iso) return '—';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleString();
}

/** Compact, for table cells: the time alone for today, else a short date and time. */
export function formatShortTime(iso) {
  if (!iso) return '—';
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  if (when.toDateString() === new Date().toDateString()) return when.toLocaleTimeString();
  return when.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

export function formatPct(pct) {
  return `${Math.floor(Number(pct) || 0)}%`;
}

/** A badge for a job status; the class picks its colour. */
export function statusBadge(status) {
  return el('span', { className: `status status-${status}`, text: status });
}

export function progressBar(pct) {
  const bar = el('progress');
  bar.max = 100;
  bar.value = Number(pct) || 0;
  return bar;
}

/** Whether `link` points into this origin: only such links become hrefs. */
export function sameOrigin(link) {
  try {
    return new URL(link, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

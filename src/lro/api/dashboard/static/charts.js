// The last hour as two small SVG charts, drawn here (no chart library): jobs finished per
// minute (completed and failed stacked, cancelled on top) and the p50 / p95 durations of
// the completed ones, from GET /stats/timeline (the store's figures, so every API process
// draws the same). Colours come from CSS classes: the CSP allows no style attributes.

import { ApiError, Unauthorized } from './api.js';
import { $, setText, show } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 120;
const READ_EVERY_MS = 10_000;

let lastRead = 0;

function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

function chart(label) {
  const title = svgEl('title');
  title.textContent = label;
  return svgEl('svg', {
    viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label,
  }, title);
}

/** Round a maximum up to 1, 2 or 5 × 10^n, so the axis label is a plain number. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

export function formatSeconds(s) {
  if (s === null || s === undefined) return '—';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 100) return `${Number(s.toFixed(1))} s`;
  return `${Math.round(s)} s`;
}

function throughputChart(buckets) {
  const top = niceMax(Math.max(...buckets.map((b) => b.completed + b.failed + b.cancelled)));
  const svg = chart(`Jobs finished per minute, up to ${top}`);
  const width = W / buckets.length;
  buckets.forEach((b, i) => {
    let y = H;
    for (const kind of ['completed', 'failed', 'cancelled']) {
      if (!b[kind]) continue;
      const h = (b[kind] / top) * H;
      y -= h;
      const bar = svgEl('rect', {
        x: i * width + 0.5, y, width: Math.max(width - 1, 0.5), height: h, class: `bar-${kind}`,
      });
      bar.dataset.count = String(b[kind]);
      const tip = svgEl('title');
      tip.textContent = `${b.start}: ${b[kind]} ${kind}`;
      bar.append(tip);
      svg.append(bar);
    }
  });
  return { svg, top: String(top) };
}

function durationChart(buckets) {
  const top = niceMax(Math.max(0, ...buckets.map((b) => b.p95_seconds ?? 0)));
  const svg = chart(`p50 and p95 duration, up to ${formatSeconds(top)}`);
  const width = W / buckets.length;
  for (const key of ['p95_seconds', 'p50_seconds']) {
    // One polyline per run of buckets with a figure: an empty minute is a gap.
    let run = [];
    const flush = () => {
      if (run.length === 1) run.push([run[0][0] + width / 2, run[0][1]]);
      if (run.length) {
        svg.append(svgEl('polyline', {
          points: run.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '),
          class: `line-${key.slice(0, 3)}`,
        }));
      }
      run = [];
    };
    buckets.forEach((b, i) => {
      if (b[key] === null || b[key] === undefined) return flush();
      run.push([i * width + width / 2, H - (b[key] / top) * (H - 2) - 1]);
      return undefined;
    });
    flush();
  }
  return { svg, top: formatSeconds(top) };
}

function summary(buckets) {
  const sum = (kind) => buckets.reduce((n, b) => n + b[kind], 0);
  const done = sum('completed');
  const failed = sum('failed');
  const cancelled = sum('cancelled');
  const worst = Math.max(0, ...buckets.map((b) => b.p95_seconds ?? 0));
  const parts = [`${done + failed + cancelled} finished`, `${done} completed`, `${failed} failed`,
    `${cancelled} cancelled`];
  if (done) parts.push(`worst minute's p95 ${formatSeconds(worst)}`);
  return parts.join(' · ');
}

function draw(body) {
  const buckets = body.buckets;
  const throughput = throughputChart(buckets);
  const durations = durationChart(buckets);
  $('chart-throughput').replaceChildren(throughput.svg);
  $('chart-durations').replaceChildren(durations.svg);
  setText('chart-throughput-max', throughput.top);
  setText('chart-durations-max', durations.top);
  setText('timeline-summary', summary(buckets));
  show($('timeline-charts'), true);
  show($('timeline-note'), false);
}

/** Read and draw the charts at most every 10 s (or now, with `force`). */
export async function loadTimeline(api, { force = false } = {}) {
  if (!force && Date.now() - lastRead < READ_EVERY_MS) return;
  lastRead = Date.now();
  let body;
  try {
    body = await api.get('/stats/timeline?window=3600&bucket=60');
  } catch (error) {
    if (error instanceof Unauthorized || !(error instanceof ApiError) || !error.status) throw error;
    show($('timeline-charts'), false);
    setText('timeline-note', error.status === 501
      ? 'Charts are not available on this store.'
      : error.message);
    show($('timeline-note'), true);
    return;
  }
  draw(body);
}

export function resetTimeline() {
  lastRead = 0;
}

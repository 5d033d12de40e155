/**
 * The latency-over-time plot as a self-contained SVG: one mark per completed op at its invoke
 * time (log-scale latency), coloured by op function, shaped by outcome (dot ok, ring fail, cross
 * info), over shaded nemesis windows. Pure string rendering.
 */
import type { LatencyPoint } from './op-stats.js';

/** A shaded window on the plot. */
export interface PlotWindow {
  readonly from: number;
  readonly to: number;
  readonly kind: string;
  readonly label: string;
}

/** Inputs of `renderLatencyPlot`. */
export interface PlotInput {
  readonly title: string;
  /** The x axis: from `fromMs` (default 0) to `toMs`, in the points' time base; labels count seconds from `fromMs`. */
  readonly fromMs?: number;
  readonly toMs: number;
  readonly points: readonly LatencyPoint[];
  readonly windows: readonly PlotWindow[];
  /** At most this many ok marks are drawn (evenly thinned); fail and info marks are always drawn. Default 15 000. */
  readonly maxOkPoints?: number;
}

const W = 1100;
const H = 480;
const M = { left: 70, right: 190, top: 40, bottom: 50 };
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#bcbd22', '#7f7f7f', '#e377c2', '#ff7f0e', '#d62728'];
const NEMESIS_COLORS: Record<string, string> = { kill: '#d62728', pause: '#9467bd', partition: '#ff7f0e', 'rolling-restart': '#8c564b', slow: '#17becf', membership: '#393b79', 'client-kill': '#e377c2' };

/** Escapes text for SVG. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** A "nice" tick step for a range, e.g. 5, 10, 20, 50 s. */
export function niceStep(range: number, target = 10): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

/** Renders the plot; see the file comment. */
export function renderLatencyPlot(input: PlotInput): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const from = input.fromMs ?? 0;
  const span = Math.max(1, input.toMs - from);
  const durS = span / 1000;
  const x = (ms: number): number => M.left + (Math.min(Math.max(ms - from, 0), span) / span) * plotW;
  let minLat = 1;
  let maxLat = 10;
  for (const p of input.points) {
    minLat = Math.min(minLat, Math.max(p.latencyMs, 0.1));
    maxLat = Math.max(maxLat, p.latencyMs);
  }
  const lo = Math.floor(Math.log10(minLat));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(maxLat)));
  const y = (ms: number): number => M.top + plotH - ((Math.log10(Math.max(ms, 0.1)) - lo) / (hi - lo)) * plotH;

  const fs = [...new Set(input.points.map((p) => p.f))].sort();
  const color = (f: string): string => PALETTE[fs.indexOf(f) % PALETTE.length] ?? '#000';
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="14" font-weight="bold">${xmlEscape(input.title)}</text>`);

  // Nemesis windows.
  for (const w of input.windows) {
    const c = NEMESIS_COLORS[w.kind] ?? '#999';
    const x0 = x(w.from);
    const x1 = Math.max(x0 + 1, x(w.to));
    out.push(`<rect x="${fmt(x0)}" y="${M.top}" width="${fmt(x1 - x0)}" height="${plotH}" fill="${c}" fill-opacity="0.13"><title>${xmlEscape(w.label)}</title></rect>`);
    out.push(`<text x="${fmt(x0 + 2)}" y="${M.top + 10}" font-size="9" fill="${c}">${xmlEscape(w.kind)}</text>`);
  }

  // Axes and grid.
  out.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  const step = niceStep(durS);
  for (let s = 0; s <= durS + 1e-9; s += step) {
    const px = fmt(x(from + s * 1000));
    out.push(`<line x1="${px}" y1="${M.top + plotH}" x2="${px}" y2="${M.top + plotH + 4}" stroke="#333"/>`);
    out.push(`<text x="${px}" y="${M.top + plotH + 16}" text-anchor="middle">${fmt(s)}</text>`);
  }
  out.push(`<text x="${M.left + plotW / 2}" y="${H - 12}" text-anchor="middle">time since the workload started (s)</text>`);
  for (let e = lo; e <= hi; e++) {
    const py = fmt(y(10 ** e));
    out.push(`<line x1="${M.left}" y1="${py}" x2="${M.left + plotW}" y2="${py}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${10 ** e >= 1 ? fmt(10 ** e) : (10 ** e).toString()}</text>`);
  }
  out.push(`<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms, log)</text>`);

  // Points: thin the ok ones evenly if there are too many.
  const maxOk = input.maxOkPoints ?? 15_000;
  const okCount = input.points.filter((p) => p.outcome === 'ok').length;
  const every = okCount > maxOk ? Math.ceil(okCount / maxOk) : 1;
  let okSeen = 0;
  for (const p of input.points) {
    if (p.at < from || p.at > input.toMs) continue;
    if (p.outcome === 'ok' && okSeen++ % every !== 0) continue;
    const px = fmt(x(p.at));
    const py = fmt(y(p.latencyMs));
    const c = color(p.f);
    if (p.outcome === 'ok') out.push(`<circle cx="${px}" cy="${py}" r="1.6" fill="${c}" fill-opacity="0.6"/>`);
    else if (p.outcome === 'fail') out.push(`<circle cx="${px}" cy="${py}" r="3" fill="none" stroke="${c}"/>`);
    else out.push(`<path d="M${px} ${py}m-3 -3l6 6m0 -6l-6 6" stroke="${c}" stroke-width="1.5"/>`);
  }

  // Legend.
  const lx = W - M.right + 16;
  let ly = M.top + 6;
  out.push(`<text x="${lx}" y="${ly}" font-weight="bold">ops</text>`);
  for (const f of fs) {
    ly += 16;
    out.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="4" fill="${color(f)}"/><text x="${lx + 14}" y="${ly}">${xmlEscape(f)}</text>`);
  }
  ly += 24;
  out.push(`<text x="${lx}" y="${ly}" font-weight="bold">outcome</text>`);
  ly += 16;
  out.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="2" fill="#333"/><text x="${lx + 14}" y="${ly}">ok</text>`);
  ly += 16;
  out.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="3" fill="none" stroke="#333"/><text x="${lx + 14}" y="${ly}">fail</text>`);
  ly += 16;
  out.push(`<path d="M${lx + 5} ${ly - 4}m-3 -3l6 6m0 -6l-6 6" stroke="#333" stroke-width="1.5"/><text x="${lx + 14}" y="${ly}">info (unknown)</text>`);
  const kinds = [...new Set(input.windows.map((w) => w.kind))];
  if (kinds.length > 0) {
    ly += 24;
    out.push(`<text x="${lx}" y="${ly}" font-weight="bold">nemesis</text>`);
    for (const k of kinds) {
      ly += 16;
      out.push(`<rect x="${lx}" y="${ly - 10}" width="10" height="10" fill="${NEMESIS_COLORS[k] ?? '#999'}" fill-opacity="0.35"/><text x="${lx + 14}" y="${ly}">${xmlEscape(k)}</text>`);
    }
  }
  if (every > 1) out.push(`<text x="${M.left}" y="${M.top - 6}" font-size="9" fill="#666">ok marks thinned 1 in ${every}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

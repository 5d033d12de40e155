/**
 * Rendering of results (pure): one markdown table per workload variant with each system's figures
 * and the ratio of Latch to the best peer per figure, and the JSON document of the same.
 */
import { SYSTEM_LABELS, type Better, type Figure, type SystemId, type VariantResult } from './types.js';

/** The best peer's value of a figure: the highest for `higher`, the lowest otherwise; null if none. */
export function bestPeerValue(better: Better, peers: readonly (number | null)[]): number | null {
  const vals = peers.filter((v): v is number => v !== null && Number.isFinite(v));
  if (vals.length === 0) return null;
  return better === 'higher' ? Math.max(...vals) : Math.min(...vals);
}

/**
 * Latch / best peer for one figure, or null when it means nothing: a missing value, a best of 0,
 * or a `zero` figure (violations, expiries), which is judged by being 0, not by a ratio.
 */
export function latchRatio(better: Better, latch: number | null, best: number | null): number | null {
  if (better === 'zero' || latch === null || best === null || best === 0) return null;
  return latch / best;
}

/** A number for a table cell: integers as is, otherwise 3 significant digits (at most 2 decimals past 100). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A ratio cell, e.g. `1.25×`; `—` for none. */
export function formatRatio(r: number | null): string {
  return r === null ? '—' : `${r.toFixed(2)}×`;
}

const ARROWS: Readonly<Record<Better, string>> = { higher: '↑', lower: '↓', zero: '= 0' };

function figureOf(outcome: VariantResult['outcomes'][SystemId], key: string): Figure | undefined {
  return outcome?.type === 'ok' ? outcome.figures.find((f) => f.key === key) : undefined;
}

function cell(outcome: VariantResult['outcomes'][SystemId], key: string): string {
  if (outcome === undefined) return 'not run';
  if (outcome.type === 'skipped') return 'skipped';
  if (outcome.type === 'failed') return 'failed';
  const f = figureOf(outcome, key);
  return f === undefined || f.value === null ? '—' : formatNumber(f.value);
}

/** The figures of a variant in first-seen order across systems. */
function rowsOf(v: VariantResult, systems: readonly SystemId[]): Figure[] {
  const rows: Figure[] = [];
  for (const s of systems) {
    const o = v.outcomes[s];
    if (o?.type !== 'ok') continue;
    for (const f of o.figures) if (!rows.some((r) => r.key === f.key)) rows.push(f);
  }
  return rows;
}

/** Ratios (Latch / best peer) of every figure of a variant, keyed by figure key. */
export function variantRatios(v: VariantResult, systems: readonly SystemId[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const peers = systems.filter((s) => s !== 'latch');
  for (const row of rowsOf(v, systems)) {
    const latch = systems.includes('latch') ? (figureOf(v.outcomes.latch, row.key)?.value ?? null) : null;
    const best = bestPeerValue(row.better, peers.map((s) => figureOf(v.outcomes[s], row.key)?.value ?? null));
    out[row.key] = latchRatio(row.better, latch, best);
  }
  return out;
}

/** The markdown table of one workload variant, with the notes and skip/failure reasons under it. */
export function renderVariant(v: VariantResult, systems: readonly SystemId[]): string {
  const rows = rowsOf(v, systems);
  const ratios = variantRatios(v, systems);
  const head = ['figure', 'better', ...systems.map((s) => SYSTEM_LABELS[s]), 'Latch / best peer'];
  const lines = [
    `### ${v.title}`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${['---', ':-:', ...systems.map(() => '---:'), '---:'].join(' | ')} |`,
  ];
  if (rows.length === 0) lines.push(`| (no figures) | | ${systems.map((s) => cell(v.outcomes[s], '')).join(' | ')} | — |`);
  for (const row of rows) {
    const label = row.unit ? `${row.label} (${row.unit})` : row.label;
    lines.push(`| ${[label, ARROWS[row.better], ...systems.map((s) => cell(v.outcomes[s], row.key)), formatRatio(ratios[row.key] ?? null)].join(' | ')} |`);
  }
  const notes: string[] = [];
  for (const s of systems) {
    const o = v.outcomes[s];
    if (o === undefined) continue;
    if (o.type === 'skipped') notes.push(`${SYSTEM_LABELS[s]} skipped: ${o.reason}`);
    else if (o.type === 'failed') notes.push(`${SYSTEM_LABELS[s]} failed: ${o.error}`);
    else for (const n of o.notes ?? []) notes.push(`${SYSTEM_LABELS[s]}: ${n}`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

/** Run facts printed above the tables and stored in the JSON. */
export interface RunInfo {
  readonly startedAt: string;
  readonly machine: string;
  readonly quick: boolean;
  readonly settings: Partial<Record<SystemId, string>>;
  readonly versions: Partial<Record<SystemId, string>>;
}

/** The whole markdown report: run facts, then one table per variant. */
export function renderReport(info: RunInfo, results: readonly VariantResult[], systems: readonly SystemId[]): string {
  const lines = [
    `## Lock benchmark ${info.quick ? '(quick) ' : ''}— ${info.startedAt}`,
    '',
    `Machine: ${info.machine}. Ratios compare systems within this one run; they are not absolute promises.`,
    '',
  ];
  for (const s of systems) {
    const bits = [info.versions[s], info.settings[s]].filter((x) => x !== undefined && x.length > 0);
    if (bits.length > 0) lines.push(`- ${SYSTEM_LABELS[s]}: ${bits.join('; ')}`);
  }
  for (const v of results) lines.push('', renderVariant(v, systems));
  return lines.join('\n') + '\n';
}

/** The JSON document written under bench/results/. */
export function resultsJson(info: RunInfo, results: readonly VariantResult[], systems: readonly SystemId[]): unknown {
  return {
    ...info,
    systems,
    variants: results.map((v) => ({ ...v, ratios: variantRatios(v, systems) })),
  };
}

/**
 * The run report: the progress line printed while a run goes, and the final text report
 * (ops ok/fail/info per function, nemesis events, the verdict table, `linearizable:`) and its
 * JSON form. Pure.
 */
import { assertNever } from '../../../src/common/assert.js';
import { renderSessionLeases } from '../checker/session-lease.js';
import type { CheckRow, RunVerdict } from './checks.js';
import type { NemesisEvent } from './nemesis.js';
import type { OpCounts } from './op-stats.js';
import type { RunOptions } from './options.js';
import type { Handover } from './lease-check.js';

/** Everything the report shows. */
export interface RunReport {
  readonly options: RunOptions;
  /** Wall-clock start, ISO 8601 (informational). */
  readonly startedAt: string;
  /** How long the workload ran, ms. */
  readonly durationMs: number;
  readonly resultsDir: string;
  readonly network: { readonly kind: string; readonly stats: Readonly<Record<string, number>> };
  readonly ops: ReadonlyArray<readonly [string, Readonly<OpCounts>]>;
  readonly totals: Readonly<OpCounts>;
  readonly nemesis: readonly NemesisEvent[];
  /** Node exits the harness did not cause, one line each. */
  readonly crashes: readonly string[];
  /** The configuration after the final heal, when membership changes were enabled; null otherwise. */
  readonly membership: string | null;
  /** The leader a majority agreed on within 20 s of the final heal; null when there was none (the cluster did not recover). */
  readonly leaderAfterHeal: string | null;
  /** Client processes the harness killed on purpose. */
  readonly clientKills: number;
  readonly handovers: readonly Handover[];
  readonly verdict: RunVerdict;
  /** Seconds the checkers took. */
  readonly checkSeconds: number;
}

function mark(v: boolean | 'unknown' | null): string {
  return v === true ? 'PASS' : v === false ? 'FAIL' : v === null ? 'n/a' : 'UNKNOWN';
}

function table(rows: readonly (readonly string[])[], rightAlign: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (rightAlign.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The one-line progress report, e.g. `[  25s/120s] ops 1234 (ok 1000 fail 200 info 34) | nemesis: … | leader n1`. */
export function formatProgress(p: { readonly elapsedMs: number; readonly totalMs: number; readonly totals: Readonly<OpCounts>; readonly completed: number; readonly nemesis: string; readonly leader: string | undefined }): string {
  const t = `${Math.round(p.elapsedMs / 1000)}s/${Math.round(p.totalMs / 1000)}s`.padStart(9);
  const { ok, fail, info } = p.totals;
  return `[${t}] ops ${p.completed} (ok ${ok} fail ${fail} info ${info}) | nemesis: ${p.nemesis} | leader ${p.leader ?? 'none'}`;
}

/** The text report. */
export function renderReport(r: RunReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(`Latch Jepsen run ${r.startedAt}`);
  lines.push(
    `workload ${o.workload}, ${o.nodes} nodes (${r.network.kind} network), ${o.clients} clients, ${secs(r.durationMs)}, seed ${o.seed}, nemeses ${o.nemeses.length ? o.nemeses.join(',') : 'none'}`,
  );
  lines.push(`session TTL ${o.sessionTtlMs} ms, lock-delay ${o.lockDelayMs} ms, heartbeat ${o.heartbeatMs} ms, election timeout ${o.electionTimeoutMs} ms, snapshot every ${o.snapshotThreshold} entries`);
  lines.push(`results: ${r.resultsDir}`);
  lines.push('');
  lines.push(...table([['op', 'ok', 'fail', 'info'], ...r.ops.map(([f, c]) => [f, String(c.ok), String(c.fail), String(c.info + c.open)]), ['total', String(r.totals.ok), String(r.totals.fail), String(r.totals.info + r.totals.open)]], new Set([1, 2, 3])));
  lines.push('');
  const applied = r.nemesis.filter((e) => !e.skipped);
  const kinds = new Map<string, number>();
  for (const e of applied) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  lines.push(`nemesis events: ${applied.length}${kinds.size ? ` (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}${r.clientKills ? `; client processes killed: ${r.clientKills}` : ''}`);
  for (const e of r.nemesis) {
    const span = `${secs(e.startedAt)}-${e.healedAt === null ? '…' : secs(e.healedAt)}`;
    lines.push(`  #${e.episode} ${span.padEnd(13)} ${e.planned}: ${e.description}`);
    if (e.healDescription !== null) lines.push(`  ${''.padEnd(String(e.episode).length + 15)} heal: ${e.healDescription}`);
    if (e.healError !== null) lines.push(`  ${''.padEnd(String(e.episode).length + 15)} !! heal failed: ${e.healError}`);
  }
  if (r.membership !== null) lines.push(`membership after the final heal: ${r.membership}`);
  lines.push(`leader after the final heal: ${r.leaderAfterHeal ?? 'NONE within 20 s (the cluster did not recover)'}`);
  if (r.handovers.length > 0) {
    const waits = r.handovers.filter((h) => h.nextGrantAt !== null).map((h) => (h.nextGrantAt as number) - h.killedAt);
    const max = waits.length ? Math.max(...waits) : 0;
    const mean = waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : 0;
    lines.push(`killed holders: ${r.handovers.length}; lock handed over after ${waits.length} of them, mean ${Math.round(mean)} ms, max ${Math.round(max)} ms after the kill (TTL ${o.sessionTtlMs} + lock-delay ${o.lockDelayMs} ms)`);
  }
  const sl = r.verdict.results.sessionLease;
  if (sl !== null && sl.valid) lines.push(renderSessionLeases(sl));
  const net = Object.entries(r.network.stats);
  if (net.length) lines.push(`network: ${net.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push('');
  lines.push(...renderVerdictRows(r.verdict.rows));
  lines.push('');
  lines.push(`linearizable: ${r.verdict.linearizable === null ? 'n/a' : String(r.verdict.linearizable)}`);
  lines.push(`verdict: ${mark(r.verdict.valid)} (checked in ${r.checkSeconds.toFixed(1)} s)`);
  for (const row of r.verdict.rows) if (row.valid !== true && row.details) lines.push('', `${row.name}:`, row.details);
  return `${lines.join('\n')}\n`;
}

/** The verdict table: check, checker, result, summary. */
export function renderVerdictRows(rows: readonly CheckRow[]): string[] {
  return table([['check', 'checker', 'result', 'summary'], ...rows.map((c) => [c.name, c.checker, mark(c.valid), c.summary])]);
}

/** The report as JSON text (Infinity becomes null). */
export function reportJson(r: RunReport): string {
  const verdict = { valid: r.verdict.valid, linearizable: r.verdict.linearizable, rows: r.verdict.rows.map(({ details: _d, ...row }) => row) };
  const body = { ...r, verdict, results: summarizeResults(r.verdict) };
  return `${JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

function summarizeResults(v: RunVerdict): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, res] of v.results.checkers) {
    switch (res.type) {
      case 'linearizability':
        out[name] = { type: res.type, model: res.model, valid: res.valid, ops: res.ops, steps: res.steps, partitions: res.partitions.map((p) => ({ partition: p.partition, valid: p.valid, ops: p.ops })), failure: res.failure };
        break;
      case 'fencing':
        out[name] = { type: res.type, valid: res.valid, findings: res.findings.length, sections: res.sections.length, overlaps: res.overlaps.length, writes: res.writes };
        break;
      case 'election':
        out[name] = { type: res.type, valid: res.valid, findings: res.findings.length, grants: res.grants, observers: res.observers };
        break;
      default:
        assertNever(res, 'checker result');
    }
  }
  out.leases = { ...v.results.lease, handovers: v.results.lease.handovers.length };
  const sl = v.results.sessionLease;
  out.sessionLeases = sl === null ? null : { ...sl, violations: sl.violations.slice(0, 100), withinDrift: sl.withinDrift.slice(0, 100) };
  return out;
}

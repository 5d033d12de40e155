/**
 * The lease checker: what the SDK promises about a lock's `held` flag, and what the cluster
 * promises about a dead holder's locks (DESIGN §3, §4). Holders record `held {name, token, at}`
 * proofs, where `at` is taken (on the shared monotonic clock) just before reading `lock.held`
 * as true; grants are `enter` / `campaign` ops completing ok with a token; an `exit` invoked with
 * `killed: true` marks a holder the harness SIGKILLed. Findings (each definite):
 *
 * - `held-after-newer-grant`: a proof of token a at time T, although a grant of the same lock with
 *   a higher token had completed before T: the SDK said "held" after the lock was given away.
 * - `lock-delay-violated`: a SIGKILLed holder proved token a at time P, yet a grant of that lock
 *   with a higher token completed before P + lock-delay. (Its session can expire no earlier than
 *   its local lease, which outlived P, and the lock then stays in lock-delay.)
 *
 * For each killed holder it also reports how long the lock took to change hands. Pure.
 */
import { HistoryError, pairHistory, type History } from '../checker/index.js';

/** One definite lease violation. */
export type LeaseFinding =
  | {
      readonly type: 'held-after-newer-grant';
      readonly name: string;
      readonly token: number;
      /** The proof's time. */
      readonly at: number;
      readonly newerToken: number;
      /** When the newer grant's ok was recorded. */
      readonly grantedAt: number;
    }
  | {
      readonly type: 'lock-delay-violated';
      readonly name: string;
      readonly token: number;
      readonly lastProofAt: number;
      readonly killedAt: number;
      readonly newerToken: number;
      readonly grantedAt: number;
      /** The earliest time a new grant was allowed: last proof + lock-delay. */
      readonly allowedAt: number;
    };

/** How a killed holder's lock changed hands. */
export interface Handover {
  readonly name: string;
  readonly token: number;
  readonly killedAt: number;
  readonly lastProofAt: number | null;
  /** When the next grant of the lock completed; null if none did before the end. */
  readonly nextGrantAt: number | null;
}

/** The lease checker's verdict. */
export interface LeaseResult {
  readonly type: 'lease';
  readonly valid: boolean;
  readonly findings: readonly LeaseFinding[];
  readonly proofs: number;
  readonly grants: number;
  readonly handovers: readonly Handover[];
}

interface Grant {
  readonly token: number;
  readonly at: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function field(v: unknown, k: string): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
}

/** Checks leases; `lockDelayMs` is the cluster's lock-delay. Throws HistoryError on a malformed history. */
export function checkLeases(history: History, opts: { readonly lockDelayMs: number; readonly grantFs?: readonly string[] }): LeaseResult {
  const grantFs = new Set(opts.grantFs ?? ['enter', 'campaign']);
  const grants = new Map<string, Grant[]>();
  const proofs: Array<{ name: string; token: number; at: number }> = [];
  const killed: Array<{ name: string; token: number; at: number }> = [];
  for (const p of pairHistory(history)) {
    const name = field(p.invoke.value, 'name');
    if (typeof name !== 'string') continue;
    if (grantFs.has(p.f) && p.outcome === 'ok' && p.completion) {
      const token = num(field(p.completion.value, 'token'));
      if (token === undefined) throw new HistoryError(`${p.f} ok value needs a numeric token`, { index: p.completion.index });
      let list = grants.get(name);
      if (!list) grants.set(name, (list = []));
      list.push({ token, at: p.completion.time });
    } else if (p.f === 'held') {
      const token = num(field(p.invoke.value, 'token'));
      const at = num(field(p.invoke.value, 'at'));
      if (token === undefined || at === undefined) throw new HistoryError('held needs a numeric token and at', { index: p.invoke.index });
      proofs.push({ name, token, at });
    } else if (p.f === 'exit' && field(p.invoke.value, 'killed') === true) {
      const token = num(field(p.invoke.value, 'token'));
      if (token === undefined) throw new HistoryError('exit needs a numeric token', { index: p.invoke.index });
      killed.push({ name, token, at: p.invoke.time });
    }
  }

  // Per lock: grants by completion time, with the running maximum token.
  const timeline = new Map<string, { at: number[]; best: Grant[] }>();
  for (const [name, list] of grants) {
    list.sort((a, b) => a.at - b.at);
    const best: Grant[] = [];
    let top: Grant | undefined;
    for (const g of list) {
      if (top === undefined || g.token > top.token) top = g;
      best.push(top);
    }
    timeline.set(name, { at: list.map((g) => g.at), best });
  }
  const highestBefore = (name: string, t: number): Grant | undefined => {
    const tl = timeline.get(name);
    if (!tl) return undefined;
    let lo = 0;
    let hi = tl.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((tl.at[mid] ?? Infinity) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : tl.best[lo - 1];
  };

  const findings: LeaseFinding[] = [];
  for (const pr of proofs) {
    const g = highestBefore(pr.name, pr.at);
    if (g !== undefined && g.token > pr.token) findings.push({ type: 'held-after-newer-grant', name: pr.name, token: pr.token, at: pr.at, newerToken: g.token, grantedAt: g.at });
  }

  const lastProof = new Map<string, number>();
  for (const pr of proofs) {
    const k = `${pr.name}\u0000${pr.token}`;
    lastProof.set(k, Math.max(lastProof.get(k) ?? -Infinity, pr.at));
  }
  const handovers: Handover[] = [];
  for (const k of killed) {
    const last = lastProof.get(`${k.name}\u0000${k.token}`);
    const next = (grants.get(k.name) ?? []).filter((g) => g.token > k.token).sort((a, b) => a.at - b.at)[0];
    handovers.push({ name: k.name, token: k.token, killedAt: k.at, lastProofAt: last ?? null, nextGrantAt: next?.at ?? null });
    if (last !== undefined && next !== undefined && next.at < last + opts.lockDelayMs) {
      findings.push({ type: 'lock-delay-violated', name: k.name, token: k.token, lastProofAt: last, killedAt: k.at, newerToken: next.token, grantedAt: next.at, allowedAt: last + opts.lockDelayMs });
    }
  }
  const grantCount = [...grants.values()].reduce((n, l) => n + l.length, 0);
  return { type: 'lease', valid: findings.length === 0, findings, proofs: proofs.length, grants: grantCount, handovers };
}

const SHOWN = 20;

/** One line per finding (at most 20) after a summary line. */
export function renderLeases(r: LeaseResult): string {
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  const lines = [`leases: ${r.valid ? 'ok' : `${r.findings.length} violation(s)`} (${r.proofs} proofs, ${r.grants} grants, ${r.handovers.length} killed holder(s))`];
  for (const f of r.findings.slice(0, SHOWN)) {
    if (f.type === 'held-after-newer-grant') lines.push(`  ${f.name}: token ${f.token} reported held at ${ms(f.at)}, after token ${f.newerToken} was granted at ${ms(f.grantedAt)}`);
    else lines.push(`  ${f.name}: holder of token ${f.token} (last proof ${ms(f.lastProofAt)}, killed ${ms(f.killedAt)}) replaced by token ${f.newerToken} at ${ms(f.grantedAt)}, before lock-delay allowed (${ms(f.allowedAt)})`);
  }
  if (r.findings.length > SHOWN) lines.push(`  … ${r.findings.length - SHOWN} more`);
  return lines.join('\n');
}

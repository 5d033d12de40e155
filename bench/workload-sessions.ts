/**
 * Workload 4, sessions: S sessions opened and then held by keepalive (every TTL / 3) for a fixed
 * time. The sessions live in session-holder child processes of at most 5 000 sessions each (a
 * ZooKeeper session is a connection, and one process may have only so many). Figures: leader RSS
 * (max over the hold) and CPU (mean over the hold), keepalives/s served, spurious expiries (must
 * be 0), and sessions opened per second.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { asFromHolder, type ToHolder } from './holder-protocol.js';
import { cpuPercent, sampleProcess, type ProcSample } from './proc-stats.js';
import { trackPid, untrackPid } from './processes.js';
import { sleep } from './timeout.js';
import type { Figure, SessionCounters, SystemOutcome } from './types.js';
import type { WorkloadEnv } from './workload-env.js';

/** Most sessions one holder process keeps. */
export const SESSIONS_PER_HOLDER = 5_000;
/** A holder silent for longer than this was starved of CPU: its sessions' keepalives were late too. */
const STALL_NOTE_MS = 3_000;

const HOLDER = resolve(import.meta.dirname, 'session-holder.ts');
const REPO = resolve(import.meta.dirname, '..');

/** Splits `total` sessions into holder shards of at most `per` (pure). */
export function shardSizes(total: number, per = SESSIONS_PER_HOLDER): number[] {
  if (!Number.isSafeInteger(total) || total <= 0) throw new RangeError(`session count must be a positive integer, got ${total}`);
  const n = Math.ceil(total / per);
  const base = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => base + (i < total % n ? 1 : 0));
}

interface Holder {
  readonly child: ChildProcess;
  counters: SessionCounters;
  /** `performance.now()` of its last message, and the longest silence between two while measuring. */
  lastHeard: number;
  longestSilence: number;
  /** Resolved by the next counters the holder sends. */
  waiting: ((c: SessionCounters) => void)[];
  opened: boolean;
  error: string | undefined;
  readonly exit: Promise<void>;
}

/** The numeric counters. */
type CountKey = 'opened' | 'keepalives' | 'expiries' | 'openErrors';

function sum(hs: readonly Holder[], k: CountKey): number {
  return hs.reduce((a, h) => a + h.counters[k], 0);
}

function startHolder<H>(env: WorkloadEnv<H>, count: number): Holder {
  const child = fork(HOLDER, [], { cwd: REPO, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (child.pid !== undefined) trackPid(child.pid);
  const h: Holder = {
    child,
    counters: { opened: 0, keepalives: 0, expiries: 0, openErrors: 0 },
    lastHeard: performance.now(),
    longestSilence: 0,
    waiting: [],
    opened: false,
    error: undefined,
    exit: new Promise<void>((r) =>
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) untrackPid(child.pid);
        if (h.error === undefined && (!h.opened || code !== 0)) h.error = `holder exited early (code ${code}, signal ${signal})`;
        r();
      }),
    ),
  };
  child.on('message', (raw: unknown) => {
    const msg = asFromHolder(raw);
    if (msg === undefined) return;
    const now = performance.now();
    h.longestSilence = Math.max(h.longestSilence, now - h.lastHeard);
    h.lastHeard = now;
    switch (msg.type) {
      case 'progress':
      case 'closed':
        h.counters = msg.counters;
        for (const w of h.waiting.splice(0)) w(msg.counters);
        break;
      case 'opened':
        h.counters = msg.counters;
        h.opened = true;
        break;
      case 'error':
        h.error = msg.message;
        break;
    }
  });
  const start: ToHolder = { type: 'start', system: env.system, endpoints: env.cluster.endpoints, count, ttlMs: env.config.sessionTtlMs };
  child.send(start);
  return h;
}

/** Fresh counters from every holder (each answers a `report` at once); the sum of `k`. */
async function freshSum(hs: readonly Holder[], k: CountKey): Promise<number> {
  const all = await Promise.all(
    hs.map(
      (h) =>
        new Promise<SessionCounters>((res) => {
          h.waiting.push(res);
          h.child.send({ type: 'report' } satisfies ToHolder);
        }),
    ),
  );
  return all.reduce((a, c) => a + c[k], 0);
}

async function stopHolders(hs: readonly Holder[]): Promise<void> {
  for (const h of hs) if (h.child.connected) h.child.send({ type: 'close' } satisfies ToHolder);
  const all = Promise.all(hs.map((h) => h.exit));
  const timedOut = await Promise.race([all.then(() => false), sleep(60_000).then(() => true)]);
  if (timedOut) for (const h of hs) if (h.child.exitCode === null && h.child.pid !== undefined) process.kill(h.child.pid, 'SIGKILL');
  await all;
}

/** Runs the sessions workload with `total` sessions. */
export async function runSessions<H>(env: WorkloadEnv<H>, total: number): Promise<SystemOutcome> {
  const holders = shardSizes(total).map((n) => startHolder(env, n));
  const notes: string[] = [];
  try {
    // 1. Open every session.
    const openStart = performance.now();
    let lastLog = openStart;
    const openLimitMs = 120_000 + total * 10;
    while (!holders.every((h) => h.opened)) {
      const failed = holders.find((h) => h.error !== undefined);
      if (failed) throw new Error(`session holder failed: ${failed.error}`);
      if (performance.now() - openStart > openLimitMs) {
        const first = holders.map((h) => h.counters.firstOpenError).find((e) => e !== undefined);
        throw new Error(`only ${sum(holders, 'opened')} of ${total} sessions opened in ${openLimitMs} ms${first ? `; first error: ${first}` : ''}`);
      }
      await sleep(50);
      if (performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        env.log(`opening: ${sum(holders, 'opened')}/${total} sessions${sum(holders, 'openErrors') ? `, ${sum(holders, 'openErrors')} errors` : ''}`);
      }
    }
    const openMs = performance.now() - openStart;
    const opened = sum(holders, 'opened');
    if (opened < total) notes.push(`${total - opened} sessions failed to open; first error: ${holders.map((h) => h.counters.firstOpenError).find((e) => e !== undefined) ?? 'unknown'}`);

    // 2. Hold them; measure the leader.
    const leader = await env.cluster.leader();
    await sleep(1000); // let the first round of keepalives after the opening pass
    const first = sampleProcess(leader.pid);
    if (first === null) throw new Error(`leader ${leader.id} (pid ${leader.pid}) is gone`);
    const holdStart = performance.now();
    for (const h of holders) h.longestSilence = 0;
    const [ka0, server0] = await Promise.all([freshSum(holders, 'keepalives'), env.cluster.serverKeepalives?.()]);
    let maxRss = first.rssBytes;
    let last: ProcSample = first;
    lastLog = holdStart;
    while (performance.now() - holdStart < env.config.sessionHoldMs) {
      await sleep(Math.min(1000, env.config.sessionHoldMs - (performance.now() - holdStart)));
      const s = sampleProcess(leader.pid);
      if (s === null) throw new Error(`leader ${leader.id} (pid ${leader.pid}) died during the hold`);
      maxRss = Math.max(maxRss, s.rssBytes);
      last = s;
      const failed = holders.find((h) => h.error !== undefined);
      if (failed) throw new Error(`session holder failed: ${failed.error}`);
      if (performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        env.log(
          `holding ${total} sessions ${((lastLog - holdStart) / 1000).toFixed(0)}/${(env.config.sessionHoldMs / 1000).toFixed(0)} s: leader RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MiB, CPU ${cpuPercent(first, s).toFixed(0)} %, ${sum(holders, 'expiries')} expiries`,
        );
      }
    }
    const holdEnd = performance.now();
    const [ka1, server1] = await Promise.all([freshSum(holders, 'keepalives'), env.cluster.serverKeepalives?.()]);
    const countedS = (holdEnd - holdStart) / 1000;
    const rate = server0 !== undefined && server1 !== undefined ? (server1 - server0) / countedS : (ka1 - ka0) / countedS;
    notes.push(server0 !== undefined ? 'keepalives/s counted on the servers' : 'keepalives/s counted by the client library (acknowledged keepalives)');
    const stall = Math.max(...holders.map((h) => Math.max(h.longestSilence, performance.now() - h.lastHeard)));
    if (stall > STALL_NOTE_MS) {
      notes.push(`a session holder went ${(stall / 1000).toFixed(1)} s without reporting (it reports every second): the load generator was starved of CPU, so its keepalives were late too; expiries and keepalives/s here measure the client machine as much as the service`);
    }
    const expiry = holders.map((h) => h.counters.firstExpiry).find((e) => e !== undefined);
    if (expiry !== undefined) notes.push(`first expiry: ${expiry}`);
    const after = await env.cluster.leader().catch(() => undefined);
    if (after !== undefined && after.id !== leader.id) notes.push(`leader changed during the hold (${leader.id} → ${after.id})`);
    const figures: Figure[] = [
      { key: 'leader_rss_mib', label: 'leader RSS, max', better: 'lower', unit: 'MiB', value: maxRss / 2 ** 20 },
      { key: 'leader_cpu_pct', label: 'leader CPU, mean', better: 'lower', unit: '% of a core', value: cpuPercent(first, last) },
      { key: 'keepalives_per_s', label: 'keepalives/s served', better: 'higher', value: rate },
      { key: 'expected_keepalives_per_s', label: 'keepalives/s expected (S × 3 / TTL)', better: 'higher', value: (opened * 3) / (env.config.sessionTtlMs / 1000) },
      { key: 'spurious_expiries', label: 'spurious expiries', better: 'zero', value: sum(holders, 'expiries') },
      { key: 'opens_per_s', label: 'sessions opened/s', better: 'higher', value: opened / (openMs / 1000) },
    ];
    return { type: 'ok', figures, notes };
  } finally {
    await stopHolders(holders);
  }
}

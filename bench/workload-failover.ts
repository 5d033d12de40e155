/**
 * Workload 3, failover: F clients acquire and release their own names in a loop while the leader
 * is SIGKILLed. The figure is the time from the kill to the next successful grant, counting only
 * acquires *issued after* the kill (a grant in flight at the kill may have committed before it).
 * Calls in flight at the kill can hang until their timeout (etcd holds a proposal that reached a
 * leaderless follower), which would make the figure the client's timeout rather than the
 * service's recovery; so from the kill on, a fresh probe acquire is also issued every 100 ms from
 * a pool of idle, already connected clients, until one is granted. Every acquire times out after
 * 3 s and is retried under a fresh name, so a grant that happened but was never answered cannot
 * block its client. After each trial the killed node is restarted and the cluster is whole again
 * before the next one (after the last one only if another workload follows).
 */
import { ErrorTally } from './error-tally.js';
import { median } from './stats.js';
import { sleep } from './timeout.js';
import type { Figure, LockClient, SystemOutcome } from './types.js';
import { closeClients, openClients, type WorkloadEnv } from './workload-env.js';

/** Per-acquire timeout during failover, ms. */
const ACQUIRE_TIMEOUT_MS = 3_000;
/** A new probe acquire every this many ms after the kill. */
const PROBE_EVERY_MS = 100;
/** Probe clients: enough that one is idle every PROBE_EVERY_MS even if every probe hangs to its timeout. */
const PROBE_CLIENTS = Math.ceil(ACQUIRE_TIMEOUT_MS / PROBE_EVERY_MS) + 2;
/** A trial with no grant this long after the kill fails. */
const TRIAL_LIMIT_MS = 60_000;

/** Tracks grants to find the first one issued after a kill (pure). */
export class GrantWatch {
  private killedAt: number | null = null;
  private firstAfter: number | null = null;

  /** Arms the watch at the moment of the kill. */
  arm(killedAt: number): void {
    this.killedAt = killedAt;
    this.firstAfter = null;
  }

  /** Notes a grant of an acquire issued at `issuedAt` and granted at `grantedAt`. */
  grant(issuedAt: number, grantedAt: number): void {
    if (this.killedAt === null || issuedAt < this.killedAt) return;
    if (this.firstAfter === null || grantedAt < this.firstAfter) this.firstAfter = grantedAt;
  }

  /** Ms from the kill to the first grant issued after it, or null if none yet. */
  gapMs(): number | null {
    return this.killedAt === null || this.firstAfter === null ? null : this.firstAfter - this.killedAt;
  }
}

/** Runs the failover workload. */
export async function runFailover<H>(env: WorkloadEnv<H>, clients: number, trials: number, opts: { readonly restartAfterLastTrial: boolean }): Promise<SystemOutcome> {
  const cs = await openClients(env, clients);
  let probes: LockClient<H>[] = [];
  try {
    probes = await openClients(env, PROBE_CLIENTS);
  } catch (err) {
    await closeClients(cs);
    throw err;
  }
  const watch = new GrantWatch();
  const errors = new ErrorTally();
  const gen = new Array<number>(clients).fill(0);
  let grants = 0;
  let stopped = false;
  const loops = cs.map(async (client, i) => {
    while (!stopped) {
      const issuedAt = performance.now();
      try {
        const h = await client.acquire(`${env.namePrefix}/f/c${i}-${gen[i]}`, { timeoutMs: ACQUIRE_TIMEOUT_MS });
        watch.grant(issuedAt, performance.now());
        grants++;
        await client.release(h);
      } catch (err) {
        errors.add(err, true);
        gen[i] = gen[i]! + 1;
        await sleep(10);
      }
    }
  });
  const idle = new Set(probes.keys());
  const inFlight = new Set<Promise<void>>();
  let probeSeq = 0;
  /** One probe acquire (and release) on an idle probe client, if there is one. */
  const probe = (): void => {
    const k = idle.values().next().value;
    if (k === undefined) return;
    idle.delete(k);
    const client = probes[k]!;
    const issuedAt = performance.now();
    const p = (async () => {
      try {
        const h = await client.acquire(`${env.namePrefix}/f/p${k}-${probeSeq++}`, { timeoutMs: ACQUIRE_TIMEOUT_MS });
        watch.grant(issuedAt, performance.now());
        await client.release(h);
      } catch (err) {
        errors.add(err, true);
      } finally {
        idle.add(k);
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const gaps: number[] = [];
  const notes: string[] = [];
  try {
    // Prime every probe client's connections before the first kill.
    for (let k = 0; k < probes.length; k++) probe();
    await Promise.all(inFlight);
    for (let t = 1; t <= trials; t++) {
      await sleep(env.config.warmupMs);
      if (grants === 0) throw new Error('no grant at all before the kill');
      const killed = await env.cluster.killLeader();
      watch.arm(killed.killedAt);
      env.log(`trial ${t}/${trials}: killed leader ${killed.id} (pid ${killed.pid})`);
      const deadline = killed.killedAt + TRIAL_LIMIT_MS;
      let lastLog = performance.now();
      let lastProbe = -Infinity;
      while (watch.gapMs() === null && performance.now() < deadline) {
        if (performance.now() - lastProbe >= PROBE_EVERY_MS) {
          lastProbe = performance.now();
          probe();
        }
        await sleep(5);
        if (performance.now() - lastLog > 2000) {
          lastLog = performance.now();
          env.log(`trial ${t}/${trials}: ${((lastLog - killed.killedAt) / 1000).toFixed(0)} s since the kill, no grant yet (${errors.count} errors)`);
        }
      }
      const gap = watch.gapMs();
      if (gap === null) throw new Error(`no grant within ${TRIAL_LIMIT_MS} ms of killing the leader`);
      gaps.push(gap);
      if (t === trials && !opts.restartAfterLastTrial) {
        env.log(`trial ${t}/${trials}: next grant ${gap.toFixed(0)} ms after the kill`);
        break;
      }
      env.log(`trial ${t}/${trials}: next grant ${gap.toFixed(0)} ms after the kill; restarting ${killed.id}`);
      await env.cluster.restart(killed.id);
    }
  } finally {
    stopped = true;
    await Promise.all([...loops, ...inFlight]);
    await closeClients([...cs, ...probes]);
  }
  if (gaps.length > 1) notes.push(`trials (ms): ${gaps.map((g) => g.toFixed(0)).join(', ')}`);
  notes.push(`${errors.count} failed acquires across all trials (expected while there is no leader)`, ...errors.notes());
  const figures: Figure[] = [
    { key: 'failover_median_ms', label: 'kill → next grant, median', better: 'lower', unit: 'ms', value: median(gaps) },
    { key: 'failover_max_ms', label: 'kill → next grant, max', better: 'lower', unit: 'ms', value: gaps.length ? Math.max(...gaps) : null },
  ];
  return { type: 'ok', figures, notes };
}

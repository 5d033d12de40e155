/**
 * Workload 1, uncontended: C clients, each acquiring and releasing its own lock name in a loop.
 * Figures: cycles/s, p50/p95/p99 of acquire and of the whole cycle (acquire + release).
 */
import { ErrorTally } from './error-tally.js';
import { latencyFigures } from './figures.js';
import { LatencyRecorder } from './stats.js';
import { sleep } from './timeout.js';
import { timedRun } from './timed-run.js';
import type { Figure, SystemOutcome } from './types.js';
import { closeClients, openClients, type WorkloadEnv } from './workload-env.js';

/** Runs the uncontended workload with `clients` clients. */
export async function runUncontended<H>(env: WorkloadEnv<H>, clients: number): Promise<SystemOutcome> {
  const cs = await openClients(env, clients);
  const acquire = new LatencyRecorder();
  const cycle = new LatencyRecorder();
  const errors = new ErrorTally();
  let cycles = 0;
  const gen = new Array<number>(clients).fill(0);
  try {
    const windowMs = await timedRun(
      {
        workers: clients,
        warmupMs: env.config.warmupMs,
        durationMs: env.config.durationMs,
        log: env.log,
        onWindowStart: () => {
          acquire.reset();
          cycle.reset();
          cycles = 0;
          errors.count = 0;
        },
        progress: (phase, ms) => `${phase} ${(ms / 1000).toFixed(0)} s: ${phase === 'measuring' ? `${Math.round(cycles / (ms / 1000))} cycles/s` : ''}${errors.count ? `, ${errors.count} errors` : ''}`,
      },
      async (i, ctx) => {
        const client = cs[i]!;
        // A new name after an error: a grant that timed out but happened must not block this client.
        const name = `${env.namePrefix}/u${clients}/c${i}-${gen[i]}`;
        const t0 = performance.now();
        try {
          const h = await client.acquire(name, { timeoutMs: 10_000 });
          const t1 = performance.now();
          await client.release(h);
          const t2 = performance.now();
          if (ctx.measuring) {
            acquire.record(t1 - t0);
            cycle.record(t2 - t0);
            cycles++;
          }
        } catch (err) {
          errors.add(err, ctx.measuring);
          gen[i] = gen[i]! + 1;
          await sleep(10);
        }
      },
    );
    const figures: Figure[] = [
      { key: 'cycles_per_s', label: 'cycles/s', better: 'higher', value: cycles / (windowMs / 1000) },
      ...latencyFigures('acquire', 'acquire', acquire.summary()),
      ...latencyFigures('cycle', 'cycle', cycle.summary()),
      { key: 'errors', label: 'errors', better: 'zero', value: errors.count },
    ];
    return { type: 'ok', figures, notes: errors.notes() };
  } finally {
    await closeClients(cs);
  }
}

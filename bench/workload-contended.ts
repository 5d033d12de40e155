/**
 * Workload 2, contended: C clients on one lock name, each entering a critical section that checks
 * nobody else is inside (all clients live in this process, so one counter sees every holder).
 * The section spans a turn of the event loop, so an overlapping grant would be seen. Figures:
 * hand-offs/s, violations (must be 0), p50/p99 of the wait for the lock.
 */
import { ErrorTally } from './error-tally.js';
import { LatencyRecorder } from './stats.js';
import { sleep } from './timeout.js';
import { timedRun } from './timed-run.js';
import type { Figure, SystemOutcome } from './types.js';
import { closeClients, openClients, type WorkloadEnv } from './workload-env.js';

/** The mutual-exclusion check of the critical section (pure state, no I/O). */
export class CriticalSection {
  private inside = 0;
  /** Entries that found someone else inside. */
  violations = 0;
  /** Completed entries. */
  entries = 0;

  /** Marks a holder inside; counts a violation if another one already was. */
  enter(): void {
    if (this.inside !== 0) this.violations++;
    this.inside++;
  }

  /** Marks the holder out again. */
  leave(): void {
    this.inside--;
    this.entries++;
  }
}

/** Runs the contended workload with `clients` clients on one name. */
export async function runContended<H>(env: WorkloadEnv<H>, clients: number): Promise<SystemOutcome> {
  const cs = await openClients(env, clients);
  const name = `${env.namePrefix}/contended`;
  const section = new CriticalSection();
  const wait = new LatencyRecorder();
  const errors = new ErrorTally();
  let handoffs = 0;
  try {
    const windowMs = await timedRun(
      {
        workers: clients,
        warmupMs: env.config.warmupMs,
        durationMs: env.config.durationMs,
        log: env.log,
        onWindowStart: () => {
          wait.reset();
          handoffs = 0;
          errors.count = 0;
        },
        progress: (phase, ms) =>
          `${phase} ${(ms / 1000).toFixed(0)} s: ${phase === 'measuring' ? `${Math.round(handoffs / (ms / 1000))} hand-offs/s, ` : ''}${section.violations} violations${errors.count ? `, ${errors.count} errors` : ''}`,
      },
      async (i, ctx) => {
        const client = cs[i]!;
        const t0 = performance.now();
        let handle: H;
        try {
          handle = await client.acquire(name, { timeoutMs: 60_000 });
        } catch (err) {
          errors.add(err, ctx.measuring);
          await sleep(10);
          return;
        }
        const t1 = performance.now();
        section.enter();
        await new Promise<void>((r) => setImmediate(r));
        section.leave();
        if (ctx.measuring) {
          wait.record(t1 - t0);
          handoffs++;
        }
        try {
          await client.release(handle);
        } catch (err) {
          errors.add(err, ctx.measuring);
        }
      },
    );
    const w = wait.summary();
    const figures: Figure[] = [
      { key: 'handoffs_per_s', label: 'hand-offs/s', better: 'higher', value: handoffs / (windowMs / 1000) },
      { key: 'violations', label: 'violations', better: 'zero', value: section.violations },
      { key: 'wait_p50', label: 'wait p50', better: 'lower', unit: 'ms', value: w?.p50 ?? null },
      { key: 'wait_p99', label: 'wait p99', better: 'lower', unit: 'ms', value: w?.p99 ?? null },
      { key: 'errors', label: 'errors', better: 'zero', value: errors.count },
    ];
    return { type: 'ok', figures, notes: errors.notes() };
  } finally {
    await closeClients(cs);
  }
}

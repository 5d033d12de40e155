/**
 * The sessions workload: holders take a lock and keep it (proving every 150 ms that their lease
 * says they hold it) until the harness SIGKILLs them; contenders wait for those locks, which the
 * cluster may only give away after the dead holder's session expired and the lock-delay passed.
 */
import { nap, pick, tokenNumber, type Workload } from './context.js';
import { enter, holdThenExit } from './sections.js';

/** Holders (role `holder`) and contenders (role `contender`). */
export const sessionsWorkload: Workload = async (ctx) => {
  const { rt, rng, config } = ctx;
  const holder = config.role === 'holder';
  let n = 0;
  while (!rt.stop.aborted) {
    const session = await ctx.sessions.get();
    if (!session) break;
    const name = holder ? (config.locks[config.slot % config.locks.length] as string) : pick(config.locks, rng);
    const lock = await enter(ctx, 0, session, name, config.waitMs);
    if (!lock) {
      await nap(10 + rng.int(40), rt.stop);
      continue;
    }
    const token = tokenNumber(lock);
    await holdThenExit(ctx, 0, lock, name, async () => {
      const rounds = holder ? Infinity : 1 + rng.int(3);
      for (let i = 0; i < rounds && !rt.stop.aborted; i++) {
        const at = ctx.clock.now();
        if (!lock.held) return;
        rt.note(0, 'held', { name, token, at });
        if (!holder || i % 5 === 0) await rt.write(0, name, token, `${config.slot}:${token}:${n++}`);
        await nap(holder ? 150 : 20 + rng.int(60), lock.signal);
      }
    });
  }
};

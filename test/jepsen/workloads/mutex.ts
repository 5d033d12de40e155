/**
 * The mutex workload: clients take one of a few locks, prove they hold it, write the fenced
 * register under the lock's token, and release. Now and then a client writes again after its
 * section ended (a client that does not know its lock is gone), which the register must reject
 * once a newer token wrote.
 */
import { nap, pick, tokenNumber, type Workload } from './context.js';
import { enter, holdThenExit } from './sections.js';

/** The mutex workload loop (role `mutex`). */
export const mutexWorkload: Workload = async (ctx) => {
  const { rt, rng, config } = ctx;
  let n = 0;
  while (!rt.stop.aborted) {
    const session = await ctx.sessions.get();
    if (!session) break;
    const name = pick(config.locks, rng);
    const lock = await enter(ctx, 0, session, name, config.waitMs);
    if (!lock) {
      await nap(10 + rng.int(40), rt.stop);
      continue;
    }
    const token = tokenNumber(lock);
    await holdThenExit(ctx, 0, lock, name, async () => {
      const writes = 1 + rng.int(2);
      for (let i = 0; i < writes; i++) {
        const at = ctx.clock.now();
        if (!lock.held) return;
        rt.note(0, 'held', { name, token, at });
        await rt.write(0, name, token, `${config.slot}:${token}:${n++}`);
        await nap(rng.int(25), lock.signal);
      }
    });
    if (rng.next() < 0.1) await rt.write(0, name, token, `late:${config.slot}:${token}:${n++}`);
    if (rng.next() < 0.2) await rt.read(0, name);
  }
};

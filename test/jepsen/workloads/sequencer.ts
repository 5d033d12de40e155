/**
 * The sequencer workload: holders take a lock and, while holding it, ask the cluster whether
 * their sequencer is current; checkers ask about recent sequencers of anyone, current or stale.
 * Checks run on lane 1 so the holder's lane 0 is free to record a loss at once.
 */
import { nap, pick, tokenNumber, type Workload } from './context.js';
import { enter, holdThenExit } from './sections.js';

/** Holders (role `holder`) and checkers (role `checker`). */
export const sequencerWorkload: Workload = async (ctx) => {
  const { rt, rng, config, client } = ctx;
  if (config.role === 'checker') {
    while (!rt.stop.aborted) {
      const seqs = rt.sequencers;
      if (seqs.length === 0) {
        await nap(50, rt.stop);
        continue;
      }
      const s = pick(seqs, rng);
      await rt.op(
        1,
        'check',
        { name: s.name, token: Number(s.token) },
        () => client.checkSequencer({ name: s.name, mode: 'exclusive', token: BigInt(s.token), sessionId: BigInt(s.sessionId) }),
        (current) => ({ current }),
        'read',
      );
      await nap(rng.int(20), rt.stop);
    }
    return;
  }
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
      const checks = 1 + rng.int(3);
      for (let i = 0; i < checks; i++) {
        const at = ctx.clock.now();
        if (!lock.held) return;
        rt.note(0, 'held', { name, token, at });
        await rt.op(1, 'check', { name, token }, () => client.checkSequencer(lock.sequencer), (current) => ({ current }), 'read');
        await nap(10 + rng.int(60), lock.signal);
      }
    });
  }
};

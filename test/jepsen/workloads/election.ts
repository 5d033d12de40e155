/**
 * The election workload: candidates campaign, lead for a while (proclaiming new values), and
 * resign; observers follow the leader through the Observe stream (lane 1) and through leader
 * queries (lane 2). Ops use the election checker's vocabulary, named by the election's name.
 */
import type { Election } from '../../../src/client/index.js';
import { describeError } from './classify.js';
import { nap, tokenNumber, type Workload, type WorkloadContext } from './context.js';

/** Candidates (role `candidate`) and observers (role `observer`). */
export const electionWorkload: Workload = async (ctx) => {
  if (ctx.config.role === 'observer') {
    await Promise.all([observeLoop(ctx), queryLoop(ctx)]);
    return;
  }
  await candidateLoop(ctx);
};

async function election(ctx: WorkloadContext): Promise<Election | undefined> {
  const s = await ctx.sessions.get();
  return s?.election(ctx.config.election);
}

async function candidateLoop(ctx: WorkloadContext): Promise<void> {
  const { rt, rng, config } = ctx;
  const name = config.election;
  let n = 0;
  while (!rt.stop.aborted) {
    const e = await election(ctx);
    if (!e) break;
    const value = `c${config.slot}-${n++}`;
    const won = await rt.op(0, 'campaign', { name, value }, () => e.campaign(value, { waitMs: config.waitMs, signal: rt.stop }), (l) => ({ token: tokenNumber(l) }), 'mutating');
    if (!won.ok) {
      if (won.outcome === 'info') ctx.sessions.discard();
      await nap(20 + rng.int(80), rt.stop);
      continue;
    }
    const lock = won.value;
    const token = tokenNumber(lock);
    const terms = 1 + rng.int(3);
    for (let i = 0; i < terms && !rt.stop.aborted; i++) {
      await nap(50 + rng.int(250), lock.signal);
      const at = ctx.clock.now();
      if (!lock.held) break;
      rt.note(0, 'held', { name, token, at });
      const v = `c${config.slot}-${n++}`;
      const p = await rt.op(0, 'proclaim', { name, token, value: v }, () => e.proclaim(v), () => null, 'mutating');
      if (!p.ok && p.outcome === 'info') break;
    }
    const held = lock.held;
    await rt.invoke(0, 'resign', { name, token });
    try {
      await lock.release();
      if (held) rt.complete(0, 'ok', null);
      else rt.complete(0, 'info', null, 'leadership was lost before the resignation');
    } catch (err) {
      rt.complete(0, 'info', null, describeError(err));
      ctx.sessions.discard();
    }
    await nap(rng.int(100), rt.stop);
  }
}

async function observeLoop(ctx: WorkloadContext): Promise<void> {
  const { rt } = ctx;
  const name = ctx.config.election;
  while (!rt.stop.aborted) {
    const e = await election(ctx);
    if (!e) break;
    try {
      for await (const leader of e.observe({ signal: rt.stop })) rt.note(1, 'observe', { name }, { token: leader === null ? null : Number(leader.token) });
    } catch (err) {
      if (!rt.stop.aborted) rt.log(`observe stream ended: ${describeError(err)}`);
    }
    await nap(100, rt.stop);
  }
}

async function queryLoop(ctx: WorkloadContext): Promise<void> {
  const { rt, rng } = ctx;
  const name = ctx.config.election;
  while (!rt.stop.aborted) {
    const e = await election(ctx);
    if (!e) break;
    await rt.op(2, 'leader', { name }, () => e.leader(), (l) => ({ token: l === null ? null : Number(l.token) }), 'read');
    await nap(50 + rng.int(150), rt.stop);
  }
}

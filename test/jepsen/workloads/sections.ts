/**
 * Critical sections as history ops (the fencing checker's vocabulary): `enter {name}` → ok
 * `{token, sessionId}`, and `exit {name, token}`. An exit is `ok` only when the lock was still
 * held when it was invoked; a lock lost before (jeopardy, expiry) gives an `info` exit, invoked as
 * soon as the loss is seen, so the history shows the loss before the lock can be granted again.
 */
import type { Lock, Session } from '../../../src/client/index.js';
import { isLatchError } from '../../../src/common/errors.js';
import { aborted, tokenNumber, type WorkloadContext } from './context.js';
import { describeError } from './classify.js';

/** Acquires `name` on `lane` as an `enter` op; the lock, or undefined when not granted. */
export async function enter(ctx: WorkloadContext, lane: number, session: Session, name: string, waitMs: number): Promise<Lock | undefined> {
  const r = await ctx.rt.op(
    lane,
    'enter',
    { name },
    () => session.lock(name, { waitMs, signal: ctx.rt.stop }),
    (l) => ({ token: tokenNumber(l), sessionId: l.sessionId.toString() }),
    'mutating',
  );
  if (r.ok) return r.value;
  if (r.outcome === 'info' || isLatchError(r.error, 'SESSION_EXPIRED') || isLatchError(r.error, 'SESSION_NOT_FOUND')) ctx.sessions.discard();
  return undefined;
}

/** Releases `lock` as an `exit` op on `lane` (see the file comment for ok versus info). */
export async function exit(ctx: WorkloadContext, lane: number, lock: Lock, name: string): Promise<void> {
  const held = lock.held;
  await ctx.rt.invoke(lane, 'exit', { name, token: tokenNumber(lock) });
  try {
    await lock.release();
    if (held) ctx.rt.complete(lane, 'ok', { released: true });
    else ctx.rt.complete(lane, 'info', null, 'the lock was lost before the release');
  } catch (err) {
    ctx.rt.complete(lane, 'info', null, describeError(err));
    ctx.sessions.discard();
  }
}

/**
 * Runs `work` while holding `lock`, then exits. If the lock's signal fires first, the exit is
 * invoked at once (work must not start another op on `lane` once `lock.held` is false; it is
 * awaited before this returns).
 */
export async function holdThenExit(ctx: WorkloadContext, lane: number, lock: Lock, name: string, work: () => Promise<void>): Promise<void> {
  const running = work().catch((err: unknown) => ctx.rt.log(`critical section failed: ${describeError(err)}`));
  await Promise.race([running, aborted(lock.signal)]);
  await exit(ctx, lane, lock, name);
  await running;
}

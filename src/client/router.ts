/**
 * Leader routing and retries for unary calls (DESIGN §5): each attempt goes where the RetryPlan
 * says, a `retry`-class failure moves on (following `latch-leader` hints, backing off after a full
 * pass), a `final` one is thrown at once, and everything is bounded by the call's deadline.
 * The request is rebuilt per attempt only so that wait times can shrink; its `requestSeq` never
 * changes, so a retry after an unknown outcome is deduplicated by the server.
 */
import type { Clock } from '../common/clock.js';
import { LatchError } from '../common/errors.js';
import type { Rng } from '../common/rng.js';
import { UnavailableError } from './errors.js';
import { leaderHintOf, outcomeUnknown, retryAfterOf, retryClassOf } from './error-mapping.js';
import { RetryPlan, type BackoffPolicy, type EndpointSet } from './retry-plan.js';
import type { RpcTransport } from './rpc-transport.js';
import { sleep, type Timers } from './timers.js';
import { MUTATING_METHODS, type UnaryMethod, type UnaryMethods } from './wire.js';

/** Bounds of one routed call. */
export interface CallBounds {
  /** The whole call's deadline, from now, in ms (all attempts and backoff). */
  readonly timeoutMs: number;
  /** The longest single attempt; default 5 s. Blocking calls pass `Infinity` (the rest of the deadline). */
  readonly attemptTimeoutMs?: number;
  /** Aborts the call; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** What a Router needs. */
export interface RouterDeps {
  readonly transport: RpcTransport;
  readonly endpoints: EndpointSet;
  readonly backoff: BackoffPolicy;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly timers: Timers;
}

/** The default longest single attempt of a non-blocking call. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 5000;

/** Routes unary calls to the leader with retries (see the file comment). */
export class Router {
  constructor(readonly deps: RouterDeps) {}

  /** A fresh retry plan over this client's endpoints (for streams that manage their own attempts). */
  plan(): RetryPlan {
    return new RetryPlan(this.deps.endpoints, this.deps.backoff, this.deps.rng);
  }

  /**
   * Calls `method` with the request `build(remainingMs)` until an attempt succeeds or fails finally,
   * or the deadline passes. On timeout it throws the last LatchError seen (e.g. NO_QUORUM,
   * LEADERSHIP_LOST), or an UnavailableError whose `outcomeUnknown` says whether a mutating
   * request may have taken effect. `onAnswer` learns which endpoint answered.
   */
  async call<M extends UnaryMethod>(
    method: M,
    build: (remainingMs: number) => UnaryMethods[M]['req'],
    bounds: CallBounds,
    onAnswer?: (endpoint: string) => void,
  ): Promise<UnaryMethods[M]['res']> {
    const { clock, transport, timers } = this.deps;
    const start = clock.now();
    const deadline = start + bounds.timeoutMs;
    const mutating = MUTATING_METHODS.has(method);
    const plan = this.plan();
    let lastErr: unknown;
    let unknown = false;
    let attempts = 0;
    for (;;) {
      if (bounds.signal?.aborted) throw bounds.signal.reason;
      const { endpoint, delayMs } = plan.next();
      if (delayMs > 0) {
        if (clock.now() + delayMs >= deadline) break;
        await sleep(timers, delayMs, bounds.signal);
      }
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      const attemptMs = Math.min(remaining, bounds.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);
      attempts++;
      try {
        const res = await transport.unary(endpoint, method, build(remaining), { timeoutMs: attemptMs, ...(bounds.signal ? { signal: bounds.signal } : {}) });
        plan.succeeded(endpoint, mutating);
        onAnswer?.(endpoint);
        return res;
      } catch (err) {
        if (bounds.signal?.aborted) throw bounds.signal.reason;
        if (retryClassOf(err) === 'final') throw err;
        lastErr = err;
        if (mutating && outcomeUnknown(err)) unknown = true;
        const wait = retryAfterOf(err);
        if (wait !== undefined) plan.busy(endpoint, wait);
        else plan.failed(endpoint, leaderHintOf(err));
      }
    }
    // A LatchError says more than "unavailable", unless an earlier attempt left the outcome unknown and it does not.
    if (lastErr instanceof LatchError && (!unknown || outcomeUnknown(lastErr))) throw lastErr;
    const last = lastErr instanceof Error ? `; last error: ${lastErr.message}` : '';
    throw new UnavailableError(
      `no Latch endpoint answered ${method} within ${Math.round(bounds.timeoutMs)} ms (${attempts} attempt${attempts === 1 ? '' : 's'}${last})${unknown ? '; the request may have taken effect' : ''}`,
      unknown,
      lastErr === undefined ? undefined : { cause: lastErr },
    );
  }
}

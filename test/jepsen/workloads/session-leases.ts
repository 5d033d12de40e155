/**
 * What a worker records for the session-lease checker (checker/session-lease.ts): the end of each
 * session's acknowledged local lease, on the run's shared clock, every time it changes (the
 * session opened; a keepalive was acknowledged), and the moment the server tells the client that
 * its session expired, with the SDK's lease end at that moment.
 *
 * The SDK computes the lease on the clock it is given (the worker passes the run's MonoClock, so
 * lease ends are history times) and exposes the lease end (`Session.leaseEndsAt`), but has no
 * event per acknowledged keepalive. So: the client's transport is wrapped (`observe`): after each keepalive answer has
 * been handed to the SDK (which updates the lease synchronously), the lease end is read from
 * `Session.leaseEndsAt`. The `expired` session event's `cause` tells server expiries apart.
 */
import type { KeepAliveStreamHandle, RpcTransport, Session, StreamHandlers } from '../../../src/client/index.js';
import type { WireKeepAliveResponse } from '../../../src/client/wire.js';
import type { Clock } from '../../../src/common/clock.js';
import { SESSION_EXPIRED_F, SESSION_LEASE_F } from '../checker/session-lease.js';

/** The lane lease records go on: notes only, so it is never busy when an ack arrives. */
export const LEASE_LANE = 7;

/** The SDK's current local lease end of `session` (its clock's time). */
export function sdkLeaseEndsAt(session: Session): number {
  return session.leaseEndsAt;
}

/** Where the records go (WorkerRuntime.note, and the worker log). */
export interface LeaseSink {
  note(lane: number, f: string, value: unknown): void;
  log(message: string): void;
}

/** Records leases and client-observed expiries of the sessions it tracks. */
export class LeaseRecorder {
  private readonly sessions = new Map<string, { readonly session: Session; last: number | undefined }>();

  constructor(
    private readonly sink: LeaseSink,
    private readonly clock: Clock,
    /** The drift margin the sessions were opened with (recorded with each lease). */
    private readonly driftMs: number,
  ) {}

  /** Starts tracking a freshly opened session: records its first lease and watches for its expiry. */
  track(session: Session): void {
    const id = session.id.toString();
    const entry = { session, last: undefined as number | undefined };
    this.sessions.set(id, entry);
    this.sample(id);
    session.on('expired', (ev) => {
      const at = this.clock.now();
      if (ev.type !== 'expired') return;
      this.sink.note(LEASE_LANE, SESSION_EXPIRED_F, { session: id, at, via: 'client', cause: ev.cause, leaseEndsAt: sdkLeaseEndsAt(session) });
      this.sessions.delete(id);
    });
  }

  /** Records the lease of session `id` when it changed since the last record. */
  sample(id: string): void {
    const entry = this.sessions.get(id);
    if (!entry) return;
    const state = entry.session.state;
    if (state === 'closed' || state === 'expired') {
      if (state === 'closed') this.sessions.delete(id);
      return;
    }
    const end = sdkLeaseEndsAt(entry.session);
    if (end === entry.last) return;
    entry.last = end;
    this.sink.note(LEASE_LANE, SESSION_LEASE_F, { session: id, leaseEndsAt: end, at: this.clock.now(), driftMs: this.driftMs });
  }

  /** `inner` with every keepalive answer followed by a lease sample of its session. */
  observe(inner: RpcTransport): RpcTransport {
    const after = (res: WireKeepAliveResponse): void => {
      if (!res.expired) this.sample(String(res.sessionId));
    };
    return {
      unary: (endpoint, method, req, opts) => inner.unary(endpoint, method, req, opts),
      serverStream: (endpoint, method, req, handlers) => inner.serverStream(endpoint, method, req, handlers),
      keepAlive: (endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle =>
        inner.keepAlive(endpoint, {
          onData: (res) => {
            handlers.onData(res);
            after(res);
          },
          onEnd: (err) => handlers.onEnd(err),
        }),
      close: () => inner.close(),
    };
  }
}

/**
 * `LatchClient`: the entry point of the SDK. It holds the endpoints and their channels, routes
 * calls to the leader (Router), opens sessions, and serves the read-side API: sequencer checks,
 * lock and session listings, watches and node status.
 */
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { systemClock, type Clock } from '../common/clock.js';
import { systemRng, type Rng } from '../common/rng.js';
import { eventFromWire, idToWire, lockInfoFromWire, sequencerToWire, sessionInfoFromWire, statusFromWire } from './convert.js';
import { InvalidArgumentError, LatchClientError } from './errors.js';
import { GrpcRpcTransport } from './grpc-transport.js';
import { checkLockName } from './names.js';
import { resumableStream, type StoppableIterator } from './resumable-stream.js';
import { DEFAULT_BACKOFF, EndpointSet, type BackoffPolicy } from './retry-plan.js';
import { Router } from './router.js';
import type { RpcTransport } from './rpc-transport.js';
import { Session, type SessionContext, type SessionOptions } from './session.js';
import { systemTimers, type Timers } from './timers.js';
import type { LockInfo, NodeStatus, Sequencer, SessionInfo, WatchEvent } from './types.js';

/** Options of `LatchClient.connect`. */
export interface LatchClientOptions {
  /** Client addresses (`host:port`) of some or all nodes. */
  readonly endpoints: readonly string[];
  /** gRPC channel credentials (TLS); plain text when absent. */
  readonly credentials?: ChannelCredentials;
  /** A bearer token sent with every call. */
  readonly token?: string;
  /** Extra gRPC channel options. */
  readonly channelOptions?: ChannelOptions;
  /** A name for operators, the default name of sessions; default `latch-sdk`. */
  readonly name?: string;
  /** Deadline of a non-blocking call, retries included, in ms; default 10 s. */
  readonly callTimeoutMs?: number;
  /** How long `connect` tries to reach a node, in ms; default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Added to a blocking wait for the gRPC deadline, in ms; default 5 s. */
  readonly waitMarginMs?: number;
  /** Backoff between passes over the endpoints; default 50 ms doubling to 1 s, with jitter. */
  readonly backoff?: BackoffPolicy;
  /** When false, `connect` does not contact any node first; default true. */
  readonly verify?: boolean;
  /** Monotonic clock (tests); default `performance.now`. */
  readonly clock?: Clock;
  /** Timers on the same time base as `clock` (tests). */
  readonly timers?: Timers;
  /** Randomness for jitter (tests). */
  readonly rng?: Rng;
  /** The wire (tests or custom transports); default gRPC. */
  readonly transport?: RpcTransport;
}

/** Options of `LatchClient.watch`. */
export interface WatchOptions {
  /** The first log index to deliver; default 0 = from now. */
  readonly fromIndex?: bigint;
  /** Ends the watch; the pending `next()` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

function positive(name: string, v: number | undefined, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${String(v)}`);
  return v;
}

/** A client of a Latch cluster; see the file comment. */
export class LatchClient implements AsyncDisposable {
  private readonly router: Router;
  private readonly transport: RpcTransport;
  private readonly endpoints: EndpointSet;
  private readonly openSessions = new Set<Session>();
  private readonly streams = new Set<StoppableIterator<unknown>>();
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly ctx: SessionContext;
  private closing: Promise<void> | undefined;

  /** Creates a client and (unless `verify: false`) checks that some node answers. */
  static async connect(opts: LatchClientOptions): Promise<LatchClient> {
    const client = new LatchClient(opts);
    if (opts.verify === false) return client;
    try {
      const st = await client.status({ timeoutMs: client.connectTimeoutMs });
      if (st.leaderClientAddress) client.endpoints.noteLeader(st.leaderClientAddress);
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  private constructor(opts: LatchClientOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('LatchClient.connect needs options with endpoints');
    this.endpoints = new EndpointSet(opts.endpoints);
    this.callTimeoutMs = positive('callTimeoutMs', opts.callTimeoutMs, 10_000);
    this.connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs, 5_000);
    const waitMarginMs = positive('waitMarginMs', opts.waitMarginMs, 5_000);
    const clock = opts.clock ?? systemClock;
    const timers = opts.timers ?? systemTimers;
    this.transport =
      opts.transport ??
      new GrpcRpcTransport({
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
      });
    this.router = new Router({ transport: this.transport, endpoints: this.endpoints, backoff: opts.backoff ?? DEFAULT_BACKOFF, rng: opts.rng ?? systemRng, clock, timers });
    this.router.plan(); // validates the backoff policy now rather than at the first call
    this.ctx = {
      router: this.router,
      transport: this.transport,
      clock,
      timers,
      callTimeoutMs: this.callTimeoutMs,
      waitMarginMs,
      clientName: opts.name ?? 'latch-sdk',
      onEnded: (s) => this.openSessions.delete(s),
      track: <T>(it: StoppableIterator<T>) => this.track(it),
    };
  }

  /** Every endpoint the client knows (configured and learned from leader hints). */
  get knownEndpoints(): readonly string[] {
    return this.endpoints.endpoints;
  }

  /** The endpoint believed to be the leader, if any. */
  get leaderEndpoint(): string | undefined {
    return this.endpoints.leader;
  }

  /** Opens a session; its keepalives run in the background until it is closed or expires. */
  async session(opts: SessionOptions = {}): Promise<Session> {
    this.assertOpen();
    const s = await Session.open(this.ctx, opts);
    if (this.closing) {
      await s.close().catch(() => undefined);
      throw new LatchClientError('CLIENT_CLOSED', 'the Latch client was closed while the session opened');
    }
    this.openSessions.add(s);
    return s;
  }

  /** Linearizably: is `sequencer` still current (that session holds that lock, mode and token)? */
  async checkSequencer(sequencer: Sequencer): Promise<boolean> {
    this.assertOpen();
    const wire = sequencerToWire(sequencer);
    const res = await this.router.call('Locks/CheckSequencer', () => wire, { timeoutMs: this.callTimeoutMs });
    return res.current === true;
  }

  /** One lock's state (a lock nobody holds or waits for is reported as not held). */
  async lockInfo(name: string): Promise<LockInfo> {
    this.assertOpen();
    checkLockName(name);
    return lockInfoFromWire(await this.router.call('Locks/Get', () => ({ name }), { timeoutMs: this.callTimeoutMs }));
  }

  /** Every lock whose name starts with `prefix` (default all). */
  async locks(prefix = ''): Promise<LockInfo[]> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
    const res = await this.router.call('Locks/List', () => ({ prefix }), { timeoutMs: this.callTimeoutMs });
    if (!Array.isArray(res.locks)) throw new LatchClientError('PROTOCOL', 'malformed lock list from server');
    return res.locks.map(lockInfoFromWire);
  }

  /** Every open session of the cluster (not only this client's). */
  async sessions(): Promise<SessionInfo[]> {
    this.assertOpen();
    const res = await this.router.call('Sessions/List', () => ({}), { timeoutMs: this.callTimeoutMs });
    if (!Array.isArray(res.sessions)) throw new LatchClientError('PROTOCOL', 'malformed session list from server');
    return res.sessions.map(sessionInfoFromWire);
  }

  /**
   * Events for names starting with `prefix`, in log order, from `fromIndex` (default: from now).
   * One log entry can carry several events (a holder's expiry: the lock's `expired`, then
   * `session-expired`), all delivered. Survives node failures by resuming at the last delivered
   * index, skipping the events of it already delivered; ends with a WatchCompactedError when the
   * server no longer has the events needed (resync, then watch again).
   */
  watch(prefix: string, opts: WatchOptions = {}): AsyncIterableIterator<WatchEvent> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
    const from = opts.fromIndex ?? 0n;
    idToWire(from, 'fromIndex');
    let last: bigint | undefined;
    /** Events delivered at index `last`, and how many of them the current stream must still skip. */
    let deliveredAtLast = 0;
    let skip = 0;
    const it = resumableStream(
      { transport: this.transport, timers: this.ctx.timers, plan: () => this.router.plan() },
      {
        method: 'Watch/Watch',
        request: () => {
          // Each (re)opened stream starts at `last` again: the server sends an index's events in
          // the same order every time, so the first `deliveredAtLast` of them are the ones we have.
          skip = deliveredAtLast;
          return { prefix, fromIndex: (last === undefined ? from : last).toString() };
        },
        accept: (msg) => {
          const ev = eventFromWire(msg);
          if (last !== undefined && ev.index < last) return [];
          if (last !== undefined && ev.index === last) {
            if (skip > 0) {
              skip--;
              return [];
            }
            deliveredAtLast++;
            return [ev];
          }
          last = ev.index;
          deliveredAtLast = 1;
          skip = 0;
          return [ev];
        },
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
    return this.track(it);
  }

  /**
   * One node's view of the cluster: `endpoint` when given (one attempt, no retries), else the
   * first node that answers.
   */
  async status(opts: { endpoint?: string; timeoutMs?: number } = {}): Promise<NodeStatus> {
    this.assertOpen();
    const timeoutMs = positive('timeoutMs', opts.timeoutMs, this.callTimeoutMs);
    if (opts.endpoint !== undefined) {
      const res = await this.transport.unary(opts.endpoint, 'Cluster/Status', {}, { timeoutMs });
      return statusFromWire(res, opts.endpoint);
    }
    let answered = '';
    const res = await this.router.call(
      'Cluster/Status',
      () => ({}),
      { timeoutMs, attemptTimeoutMs: Math.min(timeoutMs, 2_000) },
      (endpoint) => {
        answered = endpoint;
      },
    );
    return statusFromWire(res, answered);
  }

  /** Closes every session of this client (best effort), ends its watches and closes its channels. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const it of this.streams) it.stop();
      this.streams.clear();
      await Promise.allSettled([...this.openSessions].map((s) => s.close()));
      this.openSessions.clear();
      this.transport.close();
    })();
    return this.closing;
  }

  /** Closes the client (`await using client = await LatchClient.connect(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private track<T>(it: StoppableIterator<T>): StoppableIterator<T> {
    const stoppable = it as StoppableIterator<unknown>;
    this.streams.add(stoppable);
    const origReturn = it.return?.bind(it);
    const origNext = it.next.bind(it);
    const forget = (): void => {
      this.streams.delete(stoppable);
    };
    it.next = async () => {
      try {
        const r = await origNext();
        if (r.done) forget();
        return r;
      } catch (err) {
        forget();
        throw err;
      }
    };
    if (origReturn) {
      it.return = async (v?: unknown) => {
        forget();
        return origReturn(v);
      };
    }
    return it;
  }

  private assertOpen(): void {
    if (this.closing) throw new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed');
  }
}

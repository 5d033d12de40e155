/** Shared helpers of the transport tests: free ports, a recording handler, sample messages. */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { NodeId } from '../../src/common/ids.js';
import type { Message } from '../../src/raft/types.js';
import type { TransportHandler } from '../../src/transport/types.js';

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

interface Waiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
}

/**
 * A TransportHandler that records every callback and lets a test await a condition. Waiting is
 * event-driven (re-checked on every callback); the timeout is only a failsafe that fails the test
 * with a description instead of hanging.
 */
export class Recorder implements TransportHandler {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly snapshotStatus: { peer: NodeId; ok: boolean }[] = [];
  private waiters: Waiter[] = [];

  onMessage(msg: Message): void {
    this.messages.push(msg);
    this.poke();
  }
  onUnreachable(peer: NodeId): void {
    this.unreachable.push(peer);
    this.poke();
  }
  onSnapshotStatus(peer: NodeId, ok: boolean): void {
    this.snapshotStatus.push({ peer, ok });
    this.poke();
  }

  /** Messages received from `from`. */
  from(from: NodeId): Message[] {
    return this.messages.filter((m) => m.from === from);
  }

  /**
   * Resolves once `check()` holds, re-checked on every callback and every few ms (for conditions
   * on transport counters); rejects with `what` after the failsafe timeout.
   */
  until(check: () => boolean, what: string, failsafeMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => this.poke(), 5);
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for: ${what}`));
      }, failsafeMs);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  private poke(): void {
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

/** One message of every stream type (no snapshot), from `from` to `to`, tagged by `term`. */
export function everyType(from: NodeId, to: NodeId, term: number): Message[] {
  const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  return [
    { type: 'pre-vote', from, to, term, lastIndex: 10, lastTerm: 2 },
    { type: 'vote', from, to, term, lastIndex: 11, lastTerm: 3, transfer: true },
    { type: 'pre-vote-resp', from, to, term, reject: false },
    { type: 'vote-resp', from, to, term, reject: true },
    {
      type: 'append',
      from,
      to,
      term,
      prevIndex: 4,
      prevTerm: 1,
      commit: 3,
      entries: [
        { type: 'normal', term, index: 5, data: bytes(100, term) },
        { type: 'conf', term, index: 6, change: { type: 'add-learner', node: 'n9', context: bytes(3, 1) } },
        { type: 'conf', term, index: 7, change: { type: 'remove', node: 'n8' } },
        { type: 'noop', term, index: 8 },
      ],
    },
    { type: 'append-resp', from, to, term, reject: true, index: 7, hintIndex: 5, hintTerm: 1 },
    { type: 'heartbeat', from, to, term, commit: 9, context: 'ctx-1' },
    { type: 'heartbeat', from, to, term, commit: 9 },
    { type: 'heartbeat-resp', from, to, term, context: 'ctx-1' },
    { type: 'timeout-now', from, to, term },
    { type: 'read-index', from, to, term, context: 'r-1' },
    { type: 'read-index-resp', from, to, term, context: 'r-1', index: 42, reject: false },
  ];
}

/** `n` heartbeats numbered through `commit`, for order checks. */
export function numbered(from: NodeId, to: NodeId, start: number, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'heartbeat' as const, from, to, term: 1, commit: start + i }));
}

/** The `commit` numbers of the heartbeats in `msgs`. */
export function commits(msgs: readonly Message[]): number[] {
  return msgs.flatMap((m) => (m.type === 'heartbeat' ? [m.commit] : []));
}

/** Deterministic pseudo-random bytes. */
export function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `value` with every Uint8Array replaced by its length and SHA-256 (deep equality on big payloads is slow). */
export function digest(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: value.length, sha256: createHash('sha256').update(value).digest('hex') };
  if (Array.isArray(value)) return value.map(digest);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, digest(v)]));
  return value;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { InvalidArgumentError } from '../../src/client/errors.js';
import { defaultDriftMargin, LocalLease } from '../../src/client/local-lease.js';

const TTL = 3000;
const DRIFT = 150;

function make(clock = new ManualClock(1000)): { clock: ManualClock; lease: LocalLease } {
  return { clock, lease: new LocalLease({ ttlMs: TTL, driftMarginMs: DRIFT, graceMs: TTL }, clock, clock.now()) };
}

describe('LocalLease', () => {
  it('runs from the send time of the Open call for ttl - drift, then enters jeopardy', () => {
    const { clock, lease } = make();
    expect(lease.leaseEndsAt).toBe(1000 + TTL - DRIFT);
    clock.advance(TTL - DRIFT - 1);
    expect(lease.poll()).toEqual([]);
    expect(lease.valid()).toBe(true);
    clock.advance(1);
    expect(lease.valid()).toBe(false);
    const events = lease.poll();
    expect(events).toEqual([{ type: 'jeopardy', at: 1000 + TTL - DRIFT, graceEndsAt: 1000 + TTL - DRIFT + TTL }]);
    expect(lease.state).toBe('jeopardy');
  });

  it('extends from the SEND time of an acknowledged keepalive, not the time of the answer', () => {
    const { clock, lease } = make();
    clock.advance(500);
    lease.sent(1n); // sent at 1500
    clock.advance(900); // answered at 2400
    expect(lease.acked(1n, TTL)).toEqual([]);
    expect(lease.leaseEndsAt).toBe(1500 + TTL - DRIFT);
  });

  it('ignores unknown nonces and never moves the lease end backwards', () => {
    const { clock, lease } = make();
    lease.sent(1n);
    clock.advance(100);
    lease.sent(2n);
    clock.advance(100);
    lease.acked(2n, TTL);
    const end = lease.leaseEndsAt;
    expect(end).toBe(1100 + TTL - DRIFT);
    lease.acked(1n, TTL); // superseded by 2: forgotten
    lease.acked(99n, TTL);
    expect(lease.leaseEndsAt).toBe(end);
  });

  it('returns to safe when an answer puts the lease end back in the future', () => {
    const { clock, lease } = make();
    clock.advance(TTL - DRIFT);
    expect(lease.poll().map((e) => e.type)).toEqual(['jeopardy']);
    lease.sent(1n);
    clock.advance(200);
    const events = lease.acked(1n, TTL);
    expect(events).toEqual([{ type: 'safe', at: clock.now(), leaseEndsAt: 1000 + TTL - DRIFT + TTL - DRIFT }]);
    expect(lease.state).toBe('safe');
    expect(lease.graceEndsAt).toBeUndefined();
  });

  it('stays in jeopardy when the answered keepalive was sent too long ago', () => {
    const { clock, lease } = make();
    lease.sent(1n); // at 1000: same as the Open, cannot help past 3850
    clock.advance(TTL - DRIFT + 100);
    lease.poll();
    expect(lease.acked(1n, TTL)).toEqual([]);
    expect(lease.state).toBe('jeopardy');
  });

  it('expires when the grace period ends, and then ignores answers', () => {
    const { clock, lease } = make();
    clock.advance(TTL - DRIFT);
    lease.poll();
    lease.sent(1n);
    clock.advance(TTL - 1);
    expect(lease.poll()).toEqual([]);
    clock.advance(1);
    expect(lease.poll()).toEqual([{ type: 'expired', at: clock.now(), cause: 'grace-ended' }]);
    expect(lease.acked(1n, TTL)).toEqual([]);
    expect(lease.state).toBe('expired');
    expect(lease.nextCheckAt()).toBeUndefined();
  });

  it('reports jeopardy and expiry in order when one poll jumps past both', () => {
    const { clock, lease } = make();
    clock.advance(10 * TTL);
    expect(lease.poll().map((e) => e.type)).toEqual(['jeopardy', 'expired']);
  });

  it('expires at once when the server says so, once', () => {
    const { lease } = make();
    expect(lease.serverExpired()).toEqual([{ type: 'expired', at: 1000, cause: 'server' }]);
    expect(lease.serverExpired()).toEqual([]);
  });

  it('stops changing once closed', () => {
    const { clock, lease } = make();
    lease.close();
    clock.advance(10 * TTL);
    expect(lease.poll()).toEqual([]);
    expect(lease.serverExpired()).toEqual([]);
    expect(lease.state).toBe('closed');
  });

  it('adopts a new TTL from answers', () => {
    const { clock, lease } = make();
    lease.sent(1n);
    lease.acked(1n, 6000);
    expect(lease.ttlMs).toBe(6000);
    expect(lease.leaseEndsAt).toBe(clock.now() + 6000 - DRIFT);
  });

  it('tracks the oldest unanswered keepalive and bounds what it remembers', () => {
    const { clock, lease } = make();
    expect(lease.oldestUnacked()).toBeUndefined();
    for (let i = 1n; i <= 100n; i++) {
      lease.sent(i);
      clock.advance(1);
    }
    expect(lease.oldestUnacked()).toBe(1000 + 36); // the first 36 were forgotten (64 kept)
    lease.forgetPending();
    expect(lease.oldestUnacked()).toBeUndefined();
  });

  it('rejects bad settings with a typed error', () => {
    const clock = new ManualClock();
    expect(() => new LocalLease({ ttlMs: 0, driftMarginMs: 0, graceMs: 0 }, clock, 0)).toThrow(InvalidArgumentError);
    expect(() => new LocalLease({ ttlMs: 1000, driftMarginMs: 500, graceMs: 0 }, clock, 0)).toThrow(InvalidArgumentError);
    expect(() => new LocalLease({ ttlMs: 1000, driftMarginMs: 10, graceMs: -1 }, clock, 0)).toThrow(InvalidArgumentError);
    expect(() => new LocalLease({ ttlMs: Number.NaN, driftMarginMs: 10, graceMs: 1 }, clock, 0)).toThrow(InvalidArgumentError);
  });

  it('has a default drift margin of 5 % with a 50 ms floor', () => {
    expect(defaultDriftMargin(10_000)).toBe(500);
    expect(defaultDriftMargin(200)).toBe(50);
  });

  it('never reports the lease valid past the server deadline of the last acknowledged keepalive (property)', () => {
    // The server's deadline runs from its receive time (>= our send time) for the TTL; the client's
    // view must never be valid at or after sendTime + ttl - drift of the latest acknowledged keepalive.
    type Op = { type: 'advance'; ms: number } | { type: 'send' } | { type: 'ack'; back: number } | { type: 'poll' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
      fc.record({ type: fc.constant('send' as const) }),
      fc.record({ type: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ type: fc.constant('poll' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const clock = new ManualClock(0);
        const lease = new LocalLease({ ttlMs: TTL, driftMarginMs: DRIFT, graceMs: TTL }, clock, 0);
        const sends: Array<{ nonce: bigint; at: number }> = [];
        let bestAcked = 0; // the Open's send time
        let nonce = 0n;
        let everExpired = false;
        for (const o of ops) {
          if (o.type === 'advance') clock.advance(o.ms);
          else if (o.type === 'send') {
            nonce++;
            lease.sent(nonce);
            sends.push({ nonce, at: clock.now() });
          } else if (o.type === 'ack') {
            const s = sends[sends.length - 1 - o.back];
            if (s) {
              const before = lease.state;
              lease.acked(s.nonce, TTL);
              if (before !== 'expired' && lease.state !== 'expired') bestAcked = Math.max(bestAcked, s.at);
            }
          } else {
            for (const e of lease.poll()) if (e.type === 'expired') everExpired = true;
          }
          if (lease.valid()) expect(clock.now()).toBeLessThan(bestAcked + TTL - DRIFT);
          if (everExpired) expect(lease.state).toBe('expired');
        }
      }),
      { numRuns: 300 },
    );
  });
});

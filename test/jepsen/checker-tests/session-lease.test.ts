import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFencing } from '../checker/fencing.js';
import { HistoryError } from '../checker/history-error.js';
import type { History } from '../checker/history.js';
import { formatHistoryJsonl, parseHistoryJsonl } from '../checker/history-jsonl.js';
import { checkSessionLeases, renderSessionLeases, SESSION_EXPIRED_F, SESSION_LEASE_F, summarizeSessionLeases } from '../checker/session-lease.js';
import { HistoryBuilder } from './build.js';

/** A lease record of `session` taken at `at`, as a worker notes it. */
function lease(b: HistoryBuilder, process: number, session: string, at: number, leaseEndsAt: number, driftMs = 100): HistoryBuilder {
  return b.op(process, SESSION_LEASE_F, { session, leaseEndsAt, at, driftMs });
}

/** A session-expired event received by a watcher at `at`. */
function watched(b: HistoryBuilder, process: number, session: string, at: number, node = 'n1'): HistoryBuilder {
  return b.op(process, SESSION_EXPIRED_F, { session, at, via: 'watch', node, index: '99' });
}

/** A clean run: keepalives renew the lease every ~600 ms; the client stops at 2_000, its lease runs out at 3_900, the server expires it at 4_100. */
function clean(): History {
  const b = new HistoryBuilder();
  lease(b, 0, '7', 0, 1_900);
  lease(b, 0, '7', 600, 2_500);
  lease(b, 0, '7', 1_200, 3_100);
  lease(b, 0, '7', 2_000, 3_900);
  watched(b, 9, '7', 4_100, 'n2');
  watched(b, 10, '7', 4_150, 'n3');
  b.op(0, SESSION_EXPIRED_F, { session: '7', at: 4_120, via: 'client', cause: 'server', leaseEndsAt: 3_900 });
  return b.build();
}

describe('checkSessionLeases', () => {
  it('passes a history whose expiries all come after the acknowledged lease', () => {
    const r = checkSessionLeases(clean());
    expect(r).toMatchObject({ type: 'session-lease', valid: true, leases: 4, sessions: 1, expiries: 1, judged: 1, observations: 3, violations: [] });
    expect(r.closest?.leftMs).toBe(-200);
    expect(summarizeSessionLeases(r)).toBe('session leases: 1 server expiries, 0 inside an acknowledged lease');
    expect(renderSessionLeases(r)).toContain('closest expiry after a lease end: 200.0 ms');
  });

  it('flags a planted violation: the server expired the session while the client still held an acknowledged lease', () => {
    const b = new HistoryBuilder();
    lease(b, 0, '7', 0, 1_900);
    lease(b, 0, '7', 600, 2_500);
    // The partitioned leader acked at 1_200 (lease to 3_100); the watcher sees the expiry at 2_800.
    lease(b, 0, '7', 1_200, 3_100);
    watched(b, 9, '7', 2_800, 'n2');
    b.op(0, SESSION_EXPIRED_F, { session: '7', at: 2_900, via: 'client', cause: 'server', leaseEndsAt: 3_100 });
    // An unrelated session expires cleanly.
    lease(b, 1, '8', 0, 1_900);
    watched(b, 9, '8', 2_500, 'n2');
    const r = checkSessionLeases(b.build());
    expect(r.valid).toBe(false);
    expect(r.expiries).toBe(2);
    expect(r.violations).toHaveLength(1);
    // The worst observation of session 7 decides: the watcher, 300 ms inside the lease.
    expect(r.violations[0]).toMatchObject({ session: '7', via: 'watch', node: 'n2', at: 2_800, leaseEndsAt: 3_100, recordedAt: 1_200, leftMs: 300 });
    expect(summarizeSessionLeases(r)).toBe('session leases: 2 server expiries, 1 inside an acknowledged lease');
    expect(renderSessionLeases(r)).toMatch(/session 7: expired on the server, seen by a watcher on n2 at 2800\.0 ms; lease to 3100\.0 ms .*300\.0 ms left/);
  });

  it('judges a client observation by the lease end the SDK reported at that moment', () => {
    const b = new HistoryBuilder();
    lease(b, 0, '5', 0, 1_000);
    // An ack the worker had not recorded yet: the client's own reading carries it.
    b.op(0, SESSION_EXPIRED_F, { session: '5', at: 1_500, via: 'client', cause: 'server', leaseEndsAt: 1_536 });
    const r = checkSessionLeases(b.build());
    expect(r.violations).toEqual([expect.objectContaining({ session: '5', via: 'client', leaseEndsAt: 1_536, recordedAt: 1_500, leftMs: 36 })]);
  });

  it('uses only lease records taken at or before the observation', () => {
    const b = new HistoryBuilder();
    lease(b, 0, '5', 0, 1_000);
    watched(b, 9, '5', 1_200);
    // Recorded after the expiry was seen (and out of history order): it cannot make the expiry early.
    lease(b, 0, '5', 1_300, 3_000);
    const r = checkSessionLeases(b.build());
    expect(r.valid).toBe(true);
    expect(r.closest).toMatchObject({ leaseEndsAt: 1_000, leftMs: -200 });
  });

  it('ignores a client that gave up on its own, and counts sessions without a lease as unjudged expiries', () => {
    const b = new HistoryBuilder();
    lease(b, 0, '5', 0, 1_000);
    b.op(0, SESSION_EXPIRED_F, { session: '5', at: 500, via: 'client', cause: 'grace-ended', leaseEndsAt: 1_000 });
    watched(b, 9, '6', 700);
    const r = checkSessionLeases(b.build());
    expect(r).toMatchObject({ valid: true, expiries: 1, judged: 0, observations: 1, closest: null });
  });

  it('reports expiries inside the drift margin without failing', () => {
    const b = new HistoryBuilder();
    lease(b, 0, '5', 0, 1_000, 100);
    watched(b, 9, '5', 1_050);
    const r = checkSessionLeases(b.build());
    expect(r.valid).toBe(true);
    expect(r.withinDrift).toHaveLength(1);
    expect(renderSessionLeases(r)).toContain('inside its drift margin');
  });

  it('rejects malformed records with a HistoryError', () => {
    const bad = [
      { session: 7, leaseEndsAt: 1, at: 0 },
      { session: '7', leaseEndsAt: 'soon', at: 0 },
      { session: '7', leaseEndsAt: 1 },
    ];
    for (const v of bad) expect(() => checkSessionLeases(new HistoryBuilder().op(0, SESSION_LEASE_F, v).build())).toThrow(HistoryError);
    expect(() => checkSessionLeases(new HistoryBuilder().op(0, SESSION_EXPIRED_F, { session: '7', at: 1, via: 'psychic' }).build())).toThrow(/via/);
  });

  it('leaves the other checkers alone: the fencing checker ignores both op kinds', () => {
    const h = clean();
    expect(checkFencing(h)).toMatchObject({ valid: true, sections: [], findings: [] });
    // And the ops survive the JSONL round trip unchanged.
    expect(checkSessionLeases(parseHistoryJsonl(formatHistoryJsonl(h)))).toEqual(checkSessionLeases(h));
  });

  it('flags exactly the sessions whose expiry was seen before their latest recorded lease end (random histories)', () => {
    const session = fc.record({
      renewals: fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 8 }),
      ttl: fc.integer({ min: 500, max: 3_000 }),
      seenAfter: fc.array(fc.integer({ min: -2_000, max: 3_000 }), { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 6 }), (sessions) => {
        const b = new HistoryBuilder();
        const expected = new Set<string>();
        sessions.forEach((s, i) => {
          const id = String(100 + i);
          let at = 0;
          const records: Array<{ at: number; end: number }> = [];
          for (const gap of s.renewals) {
            at += gap;
            records.push({ at, end: at + s.ttl });
            lease(b, i, id, at, at + s.ttl);
          }
          const last = records[records.length - 1]!;
          for (const [k, d] of s.seenAfter.entries()) {
            const t = last.at + d;
            watched(b, 1_000 + i * 10 + k, id, t);
            const before = records.filter((r) => r.at <= t);
            const l = before.length ? Math.max(...before.map((r) => r.end)) : undefined;
            if (l !== undefined && l > t) expected.add(id);
          }
        });
        const r = checkSessionLeases(b.build());
        expect(new Set(r.violations.map((v) => v.session))).toEqual(expected);
        expect(r.valid).toBe(expected.size === 0);
        expect(r.expiries).toBe(sessions.length);
      }),
      { numRuns: 200 },
    );
  });
});

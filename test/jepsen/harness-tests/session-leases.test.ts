import { describe, expect, it } from 'vitest';
import { LatchClient } from '../../../src/client/client.js';
import { ManualClock } from '../../../src/common/clock.js';
import { SeededRng } from '../../../src/common/rng.js';
import { FakeTransport, flush, ManualTimers } from '../../client/fakes.js';
import { checkSessionLeases, HistoryRecorder, SESSION_EXPIRED_F, SESSION_LEASE_F, type History } from '../checker/index.js';
import { checkRun } from '../harness/checks.js';
import { clientDriftMs, DEFAULT_OPTIONS, parseArgs } from '../harness/options.js';
import { isolate } from '../harness/partitions.js';
import { ProxyNetwork } from '../harness/proxy-network.js';
import { ownNodeFirst } from '../harness/run.js';
import { LEASE_LANE, LeaseRecorder, sdkLeaseEndsAt } from '../workloads/session-leases.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
const TTL = 3_000;
const DRIFT = 750;

interface Note {
  readonly lane: number;
  readonly f: string;
  readonly value: Record<string, unknown>;
}

async function setup(): Promise<{ transport: FakeTransport; timers: ManualTimers; client: LatchClient; notes: Note[]; leases: LeaseRecorder }> {
  const transport = new FakeTransport();
  transport.ttlMs = TTL;
  transport.on('Sessions/Open', () => ({ sessionId: '41', ttlMs: TTL }));
  transport.on('Sessions/Close', () => ({}));
  const timers = new ManualTimers();
  const notes: Note[] = [];
  const leases = new LeaseRecorder({ note: (lane, f, value) => notes.push({ lane, f, value: value as Record<string, unknown> }), log: () => undefined }, timers.clock, DRIFT);
  const client = await LatchClient.connect({ endpoints: EPS, verify: false, transport: leases.observe(transport), clock: timers.clock, timers, rng: new SeededRng(3) });
  return { transport, timers, client, notes, leases };
}

describe('LeaseRecorder (worker side)', () => {
  it('reads the SDK lease end, records it at open and after every acknowledged keepalive, and the server expiry with the lease end then', async () => {
    const { transport, timers, client, notes, leases } = await setup();
    const openedAt = timers.clock.now();
    const session = await client.session({ ttlMs: TTL, driftMarginMs: DRIFT });
    leases.track(session);
    expect(sdkLeaseEndsAt(session)).toBe(openedAt + TTL - DRIFT);
    expect(notes[0]).toEqual({ lane: LEASE_LANE, f: SESSION_LEASE_F, value: { session: '41', leaseEndsAt: openedAt + TTL - DRIFT, at: openedAt, driftMs: DRIFT } });
    // Keepalives go out at once and every TTL / 3; each answer moves the lease end.
    await timers.advance(TTL);
    const ends = notes.filter((n) => n.f === SESSION_LEASE_F).map((n) => n.value.leaseEndsAt as number);
    expect(ends.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThan(ends[i - 1]!);
    expect(ends.at(-1)).toBe(sdkLeaseEndsAt(session));
    // Every record was taken when the ack arrived, and the lease it records outlives it.
    for (const n of notes) expect(n.value.leaseEndsAt as number).toBeGreaterThan(n.value.at as number);

    transport.autoAck = false;
    await timers.advance(1);
    const endBefore = sdkLeaseEndsAt(session);
    transport.lastKeepAlive.ack(transport.lastKeepAlive.sent.at(-1)!.nonce, true);
    await flush();
    expect(session.state).toBe('expired');
    expect(notes.at(-1)).toEqual({ lane: LEASE_LANE, f: SESSION_EXPIRED_F, value: { session: '41', at: timers.clock.now(), via: 'client', cause: 'server', leaseEndsAt: endBefore } });
    await client.close();
  });

  it('records nothing once the session is closed', async () => {
    const { timers, client, notes, leases } = await setup();
    const session = await client.session({ ttlMs: TTL, driftMarginMs: DRIFT });
    leases.track(session);
    await session.close();
    const n = notes.length;
    await timers.advance(TTL);
    expect(notes.length).toBe(n);
    await client.close();
  });
});

describe('run setup', () => {
  it('lists every endpoint with the worker’s own node first', () => {
    expect(ownNodeFirst(EPS, 0)).toEqual(EPS);
    expect(ownNodeFirst(EPS, 1)).toEqual(['127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7001']);
    expect(ownNodeFirst(EPS, 5)).toEqual(['127.0.0.1:7003', '127.0.0.1:7001', '127.0.0.1:7002']);
    expect(ownNodeFirst([], 2)).toEqual([]);
  });

  it('on the proxy network, a partition cuts peer links only: clients still reach every node directly', async () => {
    const net = await ProxyNetwork.create({ nodes: ['n1', 'n2', 'n3'] });
    try {
      for (const id of net.nodes) {
        const l = net.launch(id);
        // The client address is the node's own listener, not a proxy.
        expect(l.clientAddress).toBe(l.listenClient);
        expect(l.initialCluster).not.toContain(`=${l.listenPeer}/`);
      }
      // Isolating the leader (n1) loses its peer links both ways and nothing else.
      await net.partition(isolate(net.nodes, 'n1'), 'drop');
      expect(net.table.faulty().map((f) => `${f.from}->${f.to}`).sort()).toEqual(['n1->n2', 'n1->n3', 'n2->n1', 'n3->n1']);
    } finally {
      await net.close();
    }
  });

  it('runs at the server defaults users get, with the client drift margin of choice', () => {
    const p = parseArgs(['--time', '300', '--nemesis', 'partition,kill,pause', '--lock-delay', '0', '--ttl', '2000', '--election-timeout', '1000', '--heartbeat', '100'], () => 1);
    if (p.type !== 'run') throw new Error('expected run options');
    expect(p.options).toMatchObject({ timeMs: 300_000, nemeses: ['partition', 'kill', 'pause'], lockDelayMs: 0, sessionTtlMs: 2_000, electionTimeoutMs: 1_000, heartbeatMs: 100, driftMarginMs: null });
    expect(clientDriftMs(p.options)).toBe(500);
    const sdk = parseArgs(['--ttl', '2000', '--drift-margin', 'sdk'], () => 1);
    expect(sdk.type === 'run' && sdk.options.driftMarginMs).toBe(100);
    const fixed = parseArgs(['--drift-margin', '40'], () => 1);
    expect(fixed.type === 'run' && clientDriftMs(fixed.options)).toBe(40);
    expect(() => parseArgs(['--ttl', '2000', '--drift-margin', '1000'], () => 1)).toThrow(/less than half/);
    expect(clientDriftMs(DEFAULT_OPTIONS)).toBe(750);
  });
});

/** A recorder on a manual clock (times in ms, set with `at`). */
function recorder(): { rec: HistoryRecorder; at: (t: number) => void } {
  const clock = new ManualClock();
  return { rec: new HistoryRecorder(clock), at: (t) => clock.advance(t - clock.now()) };
}

const inputs = { lockDelayMs: 0, checkTimeoutMs: 10_000, crashes: [], problems: [] };

describe('checkRun with session leases', () => {
  /** Two holders of `a` in turn; session 5's lease records and a watcher's view of its expiry at `expiredAt`. */
  function history(expiredAt: number): History {
    const { rec, at } = recorder();
    at(1);
    rec.invoke(0, 'enter', { name: 'a' });
    rec.ok(0, { token: 10, sessionId: '5' });
    rec.invoke(7, SESSION_LEASE_F, { session: '5', leaseEndsAt: 1_500, at: 1, driftMs: 500 });
    rec.ok(7, null);
    at(700);
    rec.invoke(7, SESSION_LEASE_F, { session: '5', leaseEndsAt: 2_200, at: 700, driftMs: 500 });
    rec.ok(7, null);
    const watched = (): void => {
      at(expiredAt);
      rec.invoke(9, SESSION_EXPIRED_F, { session: '5', at: expiredAt, via: 'watch', node: 'n1', index: '30' });
      rec.ok(9, null);
    };
    if (expiredAt < 2_200) watched();
    at(2_200);
    // The local lease ran out: the holder exits (the SDK fired the lock's signal).
    rec.invoke(0, 'exit', { name: 'a', token: 10 });
    rec.info(0, null, 'the lock was lost before the release');
    if (expiredAt >= 2_200) watched();
    at(Math.max(expiredAt, 2_200) + 10);
    rec.invoke(1, 'enter', { name: 'a' });
    rec.ok(1, { token: 31, sessionId: '6' });
    return rec.history();
  }

  it('adds a session-leases row that passes a clean history and leaves the other rows as they were', () => {
    const v = checkRun('mutex', history(2_800), inputs);
    expect(v.rows.map((r) => r.name)).toEqual(['locks', 'register', 'fencing', 'leases', 'session-leases', 'nodes', 'harness']);
    expect(v.rows.find((r) => r.name === 'session-leases')).toMatchObject({ checker: 'session-lease', valid: true, summary: 'session leases: 1 server expiries, 0 inside an acknowledged lease' });
    expect(v.valid).toBe(true);
    expect(v.results.sessionLease?.judged).toBe(1);
  });

  it('fails the run when a session expired inside its acknowledged lease, even with no overlap in the history', () => {
    // The watcher saw the expiry at 1_800, while the lease the client was acknowledged ran to 2_200.
    const v = checkRun('mutex', history(1_800), inputs);
    const row = v.rows.find((r) => r.name === 'session-leases');
    expect(row).toMatchObject({ valid: false, summary: 'session leases: 1 server expiries, 1 inside an acknowledged lease' });
    expect(row?.details).toContain('400.0 ms left');
    expect(v.rows.filter((r) => r.valid !== true).map((r) => r.name)).toEqual(['session-leases']);
    expect(v.valid).toBe(false);
  });

  it('with lock-delay 0, an overlapping critical section fails the run (lock model), whatever the session-lease records say', () => {
    const { rec, at } = recorder();
    at(1);
    rec.invoke(0, 'enter', { name: 'a' });
    rec.ok(0, { token: 10, sessionId: '5' });
    at(2);
    // Granted to another session while the first holder is still in its section…
    rec.invoke(1, 'enter', { name: 'a' });
    rec.ok(1, { token: 12, sessionId: '6' });
    at(3);
    // …which it leaves only afterwards (its loss recorded late).
    rec.invoke(0, 'exit', { name: 'a', token: 10 });
    rec.info(0, null, 'the lock was lost before the release');
    const h = rec.history();
    const v = checkRun('mutex', h, inputs);
    expect(v.rows.find((r) => r.name === 'locks')?.valid).toBe(false);
    expect(v.rows.find((r) => r.name === 'fencing')?.valid).toBe(true);
    expect(v.rows.find((r) => r.name === 'session-leases')?.valid).toBe(true);
    expect(v.valid).toBe(false);
    expect(checkSessionLeases(h).expiries).toBe(0);
  });
});

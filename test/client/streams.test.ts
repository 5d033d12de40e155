import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GrpcStatus } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import { LatchClient } from '../../src/client/client.js';
import { LatchClientError, LockHeldError, NotHolderError, WatchCompactedError } from '../../src/client/errors.js';
import { errorFromStatus } from '../../src/client/error-mapping.js';
import type { LeaderInfo, WatchEvent } from '../../src/client/types.js';
import type { WireEvent, WireLeaderResponse, WireWatchRequest } from '../../src/client/wire.js';
import { FakeServerStream, FakeTransport, flush, ManualTimers } from './fakes.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002'];

async function setup(): Promise<{ transport: FakeTransport; timers: ManualTimers; client: LatchClient }> {
  const transport = new FakeTransport();
  const timers = new ManualTimers();
  const client = await LatchClient.connect({ endpoints: EPS, verify: false, transport, clock: timers.clock, timers, rng: new SeededRng(3) });
  return { transport, timers, client };
}

function ev(index: number, type = 'acquired', name = 'jobs/a'): WireEvent {
  return { index: String(index), type, name, sessionId: '7', token: String(index), mode: 'EXCLUSIVE', atMs: '1700000000000' };
}

function unavailable(): Error {
  return errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'Connection dropped' });
}

describe('LatchClient.watch', () => {
  it('delivers events in order and resumes at the last delivered index on another node, skipping what it delivered', async () => {
    const { transport, timers, client } = await setup();
    const it = client.watch('jobs/', { fromIndex: 5n });
    await flush();
    const s1 = transport.streams[0] as FakeServerStream<WireEvent>;
    expect((s1.req as WireWatchRequest).fromIndex).toBe('5');
    expect((s1.req as WireWatchRequest).prefix).toBe('jobs/');
    s1.push(ev(5));
    s1.push(ev(6, 'released'));
    const got: WatchEvent[] = [(await it.next()).value as WatchEvent, (await it.next()).value as WatchEvent];
    expect(got.map((e) => [e.index, e.type, e.token])).toEqual([
      [5n, 'acquired', 5n],
      [6n, 'released', 6n],
    ]);
    s1.end(unavailable());
    await timers.advance(1);
    const s2 = transport.streams[1] as FakeServerStream<WireEvent>;
    expect((s2.req as WireWatchRequest).fromIndex).toBe('6');
    s2.push(ev(5)); // older: dropped
    s2.push(ev(6)); // the event of index 6 already delivered: skipped
    s2.push(ev(7, 'expired'));
    const next = await it.next();
    expect((next.value as WatchEvent).index).toBe(7n);
    await it.return?.();
    expect(s2.cancelled).toBe(true);
    await client.close();
  });

  it('delivers every event of one entry (a holder\'s expiry: lock expired, then session-expired), also across a resume', async () => {
    const { transport, timers, client } = await setup();
    const it = client.watch('');
    await flush();
    const s1 = transport.streams[0] as FakeServerStream<WireEvent>;
    s1.push(ev(9, 'expired'));
    s1.push({ ...ev(9, 'session-expired'), name: '' });
    const a = (await it.next()).value as WatchEvent;
    const b = (await it.next()).value as WatchEvent;
    expect([a.type, b.type, a.index, b.index]).toEqual(['expired', 'session-expired', 9n, 9n]);
    s1.push(ev(10, 'acquired'));
    expect(((await it.next()).value as WatchEvent).index).toBe(10n);
    s1.push(ev(11, 'expired'));
    expect(((await it.next()).value as WatchEvent).type).toBe('expired');
    // The stream breaks between the two events of entry 11: the new one starts at 11 and skips the first.
    s1.end(unavailable());
    await timers.advance(1);
    const s2 = transport.streams[1] as FakeServerStream<WireEvent>;
    expect((s2.req as WireWatchRequest).fromIndex).toBe('11');
    s2.push(ev(11, 'expired'));
    s2.push({ ...ev(11, 'session-expired'), name: '' });
    const c = (await it.next()).value as WatchEvent;
    expect([c.type, c.index]).toEqual(['session-expired', 11n]);
    await it.return?.();
    await client.close();
  });

  it('ends with WatchCompactedError when the server no longer has the requested events', async () => {
    const { transport, client } = await setup();
    const it = client.watch('');
    await flush();
    const md = new Metadata();
    md.set('latch-code', 'WATCH_COMPACTED');
    const pending = it.next();
    (transport.streams[0] as FakeServerStream<WireEvent>).end(errorFromStatus({ code: GrpcStatus.OUT_OF_RANGE, details: 'index 3 compacted', metadata: md }));
    await expect(pending).rejects.toBeInstanceOf(WatchCompactedError);
    expect((await it.next()).done).toBe(true);
    await client.close();
  });

  it('ends with a PROTOCOL error on a malformed event, and stops when the client closes', async () => {
    const { transport, client } = await setup();
    const bad = client.watch('');
    const good = client.watch('');
    await flush();
    const p = bad.next();
    (transport.streams[0] as FakeServerStream<WireEvent>).push({ ...ev(1), type: 'exploded' });
    await expect(p).rejects.toBeInstanceOf(LatchClientError);
    const waiting = good.next();
    await client.close();
    expect((await waiting).done).toBe(true);
    expect((transport.streams[1] as FakeServerStream<WireEvent>).cancelled).toBe(true);
  });

  it('pauses the stream while too many events wait to be consumed', async () => {
    const { transport, client } = await setup();
    const it = client.watch('');
    await flush();
    const s = transport.streams[0] as FakeServerStream<WireEvent>;
    for (let i = 1; i <= 256; i++) s.push(ev(i));
    expect(s.paused).toBe(true);
    for (let i = 0; i < 200; i++) await it.next();
    expect(s.paused).toBe(false);
    await client.close();
  });
});

describe('Election', () => {
  function leaderRes(session: string, token: string, value: string): WireLeaderResponse {
    return { hasLeader: true, sessionId: session, token, value: Buffer.from(value) };
  }

  it('campaigns, proclaims and resigns through the Elections service with the session seq', async () => {
    const { transport, client } = await setup();
    transport.on('Sessions/Open', () => ({ sessionId: '21', ttlMs: 3000 }));
    transport.on('Elections/Campaign', (_ep, req) => leaderRes(req.sessionId, '300', req.value.toString()));
    transport.on('Elections/Proclaim', (_ep, req) => leaderRes(req.sessionId, '300', req.value.toString()));
    transport.on('Elections/Resign', () => ({}));
    const session = await client.session();
    const election = session.election('scheduler');
    const lead = await election.campaign('node-a');
    expect(lead.name).toBe('election/scheduler');
    expect(lead.token).toBe(300n);
    expect(lead.kind).toEqual({ type: 'election', election: 'scheduler' });
    expect(election.leadership).toBe(lead);
    await election.proclaim('node-a2');
    expect(transport.callsOf('Elections/Proclaim')[0]?.req.value.toString()).toBe('node-a2');
    await election.resign();
    expect(lead.held).toBe(false);
    expect(election.leadership).toBeUndefined();
    const resign = transport.callsOf('Elections/Resign')[0]!.req;
    expect(resign.name).toBe('scheduler');
    const seqs = [transport.callsOf('Elections/Campaign')[0]!.req.requestSeq, transport.callsOf('Elections/Proclaim')[0]!.req.requestSeq, resign.requestSeq];
    expect(seqs).toEqual(['1', '2', '3']);
    await expect(election.proclaim('x')).rejects.toBeInstanceOf(NotHolderError);
    await client.close();
  });

  it('a try campaign (waitMs 0) that finds another leader throws LockHeldError', async () => {
    const { transport, client } = await setup();
    transport.on('Sessions/Open', () => ({ sessionId: '22', ttlMs: 3000 }));
    transport.on('Elections/Campaign', () => leaderRes('99', '5', 'other'));
    const session = await client.session();
    await expect(session.election('e').campaign('me', { waitMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
    // The server treats a campaign's wait_ms 0 as "forever": a try campaign waits 1 ms.
    expect(transport.callsOf('Elections/Campaign')[0]?.req.waitMs).toBe(1);
    await client.close();
  });

  it('observe yields the leader and each change once, across a reconnect', async () => {
    const { transport, timers, client } = await setup();
    transport.on('Sessions/Open', () => ({ sessionId: '23', ttlMs: 3000 }));
    const session = await client.session();
    const it = session.election('sched').observe();
    await flush();
    const s1 = transport.streams[0] as FakeServerStream<WireLeaderResponse>;
    s1.push({ hasLeader: false, sessionId: '0', token: '0', value: Buffer.alloc(0) });
    s1.push(leaderRes('5', '10', 'a'));
    s1.end(unavailable());
    await timers.advance(1);
    const s2 = transport.streams[1] as FakeServerStream<WireLeaderResponse>;
    s2.push(leaderRes('5', '10', 'a')); // the same leader again after the reconnect: not repeated
    s2.push(leaderRes('6', '12', 'b'));
    const seen: Array<LeaderInfo | null> = [];
    for (let i = 0; i < 3; i++) seen.push((await it.next()).value as LeaderInfo | null);
    expect(seen[0]).toBeNull();
    expect(seen.slice(1).map((l) => [l?.sessionId, l?.token, Buffer.from(l!.value).toString()])).toEqual([
      [5n, 10n, 'a'],
      [6n, 12n, 'b'],
    ]);
    await it.return?.();
    await client.close();
  });
});

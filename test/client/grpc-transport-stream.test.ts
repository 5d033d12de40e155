/**
 * GrpcRpcTransport's Locks.Stream path against tiny in-process grpc-js servers: lock operations
 * share one lazily opened stream per endpoint (with the auth token in its metadata) while other
 * calls stay unary; a CallError NOT_LEADER sends the Router to the hinted leader; a failed stream
 * fails its pending calls as UNAVAILABLE and the next call opens a new one; a deadline cancels the
 * call on the server; and a server without Locks.Stream gets unary calls instead.
 */
import { status, type GrpcObject, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, type ServiceClientConstructor, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { listenFake } from '../helpers/fake-grpc-server.js';
import { systemClock } from '../../src/common/clock.js';
import { GrpcStatus, NotLeaderError } from '../../src/common/errors.js';
import { loadProto } from '../../src/common/proto.js';
import { systemRng } from '../../src/common/rng.js';
import { leaderHintOf, outcomeUnknown, retryClassOf } from '../../src/client/error-mapping.js';
import { UnavailableError } from '../../src/client/errors.js';
import { GrpcRpcTransport } from '../../src/client/grpc-transport.js';
import { DEFAULT_BACKOFF, EndpointSet } from '../../src/client/retry-plan.js';
import { Router } from '../../src/client/router.js';
import { systemTimers } from '../../src/client/timers.js';
import type { WireLockStreamRequest } from '../../src/client/wire.js';

interface StreamReq extends WireLockStreamRequest {
  readonly op?: string;
}

/** How the fake answers one stream request: a response body, 'hold' (answer later via `held`), or 'end'/'fail' the stream. */
type Script = (req: StreamReq) => object | 'hold' | 'end' | 'fail';

interface FakeServer {
  readonly address: string;
  /** Stream calls opened, with their authorization header. */
  readonly streams: (string | undefined)[];
  /** Every stream request received (cancels included). */
  readonly streamReqs: StreamReq[];
  /** Unary calls by method name. */
  readonly unary: string[];
  /** Held stream requests: answer with `answer(callId, body)`. */
  answer(callId: string, body: object): void;
  stop(): Promise<void>;
}

const servers: FakeServer[] = [];
const transports: GrpcRpcTransport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function locksDefinition(withStream: boolean): ServiceDefinition {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const def = { ...(pkg.latch.v1['Locks'] as ServiceClientConstructor).service } as Record<string, unknown>;
  if (!withStream) delete def['stream']; // a server built from the proto before Locks.Stream
  return def as ServiceDefinition;
}

const grant = (name: string) => ({ acquired: true, sequencer: { name, mode: 'EXCLUSIVE', token: '7', sessionId: '1' } });

async function fakeServer(opts: { withStream: boolean; streamUnimplemented?: boolean; script?: Script; unaryAcquire?: () => object }): Promise<FakeServer> {
  const streams: (string | undefined)[] = [];
  const streamReqs: StreamReq[] = [];
  const unary: string[] = [];
  const held = new Map<string, ServerDuplexStream<StreamReq, object>>();
  const u =
    (name: string, res: () => object) =>
    (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>): void => {
      unary.push(name);
      cb(null, res());
    };
  const impl: UntypedServiceImplementation = {
    acquire: u('acquire', opts.unaryAcquire ?? (() => grant('unary'))),
    release: u('release', () => ({})),
    setValue: u('setValue', () => ({})),
    get: u('get', () => ({ name: 'a', held: false })),
  };
  if (opts.withStream) {
    impl['stream'] = (call: ServerDuplexStream<StreamReq, object>) => {
      const auth = call.metadata.get('authorization')[0];
      streams.push(typeof auth === 'string' ? auth : undefined);
      if (opts.streamUnimplemented) {
        call.emit('error', { code: status.UNIMPLEMENTED, details: 'The server does not implement the method /latch.v1.Locks/Stream' });
        return;
      }
      call.on('data', (req: StreamReq) => {
        streamReqs.push(req);
        if (req.op === 'cancel') return;
        const r = (opts.script ?? ((q: StreamReq) => (q.op === 'acquire' ? { acquire: grant(q.acquire?.name ?? '') } : { [q.op ?? 'release']: {} })))(req);
        if (r === 'hold') held.set(req.callId, call);
        else if (r === 'end') call.end();
        else if (r === 'fail') call.emit('error', { code: status.INTERNAL, details: 'boom' });
        else call.write({ callId: req.callId, ...r });
      });
      call.on('end', () => call.end());
    };
  }
  const listening = await listenFake(locksDefinition(opts.withStream), impl);
  const fake: FakeServer = {
    address: listening.address,
    streams,
    streamReqs,
    unary,
    answer: (callId, body) => held.get(callId)?.write({ callId, ...body }),
    stop: listening.stop,
  };
  servers.push(fake);
  return fake;
}

function transport(token?: string): GrpcRpcTransport {
  const t = new GrpcRpcTransport(token === undefined ? {} : { token });
  transports.push(t);
  return t;
}

const acq = (name: string, waitMs = 0) => ({ sessionId: '1', requestSeq: '1', name, mode: 'EXCLUSIVE' as const, waitMs, value: Buffer.alloc(0) });
const opts = { timeoutMs: 5000 };

describe('GrpcRpcTransport over Locks.Stream', () => {
  it('sends lock operations over one stream with the token in its metadata; other calls stay unary', async () => {
    const s = await fakeServer({ withStream: true });
    const t = transport('sekrit');
    const results = await Promise.all([
      t.unary(s.address, 'Locks/Acquire', acq('a'), opts),
      t.unary(s.address, 'Locks/Acquire', acq('b'), opts),
      t.unary(s.address, 'Locks/Release', { sessionId: '1', requestSeq: '2', name: 'a' }, opts),
      t.unary(s.address, 'Locks/SetValue', { sessionId: '1', requestSeq: '3', name: 'b', value: Buffer.from('v') }, opts),
    ]);
    expect(results[0]).toMatchObject(grant('a'));
    expect(results[1]).toMatchObject(grant('b'));
    expect(results.slice(2)).toEqual([{}, {}]);
    await t.unary(s.address, 'Locks/Acquire', acq('c'), opts);
    await t.unary(s.address, 'Locks/Get', { name: 'a' }, opts);
    expect(s.streams).toEqual(['Bearer sekrit']);
    expect(s.streamReqs.map((r) => [r.callId, r.op])).toEqual([
      ['1', 'acquire'],
      ['2', 'acquire'],
      ['3', 'release'],
      ['4', 'setValue'],
      ['5', 'acquire'],
    ]);
    expect(s.unary).toEqual(['get']);
  });

  it('matches out-of-order answers: a held acquire does not block a later release', async () => {
    const s = await fakeServer({ withStream: true, script: (q) => (q.op === 'acquire' ? 'hold' : { release: {} }) });
    const t = transport();
    let acquired = false;
    const a = t.unary(s.address, 'Locks/Acquire', acq('a', 10_000), opts).then((r) => ((acquired = true), r));
    await t.unary(s.address, 'Locks/Release', { sessionId: '1', requestSeq: '2', name: 'b' }, opts);
    expect(acquired).toBe(false);
    s.answer('1', { acquire: grant('a') });
    expect(await a).toMatchObject(grant('a'));
  });

  it('follows a CallError NOT_LEADER hint through the Router, unchanged', async () => {
    const leader = await fakeServer({ withStream: true });
    const follower = await fakeServer({
      withStream: true,
      script: (q) => ({ error: { grpcCode: GrpcStatus.UNAVAILABLE, latchCode: 'NOT_LEADER', message: `not the leader; the leader is ${leader.address}`, leader: leader.address }, callId: q.callId }),
    });
    const t = transport();
    const direct = await t.unary(follower.address, 'Locks/Acquire', acq('a'), opts).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(NotLeaderError);
    expect(leaderHintOf(direct)).toBe(leader.address);
    expect(retryClassOf(direct)).toBe('retry');
    const router = new Router({ transport: t, endpoints: new EndpointSet([follower.address]), backoff: DEFAULT_BACKOFF, rng: systemRng, clock: systemClock, timers: systemTimers });
    const answered: string[] = [];
    const res = await router.call('Locks/Acquire', () => acq('routed'), { timeoutMs: 5000 }, (e) => answered.push(e));
    expect(res).toMatchObject(grant('routed'));
    expect(answered).toEqual([leader.address]);
  });

  it('fails pending calls as UNAVAILABLE when the stream fails or ends, then opens a new stream', async () => {
    for (const how of ['fail', 'end'] as const) {
      const s = await fakeServer({ withStream: true, script: (q) => (q.op === 'acquire' && q.acquire?.name === 'x' ? how : q.op === 'acquire' ? 'hold' : { release: {} }) });
      const t = transport();
      const held = t.unary(s.address, 'Locks/Acquire', acq('held', 10_000), opts).catch((e: unknown) => e);
      const failing = t.unary(s.address, 'Locks/Acquire', acq('x'), opts).catch((e: unknown) => e);
      for (const err of [await held, await failing]) {
        expect(err).toBeInstanceOf(UnavailableError);
        expect((err as UnavailableError).code).toBe('UNAVAILABLE');
        expect(outcomeUnknown(err)).toBe(true);
        expect(retryClassOf(err)).toBe('retry');
      }
      expect(await t.unary(s.address, 'Locks/Release', { sessionId: '1', requestSeq: '3', name: 'y' }, opts)).toEqual({});
      expect(s.streams.length).toBe(2);
    }
  });

  it('rejects at the deadline as DEADLINE_EXCEEDED and sends CancelCall', async () => {
    const s = await fakeServer({ withStream: true, script: () => 'hold' });
    const t = transport();
    const err = await t.unary(s.address, 'Locks/Acquire', acq('a', 60_000), { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).code).toBe('DEADLINE_EXCEEDED');
    const deadline = Date.now() + 5000;
    while (!s.streamReqs.some((r) => r.op === 'cancel') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.streamReqs.map((r) => [r.callId, r.op])).toEqual([
      ['1', 'acquire'],
      ['1', 'cancel'],
    ]);
  });

  it('falls back to unary at a server without Locks.Stream', async () => {
    const s = await fakeServer({ withStream: false, unaryAcquire: () => grant('old-server') });
    const t = transport();
    expect(await t.unary(s.address, 'Locks/Acquire', acq('a'), opts)).toMatchObject(grant('old-server'));
    expect(await t.unary(s.address, 'Locks/Release', { sessionId: '1', requestSeq: '2', name: 'a' }, opts)).toEqual({});
    expect(await t.unary(s.address, 'Locks/SetValue', { sessionId: '1', requestSeq: '3', name: 'a', value: Buffer.alloc(0) }, opts)).toEqual({});
    expect(s.unary).toEqual(['acquire', 'release', 'setValue']);
  });

  it('tries the stream once, then stays unary, at a server that answers it UNIMPLEMENTED; other endpoints keep their stream', async () => {
    const old = await fakeServer({ withStream: true, streamUnimplemented: true });
    const other = await fakeServer({ withStream: true });
    const t = transport();
    const both = await Promise.all([t.unary(old.address, 'Locks/Acquire', acq('a'), opts), t.unary(old.address, 'Locks/Acquire', acq('b'), opts)]);
    expect(both).toEqual([expect.objectContaining(grant('unary')), expect.objectContaining(grant('unary'))]);
    await t.unary(old.address, 'Locks/Release', { sessionId: '1', requestSeq: '2', name: 'a' }, opts);
    expect(old.streams.length).toBe(1);
    expect(old.unary).toEqual(['acquire', 'acquire', 'release']);
    await t.unary(other.address, 'Locks/Release', { sessionId: '1', requestSeq: '2', name: 'a' }, opts);
    expect(other.streams.length).toBe(1);
    expect(other.unary).toEqual([]);
  });
});

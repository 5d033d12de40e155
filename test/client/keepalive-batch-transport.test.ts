/**
 * GrpcRpcTransport.keepAlive against tiny in-process grpc-js servers: the keepalives of many
 * sessions share one Sessions.KeepAliveBatch stream per endpoint (with the token in its metadata)
 * and their answers reach the right sessions; a server built before KeepAliveBatch answers
 * UNIMPLEMENTED and the same handles carry on over per-session Sessions.KeepAlive streams.
 */
import { type GrpcObject, type ServerDuplexStream, type ServiceClientConstructor, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { listenFake } from '../helpers/fake-grpc-server.js';
import { loadProto } from '../../src/common/proto.js';
import { GrpcRpcTransport } from '../../src/client/grpc-transport.js';
import type { KeepAliveStreamHandle } from '../../src/client/rpc-transport.js';
import type { WireKeepAliveBatchRequest, WireKeepAliveRequest, WireKeepAliveResponse } from '../../src/client/wire.js';

interface FakeServer {
  readonly address: string;
  /** Authorization header of each KeepAliveBatch stream opened. */
  readonly batchStreams: (string | undefined)[];
  /** Number of per-session KeepAlive streams opened. */
  singleStreams: number;
  /** Every batch received. */
  readonly batches: WireKeepAliveRequest[][];
  stop(): Promise<void>;
}

const servers: FakeServer[] = [];
const transports: GrpcRpcTransport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const answer = (r: WireKeepAliveRequest): WireKeepAliveResponse => ({ sessionId: r.sessionId, nonce: r.nonce, ttlMs: 3000, expired: false });

async function fakeServer(withBatch: boolean): Promise<FakeServer> {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const def = { ...(pkg.latch.v1['Sessions'] as ServiceClientConstructor).service } as Record<string, unknown>;
  if (!withBatch) delete def['KeepAliveBatch']; // a server built from the proto before KeepAliveBatch
  const fake = { batchStreams: [] as (string | undefined)[], singleStreams: 0, batches: [] as WireKeepAliveRequest[][] };
  const impl: UntypedServiceImplementation = {
    keepAlive: (call: ServerDuplexStream<WireKeepAliveRequest, WireKeepAliveResponse>) => {
      fake.singleStreams++;
      call.on('data', (r: WireKeepAliveRequest) => call.write(answer(r)));
      call.on('end', () => call.end());
    },
  };
  if (withBatch) {
    impl['keepAliveBatch'] = (call: ServerDuplexStream<WireKeepAliveBatchRequest, object>) => {
      const auth = call.metadata.get('authorization')[0];
      fake.batchStreams.push(typeof auth === 'string' ? auth : undefined);
      // Answer in reverse order, in one batch: the client must route by session_id.
      call.on('data', (b: WireKeepAliveBatchRequest) => {
        fake.batches.push([...b.requests]);
        call.write({ responses: [...b.requests].reverse().map(answer) });
      });
      call.on('end', () => call.end());
    };
  }
  const out: FakeServer = Object.assign(fake, await listenFake(def as ServiceDefinition, impl));
  servers.push(out);
  return out;
}

function transport(token?: string): GrpcRpcTransport {
  const t = new GrpcRpcTransport(token === undefined ? {} : { token });
  transports.push(t);
  return t;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Opens `n` keepalive handles for sessions 1..n and sends one keepalive on each. */
function openSessions(t: GrpcRpcTransport, endpoint: string, n: number): { handles: KeepAliveStreamHandle[]; got: Map<string, WireKeepAliveResponse[]>; ends: (Error | null)[] } {
  const got = new Map<string, WireKeepAliveResponse[]>();
  const ends: (Error | null)[] = [];
  const handles: KeepAliveStreamHandle[] = [];
  for (let i = 1; i <= n; i++) {
    const sid = String(i);
    got.set(sid, []);
    const h = t.keepAlive(endpoint, { onData: (m) => got.get(sid)!.push(m), onEnd: (e) => ends.push(e) });
    h.send({ sessionId: sid, nonce: '1' });
    handles.push(h);
  }
  return { handles, got, ends };
}

describe('GrpcRpcTransport keepalives', () => {
  it('share one KeepAliveBatch stream per endpoint, with the token, and route each answer to its session', async () => {
    const s = await fakeServer(true);
    const t = transport('sekrit');
    const { handles, got, ends } = openSessions(t, s.address, 50);
    await until(() => [...got.values()].every((g) => g.length === 1), 'an answer for every session');
    for (const [sid, g] of got) expect(g[0]).toMatchObject({ sessionId: sid, nonce: '1', ttlMs: 3000, expired: false });
    for (const [i, h] of handles.entries()) h.send({ sessionId: String(i + 1), nonce: '2' });
    await until(() => [...got.values()].every((g) => g.length === 2), 'a second answer for every session');
    expect(s.batchStreams).toEqual(['Bearer sekrit']);
    expect(s.singleStreams).toBe(0);
    // 100 keepalives in far fewer messages (each flush window's sends travel together).
    expect(s.batches.flat()).toHaveLength(100);
    expect(s.batches.length < s.batches.flat().length).toBe(true);
    expect(ends).toEqual([]);
  });

  it('fall back to per-session KeepAlive streams at a server without KeepAliveBatch', async () => {
    const s = await fakeServer(false);
    const t = transport();
    const { handles, got, ends } = openSessions(t, s.address, 3);
    await until(() => [...got.values()].every((g) => g.length === 1), 'an answer for every session');
    handles[0]!.send({ sessionId: '1', nonce: '2' });
    await until(() => got.get('1')!.length === 2, 'a second answer');
    expect(got.get('1')!.map((m) => m.nonce)).toEqual(['1', '2']);
    expect(s.singleStreams).toBe(3);
    // A later session goes straight to its own stream.
    const later = openSessions(t, s.address, 1);
    await until(() => later.got.get('1')!.length === 1, 'an answer on a fourth stream');
    expect(s.singleStreams).toBe(4);
    expect(ends).toEqual([]);
    // Per-session streams outlive a closed channel (as they always did): the sessions cancel them.
    for (const h of [...handles, ...later.handles]) h.cancel();
  });
});

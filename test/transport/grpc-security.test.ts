import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/common/codec.js';
import { encodeMessages } from '../../src/transport/message-codec.js';
import { HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, loadRaftPeerService, type BatchOut, type SnapshotChunkOut } from '../../src/transport/raft-peer-service.js';
import { captureLogger, Fixture } from './grpc-fixture.js';
import { freePorts, numbered } from './helpers.js';

const fx = new Fixture();
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx.closeAll();
});

function identity(clusterId: string, from: string, to: string): Metadata {
  const md = new Metadata();
  md.set(HEADER_CLUSTER_ID, clusterId);
  md.set(HEADER_FROM, from);
  md.set(HEADER_TO, to);
  return md;
}

interface Outcome {
  readonly code: number;
  readonly details: string;
  readonly acks: string[];
}

/** Opens a raw Stream call, writes `writes` (objects, or raw Buffers with `raw`), half-closes, and reports the status. */
function rawStream(address: string, md: Metadata, writes: readonly (BatchOut | Buffer)[], raw = false): Promise<Outcome> {
  const m = loadRaftPeerService().client.stream;
  const client = new Client(address, credentials.createInsecure());
  clients.push(client);
  const ser = raw ? (x: BatchOut | Buffer) => x as Buffer : (x: BatchOut | Buffer) => m.requestSerialize(x as BatchOut);
  const call = client.makeBidiStreamRequest<BatchOut | Buffer, { seq: string }>(m.path, ser, m.responseDeserialize, md);
  const acks: string[] = [];
  return new Promise((resolve) => {
    call.on('data', (a: { seq: string }) => acks.push(a.seq));
    call.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details, acks }));
    call.on('status', (s: { code: number; details: string }) => {
      if (s.code === status.OK) resolve({ code: 0, details: s.details, acks });
    });
    for (const w of writes) call.write(w);
    call.end();
  });
}

function rawSnapshot(address: string, md: Metadata, chunks: readonly SnapshotChunkOut[]): Promise<{ code: number; details: string }> {
  const m = loadRaftPeerService().client.installSnapshot;
  const client = new Client(address, credentials.createInsecure());
  clients.push(client);
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, md, (err: ServiceError | null) =>
      resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '' }),
    );
    for (const c of chunks) call.write(c);
    call.end();
  });
}

const batch = (over: Partial<BatchOut> = {}): BatchOut => ({ clusterId: 'c1', from: 'n2', to: 'n1', seq: 1, payload: encodeMessages(numbered('n2', 'n1', 0, 1)), ...over });

describe('GrpcTransport identity checks', () => {
  it('refuses a transport of another cluster and an unknown node id; nothing is delivered', async () => {
    const ports = await freePorts(3);
    const addr = (i: number): string => `127.0.0.1:${ports[i]}`;
    const lines: Record<string, unknown>[] = [];
    const a = await fx.node({ id: 'n1', port: ports[0] ?? 0, peers: [{ id: 'n2', address: addr(1) }], logger: captureLogger(lines) });
    const stranger = await fx.node({ id: 'n2', port: ports[1] ?? 0, clusterId: 'c2', peers: [{ id: 'n1', address: addr(0) }] });
    const unknown = await fx.node({ id: 'n3', port: ports[2] ?? 0, peers: [{ id: 'n1', address: addr(0) }] });
    stranger.transport.send(numbered('n2', 'n1', 0, 3));
    unknown.transport.send(numbered('n3', 'n1', 0, 3));
    await stranger.rec.until(() => stranger.rec.unreachable.includes('n1'), 'other cluster refused');
    await unknown.rec.until(() => unknown.rec.unreachable.includes('n1'), 'unknown node refused');
    await a.rec.until(() => a.transport.stats().inbound.rejectedIdentity >= 2, 'two rejections counted');
    expect(a.rec.messages).toEqual([]);
    const warns = lines.filter((l) => l['level'] === 40 && l['msg'] === 'rejected peer traffic').map((l) => String(l['reason']));
    expect(warns.some((r) => r.includes('belongs to cluster "c2"'))).toBe(true);
    expect(warns.some((r) => r.includes('n3 is not a known peer'))).toBe(true);
    expect(stranger.transport.peerStats('n1')?.queuedMessages).toBe(3);
  });

  it('answers PERMISSION_DENIED for a wrong cluster, addressee, sender or spoofed message, with a clear reason', async () => {
    const [a] = await fx.mesh(['n1', 'n2']);
    if (!a) throw new Error('mesh');
    const cases: [Metadata, BatchOut[], RegExp][] = [
      [identity('c2', 'n2', 'n1'), [batch()], /cluster "c2"/],
      [identity('c1', 'n2', 'n7'), [batch()], /addressed to node n7/],
      [identity('c1', 'n5', 'n1'), [batch()], /n5 is not a known peer/],
      [identity('c1', 'n2', 'n1'), [batch({ clusterId: 'c9' })], /cluster "c9"/],
      [identity('c1', 'n2', 'n1'), [batch({ to: 'n3' })], /addressed to node n3/],
      [identity('c1', 'n2', 'n1'), [batch({ payload: encodeMessages(numbered('n9', 'n1', 0, 1)) })], /message\[0\] is from n9/],
    ];
    for (const [md, writes, reason] of cases) {
      const out = await rawStream(a.address, md, writes);
      expect(out.code).toBe(status.PERMISSION_DENIED);
      expect(out.details).toMatch(reason);
    }
    expect(a.rec.messages).toEqual([]);
  });

  it('answers INVALID_ARGUMENT for garbage bytes and malformed payloads, and keeps working', async () => {
    const [a, b] = await fx.mesh(['n1', 'n2']);
    if (!a || !b) throw new Error('mesh');
    const md = (): Metadata => identity('c1', 'n2', 'n1');
    const garbage = await rawStream(a.address, md(), [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])], true);
    expect(garbage.code).toBe(status.INVALID_ARGUMENT);
    expect(garbage.details).toMatch(/undecodable/);
    const cases: [BatchOut[], RegExp][] = [
      [[batch({ payload: new Uint8Array([1, 0x92, 0x01]) })], /undecodable batch payload/],
      [[batch({ payload: new Uint8Array([9, 9, 9]) })], /undecodable batch payload/],
      [[batch({ payload: encode([{ type: 'append', from: 'n2', to: 'n1', term: 'x' }]) })], /term/],
      [[batch({ payload: encode([]) })], /non-empty array/],
      [[batch(), batch({ seq: 3 })], /seq 3, expected 2/],
      [[batch({ payload: encodeMessages([{ type: 'snapshot', from: 'n2', to: 'n1', term: 1, meta: { index: 1, term: 1, confState: { voters: [], learners: [] } } }]) })], /InstallSnapshot/],
    ];
    for (const [writes, reason] of cases) {
      const out = await rawStream(a.address, md(), writes);
      expect(out.code).toBe(status.INVALID_ARGUMENT);
      expect(out.details).toMatch(reason);
    }
    const missing = await rawStream(a.address, new Metadata(), [batch()]);
    expect(missing.code).toBe(status.INVALID_ARGUMENT);
    // Of all of the above only the first Batch of the seq case was valid and delivered.
    expect(a.rec.messages).toHaveLength(1);
    // A well-formed raw stream is acked (cumulatively: acks rise, the last covers both) and delivered.
    const good = await rawStream(a.address, md(), [batch(), batch({ seq: 2, payload: encodeMessages(numbered('n2', 'n1', 1, 2)) })]);
    expect({ code: good.code, details: good.details }).toEqual({ code: 0, details: 'OK' });
    expect(good.acks.at(-1)).toBe('2');
    expect(good.acks.map(Number)).toEqual([...new Set(good.acks.map(Number))].sort((x, y) => x - y));
    // And the real peer still gets through.
    b.transport.send(numbered('n2', 'n1', 50, 2));
    await a.rec.until(() => a.rec.messages.length === 6, 'delivery after garbage');
    expect(a.transport.stats().inbound.rejectedMalformed).toBeGreaterThanOrEqual(8);
  });

  it('refuses malformed or mismatched snapshot transfers without delivering them', async () => {
    const [a] = await fx.mesh(['n1', 'n2']);
    if (!a) throw new Error('mesh');
    const md = (): Metadata => identity('c1', 'n2', 'n1');
    const meta = { index: 5, term: 1, confState: { voters: ['n1', 'n2'], learners: [] } };
    const header = (size: number, from = 'n2'): Uint8Array => encode({ message: { type: 'snapshot', from, to: 'n1', term: 2, meta }, size });
    const chunk = (over: Partial<SnapshotChunkOut>): SnapshotChunkOut => ({ clusterId: 'c1', from: 'n2', to: 'n1', header: new Uint8Array(0), offset: 0, data: new Uint8Array(0), ...over });
    const cases: [SnapshotChunkOut[], number, RegExp][] = [
      [[chunk({ header: new Uint8Array([1, 2]) })], status.INVALID_ARGUMENT, /snapshot header/],
      [[chunk({ header: header(10), data: new Uint8Array(4) })], status.INVALID_ARGUMENT, /truncated at 4 of 10/],
      [[chunk({ header: header(3), data: new Uint8Array(4) })], status.INVALID_ARGUMENT, /exceed the announced 3/],
      [[chunk({ header: header(8), data: new Uint8Array(4) }), chunk({ offset: 5, data: new Uint8Array(4) })], status.INVALID_ARGUMENT, /offset 5, expected 4/],
      [[], status.INVALID_ARGUMENT, /no chunks/],
      [[chunk({ header: header(1, 'n3'), data: new Uint8Array(1) })], status.PERMISSION_DENIED, /message from n3/],
      [[chunk({ header: header(1), clusterId: 'c2', data: new Uint8Array(1) })], status.PERMISSION_DENIED, /cluster "c2"/],
    ];
    for (const [chunks, code, reason] of cases) {
      const out = await rawSnapshot(a.address, md(), chunks);
      expect(out.code).toBe(code);
      expect(out.details).toMatch(reason);
    }
    const wrongTo = await rawSnapshot(a.address, identity('c1', 'n2', 'n4'), [chunk({ header: header(0) })]);
    expect(wrongTo.code).toBe(status.PERMISSION_DENIED);
    expect(a.rec.messages).toEqual([]);
    const ok = await rawSnapshot(a.address, md(), [chunk({ header: header(8), data: new Uint8Array(4).fill(1) }), chunk({ offset: 4, data: new Uint8Array(4).fill(2) })]);
    expect(ok.code).toBe(0);
    await a.rec.until(() => a.rec.messages.length === 1, 'valid snapshot');
    const m = a.rec.messages[0];
    expect(m?.type === 'snapshot' && Array.from(m.data ?? [])).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
  });
});

import { Metadata, Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.js';
import { GrpcTransport } from '../../src/transport/grpc-transport.js';
import { decodeMessages } from '../../src/transport/message-codec.js';
import { loadRaftPeerService, type AckOut, type BatchIn, type Decoded } from '../../src/transport/raft-peer-service.js';
import { Fixture } from './grpc-fixture.js';
import { commits, digest, everyType, freePort, freePorts, numbered, pseudoRandomBytes, Recorder } from './helpers.js';

const fx = new Fixture();
afterEach(() => fx.closeAll());

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GrpcTransport delivery', () => {
  it('two transports exchange every message type in order, both ways', async () => {
    const [a, b] = await fx.mesh(['n1', 'n2']);
    if (!a || !b) throw new Error('mesh');
    const ab: Message[] = [];
    const ba: Message[] = [];
    for (let term = 1; term <= 5; term++) {
      const x = everyType('n1', 'n2', term);
      const y = everyType('n2', 'n1', term);
      ab.push(...x);
      ba.push(...y);
      a.transport.send(x);
      b.transport.send(y);
      if (term % 2 === 0) await tick();
    }
    await b.rec.until(() => b.rec.messages.length >= ab.length, 'n2 receives all');
    await a.rec.until(() => a.rec.messages.length >= ba.length, 'n1 receives all');
    expect(b.rec.messages).toEqual(ab);
    expect(a.rec.messages).toEqual(ba);
    expect(a.rec.unreachable).toEqual([]);
  });

  it('three transports exchange in order on every link', async () => {
    const nodes = await fx.mesh(['n1', 'n2', 'n3']);
    const sent = new Map<string, Message[]>();
    for (let round = 0; round < 20; round++) {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          const msgs = [...numbered(from.id, to.id, round * 10, 3), ...everyType(from.id, to.id, round + 1)];
          const key = `${from.id}>${to.id}`;
          sent.set(key, [...(sent.get(key) ?? []), ...msgs]);
          from.transport.send(msgs);
        }
      }
      if (round % 3 === 0) await tick();
    }
    for (const to of nodes) {
      for (const from of nodes) {
        if (from === to) continue;
        const expected = sent.get(`${from.id}>${to.id}`) ?? [];
        await to.rec.until(() => to.rec.from(from.id).length >= expected.length, `${to.id} receives from ${from.id}`);
        expect(to.rec.from(from.id)).toEqual(expected);
      }
    }
  });

  it('sends everything queued in one tick as one batch, and splits only at maxBatchBytes', async () => {
    const [a, b] = await fx.mesh(['n1', 'n2']);
    if (!a || !b) throw new Error('mesh');
    a.transport.send(numbered('n1', 'n2', 0, 1));
    await b.rec.until(() => b.rec.messages.length === 1, 'warm-up');
    const before = a.transport.peerStats('n2')?.batchesSent ?? 0;
    for (let i = 0; i < 10; i++) a.transport.send(numbered('n1', 'n2', 1 + i * 500, 500));
    await b.rec.until(() => b.rec.messages.length === 5001, '5000 heartbeats');
    expect(commits(b.rec.messages)).toEqual(Array.from({ length: 5001 }, (_, i) => i));
    expect((a.transport.peerStats('n2')?.batchesSent ?? 0) - before).toBe(1);

    // 40 appends of 256 KiB each = 10 MiB: more than one 4 MiB batch, delivered intact.
    const big: Message[] = Array.from({ length: 40 }, (_, i) => ({
      type: 'append',
      from: 'n1',
      to: 'n2',
      term: 2,
      prevIndex: i,
      prevTerm: 1,
      commit: 0,
      entries: [{ type: 'normal', term: 2, index: i + 1, data: pseudoRandomBytes(256 * 1024, i + 1) }],
    }));
    const mid = a.transport.peerStats('n2')?.batchesSent ?? 0;
    a.transport.send(big);
    await b.rec.until(() => b.rec.messages.length === 5041, 'big appends');
    expect(digest(b.rec.messages.slice(5001))).toEqual(digest(big));
    expect((a.transport.peerStats('n2')?.batchesSent ?? 0) - mid).toBeGreaterThanOrEqual(3);
  });

  it('pipelines batches without waiting for acks, up to maxInflightBatches', async () => {
    const service = loadRaftPeerService();
    const batches: Message[][] = [];
    let acked = 0;
    let stream: ServerDuplexStream<Decoded<BatchIn>, AckOut> | undefined;
    const server = new Server();
    server.addService(service.server.definition, {
      Stream: (call: ServerDuplexStream<Decoded<BatchIn>, AckOut>) => {
        stream = call;
        call.on('data', (d: Decoded<BatchIn>) => {
          if (d.type === 'ok') batches.push(decodeMessages(d.value.payload));
        });
        call.on('error', () => undefined);
        call.sendMetadata(new Metadata());
      },
      InstallSnapshot: () => undefined,
    });
    const rec = new Recorder(); // only for rec.until
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const ack = (n: number): void => {
      for (let i = 0; i < n; i++) stream?.write({ seq: ++acked });
    };
    try {
      const a = await fx.node({ id: 'n1', port: await freePort(), peers: [{ id: 'n2', address: `127.0.0.1:${port}` }], limits: { maxInflightBatches: 4 } });
      a.transport.send(numbered('n1', 'n2', 0, 1));
      await rec.until(() => batches.length === 1, 'first batch');
      ack(1);
      await a.rec.until(() => a.transport.peerStats('n2')?.batchesAcked === 1, 'first ack');
      for (let i = 1; i <= 10; i++) {
        a.transport.send(numbered('n1', 'n2', i, 1));
        await tick();
      }
      await rec.until(() => batches.length === 5, 'four pipelined batches');
      const s = a.transport.peerStats('n2');
      expect(s?.inflightBatches).toBe(4);
      expect(s?.peakInflightBatches).toBe(4);
      expect(s?.queuedMessages).toBe(6);
      // One cumulative ack covers the four batches in flight.
      acked += 4;
      stream?.write({ seq: acked });
      await rec.until(() => batches.flat().length === 11, 'the rest after acks');
      expect(a.transport.peerStats('n2')?.batchesAcked).toBe(5);
      expect(commits(batches.flat())).toEqual(Array.from({ length: 11 }, (_, i) => i));
      expect(batches.map((b) => b.length)).toEqual([1, 1, 1, 1, 1, 6]);
      // An ack that goes backwards is a protocol error: the stream is dropped (and reopened).
      stream?.write({ seq: 3 });
      await a.rec.until(() => (a.transport.peerStats('n2')?.streamFailures ?? 0) >= 1, 'stream dropped on a backwards ack');
    } finally {
      server.forceShutdown();
    }
  });
});

describe('GrpcTransport failures', () => {
  it('keeps queuing while a peer restarts, reconnects and resumes delivery', async () => {
    const ports = await freePorts(2);
    const peers = [
      { id: 'n1', address: `127.0.0.1:${ports[0]}` },
      { id: 'n2', address: `127.0.0.1:${ports[1]}` },
    ];
    const a = await fx.node({ id: 'n1', port: ports[0] ?? 0, peers });
    const b = await fx.node({ id: 'n2', port: ports[1] ?? 0, peers });
    a.transport.send(numbered('n1', 'n2', 0, 5));
    await b.rec.until(() => b.rec.messages.length === 5, 'before restart');
    await b.transport.close();
    await a.rec.until(() => a.rec.unreachable.includes('n2'), 'onUnreachable after the peer stopped');
    for (let i = 0; i < 5; i++) {
      a.transport.send(numbered('n1', 'n2', 100 + i * 10, 10));
      await tick();
    }
    await a.rec.until(() => (a.transport.peerStats('n2')?.streamFailures ?? 0) >= 2, 'a failed reconnect attempt');
    expect(a.transport.peerStats('n2')?.queuedMessages).toBe(50);
    const b2 = await fx.node({ id: 'n2', port: ports[1] ?? 0, peers });
    await b2.rec.until(() => b2.rec.messages.length === 50, 'queued messages after restart');
    expect(commits(b2.rec.messages)).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i));
    a.transport.send(numbered('n1', 'n2', 1000, 1));
    b2.transport.send(numbered('n2', 'n1', 7, 1));
    await b2.rec.until(() => b2.rec.messages.length === 51, 'fresh message after restart');
    await a.rec.until(() => a.rec.messages.length === 1, 'reverse direction after restart');
    expect(a.transport.peerStats('n2')?.state).toBe('open');
  });

  it('bounds the send queue by dropping the oldest messages and reports the peer unreachable', async () => {
    const ports = await freePorts(2);
    const peers = [
      { id: 'n1', address: `127.0.0.1:${ports[0]}` },
      { id: 'n2', address: `127.0.0.1:${ports[1]}` },
    ];
    const a = await fx.node({ id: 'n1', port: ports[0] ?? 0, peers, limits: { maxQueueMessages: 10 } });
    for (let i = 0; i < 5; i++) a.transport.send(numbered('n1', 'n2', i * 10, 10));
    await a.rec.until(() => a.rec.unreachable.length > 0, 'unreachable');
    expect(a.transport.peerStats('n2')?.messagesDropped).toBe(40);
    const b = await fx.node({ id: 'n2', port: ports[1] ?? 0, peers });
    await b.rec.until(() => b.rec.messages.length === 10, 'the newest ten');
    expect(commits(b.rec.messages)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
  });

  it('adds and removes peers live', async () => {
    const [a, b, c] = await fx.mesh(['n1', 'n2', 'n3']);
    if (!a || !b || !c) throw new Error('mesh');
    a.transport.send([...numbered('n1', 'n2', 0, 1), ...numbered('n1', 'n3', 0, 1)]);
    await c.rec.until(() => c.rec.messages.length === 1, 'n3 reached');
    await b.rec.until(() => b.rec.messages.length === 1, 'n2 reached');
    a.transport.setPeers([{ id: 'n2', address: b.address }]);
    expect(a.transport.peerStats('n3')).toBeUndefined();
    a.transport.send(numbered('n1', 'n3', 1, 1));
    await a.rec.until(() => a.rec.unreachable.includes('n3'), 'n3 now unknown');
    // n1 no longer accepts n3's traffic either.
    c.transport.send(numbered('n3', 'n1', 5, 1));
    await c.rec.until(() => c.rec.unreachable.includes('n1'), 'n3 refused by n1');
    expect(a.rec.messages).toEqual([]);
    expect(a.transport.stats().inbound.rejectedIdentity).toBeGreaterThan(0);
    a.transport.setPeers([{ id: 'n2', address: b.address }, { id: 'n3', address: c.address }]);
    a.transport.send(numbered('n1', 'n3', 2, 1));
    await c.rec.until(() => c.rec.messages.length === 2, 'n3 re-added');
    expect(commits(c.rec.messages)).toEqual([0, 2]);
    expect(() => a.transport.setPeers([{ id: 'bad id', address: 'x:1' }])).toThrow(/peers\[0\]\.id/);
  });

  it('refuses a second listener on a taken port with a ConfigError and ignores sends after close', async () => {
    const [a] = await fx.mesh(['n1']);
    if (!a) throw new Error('mesh');
    const clash = new GrpcTransport({ clusterId: 'c1', nodeId: 'n9', listen: a.address, peers: [], snapshotSource: () => Promise.resolve(undefined) });
    await expect(clash.start(new Recorder())).rejects.toThrow(/cannot listen/);
    await a.transport.close();
    expect(() => a.transport.send(numbered('n1', 'n2', 0, 1))).not.toThrow();
    await a.transport.close();
  });

  it('validates its options', () => {
    const base = { clusterId: 'c1', nodeId: 'n1', listen: '127.0.0.1:0', peers: [], snapshotSource: () => Promise.resolve(undefined) };
    expect(() => new GrpcTransport({ ...base, clusterId: '' })).toThrow(/clusterId/);
    expect(() => new GrpcTransport({ ...base, nodeId: 'a b' })).toThrow(/nodeId/);
    expect(() => new GrpcTransport({ ...base, listen: 'nope' })).toThrow(/listen/);
    expect(() => new GrpcTransport({ ...base, limits: { maxInflightBatches: -1 } })).toThrow(/maxInflightBatches/);
  });
});

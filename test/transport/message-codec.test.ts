import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/common/codec.js';
import { ConfigError, LatchError } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import { parseHostPort } from '../../src/transport/address.js';
import { Backoff } from '../../src/transport/backoff.js';
import { Fifo } from '../../src/transport/fifo.js';
import { checkPeers, resolveLimits } from '../../src/transport/grpc-transport-options.js';
import { decodeMessages, encodeMessages, validateMessage } from '../../src/transport/message-codec.js';
import { raftProtoPath } from '../../src/transport/proto-path.js';
import { packageRoot } from '../../src/common/proto.js';
import type { Message } from '../../src/raft/types.js';
import { everyType } from './helpers.js';

function expectInvalid(f: () => unknown, pattern: RegExp): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(LatchError);
    expect((err as LatchError).code).toBe('INVALID_ARGUMENT');
    expect((err as LatchError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an INVALID_ARGUMENT error');
}

describe('message codec', () => {
  it('round-trips every message type, with binary fields as plain Uint8Array', () => {
    const msgs: Message[] = [
      ...everyType('n1', 'n2', 3),
      { type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 50, term: 2, confState: { voters: ['n1', 'n2'], learners: ['n3'] } }, data: new Uint8Array([9, 8, 7]) },
      { type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 50, term: 2, confState: { voters: [], learners: [] } } },
    ];
    const back = decodeMessages(encodeMessages(msgs));
    expect(back).toEqual(msgs);
    const append = back.find((m) => m.type === 'append');
    expect(append?.type === 'append' && append.entries[0]?.type === 'normal' && append.entries[0].data.constructor).toBe(Uint8Array);
  });

  it('drops unknown fields', () => {
    const m = validateMessage({ type: 'timeout-now', from: 'n1', to: 'n2', term: 1, evil: 'x' });
    expect(m).toEqual({ type: 'timeout-now', from: 'n1', to: 'n2', term: 1 });
  });

  it.each([
    [{ type: 'nope', from: 'n1', to: 'n2', term: 1 }, /type is not a message type/],
    [{ type: 'vote', from: 'n1', to: 'n2', term: -1, lastIndex: 1, lastTerm: 1 }, /term/],
    [{ type: 'vote', from: 'n1', to: 'n2', term: 1.5, lastIndex: 1, lastTerm: 1 }, /term/],
    [{ type: 'vote', from: 'bad id!', to: 'n2', term: 1, lastIndex: 1, lastTerm: 1 }, /from is not a node id/],
    [{ type: 'vote', from: 'n1', to: 'n2', term: 1, lastIndex: 1 }, /lastTerm/],
    [{ type: 'vote-resp', from: 'n1', to: 'n2', term: 1, reject: 'no' }, /reject is not a boolean/],
    [{ type: 'append', from: 'n1', to: 'n2', term: 1, prevIndex: 1, prevTerm: 1, commit: 1, entries: {} }, /entries is not an array/],
    [{ type: 'append', from: 'n1', to: 'n2', term: 1, prevIndex: 1, prevTerm: 1, commit: 1, entries: [{ type: 'normal', term: 1, index: 2, data: 'str' }] }, /data is not binary/],
    [{ type: 'append', from: 'n1', to: 'n2', term: 1, prevIndex: 1, prevTerm: 1, commit: 1, entries: [{ type: 'noop', term: 1, index: 3 }] }, /expected 2/],
    [{ type: 'append', from: 'n1', to: 'n2', term: 1, prevIndex: 1, prevTerm: 1, commit: 1, entries: [{ type: 'conf', term: 1, index: 2, change: { type: 'explode', node: 'n3' } }] }, /conf change type/],
    [{ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 1, context: 'x'.repeat(5000) }, /context/],
    [{ type: 'snapshot', from: 'n1', to: 'n2', term: 1, meta: { index: 1, term: 1, confState: { voters: [1], learners: [] } } }, /voters\[0\]/],
    [[1, 2], /not an object/],
    [null, /not an object/],
  ])('rejects malformed message %#', (raw, pattern) => {
    expectInvalid(() => validateMessage(raw), pattern);
  });

  it('rejects undecodable payloads, empty batches and non-arrays', () => {
    expectInvalid(() => decodeMessages(new Uint8Array([1, 0x92, 0x01])), /undecodable/);
    expectInvalid(() => decodeMessages(new Uint8Array([1, 0xc1])), /non-empty array/);
    expectInvalid(() => decodeMessages(new Uint8Array([7, 1, 2])), /undecodable/);
    expectInvalid(() => decodeMessages(encode([])), /non-empty array/);
    expectInvalid(() => decodeMessages(encode({ type: 'vote' })), /non-empty array/);
  });

  it('never throws anything but INVALID_ARGUMENT on arbitrary bytes or values', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMessages(bytes);
        } catch (err) {
          return err instanceof LatchError && err.code === 'INVALID_ARGUMENT';
        }
        return true;
      }),
      { numRuns: 500, seed: 7 },
    );
    fc.assert(
      fc.property(fc.array(fc.anything(), { minLength: 1, maxLength: 4 }), (values) => {
        try {
          decodeMessages(encode(values));
        } catch (err) {
          return err instanceof LatchError && err.code === 'INVALID_ARGUMENT';
        }
        return true;
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter in [d/2, d), caps, and resets', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 1000 }, new SeededRng(1));
    const bases = [50, 100, 200, 400, 800, 1000, 1000, 1000];
    for (const base of bases) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(base / 2);
      expect(d).toBeLessThan(base);
    }
    expect(b.attempts).toBe(bases.length);
    b.reset();
    const d = b.next();
    expect(d).toBeGreaterThanOrEqual(25);
    expect(d).toBeLessThan(50);
  });
  it('is jittered: two seeds give different delays', () => {
    const a = new Backoff({ initialMs: 50, maxMs: 1000 }, new SeededRng(1));
    const c = new Backoff({ initialMs: 50, maxMs: 1000 }, new SeededRng(2));
    expect([a.next(), a.next()]).not.toEqual([c.next(), c.next()]);
  });
  it('refuses nonsense settings', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 }, new SeededRng(1))).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 20, maxMs: 10 }, new SeededRng(1))).toThrow(RangeError);
  });
});

describe('fifo', () => {
  it('keeps order across many pushes and shifts (with compaction)', () => {
    const q = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      if (i % 3 === 0) out.push(q.shift() ?? -1);
    }
    while (q.length > 0) out.push(q.shift() ?? -1);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });
});

describe('options', () => {
  it('parses host:port and refuses garbage with a ConfigError', () => {
    expect(parseHostPort('127.0.0.1:7001', 'x')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseHostPort('[::1]:0', 'x', true)).toEqual({ host: '::1', port: 0 });
    expect(() => parseHostPort('127.0.0.1:0', 'listen')).toThrow(ConfigError);
    expect(() => parseHostPort('127.0.0.1:70000', 'listen')).toThrow(/out of range/);
    expect(() => parseHostPort('nohost', 'listen')).toThrow(/not host:port/);
    expect(() => parseHostPort(42, 'listen')).toThrow(ConfigError);
  });
  it('checks peers and limits', () => {
    expect([...checkPeers([{ id: 'n1', address: 'a:1' }, { id: 'n2', address: 'b:2' }], 'n1').keys()]).toEqual(['n2']);
    expect(() => checkPeers([{ id: 'n2', address: 'a:1' }, { id: 'n2', address: 'b:2' }], 'n1')).toThrow(/duplicate/);
    expect(() => checkPeers([{ id: 'n 2', address: 'a:1' }], 'n1')).toThrow(/peers\[0\]\.id/);
    expect(() => resolveLimits({ maxQueueMessages: 0 })).toThrow(/limits.maxQueueMessages/);
    expect(() => resolveLimits({ snapshotChunkBytes: 64 * 1024 * 1024 })).toThrow(/snapshotChunkBytes/);
    expect(resolveLimits({}).backoffMaxMs).toBe(1000);
  });
  it('finds proto/raft.proto from the package root', () => {
    expect(raftProtoPath()).toMatch(/proto[\\/]raft\.proto$/);
    expect(raftProtoPath().startsWith(packageRoot())).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { CodecError, decode, encode } from '../../src/common/codec.js';
import { SeededRng } from '../../src/common/rng.js';
import { ERROR_CODES, LatchError, NotLeaderError } from '../../src/common/errors.js';

describe('codec', () => {
  it('round-trips values with binary fields and large integers', () => {
    const v = { a: new Uint8Array([1, 2, 3]), n: 2 ** 50, s: 'x', nested: [{ k: null }] };
    const back = decode<typeof v>(encode(v));
    expect(Array.from(back.a)).toEqual([1, 2, 3]);
    expect(back.n).toBe(2 ** 50);
    expect(back.nested).toEqual([{ k: null }]);
  });
  it('refuses an unknown envelope version and truncated bytes', () => {
    const bytes = encode({ a: 1 });
    bytes[0] = 99;
    expect(() => decode(bytes)).toThrow(CodecError);
    expect(() => decode(new Uint8Array([1]))).toThrow(/too short/);
  });
});

describe('rng', () => {
  it('is deterministic for a seed', () => {
    const a = new SeededRng(42), b = new SeededRng(42), c = new SeededRng(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    for (let i = 0; i < 1000; i++) { const v = a.int(7); expect(v >= 0 && v < 7).toBe(true); }
  });
});

describe('errors', () => {
  it('maps every code to a gRPC status and carries the leader hint', () => {
    const e = new NotLeaderError('n2', '127.0.0.1:7002');
    expect(e).toBeInstanceOf(LatchError);
    expect(e.code).toBe('NOT_LEADER');
    expect(e.grpcCode).toBe(14);
    expect(e.message).toContain('n2');
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(new LatchError(code as keyof typeof ERROR_CODES, 'x').status).toBe(status);
    }
  });
});

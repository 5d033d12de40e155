import { describe, expect, it } from 'vitest';
import { LatchError } from '../../src/common/index.js';
import {
  ELECTION_PREFIX,
  assertLockName,
  assertLockValue,
  campaignCommand,
  electionLeader,
  electionLockName,
  electionNameOf,
  isLockName,
  lockNameProblem,
  lockPrefixProblem,
  lockValueProblem,
  proclaimCommand,
  resignCommand,
  utf8Length,
} from '../../src/lock/index.js';
import { Harness, bytes, codeOf } from './harness.js';

describe('elections as locks', () => {
  it('campaign, proclaim, resign and leader follow the election lock', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    expect(electionLeader(h.m, 'web')).toBeUndefined();
    h.apply(campaignCommand({ sessionId: a, seq: h.nextSeq(a), election: 'web', value: bytes('10.0.0.1:80'), waitMs: 60_000 }));
    const tokenA = h.index;
    expect(electionLeader(h.m, 'web')).toEqual({ election: 'web', sessionId: a, token: tokenA, value: bytes('10.0.0.1:80') });
    const q = h.apply(campaignCommand({ sessionId: b, seq: h.nextSeq(b), election: 'web', value: bytes('10.0.0.2:80'), waitMs: 60_000 }));
    expect(q.result).toMatchObject({ status: 'queued', name: `${ELECTION_PREFIX}web` });
    h.apply(proclaimCommand({ sessionId: a, seq: h.nextSeq(a), election: 'web', value: bytes('10.0.0.1:81') }));
    expect(electionLeader(h.m, 'web')?.value).toEqual(bytes('10.0.0.1:81'));
    const proclaimB = h.apply(proclaimCommand({ sessionId: b, seq: h.nextSeq(b), election: 'web', value: bytes('x') }));
    expect(codeOf(proclaimB.result)).toBe('NOT_HOLDER');
    h.apply(resignCommand({ sessionId: a, seq: h.nextSeq(a), election: 'web' }));
    expect(electionLeader(h.m, 'web')).toEqual({ election: 'web', sessionId: b, token: h.index, value: bytes('10.0.0.2:80') });
    expect(h.index).toBeGreaterThan(tokenA);
  });

  it('maps names and refuses invalid election names with a LatchError', () => {
    expect(electionLockName('a/b')).toBe('election/a/b');
    expect(electionNameOf('election/a/b')).toBe('a/b');
    expect(electionNameOf('elections/a')).toBeUndefined();
    expect(electionNameOf('election/')).toBeUndefined();
    for (const bad of ['', '/x', 'x/', 'a b', 'x'.repeat(250)]) {
      expect(() => electionLockName(bad)).toThrow(LatchError);
    }
  });
});

describe('validators', () => {
  it('lock names: 1–256 bytes of [A-Za-z0-9._/-], no empty segment', () => {
    expect(lockNameProblem('jobs/nightly-report')).toBeUndefined();
    expect(lockNameProblem('')).toMatch(/must not be empty/);
    expect(lockNameProblem('a'.repeat(257))).toMatch(/257 bytes; the limit is 256/);
    expect(lockNameProblem('a'.repeat(256))).toBeUndefined();
    expect(lockNameProblem('a//b')).toMatch(/empty path segment/);
    expect(lockNameProblem('/a')).toMatch(/empty path segment/);
    expect(lockNameProblem('a/')).toMatch(/empty path segment/);
    expect(lockNameProblem('naïve')).toMatch(/may only contain/);
    expect(lockNameProblem(42)).toMatch(/must be a string, got 42/);
    expect(isLockName('a.b')).toBe(true);
    expect(() => assertLockName('a b')).toThrow(LatchError);
    try {
      assertLockName('');
    } catch (e) {
      expect((e as LatchError).code).toBe('INVALID_ARGUMENT');
      expect((e as LatchError).status).toBe('INVALID_ARGUMENT');
    }
  });

  it('prefixes may be empty or end with a slash; values are ≤ 4096 bytes', () => {
    expect(lockPrefixProblem('')).toBeUndefined();
    expect(lockPrefixProblem('jobs/')).toBeUndefined();
    expect(lockPrefixProblem('jo bs')).toMatch(/may only contain/);
    expect(lockValueProblem(new Uint8Array(4096))).toBeUndefined();
    expect(lockValueProblem(new Uint8Array(4097))).toMatch(/4097 bytes/);
    expect(lockValueProblem('text')).toMatch(/must be bytes/);
    expect(() => assertLockValue([1, 2])).toThrow(LatchError);
  });

  it('counts UTF-8 bytes', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀é€']) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });
});

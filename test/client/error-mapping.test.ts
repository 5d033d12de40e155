import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GrpcStatus, LatchError, LeadershipLostError, NotLeaderError } from '../../src/common/errors.js';
import {
  InvalidArgumentError,
  LatchClientError,
  LockHeldError,
  NotHolderError,
  SessionExpiredError,
  UnavailableError,
  WaitTimeoutError,
  WatchCompactedError,
} from '../../src/client/errors.js';
import { errorFromStatus, leaderHintOf, outcomeUnknown, retryClassOf } from '../../src/client/error-mapping.js';

function md(entries: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

describe('errorFromStatus', () => {
  const cases: Array<[string, number, new (...a: never[]) => Error]> = [
    ['LOCK_HELD', GrpcStatus.ABORTED, LockHeldError],
    ['WAIT_TIMEOUT', GrpcStatus.DEADLINE_EXCEEDED, WaitTimeoutError],
    ['SESSION_NOT_FOUND', GrpcStatus.NOT_FOUND, SessionExpiredError],
    ['SESSION_EXPIRED', GrpcStatus.NOT_FOUND, SessionExpiredError],
    ['NOT_HOLDER', GrpcStatus.FAILED_PRECONDITION, NotHolderError],
    ['INVALID_ARGUMENT', GrpcStatus.INVALID_ARGUMENT, InvalidArgumentError],
    ['WATCH_COMPACTED', GrpcStatus.OUT_OF_RANGE, WatchCompactedError],
    ['LEADERSHIP_LOST', GrpcStatus.UNAVAILABLE, LeadershipLostError],
    ['NOT_LEADER', GrpcStatus.UNAVAILABLE, NotLeaderError],
  ];
  for (const [code, status, cls] of cases) {
    it(`maps latch-code ${code} to ${cls.name}, keeping the code, status and message`, () => {
      const err = errorFromStatus({ code: status, details: `server says ${code}`, metadata: md({ 'latch-code': code }) });
      expect(err).toBeInstanceOf(cls);
      expect(err).toBeInstanceOf(LatchError);
      expect((err as LatchError).code).toBe(code);
      expect((err as LatchError).grpcCode).toBe(status);
      expect(err.message).toBe(`server says ${code}`);
    });
  }

  it('maps other registry codes to a plain LatchError with that code', () => {
    const err = errorFromStatus({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'too many waiters on jobs/a', metadata: md({ 'latch-code': 'TOO_MANY_WAITERS' }) });
    expect(err).toBeInstanceOf(LatchError);
    expect((err as LatchError).code).toBe('TOO_MANY_WAITERS');
    expect((err as LatchError).status).toBe('RESOURCE_EXHAUSTED');
  });

  it('keeps the latch-leader hint of a NOT_LEADER answer', () => {
    const err = errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'not the leader', metadata: md({ 'latch-code': 'NOT_LEADER', 'latch-leader': '127.0.0.1:7002' }) });
    expect(leaderHintOf(err)).toBe('127.0.0.1:7002');
    expect((err as NotLeaderError).leaderAddress).toBe('127.0.0.1:7002');
    expect(retryClassOf(err)).toBe('retry');
    expect(outcomeUnknown(err)).toBe(false);
  });

  it('drops a malformed leader hint', () => {
    const err = errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'x', metadata: md({ 'latch-code': 'NOT_LEADER', 'latch-leader': 'garbage' }) });
    expect(leaderHintOf(err)).toBeUndefined();
  });

  it('maps UNAVAILABLE and DEADLINE_EXCEEDED without a latch code to UnavailableError with an unknown outcome', () => {
    const u = errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'No connection established' });
    expect(u).toBeInstanceOf(UnavailableError);
    expect((u as UnavailableError).grpcCode).toBe(GrpcStatus.UNAVAILABLE);
    expect(outcomeUnknown(u)).toBe(true);
    expect(retryClassOf(u)).toBe('retry');
    const d = errorFromStatus({ code: GrpcStatus.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
    expect(d).toBeInstanceOf(UnavailableError);
    expect((d as UnavailableError).code).toBe('DEADLINE_EXCEEDED');
  });

  it('maps an unknown latch code or a bare status to LatchClientError UNKNOWN with the status', () => {
    const a = errorFromStatus({ code: GrpcStatus.INTERNAL, details: 'boom', metadata: md({ 'latch-code': 'FROM_THE_FUTURE' }) });
    expect(a).toBeInstanceOf(LatchClientError);
    expect((a as LatchClientError).code).toBe('UNKNOWN');
    expect((a as LatchClientError).grpcCode).toBe(GrpcStatus.INTERNAL);
    expect(a.message).toContain('FROM_THE_FUTURE');
    expect(retryClassOf(a)).toBe('final');
    const b = errorFromStatus({ code: GrpcStatus.PERMISSION_DENIED, details: '' });
    expect(b.message).toContain('PERMISSION_DENIED');
  });

  it('classifies retries: nothing-happened and unknown-outcome codes retry, definite answers do not', () => {
    for (const code of ['NO_QUORUM', 'PROPOSAL_DROPPED', 'SHUTTING_DOWN', 'LEADERSHIP_LOST'] as const) {
      expect(retryClassOf(new LatchError(code, 'x'))).toBe('retry');
    }
    for (const code of ['LOCK_HELD', 'STALE_REQUEST', 'SESSION_NOT_FOUND', 'UNAUTHENTICATED'] as const) {
      expect(retryClassOf(new LatchError(code, 'x'))).toBe('final');
    }
    expect(outcomeUnknown(new LeadershipLostError())).toBe(true);
    expect(outcomeUnknown(new LatchError('NO_QUORUM', 'x'))).toBe(false);
    expect(retryClassOf(new Error('plain'))).toBe('final');
  });
});

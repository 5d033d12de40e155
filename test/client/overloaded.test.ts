/**
 * Admission control end to end in the SDK and the wire mapping: an OVERLOADED answer carries its
 * retry-after hint in a trailer (unary) or in the CallError (Locks.Stream); the SDK waits that long
 * and retries the same node with the same requestSeq (nothing happened, and the node is the leader).
 */
import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import { errorFromCallError, errorFromStatus, retryClassOf } from '../../src/client/error-mapping.js';
import { EndpointSet } from '../../src/client/retry-plan.js';
import { Router } from '../../src/client/router.js';
import { callErrorOf, callStatus, serviceErrorOf } from '../../src/server/grpc-errors.js';
import { FakeTransport, ManualTimers } from './fakes.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
const granted = { acquired: true, sequencer: { name: 'a', mode: 'EXCLUSIVE' as const, token: '9', sessionId: '5' } };

function overloadedOnTheWire(ms: number): Error {
  const se = serviceErrorOf(callStatus(new OverloadedError(ms)));
  return errorFromStatus({ code: se.code!, details: se.details!, metadata: se.metadata! });
}

describe('OVERLOADED', () => {
  it('maps to RESOURCE_EXHAUSTED with latch-retry-after-ms, and back to OverloadedError, on both paths', () => {
    const status = callStatus(new OverloadedError(250));
    expect(status).toMatchObject({ code: 8, latchCode: 'OVERLOADED', retryAfterMs: 250 });
    const unary = overloadedOnTheWire(250);
    expect(unary).toBeInstanceOf(OverloadedError);
    expect((unary as OverloadedError).retryAfterMs).toBe(250);
    const stream = errorFromCallError(callErrorOf(status));
    expect(stream).toBeInstanceOf(OverloadedError);
    expect((stream as OverloadedError).retryAfterMs).toBe(250);
    expect(retryClassOf(unary)).toBe('retry');
    // A hint that is absent or absurd still waits a little, never forever.
    expect((errorFromCallError({ grpcCode: 8, latchCode: 'OVERLOADED', message: 'busy', leader: '' }) as OverloadedError).retryAfterMs).toBe(100);
    expect((errorFromCallError({ grpcCode: 8, latchCode: 'OVERLOADED', message: 'busy', leader: '', retryAfterMs: 10_000_000 }) as OverloadedError).retryAfterMs).toBe(60_000);
  });

  it('the router waits the hinted time and retries the same node with the same request', async () => {
    const transport = new FakeTransport();
    const timers = new ManualTimers();
    const endpoints = new EndpointSet(EPS);
    endpoints.noteLeader(EPS[1]!);
    const router = new Router({ transport, endpoints, backoff: { initialMs: 10, maxMs: 20 }, rng: new SeededRng(3), clock: timers.clock, timers });
    const at: number[] = [];
    transport.on('Locks/Acquire', () => {
      at.push(timers.clock.now());
      if (at.length === 1) throw overloadedOnTheWire(300);
      return granted;
    });
    const t0 = timers.clock.now();
    const p = router.call('Locks/Acquire', () => ({ sessionId: '5', requestSeq: '1', name: 'a', mode: 'EXCLUSIVE', waitMs: 0, value: Buffer.alloc(0) }), { timeoutMs: 5000 });
    await timers.advance(299);
    expect(at).toHaveLength(1);
    await timers.advance(1);
    expect((await p).acquired).toBe(true);
    expect(at[1]! - t0).toBeGreaterThanOrEqual(300);
    expect(transport.calls.map((c) => c.endpoint)).toEqual([EPS[1], EPS[1]]);
    expect(transport.calls.map((c) => (c.req as { requestSeq: string }).requestSeq)).toEqual(['1', '1']);
  });
});

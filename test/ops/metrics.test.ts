/**
 * The node's Prometheus metrics: storage instrumentation (fsync latency, append batch sizes,
 * snapshots), proposal latency, leader changes and role, and the lock gauges sampled at scrape time.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { LockStateMachine, type ApplyOutput } from '../../src/lock/index.js';
import type { NodeStatus } from '../../src/node/raft-node.js';
import { Metrics } from '../../src/server/metrics.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const status = (role: NodeStatus['role']): NodeStatus => ({
  id: 'n1', term: 7, vote: 'n1', role, leader: 'n1', commit: 42, applied: 41, firstIndex: 1, lastIndex: 42, snapshotIndex: 0,
  confState: { voters: ['n1'], learners: [] }, leadTransferee: null, clusterId: 'c', members: [], leaderClientAddress: null,
});

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

describe('metrics', () => {
  it('measures fsyncs, append batches and snapshots through the instrumented storage', async () => {
    const m = new Metrics();
    const storage = m.instrumentStorage(new MemoryStorage());
    await storage.load();
    await storage.setIdentity({ clusterId: 'c', nodeId: 'n1' });
    const entries = [1, 2, 3].map((index) => ({ type: 'noop' as const, term: 1, index }));
    await storage.save({ hardState: { term: 1, vote: null, commit: 0 }, entries }, true);
    await storage.save({ hardState: { term: 1, vote: null, commit: 3 }, entries: [] }, false);
    await storage.compact({ meta: { index: 2, term: 1, confState: { voters: ['n1'], learners: [] } }, data: new Uint8Array(123) });
    const text = await m.registry.metrics();
    expect(sample(text, 'latch_fsync_duration_seconds_count{op="save"}')).toBe(1);
    expect(sample(text, 'latch_fsync_duration_seconds_count{op="compact"}')).toBe(1);
    expect(sample(text, 'latch_fsync_duration_seconds_count{op="identity"}')).toBe(1);
    expect(sample(text, 'latch_append_batch_entries_count')).toBe(1);
    expect(sample(text, 'latch_append_batch_entries_sum')).toBe(3);
    expect(sample(text, 'latch_snapshots_total{kind="taken"}')).toBe(1);
    expect(sample(text, 'latch_snapshot_bytes')).toBe(123);
    // The wrapper changes nothing: the compacted log reads back from the real storage.
    expect((await storage.readSnapshot())?.meta.index).toBe(2);
  });

  it('times proposals by outcome and counts changes of leader, not role flaps', async () => {
    const m = new Metrics();
    await m.timeProposal(async () => 1);
    await expect(m.timeProposal(async () => Promise.reject(new Error('lost')))).rejects.toThrow('lost');
    m.onRole('follower', 1, null);
    m.onRole('follower', 1, 'n2');
    m.onRole('candidate', 2, null);
    m.onRole('follower', 2, 'n2');
    m.onRole('leader', 3, 'n1');
    const text = await m.registry.metrics();
    expect(sample(text, 'latch_proposal_duration_seconds_count{outcome="applied"}')).toBe(1);
    expect(sample(text, 'latch_proposal_duration_seconds_count{outcome="failed"}')).toBe(1);
    expect(sample(text, 'latch_leader_changes_total')).toBe(2);
    expect(sample(text, 'latch_raft_role{role="leader"}')).toBe(1);
    expect(sample(text, 'latch_raft_role{role="candidate"}')).toBe(0);
  });

  it('serves /metrics with raft, session, lock, waiter, delay and RPC series', async () => {
    const m = new Metrics();
    const sm = new LockStateMachine();
    let index = 0;
    const apply = (cmd: Parameters<LockStateMachine['apply']>[0]): ApplyOutput => {
      const out = sm.apply(cmd, { index: ++index, term: 1, at: 0 });
      m.onApply(out);
      return out;
    };
    const s1 = apply({ type: 'open-session', ttlMs: 10_000, client: 'a' }).result;
    const s2 = apply({ type: 'open-session', ttlMs: 10_000, client: 'b' }).result;
    const s3 = apply({ type: 'open-session', ttlMs: 10_000, client: 'c' }).result;
    if (!s1.ok || s1.type !== 'open-session' || !s2.ok || s2.type !== 'open-session' || !s3.ok || s3.type !== 'open-session') throw new Error('open failed');
    apply({ type: 'acquire', sessionId: s1.sessionId, seq: 1, name: 'a/held', mode: 'exclusive', waitMs: 0 });
    apply({ type: 'acquire', sessionId: s2.sessionId, seq: 1, name: 'a/held', mode: 'exclusive', waitMs: 60_000 });
    apply({ type: 'acquire', sessionId: s3.sessionId, seq: 1, name: 'a/delayed', mode: 'exclusive', waitMs: 0 });
    apply({ type: 'expire-session', sessionId: s3.sessionId, lockDelayMs: 10_000 });
    m.rpcs.inc({ method: 'Locks.Acquire', code: 'OK' });
    m.rpcs.inc({ method: 'Locks.Acquire', code: 'PERMISSION_DENIED' });
    const route = m.route(() => status('leader'), () => sm);
    server = createServer((req, res) => {
      void Promise.resolve(route(req, res)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'latch_raft_term')).toBe(7);
    expect(sample(text, 'latch_raft_commit_index')).toBe(42);
    expect(sample(text, 'latch_raft_applied_index')).toBe(41);
    expect(sample(text, 'latch_raft_is_leader')).toBe(1);
    expect(sample(text, 'latch_sessions_open')).toBe(2);
    expect(sample(text, 'latch_sessions_expired_total')).toBe(1);
    expect(sample(text, 'latch_lock_grants_total')).toBe(2);
    expect(sample(text, 'latch_locks_held')).toBe(1);
    expect(sample(text, 'latch_lock_waiters')).toBe(1);
    expect(sample(text, 'latch_lock_delay_entries')).toBe(1);
    expect(sample(text, 'latch_rpcs_total{method="Locks.Acquire",code="PERMISSION_DENIED"}')).toBe(1);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});

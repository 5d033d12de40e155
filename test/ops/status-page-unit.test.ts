/**
 * The status page's overview without a cluster: each member's role apart from its voting status,
 * and each session's state (ok / lapsed / expiring) and time left, from the leader's deadlines when
 * the source knows them and from the log's checkpoints otherwise.
 */
import { describe, expect, it } from 'vitest';
import { LockStateMachine } from '../../src/lock/index.js';
import type { NodeStatus } from '../../src/node/raft-node.js';
import { StatusPage, type StatusPageSource } from '../../src/server/status-page.js';

function status(over: Partial<NodeStatus>): NodeStatus {
  return {
    id: 'n1', term: 4, vote: 'n1', role: 'leader', leader: 'n1', commit: 9, applied: 9, firstIndex: 1, lastIndex: 9, snapshotIndex: 0,
    confState: { voters: ['n1', 'n2'], learners: ['n3'] }, leadTransferee: null, clusterId: 'c', leaderClientAddress: null,
    members: ['n1', 'n2', 'n3'].map((id) => ({ id, peerAddress: `${id}:1`, clientAddress: `${id}:2` })),
    progress: { n2: { match: 7, next: 8, state: 'replicate' }, n3: { match: 9, next: 10, state: 'replicate' } } as unknown as NodeStatus['progress'],
    ...over,
  };
}

/** Sessions 1 (opened: the log holds its open as a checkpoint), 2 (renewed) and 3 (renewed, then checkpointed with 4 s left at index 6). */
function sessions(): LockStateMachine {
  const sm = new LockStateMachine();
  let index = 0;
  const apply = (cmd: Parameters<LockStateMachine['apply']>[0]): void => {
    index++;
    const out = sm.apply(cmd, { index, term: 1, at: index });
    expect(out.result.ok, JSON.stringify(out.result)).toBe(true);
  };
  apply({ type: 'open-session', ttlMs: 10_000, client: 'fresh' });
  apply({ type: 'open-session', ttlMs: 10_000, client: 'healthy' });
  apply({ type: 'renew-session', sessionId: 2 });
  apply({ type: 'open-session', ttlMs: 10_000, client: 'quiet' });
  apply({ type: 'renew-session', sessionId: 4 });
  apply({ type: 'checkpoint-sessions', sessions: [[4, 4_000]] });
  return sm;
}

describe('status page overview', () => {
  it('shows role (leader / follower / learner) apart from voting status', () => {
    const sm = new LockStateMachine();
    const pick = (st: NodeStatus) => new StatusPage({ nodeStatus: () => st, sm: () => sm }).overview().members.map((m) => [m.id, m.role, m.voter, m.lag]);
    expect(pick(status({}))).toEqual([['n1', 'leader', true, 0], ['n2', 'follower', true, 2], ['n3', 'learner', false, 0]]);
    expect(pick(status({ id: 'n2', role: 'follower', progress: undefined }))).toEqual([['n1', 'leader', true, null], ['n2', 'follower', true, null], ['n3', 'learner', false, null]]);
    // No known leader: this node says what it is; of the other voters it cannot know.
    expect(pick(status({ id: 'n2', role: 'candidate', leader: null, progress: undefined }))).toEqual([['n1', 'unknown', true, null], ['n2', 'candidate', true, null], ['n3', 'learner', false, null]]);
  });

  it('off the leader, shows the log state and a lapsed session\'s checkpointed time left', () => {
    const sm = sessions();
    const rows = new StatusPage({ nodeStatus: () => status({ id: 'n2', role: 'follower' }), sm: () => sm }).overview().sessions;
    expect(rows.map((s) => [s.id, s.client, s.state, s.timeLeftMs, s.timeLeftFrom, s.checkpointIndex])).toEqual([
      ['1', 'fresh', 'lapsed', 10_000, 'checkpoint', 1],
      ['2', 'healthy', 'ok', null, null, null],
      ['4', 'quiet', 'lapsed', 4_000, 'checkpoint', 6],
    ]);
  });

  it('on the leader, shows time left from its deadlines and a passed deadline as expiring', () => {
    const sm = sessions();
    const left = new Map([[1, 8_000], [2, 9_500.4], [4, -3]]);
    const source: StatusPageSource = { nodeStatus: () => status({}), sm: () => sm, sessionTimeLeft: (id) => left.get(id) };
    const rows = new StatusPage(source).overview().sessions;
    expect(rows.map((s) => [s.id, s.state, s.timeLeftMs, s.timeLeftFrom])).toEqual([
      ['1', 'lapsed', 8_000, 'leader'],
      ['2', 'ok', 9_500, 'leader'],
      ['4', 'expiring', 0, 'leader'],
    ]);
    // A session the leader does not track (duties not built yet) falls back to the log.
    left.delete(2);
    expect(new StatusPage(source).overview().sessions[1]).toMatchObject({ state: 'ok', timeLeftMs: null, timeLeftFrom: null });
  });
});

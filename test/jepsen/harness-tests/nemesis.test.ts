import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { LatchError, type ErrorCode } from '../../../src/common/errors.js';
import { SeededRng } from '../../../src/common/rng.js';
import type { NodeState } from '../harness/cluster.js';
import type { MemberView, MembershipControl } from '../harness/membership.js';
import { Nemesis, type NemesisCluster } from '../harness/nemesis.js';
import type { Applied, Network, NodeLaunch, PartitionStyle } from '../harness/network.js';
import { lostLinks, type Partition } from '../harness/partitions.js';
import type { Episode, EpisodeSpec } from '../harness/schedule.js';

/** A cluster of fake nodes: records what was done, answers with a fixed leader. */
class FakeCluster implements NemesisCluster {
  readonly ids = ['n1', 'n2', 'n3'];
  readonly states = new Map<string, NodeState>(this.ids.map((id) => [id, 'running']));
  readonly actions: string[] = [];
  constructor(public currentLeader: string | undefined) {}
  state(id: string): NodeState {
    return this.states.get(id) ?? 'stopped';
  }
  leader(): Promise<string | undefined> {
    const l = this.currentLeader;
    return Promise.resolve(l !== undefined && this.state(l) === 'running' ? l : undefined);
  }
  kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.actions.push(`${signal} ${id}`);
    this.states.set(id, 'stopped');
    return Promise.resolve();
  }
  terminate(id: string): Promise<void> {
    return this.kill(id, 'SIGTERM');
  }
  start(id: string): Promise<void> {
    this.actions.push(`start ${id}`);
    this.states.set(id, 'running');
    return Promise.resolve();
  }
  pause(id: string): void {
    this.actions.push(`SIGSTOP ${id}`);
    this.states.set(id, 'paused');
  }
  resume(id: string): void {
    this.actions.push(`SIGCONT ${id}`);
    this.states.set(id, 'running');
  }
  waitForLeader(): Promise<string | undefined> {
    return this.leader();
  }
  wipe(id: string): void {
    if (this.state(id) !== 'stopped') throw new Error(`wipe ${id} while running`);
    this.actions.push(`wipe ${id}`);
  }
  setJoin(id: string, clusterId: string): void {
    this.actions.push(`join ${id} ${clusterId}`);
  }
}

/**
 * The Admin service of a fake cluster: a configuration that changes one server at a time. A
 * removed leader answers LEADERSHIP_LOST (the change took effect), as the real one does; a
 * promotion is PROPOSAL_DROPPED while the learner is not running and for the first `lagging`
 * attempts; `refuse` makes the next calls of a method fail with a code and change nothing.
 * With `stallRemovals`, a removal is appended but never commits (the leader lost its quorum):
 * the call ends in LEADERSHIP_LOST, MemberList already leaves the node out (as the real one
 * does), and every later change is refused with CONF_CHANGE_IN_PROGRESS.
 */
class FakeMembership implements MembershipControl {
  voters: string[];
  learners: string[] = [];
  readonly calls: string[] = [];
  lagging = 0;
  stallRemovals = false;
  uncommitted: string | undefined;
  readonly refuse = new Map<string, ErrorCode[]>();
  constructor(private readonly cluster: FakeCluster) {
    this.voters = [...cluster.ids];
  }
  private refused(method: string): void {
    const code = this.refuse.get(method)?.shift();
    if (code !== undefined) throw new LatchError(code, `${method} refused`);
  }
  list(): Promise<MemberView> {
    const voters = this.voters.filter((x) => x !== this.uncommitted);
    return Promise.resolve({ clusterId: 'cid', leader: this.cluster.currentLeader ?? '', voters, learners: [...this.learners] });
  }
  addLearner(id: string, address: { peer: string; client: string }): Promise<void> {
    this.calls.push(`add-learner ${id} ${address.peer}`);
    this.refused('add');
    if (this.voters.includes(id) || this.learners.includes(id)) return Promise.reject(new LatchError('INVALID_ARGUMENT', `${id} is already a member`));
    this.learners.push(id);
    return Promise.resolve();
  }
  promote(id: string): Promise<void> {
    this.calls.push(`promote ${id}`);
    this.refused('promote');
    if (!this.learners.includes(id)) return Promise.reject(new LatchError('INVALID_ARGUMENT', `${id} is not a learner`));
    if (this.cluster.state(id) !== 'running' || this.lagging-- > 0) return Promise.reject(new LatchError('PROPOSAL_DROPPED', `learner ${id} has not caught up`));
    this.learners = this.learners.filter((x) => x !== id);
    this.voters.push(id);
    return Promise.resolve();
  }
  remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.refused('remove');
    if (this.uncommitted !== undefined) return Promise.reject(new LatchError('CONF_CHANGE_IN_PROGRESS', 'membership change at index 9 is not yet committed'));
    if (this.stallRemovals) {
      this.uncommitted = id;
      return Promise.reject(new LatchError('LEADERSHIP_LOST', 'leadership changed before the request committed'));
    }
    if (!this.voters.includes(id)) return Promise.reject(new LatchError('INVALID_ARGUMENT', `${id} is not a member`));
    this.voters = this.voters.filter((x) => x !== id);
    if (this.cluster.currentLeader === id) {
      this.cluster.currentLeader = this.voters[0];
      return Promise.reject(new LatchError('LEADERSHIP_LOST', 'leadership changed before the request committed'));
    }
    return Promise.resolve();
  }
  close(): void {}
}

/** A network that records partitions; `oneWay: false` refuses one-way loss like the namespace network. */
class FakeNetwork implements Network {
  readonly kind = 'proxy' as const;
  readonly nodes = ['n1', 'n2', 'n3'];
  readonly applied: Array<{ p: Partition; style: PartitionStyle }> = [];
  heals = 0;
  constructor(private readonly oneWay = true) {}
  launch(): NodeLaunch {
    throw new Error('not used');
  }
  memberAddress(id: string): { peer: string; client: string } {
    return { peer: `proxy-into-${id}`, client: `client-${id}` };
  }
  partition(p: Partition, style: PartitionStyle): Promise<Applied> {
    if (p.type === 'one-way' && !this.oneWay) return Promise.resolve({ ok: false, reason: 'no one-way here' });
    this.applied.push({ p, style });
    return Promise.resolve({ ok: true, description: `${lostLinks(this.nodes, p).length} links lost` });
  }
  slow(delayMs: number): Promise<Applied> {
    return Promise.resolve({ ok: true, description: `+${delayMs}` });
  }
  heal(): Promise<void> {
    this.heals++;
    return Promise.resolve();
  }
  describe(): string {
    return '';
  }
  stats(): Record<string, number> {
    return {};
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function episode(spec: EpisodeSpec, id = 1): Episode {
  return { id, spec, startAt: 0, healAt: 1_000 };
}

function setup(leader: string | undefined = 'n2', oneWay = true, withMembership = false) {
  const cluster = new FakeCluster(leader);
  const network = new FakeNetwork(oneWay);
  const clock = new ManualClock();
  const lines: string[] = [];
  const membership = new FakeMembership(cluster);
  const nemesis = new Nemesis({
    cluster,
    network,
    rng: new SeededRng(1),
    clock,
    log: (l) => lines.push(l),
    ...(withMembership ? { membership } : {}),
    membershipTimeoutMs: 20_000,
    // Retries wait on the manual clock: no real time passes.
    sleep: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
  });
  return { cluster, network, clock, nemesis, lines, membership };
}

describe('Nemesis', () => {
  it('kills the leader, keeps it down (not revived) until the heal restarts it', async () => {
    const { cluster, nemesis, clock } = setup('n2');
    const e = episode({ kind: 'kill', target: 'leader' });
    await nemesis.start(e);
    expect(cluster.actions).toEqual(['SIGKILL n2']);
    expect(nemesis.isHeld('n2')).toBe(true);
    await nemesis.reviveCrashed();
    expect(cluster.state('n2')).toBe('stopped');
    clock.advance(1_000);
    await nemesis.heal(e);
    expect(cluster.actions).toEqual(['SIGKILL n2', 'start n2']);
    expect(nemesis.events()).toMatchObject([{ episode: 1, kind: 'kill', description: 'SIGKILL n2 (leader)', startedAt: 0, healedAt: 1_000, skipped: false }]);
  });

  it('pauses the leader and resumes it at the heal', async () => {
    const { cluster, nemesis } = setup('n3');
    const e = episode({ kind: 'pause', target: 'leader' });
    await nemesis.start(e);
    expect(cluster.state('n3')).toBe('paused');
    await nemesis.heal(e);
    expect(cluster.actions).toEqual(['SIGSTOP n3', 'SIGCONT n3']);
  });

  it('aims partitions at the leader and heals the network', async () => {
    const { network, nemesis } = setup('n1');
    const e = episode({ kind: 'partition', shape: 'one-way-out', style: 'drop' });
    await nemesis.start(e);
    expect(network.applied).toEqual([{ p: { type: 'one-way', from: ['n1'], to: ['n2', 'n3'] }, style: 'drop' }]);
    await nemesis.heal(e);
    expect(network.heals).toBe(1);
  });

  it('falls back to isolating the leader when the network cannot do a shape', async () => {
    const { network, nemesis } = setup('n1', false);
    await nemesis.start(episode({ kind: 'partition', shape: 'one-way-in', style: 'cut' }));
    expect(network.applied[0]?.p).toEqual({ type: 'split', groups: [['n1'], ['n2', 'n3']] });
    expect(nemesis.events()[0]?.description).toMatch(/instead of one-way-in: no one-way here/);
  });

  it('restarts every node one at a time, the leader last', async () => {
    const { cluster, nemesis } = setup('n2');
    await nemesis.start(episode({ kind: 'rolling-restart', graceful: true }));
    expect(cluster.actions).toHaveLength(6);
    expect(cluster.actions.slice(-2)).toEqual(['SIGTERM n2', 'start n2']);
    for (let i = 0; i < 6; i += 2) expect(cluster.actions[i + 1]).toBe(`start ${cluster.actions[i]!.split(' ')[1]}`);
  });

  it('records a skipped episode when there is nothing to aim at', async () => {
    const { cluster, nemesis } = setup(undefined);
    for (const id of cluster.ids) cluster.states.set(id, 'stopped');
    await nemesis.start(episode({ kind: 'kill', target: 'random' }));
    expect(nemesis.events()[0]).toMatchObject({ skipped: true, description: 'skipped: no running node' });
  });

  it('healAll resumes paused nodes, restarts stopped ones and closes every open event', async () => {
    const { cluster, network, nemesis, clock } = setup('n1');
    await nemesis.start(episode({ kind: 'pause', target: 'leader' }, 1));
    cluster.states.set('n3', 'stopped');
    clock.advance(500);
    await nemesis.healAll();
    expect(cluster.ids.map((id) => cluster.state(id))).toEqual(['running', 'running', 'running']);
    expect(network.heals).toBe(1);
    expect(nemesis.events()[0]?.healedAt).toBe(500);
  });
});

describe('Nemesis: membership', () => {
  it('removes the leader and stops it; the heal wipes it, restarts it with --join, adds it as a learner and promotes it once caught up', async () => {
    const { cluster, membership, nemesis, clock } = setup('n2', true, true);
    membership.lagging = 2;
    const e = episode({ kind: 'membership', target: 'leader' });
    await nemesis.start(e);
    // The removal answered LEADERSHIP_LOST (the leader stepped down): a second call settled it.
    expect(membership.calls).toEqual(['remove n2', 'remove n2']);
    expect(cluster.actions).toEqual(['SIGTERM n2']);
    expect(nemesis.events()[0]).toMatchObject({ kind: 'membership', skipped: false });
    expect(nemesis.events()[0]?.description).toBe(
      'removed n2 (leader) from the configuration and stopped it; voters n1,n3 (the call answered LEADERSHIP_LOST, then "not a member": committed)',
    );
    // Held down: not revived from its old data.
    await nemesis.reviveCrashed();
    expect(cluster.state('n2')).toBe('stopped');
    clock.advance(5_000);
    await nemesis.heal(e);
    expect(cluster.actions).toEqual(['SIGTERM n2', 'wipe n2', 'join n2 cid', 'start n2']);
    // The restore confirms the removal is committed before it throws n2's data away.
    expect(membership.calls).toEqual(['remove n2', 'remove n2', 'remove n2', 'add-learner n2 proxy-into-n2', 'promote n2', 'promote n2', 'promote n2']);
    expect(membership.voters).toEqual(['n1', 'n3', 'n2']);
    expect(membership.learners).toEqual([]);
    const ev = nemesis.events()[0]!;
    expect(ev.healError).toBeNull();
    expect(ev.healDescription).toMatch(/^rejoined n2 \(wiped, --join, learner, promoted after 0\.5 s\); voters n1,n3,n2$/);
    // Started at 0, the start's retry took 250 ms, the heal 5 000 later, and two retries of the promotion.
    expect(ev.healedAt).toBe(5_750);
    expect(nemesis.membershipAfterHeal()).toMatchObject({ ok: true });
  });

  it('removes a random voter when asked to', async () => {
    const { cluster, membership, nemesis } = setup('n2', true, true);
    await nemesis.start(episode({ kind: 'membership', target: 'random' }));
    const removed = membership.calls[0]!.split(' ')[1]!;
    expect(cluster.ids).toContain(removed);
    expect(membership.voters).not.toContain(removed);
    expect(cluster.state(removed)).toBe('stopped');
  });

  it('retries a removal while another change is pending', async () => {
    const { membership, nemesis } = setup('n2', true, true);
    membership.refuse.set('remove', ['CONF_CHANGE_IN_PROGRESS', 'NO_QUORUM']);
    await nemesis.start(episode({ kind: 'membership', target: 'leader' }));
    expect(membership.calls).toEqual(['remove n2', 'remove n2', 'remove n2', 'remove n2']);
    expect(nemesis.events()[0]?.skipped).toBe(false);
    expect(nemesis.events()[0]?.description).toMatch(/\(the call answered CONF_CHANGE_IN_PROGRESS, NO_QUORUM, LEADERSHIP_LOST, then "not a member": committed\)$/);
  });

  it('a refused removal is a failed episode that stops nothing', async () => {
    const { cluster, membership, nemesis } = setup('n2', true, true);
    membership.refuse.set('remove', ['INVALID_ARGUMENT']);
    await nemesis.start(episode({ kind: 'membership', target: 'leader' }));
    expect(nemesis.events()[0]).toMatchObject({ skipped: true, description: 'failed: remove refused' });
    expect(cluster.actions).toEqual([]);
    expect(membership.voters).toEqual(['n1', 'n2', 'n3']);
  });

  it('never restarts a removed node from its old data: rolling restarts pass it by, healAll rejoins it', async () => {
    const { cluster, membership, nemesis, lines } = setup('n1', true, true);
    const e = episode({ kind: 'membership', target: 'leader' }, 1);
    await nemesis.start(e);
    expect(cluster.state('n1')).toBe('stopped');
    // The episode is cut off by the end of the run: no heal, only healAll.
    await nemesis.healAll();
    expect(cluster.actions).toEqual(['SIGTERM n1', 'wipe n1', 'join n1 cid', 'start n1']);
    expect(lines).toContain('not restarting n1: it was removed from the configuration and must rejoin');
    expect(membership.voters.sort()).toEqual(['n1', 'n2', 'n3']);
    expect(nemesis.events()[0]?.healDescription).toMatch(/^\(at the end\) rejoined n1/);
  });

  it('re-adds a node whose MemberAdd outcome was unknown without wiping it twice', async () => {
    const { cluster, membership, nemesis } = setup('n2', true, true);
    const e = episode({ kind: 'membership', target: 'random' });
    await nemesis.start(e);
    const id = membership.calls[0]!.split(' ')[1]!;
    membership.refuse.set('add', ['LEADERSHIP_LOST']);
    await nemesis.heal(e);
    expect(cluster.actions.filter((a) => a.startsWith('wipe'))).toEqual([`wipe ${id}`]);
    expect(membership.calls.filter((c) => c.startsWith('add-learner'))).toHaveLength(2);
    expect(membership.voters).toContain(id);
  });

  it('reports a heal that could not promote the learner in time', async () => {
    const { membership, nemesis } = setup('n2', true, true);
    membership.lagging = Number.POSITIVE_INFINITY;
    const e = episode({ kind: 'membership', target: 'leader' });
    await nemesis.start(e);
    await nemesis.heal(e);
    const ev = nemesis.events()[0]!;
    expect(ev.healDescription).toBeNull();
    expect(ev.healError).toMatch(/not restored within 20 s \(n2: PROPOSAL_DROPPED\); voters n1,n3, learners n2/);
    expect(nemesis.membershipAfterHeal()?.ok).toBe(false);
  });

  it('finishes an earlier restore before removing another voter', async () => {
    const { cluster, membership, nemesis } = setup('n2', true, true);
    membership.voters = ['n1', 'n2'];
    membership.learners = ['n3'];
    await nemesis.start(episode({ kind: 'membership', target: 'leader' }));
    expect(membership.calls).toEqual(['promote n3', 'remove n2', 'remove n2']);
    expect(membership.voters).toEqual(['n1', 'n3']);
    expect(cluster.state('n3')).toBe('running');
  });

  it('never wipes a node whose removal is not committed, even when MemberList leaves it out', async () => {
    const { cluster, membership, nemesis } = setup('n2', true, true);
    membership.stallRemovals = true;
    const e = episode({ kind: 'membership', target: 'leader' });
    await nemesis.start(e);
    // The removal never committed: the episode failed after its 15 s and stopped nothing.
    expect(nemesis.events()[0]).toMatchObject({ skipped: true, description: 'failed: membership change at index 9 is not yet committed' });
    expect(membership.calls.length).toBeGreaterThan(10);
    await nemesis.heal(e);
    expect(cluster.actions).toEqual([]);
    expect(cluster.ids.map((id) => cluster.state(id))).toEqual(['running', 'running', 'running']);
    expect(nemesis.events()[0]?.healError).toMatch(/not restored within 20 s \(n2: CONF_CHANGE_IN_PROGRESS\); voters n1,n3$/);
  });

  it('is skipped without an Admin client', async () => {
    const { cluster, nemesis } = setup('n2');
    await nemesis.start(episode({ kind: 'membership', target: 'leader' }));
    expect(nemesis.events()[0]).toMatchObject({ skipped: true, description: 'skipped: no Admin client (membership changes are not enabled)' });
    expect(cluster.actions).toEqual([]);
    await nemesis.healAll();
    expect(nemesis.membershipAfterHeal()).toBeUndefined();
  });
});

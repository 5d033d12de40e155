import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { SeededRng } from '../../../src/common/rng.js';
import type { NodeState } from '../harness/cluster.js';
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

function setup(leader: string | undefined = 'n2', oneWay = true) {
  const cluster = new FakeCluster(leader);
  const network = new FakeNetwork(oneWay);
  const clock = new ManualClock();
  const lines: string[] = [];
  const nemesis = new Nemesis({ cluster, network, rng: new SeededRng(1), clock, log: (l) => lines.push(l) });
  return { cluster, network, clock, nemesis, lines };
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

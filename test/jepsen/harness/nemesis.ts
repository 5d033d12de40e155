/**
 * Carries out the scheduled episodes against the real cluster and network: picks targets when an
 * episode starts (the leader from the nodes' `/status`), applies the fault, undoes it at heal
 * time, and keeps a log of what was really done for the report and the plot.
 */
import { assertNever } from '../../../src/common/assert.js';
import type { Clock } from '../../../src/common/clock.js';
import type { Rng } from '../../../src/common/rng.js';
import type { Cluster } from './cluster.js';
import type { Network } from './network.js';
import type { NemesisKind } from './options.js';
import { bridgeOf, isolate, majorityMinority, oneWay, shuffled, type Partition } from './partitions.js';
import { describeSpec, type Episode, type PartitionShape } from './schedule.js';

/** One fault as it really happened. */
export interface NemesisEvent {
  readonly episode: number;
  readonly kind: NemesisKind;
  /** What was planned, e.g. `kill leader`. */
  readonly planned: string;
  /** What was done, e.g. `SIGKILL n2 (leader)`; or why nothing was done. */
  description: string;
  readonly startedAt: number;
  /** When the fault was undone; null while active. */
  healedAt: number | null;
  /** True when the episode could not be applied (e.g. no leader to aim at). */
  skipped: boolean;
}

/** The process control a Nemesis needs (implemented by Cluster). */
export type NemesisCluster = Pick<Cluster, 'ids' | 'state' | 'leader' | 'kill' | 'terminate' | 'start' | 'pause' | 'resume' | 'waitForLeader'>;

/** What a Nemesis works on. */
export interface NemesisDeps {
  readonly cluster: NemesisCluster;
  readonly network: Network;
  readonly rng: Rng;
  readonly clock: Clock;
  /** One line per action, for the console and the run log. */
  readonly log: (line: string) => void;
  /** How long a rolling restart waits for a leader after each node; default 10 s. */
  readonly leaderWaitMs?: number;
}

/** Applies and heals episodes; see the file comment. */
export class Nemesis {
  private readonly log: NemesisEvent[] = [];
  private readonly held = new Map<number, string[]>();
  private readonly byEpisode = new Map<number, NemesisEvent>();

  constructor(private readonly deps: NemesisDeps) {}

  /** Every event so far, in start order. */
  events(): readonly NemesisEvent[] {
    return this.log;
  }

  /** True while an episode deliberately keeps node `id` down (so nobody revives it). */
  isHeld(id: string): boolean {
    for (const ids of this.held.values()) if (ids.includes(id)) return true;
    return false;
  }

  /** Starts episode `e`. Never throws for a fault that cannot be applied: the event says why. */
  async start(e: Episode): Promise<void> {
    const ev: NemesisEvent = { episode: e.id, kind: e.spec.kind, planned: describeSpec(e.spec), description: '', startedAt: this.deps.clock.now(), healedAt: null, skipped: false };
    this.log.push(ev);
    this.byEpisode.set(e.id, ev);
    try {
      ev.description = await this.apply(e);
    } catch (err) {
      ev.description = `failed: ${err instanceof Error ? err.message : String(err)}`;
      ev.skipped = true;
    }
    if (ev.description.startsWith('skipped')) ev.skipped = true;
    this.deps.log(`nemesis #${e.id} start: ${ev.description}`);
  }

  /** Heals episode `e` (restart, SIGCONT, network heal). */
  async heal(e: Episode): Promise<void> {
    const ev = this.byEpisode.get(e.id);
    const spec = e.spec;
    const victims = this.held.get(e.id) ?? [];
    this.held.delete(e.id);
    switch (spec.kind) {
      case 'kill':
        for (const id of victims) await this.restart(id);
        break;
      case 'pause':
        for (const id of victims) this.deps.cluster.resume(id);
        break;
      case 'partition':
      case 'slow':
        await this.deps.network.heal();
        break;
      case 'rolling-restart':
        for (const id of this.deps.cluster.ids) if (this.deps.cluster.state(id) === 'stopped') await this.restart(id);
        break;
      default:
        assertNever(spec, 'episode spec');
    }
    if (ev && ev.healedAt === null) ev.healedAt = this.deps.clock.now();
    this.deps.log(`nemesis #${e.id} heal${victims.length ? ` (${victims.join(', ')})` : ''}`);
  }

  /** Undoes everything: SIGCONT paused nodes, restarts stopped ones, heals the network. */
  async healAll(): Promise<void> {
    this.held.clear();
    await this.deps.network.heal();
    const c = this.deps.cluster;
    for (const id of c.ids) if (c.state(id) === 'paused') c.resume(id);
    for (const id of c.ids) if (c.state(id) === 'stopped') await this.restart(id);
    const now = this.deps.clock.now();
    for (const ev of this.log) if (ev.healedAt === null) ev.healedAt = now;
  }

  /** Restarts nodes that exited on their own (crashes) and are not held down by an episode. */
  async reviveCrashed(): Promise<void> {
    const c = this.deps.cluster;
    for (const id of c.ids) if (c.state(id) === 'stopped' && !this.isHeld(id)) await this.restart(id);
  }

  private async restart(id: string): Promise<void> {
    const c = this.deps.cluster;
    if (c.state(id) !== 'stopped') return;
    try {
      await c.start(id);
    } catch (err) {
      this.deps.log(`could not restart ${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async leaderOrRandom(want: 'leader' | 'random'): Promise<{ id: string; leader: boolean } | undefined> {
    const c = this.deps.cluster;
    const running = c.ids.filter((id) => c.state(id) === 'running');
    if (want === 'leader') {
      const l = await c.leader();
      if (l !== undefined && running.includes(l)) return { id: l, leader: true };
    }
    if (running.length === 0) return undefined;
    const id = running[this.deps.rng.int(running.length)]!;
    return { id, leader: (await c.leader()) === id };
  }

  private async apply(e: Episode): Promise<string> {
    const spec = e.spec;
    const c = this.deps.cluster;
    switch (spec.kind) {
      case 'kill': {
        const t = await this.leaderOrRandom(spec.target);
        if (!t) return 'skipped: no running node';
        this.held.set(e.id, [t.id]);
        await c.kill(t.id, 'SIGKILL');
        return `SIGKILL ${t.id}${t.leader ? ' (leader)' : ''}`;
      }
      case 'pause': {
        const t = await this.leaderOrRandom(spec.target);
        if (!t) return 'skipped: no running node';
        this.held.set(e.id, [t.id]);
        c.pause(t.id);
        return `SIGSTOP ${t.id}${t.leader ? ' (leader)' : ''} for ${Math.round(e.healAt - e.startAt)} ms`;
      }
      case 'partition': {
        const leader = (await c.leader()) ?? c.ids[this.deps.rng.int(c.ids.length)]!;
        let shape: PartitionShape = spec.shape;
        let applied = await this.deps.network.partition(this.partitionFor(shape, leader), spec.style);
        if (!applied.ok) {
          const reason = applied.reason;
          shape = 'isolate-leader';
          applied = await this.deps.network.partition(this.partitionFor(shape, leader), spec.style);
          if (!applied.ok) return `skipped: ${reason}; ${applied.reason}`;
          return `${applied.description} (instead of ${spec.shape}: ${reason})`;
        }
        return `${shape}: ${applied.description}`;
      }
      case 'rolling-restart': {
        const leader = await c.leader();
        const order = shuffled(
          c.ids.filter((id) => id !== leader),
          this.deps.rng,
        );
        if (leader !== undefined) order.push(leader);
        for (const id of order) {
          if (spec.graceful) await c.terminate(id);
          else await c.kill(id, 'SIGKILL');
          await this.restart(id);
          await c.waitForLeader(this.deps.leaderWaitMs ?? 10_000);
        }
        return `restarted ${order.join(', ')} one at a time (${spec.graceful ? 'SIGTERM' : 'SIGKILL'})`;
      }
      case 'slow': {
        const applied = await this.deps.network.slow(spec.delayMs);
        return applied.ok ? applied.description : `skipped: ${applied.reason}`;
      }
      default:
        return assertNever(spec, 'episode spec');
    }
  }

  private partitionFor(shape: PartitionShape, leader: string): Partition {
    const nodes = this.deps.cluster.ids;
    switch (shape) {
      case 'isolate-leader':
        return isolate(nodes, leader);
      case 'majority-minority':
        return majorityMinority(nodes, this.deps.rng, this.deps.rng.next() < 0.5 ? leader : undefined);
      case 'bridge':
        return bridgeOf(nodes, this.deps.rng);
      case 'one-way-out':
        return oneWay(nodes, leader, 'out');
      case 'one-way-in':
        return oneWay(nodes, leader, 'in');
      default:
        return assertNever(shape, 'partition shape');
    }
  }
}

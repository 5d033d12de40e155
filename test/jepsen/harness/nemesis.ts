/**
 * Carries out the scheduled episodes against the real cluster and network: picks targets when an
 * episode starts (the leader from the nodes' `/status`), applies the fault, undoes it at heal
 * time, and keeps a log of what was really done for the report and the plot. A node removed from
 * the configuration (membership) is never restarted from its old data: only the membership
 * restore brings it back, wiped and with `--join`.
 */
import { assertNever } from '../../../src/common/assert.js';
import type { Clock } from '../../../src/common/clock.js';
import type { Rng } from '../../../src/common/rng.js';
import type { Cluster } from './cluster.js';
import { describeView, removeMember, restoreMembership, type MembershipControl, type MembershipDeps, type RestoreResult } from './membership.js';
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
  /** What the heal did, when it is worth telling (a membership rejoin); null otherwise. */
  healDescription: string | null;
  /** Why the heal could not undo the fault (e.g. a node not back as a voter); null when it did. */
  healError: string | null;
}

/** The process control a Nemesis needs (implemented by Cluster). */
export type NemesisCluster = Pick<Cluster, 'ids' | 'state' | 'leader' | 'kill' | 'terminate' | 'start' | 'pause' | 'resume' | 'waitForLeader' | 'wipe' | 'setJoin'>;

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
  /** The Admin calls of the membership nemesis; without them its episodes are skipped. */
  readonly membership?: MembershipControl;
  /** How long a membership restore may take (heal, healAll); default 60 s. */
  readonly membershipTimeoutMs?: number;
  /** Waits between retries; default a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Applies and heals episodes; see the file comment. */
export class Nemesis {
  private readonly log: NemesisEvent[] = [];
  private readonly held = new Map<number, string[]>();
  private readonly byEpisode = new Map<number, NemesisEvent>();
  /** Nodes removed from the configuration whose data dir still holds their old state. */
  private readonly outOfConfig = new Set<string>();
  private lastRestore: RestoreResult | undefined;

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
    const ev: NemesisEvent = {
      episode: e.id,
      kind: e.spec.kind,
      planned: describeSpec(e.spec),
      description: '',
      startedAt: this.deps.clock.now(),
      healedAt: null,
      skipped: false,
      healDescription: null,
      healError: null,
    };
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
      case 'membership': {
        // Whatever the start did (or left unknown), every node must be a voter again.
        const r = await this.restoreMembership();
        if (ev && r) {
          if (r.ok) ev.healDescription = r.description;
          else ev.healError = r.description;
        }
        break;
      }
      default:
        assertNever(spec, 'episode spec');
    }
    if (ev && ev.healedAt === null) ev.healedAt = this.deps.clock.now();
    this.deps.log(`nemesis #${e.id} heal${victims.length ? ` (${victims.join(', ')})` : ''}`);
  }

  /**
   * Undoes everything: heals the network, SIGCONTs paused nodes, restarts stopped ones and, with
   * membership changes enabled, brings every node back as a voter.
   */
  async healAll(): Promise<void> {
    this.held.clear();
    await this.deps.network.heal();
    const c = this.deps.cluster;
    for (const id of c.ids) if (c.state(id) === 'paused') c.resume(id);
    for (const id of c.ids) if (c.state(id) === 'stopped') await this.restart(id);
    const r = await this.restoreMembership();
    const now = this.deps.clock.now();
    for (const ev of this.log) {
      if (ev.healedAt !== null) continue;
      ev.healedAt = now;
      // A membership episode cut off by the end of the run: this restore was its heal.
      if (ev.kind === 'membership' && !ev.skipped && r) {
        if (r.ok) ev.healDescription = `(at the end) ${r.description}`;
        else ev.healError = r.description;
      }
    }
  }

  /** The configuration after the last membership restore (heal or healAll); undefined without membership changes. */
  membershipAfterHeal(): RestoreResult | undefined {
    return this.lastRestore;
  }

  /** Restarts nodes that exited on their own (crashes) and are not held down by an episode. */
  async reviveCrashed(): Promise<void> {
    const c = this.deps.cluster;
    for (const id of c.ids) if (c.state(id) === 'stopped' && !this.isHeld(id) && !this.outOfConfig.has(id)) await this.restart(id);
  }

  private membershipDeps(control: MembershipControl): MembershipDeps {
    return {
      control,
      cluster: this.deps.cluster,
      network: this.deps.network,
      now: () => this.deps.clock.now(),
      sleep: this.deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      log: this.deps.log,
    };
  }

  /** Every node a voter again (undefined without membership control); see membership.ts. */
  private async restoreMembership(): Promise<RestoreResult | undefined> {
    const control = this.deps.membership;
    if (!control) return undefined;
    const r = await restoreMembership(this.membershipDeps(control), this.deps.membershipTimeoutMs ?? 60_000, (id) => this.outOfConfig.delete(id));
    this.lastRestore = r;
    if (!r.ok) this.deps.log(`!! membership not restored: ${r.description}`);
    return r;
  }

  private async restart(id: string): Promise<void> {
    const c = this.deps.cluster;
    if (c.state(id) !== 'stopped') return;
    if (this.outOfConfig.has(id)) {
      // Its data says it is a member; it is not. Only the membership restore brings it back.
      this.deps.log(`not restarting ${id}: it was removed from the configuration and must rejoin`);
      return;
    }
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
      case 'membership':
        return this.removeVoter(e.id, spec.target);
      default:
        return assertNever(spec, 'episode spec');
    }
  }

  /** The start of a membership episode: remove a voter from the configuration, then stop it. */
  private async removeVoter(episode: number, want: 'leader' | 'random'): Promise<string> {
    const control = this.deps.membership;
    if (!control) return 'skipped: no Admin client (membership changes are not enabled)';
    const d = this.membershipDeps(control);
    const c = this.deps.cluster;
    const view = await control.list(10_000).catch(() => undefined);
    if (view === undefined) return 'skipped: no MemberList answer';
    if (view.voters.length < c.ids.length) {
      // An earlier restore did not finish: try again before removing anyone else.
      const r = await this.restoreMembership();
      if (!r?.ok) return `skipped: only ${describeView(view)}, and the restore failed`;
    }
    const t = await this.leaderOrRandom(want);
    if (!t) return 'skipped: no running node';
    const note = await removeMember(d, t.id, 15_000);
    // From here on its data dir must not be used again.
    this.outOfConfig.add(t.id);
    this.held.set(episode, [t.id]);
    await c.terminate(t.id);
    const after = await control.list(10_000).catch(() => undefined);
    return `removed ${t.id}${t.leader ? ' (leader)' : ''} from the configuration and stopped it${after ? `; ${describeView(after)}` : ''}${note ? ` (${note})` : ''}`;
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

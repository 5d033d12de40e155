/**
 * The nemesis schedule, pure: `planSchedule` lays out, from a seed, a sequence of non-overlapping
 * fault episodes with quiet time between them, cycling through the enabled kinds (each kind once
 * per round, in a shuffled order) so every nemesis runs as early as time allows; every episode
 * heals before the run's cool-down. `NemesisScheduler` turns the plan into start and heal
 * actions as a clock passes their times (tick-driven, no timers).
 */
import { assertNever } from '../../../src/common/assert.js';
import type { Rng } from '../../../src/common/rng.js';
import type { NemesisKind } from './options.js';
import { shuffled } from './partitions.js';

/** The partition shapes, cycled through by the `partition` nemesis. */
export const PARTITION_SHAPES = ['isolate-leader', 'majority-minority', 'bridge', 'one-way-out', 'one-way-in'] as const;
/** A partition shape. */
export type PartitionShape = (typeof PARTITION_SHAPES)[number];

/** What one episode does (targets are chosen when it starts: the leader is only known then). */
export type EpisodeSpec =
  | { readonly kind: 'kill'; readonly target: 'leader' | 'random' }
  | { readonly kind: 'pause'; readonly target: 'leader' | 'random' }
  | { readonly kind: 'partition'; readonly shape: PartitionShape; readonly style: 'cut' | 'drop' }
  | { readonly kind: 'rolling-restart'; readonly graceful: boolean }
  | { readonly kind: 'slow'; readonly delayMs: number }
  /**
   * Remove a voter (the leader, or a random one) from the configuration and stop it; at the heal,
   * wipe its data dir, restart it with `--join`, add it as a learner and promote it once caught up.
   */
  | { readonly kind: 'membership'; readonly target: 'leader' | 'random' };

/** One planned fault: from `startAt` to `healAt` (harness ms). */
export interface Episode {
  readonly id: number;
  readonly spec: EpisodeSpec;
  readonly startAt: number;
  readonly healAt: number;
}

/** Inputs of `planSchedule`. */
export interface ScheduleOptions {
  readonly durationMs: number;
  readonly kinds: readonly NemesisKind[];
  readonly nodes: number;
  /** No fault before this time (the cluster settles, clients connect). */
  readonly warmupMs: number;
  /** Every episode heals at least this long before the end. */
  readonly cooldownMs: number;
  /** Mean fault length; each is drawn from [0.5, 1.5] × this. */
  readonly faultMs: number;
  /** Mean quiet gap; each is drawn from [0.5, 1.5] × this. */
  readonly quietMs: number;
  /** A pause lasts this long (longer than the session TTL). */
  readonly pauseMs: number;
  /** A rolling restart gets this long per node. */
  readonly restartPerNodeMs: number;
}

/** One line for a plan entry, e.g. `partition bridge (drop)`. */
export function describeSpec(s: EpisodeSpec): string {
  switch (s.kind) {
    case 'kill':
    case 'pause':
      return `${s.kind} ${s.target}`;
    case 'partition':
      return `partition ${s.shape} (${s.style})`;
    case 'rolling-restart':
      return `rolling-restart (${s.graceful ? 'SIGTERM' : 'SIGKILL'})`;
    case 'slow':
      return `slow +${s.delayMs} ms`;
    case 'membership':
      return `membership remove ${s.target}`;
    default:
      return assertNever(s, 'episode spec');
  }
}

function jitter(mean: number, rng: Rng): number {
  return Math.round(mean * (0.5 + rng.next()));
}

/** Plans the episodes of a run; see the file comment. Deterministic for a given rng state. */
export function planSchedule(opts: ScheduleOptions, rng: Rng): Episode[] {
  for (const [k, v] of Object.entries(opts)) if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a finite number >= 0, got ${v}`);
  const kinds = opts.kinds.filter((k) => !(k === 'partition' && opts.nodes < 2));
  const episodes: Episode[] = [];
  if (kinds.length === 0) return episodes;
  const end = opts.durationMs - opts.cooldownMs;
  const counters: Counters = { partition: 0, kill: 0, pause: 0, restart: 0, membership: 0 };
  const fixed = (k: NemesisKind): number | undefined => (k === 'pause' ? opts.pauseMs : k === 'rolling-restart' ? opts.restartPerNodeMs * opts.nodes : undefined);
  const shortest = (k: NemesisKind): number => fixed(k) ?? Math.max(1, Math.round(opts.faultMs * 0.5));
  let t = opts.warmupMs;
  let round: NemesisKind[] = [];
  for (;;) {
    if (round.length === 0) round = shuffled(kinds, rng);
    // The first kind of the round that still fits (short runs still see the short kinds).
    const i = round.findIndex((k) => t + shortest(k) <= end);
    if (i < 0) break;
    const kind = round.splice(i, 1)[0]!;
    const length = fixed(kind) ?? Math.min(Math.max(1, jitter(opts.faultMs, rng)), end - t);
    episodes.push({ id: episodes.length + 1, spec: specFor(kind, counters, rng), startAt: t, healAt: t + length });
    t += length + Math.max(1, jitter(opts.quietMs, rng));
  }
  return episodes;
}

interface Counters {
  partition: number;
  kill: number;
  pause: number;
  restart: number;
  membership: number;
}

function specFor(kind: NemesisKind, counters: Counters, rng: Rng): EpisodeSpec {
  switch (kind) {
    case 'kill':
      return { kind, target: counters.kill++ % 2 === 0 ? 'leader' : 'random' };
    case 'pause':
      return { kind, target: counters.pause++ % 3 === 2 ? 'random' : 'leader' };
    case 'partition': {
      const shape = PARTITION_SHAPES[counters.partition++ % PARTITION_SHAPES.length]!;
      return { kind, shape, style: rng.next() < 0.5 ? 'cut' : 'drop' };
    }
    case 'rolling-restart':
      return { kind, graceful: counters.restart++ % 2 === 0 };
    case 'slow':
      return { kind, delayMs: 20 + rng.int(181) };
    case 'membership':
      return { kind, target: counters.membership++ % 2 === 0 ? 'leader' : 'random' };
    default:
      return assertNever(kind, 'nemesis kind');
  }
}

/** A due action of the scheduler. */
export type NemesisAction = { readonly type: 'start'; readonly episode: Episode } | { readonly type: 'heal'; readonly episode: Episode };

/**
 * Hands out a plan's actions as time passes: each start once, then its heal, in plan order. When
 * an action comes late (a slow restart held the caller up), the rest of the plan slides by the
 * delay, so every episode keeps its planned length and every quiet gap its planned length. A
 * heal can take a while itself (a membership rejoin): the quiet gap after it runs from when it was
 * done, i.e. from the next call of `next`.
 */
export class NemesisScheduler {
  private cursor = 0;
  private active: Episode | undefined;
  private finished = false;
  /** How far the plan has slid behind its planned times. */
  private lag = 0;
  /** The planned time of a heal handed out and not yet known to be done. */
  private healing: number | undefined;

  constructor(private readonly plan: readonly Episode[]) {
    for (let i = 1; i < plan.length; i++) {
      const a = plan[i - 1]!;
      const b = plan[i]!;
      if (b.startAt < a.healAt) throw new RangeError(`episodes ${a.id} and ${b.id} overlap`);
    }
    for (const e of plan) if (!(e.healAt >= e.startAt)) throw new RangeError(`episode ${e.id} heals before it starts`);
  }

  /** How many ms the plan has slid so far. */
  get delay(): number {
    return this.lag;
  }

  /** The episode started and not yet healed, if any. */
  get current(): Episode | undefined {
    return this.active;
  }

  /** True once every episode was started and healed (or `finish` was called). */
  get done(): boolean {
    return this.finished || (this.cursor >= this.plan.length && this.active === undefined);
  }

  /**
   * The next action due at `now` (a heal before the next start), or undefined. Call it again after
   * carrying the action out: starts and heals take real time, and the caller may stop in between.
   */
  next(now: number): NemesisAction | undefined {
    if (this.finished) return undefined;
    if (this.healing !== undefined) {
      // The caller is back: the heal handed out last was done by `now`.
      this.lag = Math.max(this.lag, now - this.healing);
      this.healing = undefined;
    }
    if (this.active) {
      if (now < this.active.healAt + this.lag) return undefined;
      const episode = this.active;
      this.lag = Math.max(this.lag, now - episode.healAt);
      this.active = undefined;
      this.healing = episode.healAt;
      return { type: 'heal', episode };
    }
    const e = this.plan[this.cursor];
    if (e === undefined || now < e.startAt + this.lag) return undefined;
    this.lag = Math.max(this.lag, now - e.startAt);
    this.cursor++;
    this.active = e;
    return { type: 'start', episode: e };
  }

  /** Ends the schedule: no more starts; the heal of the active episode, if any. */
  finish(): NemesisAction[] {
    if (this.finished) return [];
    this.finished = true;
    const a = this.active;
    this.active = undefined;
    return a ? [{ type: 'heal', episode: a }] : [];
  }
}

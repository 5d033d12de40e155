/**
 * The simulator's network: a seeded plan for each message (dropped, delayed, duplicated) and
 * partitions, including asymmetric one-way cuts. Delivery itself is an event in the simulation queue.
 */
import type { Rng } from '../../src/common/index.js';
import type { SimParams } from './params.js';

/** Seeded message fates and link cuts. */
export class SimNetwork {
  private readonly blocked = new Set<string>();
  dropRate: number;
  dupRate: number;
  longDelayRate: number;

  constructor(
    private readonly rng: Rng,
    private readonly p: SimParams,
  ) {
    this.dropRate = p.dropRate;
    this.dupRate = p.dupRate;
    this.longDelayRate = p.longDelayRate;
  }

  /** True when messages from `from` to `to` are cut. */
  isBlocked(from: string, to: string): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  /** Cuts the one-way link from → to. */
  cutOneWay(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Cuts every link between different groups, both ways. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.blocked.clear();
  }

  /** Number of cut one-way links. */
  cutLinks(): number {
    return this.blocked.size;
  }

  /** Delays (ms) of each copy of a message from → to; empty when it is lost. */
  plan(from: string, to: string): number[] {
    if (this.isBlocked(from, to)) return [];
    if (this.dropRate > 0 && this.rng.next() < this.dropRate) return [];
    const copies = this.dupRate > 0 && this.rng.next() < this.dupRate ? 2 : 1;
    const out: number[] = [];
    for (let i = 0; i < copies; i++) out.push(this.delay());
    return out;
  }

  private delay(): number {
    const { minDelayMs, maxDelayMs } = this.p;
    const base = minDelayMs + this.rng.int(maxDelayMs - minDelayMs + 1);
    if (this.longDelayRate > 0 && this.rng.next() < this.longDelayRate) return base + this.rng.int(20 * this.p.tickMs);
    return base;
  }
}

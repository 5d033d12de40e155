/**
 * A small synchronous in-memory network of RaftCores for paper-style unit tests (after etcd's
 * raft_test.go `network`): a driver that persists every Ready in memory, delivers messages when
 * told to, and can cut links, isolate nodes and drop messages by predicate.
 */
import { SeededRng } from '../../src/common/index.js';
import { RaftCore } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, InitialState, Message, RaftConfig, Ready, ReadState, Snapshot, SoftState } from '../../src/raft/index.js';

/** What a test node persisted, applied and observed. */
export interface TestNode {
  readonly id: string;
  core: RaftCore;
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
  applied: Entry[];
  readStates: ReadState[];
  failedReads: string[];
  soft: SoftState;
  readies: Ready[];
}

/** Options of a test network. */
export interface NetOptions {
  /** Base config for every node. */
  readonly config?: Omit<RaftConfig, 'id'>;
  /** Per-node config overrides. */
  readonly configs?: Record<string, Partial<RaftConfig>>;
  readonly learners?: readonly string[];
  readonly seed?: number;
  /** Per-node initial state (default: a first boot with the bootstrap configuration). */
  readonly initial?: Record<string, InitialState>;
}

/** Encodes a short string as entry data. */
export function data(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** The text of a normal entry. */
export function text(e: Entry): string {
  return e.type === 'normal' ? new TextDecoder().decode(e.data) : `<${e.type}>`;
}

/** A synchronous cluster of cores. */
export class Net {
  readonly nodes = new Map<string, TestNode>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Every message ever sent, for assertions. */
  readonly sent: Message[] = [];
  private readonly cut = new Set<string>();
  private dropIf: ((m: Message) => boolean) | undefined;
  readonly bootstrap: ConfState;

  constructor(
    readonly ids: readonly string[],
    private readonly opts: NetOptions = {},
  ) {
    const learners = opts.learners ?? [];
    this.bootstrap = { voters: ids.filter((i) => !learners.includes(i)), learners: [...learners] };
    for (const id of ids) this.add(id, opts.initial?.[id] ?? { hardState: { term: 0, vote: null, commit: 0 }, entries: [], bootstrap: this.bootstrap });
  }

  /** Creates (or replaces) node `id` from `initial`. */
  add(id: string, initial: InitialState): TestNode {
    const config = { electionTicks: 10, heartbeatTicks: 1, ...this.opts.config, ...this.opts.configs?.[id], id };
    const seed = (this.opts.seed ?? 1) * 1000 + [...id].reduce((a, c) => a + c.charCodeAt(0), 0);
    const node: TestNode = {
      id,
      core: new RaftCore(config, initial, new SeededRng(seed)),
      hardState: initial.hardState,
      snapshot: undefined,
      entries: [...initial.entries],
      applied: [],
      readStates: [],
      failedReads: [],
      soft: { leader: null, role: 'follower' },
      readies: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  /** Node `id`. */
  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Node `id`'s core. */
  core(id: string): RaftCore {
    return this.node(id).core;
  }

  /** Restarts `id` from what it persisted (everything not in a completed Ready is lost). */
  restart(id: string, overrides: Partial<RaftConfig> = {}): TestNode {
    const n = this.node(id);
    const initial: InitialState = {
      hardState: n.hardState,
      ...(n.snapshot ? { snapshot: n.snapshot.meta } : {}),
      entries: n.entries,
      bootstrap: this.bootstrap,
      applied: n.snapshot?.meta.index ?? 0,
    };
    const saved = { snapshot: n.snapshot };
    const fresh = this.add(id, initial);
    fresh.snapshot = saved.snapshot;
    if (Object.keys(overrides).length > 0) {
      fresh.core = new RaftCore({ electionTicks: 10, heartbeatTicks: 1, ...this.opts.config, ...this.opts.configs?.[id], ...overrides, id }, initial, new SeededRng(7));
    }
    return fresh;
  }

  /** Takes a snapshot of `id` at its applied index (bytes `state@index`) and compacts core and storage. */
  compact(id: string): Snapshot {
    const n = this.node(id);
    const meta = n.core.compact(n.core.status().applied);
    const snap = { meta, data: data(`state@${meta.index}`) };
    n.snapshot = snap;
    n.entries = n.entries.filter((e) => e.index > meta.index);
    return snap;
  }

  /** Runs one node's Ready cycle fully (persist, send, apply, advance); returns the Ready or undefined. */
  process(id: string): Ready | undefined {
    const n = this.node(id);
    if (!n.core.hasReady()) return undefined;
    const rd = n.core.ready();
    n.readies.push(rd);
    if (rd.softState) n.soft = rd.softState;
    if (rd.snapshot) {
      n.snapshot = rd.snapshot;
      n.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) n.entries = [...n.entries.filter((e) => e.index < first.index), ...rd.entries];
    if (rd.hardState) n.hardState = rd.hardState;
    for (const m of [...rd.messages, ...rd.persistedMessages]) this.send(m);
    n.applied.push(...rd.committedEntries);
    n.readStates.push(...rd.readStates);
    n.failedReads.push(...rd.failedReads);
    n.core.advance(rd);
    return rd;
  }

  /** Runs Ready cycles on every node until none has work. */
  processAll(): void {
    for (let guard = 0; guard < 1000; guard++) {
      let any = false;
      for (const id of this.nodes.keys()) if (this.process(id)) any = true;
      if (!any) return;
    }
    throw new Error('processAll did not settle');
  }

  private send(m: Message): void {
    this.sent.push(m);
    this.queue.push(m);
  }

  /** True when `m` would be dropped by a cut, isolation or drop predicate. */
  private blocked(m: Message): boolean {
    return this.cut.has(`${m.from}>${m.to}`) || (this.dropIf?.(m) ?? false);
  }

  /** Delivers everything (and everything it causes) until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.processAll();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error('stabilize did not settle');
  }

  /** Delivers one message (unless blocked) without processing Readies. */
  deliver(m: Message): void {
    if (this.blocked(m)) return;
    this.nodes.get(m.to)?.core.step(m);
  }

  /** Takes the queued messages matching `pred` out of the queue (undelivered). */
  take(pred: (m: Message) => boolean = () => true): Message[] {
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return out;
  }

  /** Ticks node `id` (or every node) `n` times, processing Readies after each tick. */
  tick(id: string | 'all', n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const nid of id === 'all' ? [...this.nodes.keys()] : [id]) this.core(nid).tick();
      this.processAll();
    }
  }

  /** Ticks every node `n` times, delivering all messages after each tick. */
  run(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const nid of this.nodes.keys()) this.core(nid).tick();
      this.stabilize();
    }
  }

  /** Cuts both directions between a and b. */
  cutLink(a: string, b: string): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  /** Cuts one direction. */
  cutOneWay(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Cuts `id` off from everyone. */
  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  /** Restores every link and removes the drop predicate. */
  heal(): void {
    this.cut.clear();
    this.dropIf = undefined;
  }

  /** Drops every message matching `pred` from now on. */
  drop(pred: (m: Message) => boolean): void {
    this.dropIf = pred;
  }

  /** Campaigns on `id` and delivers until quiet; returns its status. */
  elect(id: string): ReturnType<RaftCore['status']> {
    this.core(id).campaign();
    this.stabilize();
    return this.core(id).status();
  }

  /** The ids that currently believe they lead. */
  leaders(): string[] {
    return [...this.nodes.keys()].filter((id) => this.core(id).status().role === 'leader');
  }

  /** Texts of the normal entries `id` applied. */
  appliedTexts(id: string): string[] {
    return this.node(id).applied.filter((e) => e.type === 'normal').map(text);
  }
}

/** A first-boot initial state for a cluster of `voters`. */
export function firstBoot(voters: readonly string[], learners: readonly string[] = []): InitialState {
  return { hardState: { term: 0, vote: null, commit: 0 }, entries: [], bootstrap: { voters, learners } };
}

/** An initial state with the given entry terms (index 1..n) and hard state; configuration from `bootstrap`. */
export function withLog(voters: readonly string[], terms: readonly number[], hs: Partial<HardState> = {}): InitialState {
  const entries: Entry[] = terms.map((term, i) => ({ type: 'normal', term, index: i + 1, data: data(`e${i + 1}@${term}`) }));
  const term = Math.max(hs.term ?? 0, ...terms, 1);
  return { hardState: { term, vote: hs.vote ?? null, commit: hs.commit ?? 0 }, entries, bootstrap: { voters, learners: [] } };
}

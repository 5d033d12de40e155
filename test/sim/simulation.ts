/**
 * The deterministic simulator: a virtual clock, a seeded network, crashing nodes, random client
 * traffic and membership changes, with safety checked as the run goes and liveness checked after
 * the network heals. Everything random comes from the schedule's seed.
 */
import { LatchError, NotLeaderError, SeededRng, isLatchError } from '../../src/common/index.js';
import type { ConfChange, ConfState, Message, RaftConfig, Ready, TestingFaults } from '../../src/raft/index.js';
import { Checker, type Violation } from './checker.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork } from './network.js';
import { paramsForSeed, type SimParams } from './params.js';
import { describe } from './describe-message.js';
import { SimNode, decodeSm } from './sim-node.js';

/** Options of one run. */
export interface RunOptions {
  /** Collect a human-readable trace. */
  readonly trace?: boolean;
  /** Also trace every message delivery. */
  readonly verbose?: boolean;
  /** Bugs to plant in every node's core. */
  readonly faults?: TestingFaults;
  /** Overrides of the seed's parameters (teeth profiles). */
  readonly params?: Partial<SimParams>;
}

/** The outcome of one schedule. */
export interface RunResult {
  readonly seed: number;
  readonly params: SimParams;
  readonly violations: readonly Violation[];
  readonly trace: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
  /** Virtual milliseconds simulated. */
  readonly endTime: number;
}

type SimEvent =
  | { readonly type: 'tick'; readonly node: string; readonly gen: number }
  | { readonly type: 'deliver'; readonly msg: Message; readonly first: boolean }
  | { readonly type: 'persist'; readonly node: string; readonly gen: number }
  | { readonly type: 'snap-report'; readonly node: string; readonly gen: number; readonly peer: string; readonly ok: boolean }
  | { readonly type: 'unreachable'; readonly node: string; readonly gen: number; readonly peer: string }
  | { readonly type: 'chaos' }
  | { readonly type: 'restart'; readonly node: string }
  | { readonly type: 'retire'; readonly node: string }
  | { readonly type: 'heal' }
  | { readonly type: 'liveness' };

/** Elections settle within a few timeouts; this generous bound (in election timeouts) is the liveness deadline. */
const LIVENESS_TIMEOUTS = 40;

/** Runs schedule `seed` and returns its violations. */
export function runSchedule(seed: number, opts: RunOptions = {}): RunResult {
  return new Simulation(seed, opts).run();
}

class Simulation {
  private readonly p: SimParams;
  private readonly rng: SeededRng;
  private readonly net: SimNetwork;
  private readonly q = new EventQueue<SimEvent>();
  private readonly checker = new Checker();
  private readonly nodes = new Map<string, SimNode>();
  private readonly trace: string[] = [];
  private readonly stats: Record<string, number> = {
    events: 0,
    messages: 0,
    crashes: 0,
    partitions: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    compactions: 0,
    confChanges: 0,
    transfers: 0,
    proposals: 0,
    reads: 0,
  };
  private now = 0;
  private nextWrite = 1;
  private nextRead = 1;
  private everMember = new Set<string>();
  private readonly chaosEnd: number;
  private livenessStart = -1;
  private probe: { node: string; id: number } | undefined;
  private livenessDone = false;
  /** End of the run: the liveness bound (extended by the backlog the probe must wait behind). */
  private deadline = 0;

  constructor(
    private readonly seed: number,
    private readonly opts: RunOptions,
  ) {
    this.p = paramsForSeed(seed, opts.params);
    this.rng = new SeededRng(seed ^ 0x5bd1e995);
    this.net = new SimNetwork(this.rng, this.p);
    this.chaosEnd = this.p.chaosTicks * this.p.tickMs;
  }

  private log(line: string): void {
    if (this.opts.trace) this.trace.push(`${String(this.now).padStart(6)} ${line}`);
  }

  fail(kind: Violation['kind'], detail: string): void {
    this.checker.fail(kind, detail);
    this.log(`VIOLATION ${kind}: ${detail}`);
  }

  run(): RunResult {
    const p = this.p;
    const ids = Array.from({ length: p.voters + p.spares }, (_, i) => `n${i + 1}`);
    const voters = ids.slice(0, p.voters);
    const bootstrap: ConfState = { voters, learners: [] };
    const config: Omit<RaftConfig, 'id'> = {
      electionTicks: p.electionTicks,
      heartbeatTicks: p.heartbeatTicks,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      readOnly: p.readOnly,
      leaseDriftTicks: p.leaseDriftTicks,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      maxInflightBytes: p.maxInflightBytes,
      maxUncommittedBytes: p.maxUncommittedBytes,
      ...(this.opts.faults ? { testingFaults: this.opts.faults } : {}),
    };
    this.log(`params ${JSON.stringify(p)}${this.opts.faults ? ` faults ${JSON.stringify(this.opts.faults)}` : ''}`);
    for (const id of ids) this.nodes.set(id, new SimNode(id, config, voters.includes(id) ? bootstrap : undefined));
    for (const id of voters) {
      this.everMember.add(id);
      this.startNode(id);
    }
    this.q.push(p.tickMs, { type: 'chaos' });
    this.q.push(this.chaosEnd, { type: 'heal' });
    this.deadline = this.chaosEnd + LIVENESS_TIMEOUTS * 2 * p.electionTicks * p.tickMs;
    for (;;) {
      const item = this.q.pop();
      if (item === undefined) break;
      if (item.at > this.deadline) {
        this.now = this.deadline;
        break;
      }
      this.now = item.at;
      this.checker.now = item.at;
      this.stats['events'] = (this.stats['events'] ?? 0) + 1;
      try {
        this.handle(item.ev);
        this.checkLeases();
      } catch (err) {
        this.fail('internal', `uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        break;
      }
      if (this.livenessDone || this.checker.violations.length > 0) break;
    }
    for (const n of this.nodes.values()) this.checkDropped(n);
    if (!this.livenessDone && this.checker.violations.length === 0) {
      this.fail('liveness', `no proposal committed within ${this.deadline - this.chaosEnd} ms after the network healed and all nodes were up`);
    }
    return {
      seed: this.seed,
      params: p,
      violations: this.checker.violations,
      trace: this.trace,
      stats: { ...this.stats, ...this.checker.stats },
      endTime: this.now,
    };
  }

  /** Every live node's lease view, for the leader-lease invariant. */
  private checkLeases(): void {
    const views: { id: string; lease: boolean; leader: boolean; term: number }[] = [];
    for (const n of this.nodes.values()) {
      if (!n.up || !n.core) continue;
      const st = n.core.status();
      views.push({ id: n.id, lease: n.core.hasLeaderLease(), leader: st.role === 'leader', term: st.term });
    }
    this.checker.onLeaseViews(views);
  }

  // ---- node lifecycle ----

  private node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  private startNode(id: string): void {
    const n = this.node(id);
    n.start(this.rng.int(0x7fffffff));
    this.log(`${id} start (term ${n.durable.hardState.term}, log ${n.log.snapIndex}..${n.log.lastIndex()}, applied ${n.sm.applied})`);
    this.q.push(this.now + 1 + this.rng.int(this.p.tickMs), { type: 'tick', node: id, gen: n.gen });
  }

  /** The core never drops a message the simulator sends unless something is deeply wrong. */
  private checkDropped(n: SimNode): void {
    const dropped = n.core?.status().droppedMessages ?? 0;
    if (dropped > 0) this.fail('internal', `${n.id} dropped ${dropped} messages (malformed or contradicting its commit)`);
  }

  private crashNode(id: string): void {
    const n = this.node(id);
    if (!n.up) return;
    this.checkDropped(n);
    this.checker.onNotLeader(id);
    n.crash();
    this.stats['crashes'] = (this.stats['crashes'] ?? 0) + 1;
    this.log(`${id} CRASH`);
  }

  // ---- events ----

  private handle(ev: SimEvent): void {
    switch (ev.type) {
      case 'tick': {
        const n = this.node(ev.node);
        if (!n.up || n.gen !== ev.gen || !n.core) return;
        n.core.tick();
        this.q.push(this.now + this.p.tickMs, ev);
        this.pump(n);
        return;
      }
      case 'deliver': {
        const n = this.nodes.get(ev.msg.to);
        const ok = n !== undefined && n.up && n.core !== undefined && !this.net.isBlocked(ev.msg.from, ev.msg.to);
        if (ev.msg.type === 'snapshot' && ev.first) this.reportSnapshot(ev.msg.from, ev.msg.to, ok);
        if (!ok || !n?.core) return;
        if (this.opts.verbose) this.log(`deliver ${describe(ev.msg)}`);
        if (ev.msg.type === 'snapshot') this.stats['snapshotsInstalled'] = (this.stats['snapshotsInstalled'] ?? 0) + 1;
        n.core.step(ev.msg);
        this.pump(n);
        return;
      }
      case 'persist': {
        const n = this.node(ev.node);
        if (!n.up || n.gen !== ev.gen) return;
        this.persistPhase(n);
        return;
      }
      case 'snap-report': {
        const n = this.node(ev.node);
        if (!n.up || n.gen !== ev.gen || !n.core) return;
        n.core.reportSnapshot(ev.peer, ev.ok);
        this.pump(n);
        return;
      }
      case 'unreachable': {
        const n = this.node(ev.node);
        if (!n.up || n.gen !== ev.gen || !n.core) return;
        n.core.reportUnreachable(ev.peer);
        this.pump(n);
        return;
      }
      case 'chaos':
        if (this.now >= this.chaosEnd) return;
        this.chaos();
        this.q.push(this.now + this.p.tickMs, { type: 'chaos' });
        return;
      case 'restart': {
        const n = this.node(ev.node);
        if (n.up || n.retired) return;
        this.startNode(ev.node);
        return;
      }
      case 'retire': {
        const n = this.node(ev.node);
        this.crashNode(ev.node);
        n.retired = true;
        this.log(`${ev.node} retired (removed from the cluster)`);
        return;
      }
      case 'heal':
        this.net.heal();
        this.net.dropRate = 0;
        this.net.longDelayRate = 0;
        this.livenessStart = this.now;
        this.log('HEAL: network healed, no more drops; restarting every node');
        for (const n of this.nodes.values()) if (!n.up && !n.retired && n.gen > 0) this.startNode(n.id);
        this.q.push(this.now + this.p.tickMs, { type: 'liveness' });
        return;
      case 'liveness':
        this.livenessStep();
        this.q.push(this.now + this.p.tickMs, { type: 'liveness' });
        return;
    }
  }

  private reportSnapshot(from: string, to: string, ok: boolean): void {
    const n = this.nodes.get(from);
    if (!n || !n.up) return;
    this.q.push(this.now + 1, { type: 'snap-report', node: from, gen: n.gen, peer: to, ok });
  }

  private send(from: SimNode, msgs: readonly Message[]): void {
    for (let msg of msgs) {
      this.stats['messages'] = (this.stats['messages'] ?? 0) + 1;
      if (msg.type === 'snapshot') {
        // The driver attaches the stored snapshot (its own meta and bytes), as the transport does.
        const snap = from.durable.snapshot;
        if (!snap || snap.meta.index < msg.meta.index) {
          this.fail('internal', `${from.id} asked to send snapshot ${msg.meta.index} but has ${String(snap?.meta.index)}`);
          continue;
        }
        msg = { ...msg, meta: snap.meta, data: snap.data };
        this.stats['snapshotsSent'] = (this.stats['snapshotsSent'] ?? 0) + 1;
      }
      const delays = this.net.plan(msg.from, msg.to);
      if (delays.length === 0 && this.net.isBlocked(msg.from, msg.to) && this.rng.next() < 0.2) {
        // Like a transport whose connection to the peer is down.
        this.q.push(this.now + 1, { type: 'unreachable', node: from.id, gen: from.gen, peer: msg.to });
      }
      if (delays.length === 0) {
        if (msg.type === 'snapshot') this.reportSnapshot(msg.from, msg.to, false);
        continue;
      }
      delays.forEach((d, i) => this.q.push(this.now + d, { type: 'deliver', msg, first: i === 0 }));
    }
  }

  // ---- the driver: Ready handling in two phases (send, then persist/apply/advance) ----

  private pump(n: SimNode): void {
    const core = n.core;
    if (!core || n.outstanding || !core.hasReady()) return;
    const rd = core.ready();
    n.outstanding = rd;
    this.observe(n, rd);
    // Step 3 of the Ready contract: `messages` may leave before the write is durable.
    this.send(n, rd.messages);
    const delay = this.p.persistMaxMs === 0 ? 0 : this.rng.int(this.p.persistMaxMs + 1);
    if (delay === 0) this.persistPhase(n);
    else this.q.push(this.now + delay, { type: 'persist', node: n.id, gen: n.gen });
  }

  /** Checks what a Ready reveals about the node's state, then mirrors its log. */
  private observe(n: SimNode, rd: Ready): void {
    const core = n.core;
    if (!core) return;
    if (rd.hardState) n.term = rd.hardState.term;
    if (rd.snapshot) n.log.restore(rd.snapshot.meta.index, rd.snapshot.meta.term);
    if (rd.entries.length > 0) {
      this.checker.onEntries(n.id, n.log, rd.entries);
      n.log.write(rd.entries);
    }
    if (rd.softState) {
      this.log(`${n.id} ${rd.softState.role} term ${n.term} leader ${String(rd.softState.leader)}`);
      if (rd.softState.role === 'leader') {
        n.leader = true;
        this.checker.onLeader(n.id, n.term, n.log);
      } else if (n.leader) {
        n.leader = false;
        this.checker.onNotLeader(n.id);
      }
    }
    if (rd.hardState && rd.hardState.commit > n.lastCommit) {
      this.checker.onCommit(n.id, rd.hardState.term, n.lastCommit, rd.hardState.commit, n.log);
      n.lastCommit = rd.hardState.commit;
    }
  }

  private persistPhase(n: SimNode): void {
    const rd = n.outstanding;
    const core = n.core;
    if (!rd || !core) return;
    const err = n.persist(rd);
    if (err !== undefined) this.fail('internal', `${n.id}: ${err}`);
    // Step 2: messages that promise durable state leave only now.
    this.send(n, rd.persistedMessages);
    if (rd.snapshot) {
      const sm = rd.snapshot;
      try {
        n.sm = decodeSm(sm.data);
      } catch {
        this.fail('internal', `${n.id} got undecodable snapshot data`);
        return;
      }
      if (n.sm.applied !== sm.meta.index) this.fail('internal', `${n.id} snapshot data at ${n.sm.applied} but meta at ${sm.meta.index}`);
      this.checker.onRestore(n.id, sm.meta.index, n.sm.hash);
      this.log(`${n.id} installed snapshot at ${sm.meta.index}`);
    }
    for (const e of rd.committedEntries) {
      const h = n.apply(e);
      if (typeof h === 'string') {
        this.fail('state-machine-safety', h);
        return;
      }
      this.checker.onApply(n.id, e.index, h);
      this.onApplied(n, e);
    }
    for (const rs of rd.readStates) this.checker.onReadState(n.id, rs.context, rs.index);
    for (const ctx of rd.failedReads) this.checker.onReadFailed(ctx);
    n.outstanding = undefined;
    core.advance(rd);
    // Compact against the core's own view: a snapshot from the leader may have been installed
    // in the core (not yet handed out) while this Ready was outstanding.
    const st = n.sm.applied - n.log.snapIndex >= this.p.compactEvery ? core.status() : undefined;
    if (st && st.applied === n.sm.applied && n.sm.applied - st.snapshotIndex >= this.p.compactEvery) {
      n.compact();
      this.stats['compactions'] = (this.stats['compactions'] ?? 0) + 1;
    }
    this.pump(n);
    if (!n.outstanding && (this.stats['events'] ?? 0) % 16 === 0) this.crossCheck(n);
  }

  /** With nothing pending, the core's log and commit must be what its Readies reported. */
  private crossCheck(n: SimNode): void {
    const st = n.core?.status();
    if (!st) return;
    if (st.lastIndex !== n.log.lastIndex() || st.snapshotIndex !== n.log.snapIndex || st.commit !== n.lastCommit) {
      this.fail(
        'internal',
        `${n.id} core (last ${st.lastIndex}, snapshot ${st.snapshotIndex}, commit ${st.commit}) differs from its Readies (last ${n.log.lastIndex()}, snapshot ${n.log.snapIndex}, commit ${n.lastCommit})`,
      );
    }
  }

  private onApplied(n: SimNode, e: Ready['committedEntries'][number]): void {
    if (e.type === 'normal') {
      const mine = n.proposals.get(e.index);
      if (mine !== undefined) {
        n.proposals.delete(e.index);
        const id = (e.data[0] ?? 0) | ((e.data[1] ?? 0) << 8) | ((e.data[2] ?? 0) << 16);
        if (mine.term === e.term && mine.id === id) {
          this.checker.onAck(e.index);
          if (this.probe && this.probe.id === id) {
            this.livenessDone = true;
            this.log(`liveness probe ${id} committed at ${e.index} on ${n.id}, ${this.now - this.livenessStart} ms after heal`);
          }
        }
      }
    } else if (e.type === 'conf') {
      const c = e.change;
      if (c.type === 'add-learner' || c.type === 'add-voter') this.everMember.add(c.node);
      if (c.type === 'remove') {
        const target = this.nodes.get(c.node);
        if (target && !target.retired && !this.retiring.has(c.node)) {
          this.retiring.add(c.node);
          this.q.push(this.now + this.rng.int(50 * this.p.tickMs), { type: 'retire', node: c.node });
        }
      }
    }
  }

  private readonly retiring = new Set<string>();

  // ---- chaos and clients ----

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && n.core);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.int(xs.length)];
  }

  private leaders(): SimNode[] {
    // The driver's view (the last Ready's soft state), as a real client would see it.
    return this.upNodes().filter((n) => n.leader);
  }

  private newestLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.leaders()) {
      const t = n.term;
      if (t > bestTerm) {
        best = n;
        bestTerm = t;
      }
    }
    return best;
  }

  private chaos(): void {
    const p = this.p;
    const r = this.rng;
    if (r.next() < p.partitionRate) this.partition();
    if (r.next() < p.healRate && this.net.cutLinks() > 0) {
      this.net.heal();
      this.log('network healed');
    }
    if (r.next() < p.crashRate) {
      // Half the time, crash a node in the middle of an fsync (the most dangerous moment).
      const writing = this.upNodes().filter((n) => n.outstanding !== undefined);
      const leader = r.next() < p.crashLeaderBias ? this.pick(this.leaders()) : undefined;
      const victim = leader ?? (r.next() < 0.5 ? this.pick(writing) : undefined) ?? this.pick(this.upNodes());
      if (victim) {
        this.crashNode(victim.id);
        this.q.push(this.now + 1 + r.int(p.maxDowntimeMs), { type: 'restart', node: victim.id });
      }
    }
    if (r.next() < p.proposeRate) {
      // Clients find the newest leader (a stale one, cut off, may still think it leads);
      // with none known, they sometimes try a random node (NotLeaderError).
      const target = this.newestLeader() ?? (r.next() < 0.2 ? this.pick(this.upNodes()) : undefined);
      const batch = 1 + r.int(4);
      for (let i = 0; i < batch && target; i++) this.propose(target);
    }
    if (r.next() < p.readRate) {
      // Half the reads go to some node that believes it leads (possibly a deposed one).
      const target = (r.next() < 0.5 ? this.pick(this.leaders()) : undefined) ?? this.pick(this.upNodes());
      if (target) this.read(target);
    }
    if (r.next() < p.confRate) {
      const leader = this.pick(this.leaders());
      if (leader) this.confChange(leader);
    }
    if (r.next() < p.transferRate) {
      const leader = this.pick(this.leaders());
      if (leader) this.transfer(leader);
    }
  }

  private partition(): void {
    const ids = this.upNodes().map((n) => n.id);
    const r = this.rng;
    const kind = r.int(4);
    this.stats['partitions'] = (this.stats['partitions'] ?? 0) + 1;
    if (kind === 0) {
      const a: string[] = [];
      const b: string[] = [];
      for (const id of ids) (r.next() < 0.5 ? a : b).push(id);
      this.net.partition([a, b]);
      this.log(`partition [${a.join(',')}] | [${b.join(',')}]`);
    } else if (kind === 1) {
      const x = this.pick(this.leaders())?.id ?? this.pick(ids);
      if (!x) return;
      this.net.partition([[x], ids.filter((i) => i !== x)]);
      this.log(`isolate ${x}`);
    } else if (kind === 2) {
      const x = this.pick(ids);
      const y = this.pick(ids.filter((i) => i !== x));
      if (!x || !y) return;
      this.net.cutOneWay(x, y);
      this.log(`cut one way ${x} -> ${y}`);
    } else {
      // Asymmetric: a node that can send but not receive (or the reverse).
      const x = this.pick(ids);
      if (!x) return;
      const inbound = r.next() < 0.5;
      for (const y of ids) if (y !== x) (inbound ? this.net.cutOneWay(y, x) : this.net.cutOneWay(x, y));
      this.log(`cut all ${inbound ? 'inbound to' : 'outbound from'} ${x}`);
    }
  }

  private expected(err: unknown, ...codes: string[]): boolean {
    if (err instanceof NotLeaderError) return true;
    if (isLatchError(err) && codes.includes(err.code)) return true;
    this.fail('internal', `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }

  private propose(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    const id = this.nextWrite++;
    const data = new Uint8Array(3 + this.rng.int(20));
    data[0] = id & 0xff;
    data[1] = (id >> 8) & 0xff;
    data[2] = (id >> 16) & 0xff;
    try {
      const at = core.propose(data);
      n.proposals.set(at.index, { term: at.term, id });
      this.stats['proposals'] = (this.stats['proposals'] ?? 0) + 1;
    } catch (err) {
      this.expected(err, 'PROPOSAL_DROPPED');
    }
    this.pump(n);
  }

  private read(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    const ctx = `read-${this.nextRead++}`;
    this.checker.onReadStart(ctx);
    try {
      core.readIndex(ctx);
      this.stats['reads'] = (this.stats['reads'] ?? 0) + 1;
    } catch (err) {
      this.checker.onReadFailed(ctx);
      this.expected(err);
    }
    this.pump(n);
  }

  private confChange(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    const conf = core.status().confState;
    const options: ConfChange[] = [];
    const learner = conf.learners[0];
    if (learner !== undefined && conf.voters.length < 5) options.push({ type: 'promote', node: learner });
    const spare = [...this.nodes.values()].find((x) => !this.everMember.has(x.id) && !x.retired && !conf.voters.includes(x.id) && !conf.learners.includes(x.id));
    if (spare && conf.voters.length + conf.learners.length < 6) options.push({ type: 'add-learner', node: spare.id });
    if (conf.voters.length > 3) options.push({ type: 'remove', node: this.pick(conf.voters) ?? n.id });
    if (learner !== undefined && this.rng.next() < 0.3) options.push({ type: 'remove', node: learner });
    const cc = this.pick(options);
    if (!cc) return;
    if (cc.type === 'add-learner') {
      const s = this.node(cc.node);
      if (!s.up && s.gen === 0) this.startNode(cc.node);
    }
    try {
      const at = core.proposeConfChange(cc);
      this.stats['confChanges'] = (this.stats['confChanges'] ?? 0) + 1;
      this.log(`${n.id} proposes ${cc.type} ${cc.node} at ${at.index}`);
    } catch (err) {
      this.expected(err, 'CONF_CHANGE_IN_PROGRESS', 'PROPOSAL_DROPPED');
    }
    this.pump(n);
  }

  private transfer(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    const to = this.pick(core.status().confState.voters.filter((v) => v !== n.id));
    if (!to) return;
    try {
      core.transferLeadership(to);
      this.stats['transfers'] = (this.stats['transfers'] ?? 0) + 1;
      this.log(`${n.id} transfers leadership to ${to}`);
    } catch (err) {
      this.expected(err);
    }
    this.pump(n);
  }

  private livenessStep(): void {
    if (this.livenessDone) return;
    const leader = this.pick(this.leaders());
    if (!leader?.core) return;
    if (this.probe && this.probe.node === leader.id && [...leader.proposals.values()].some((x) => x.id === this.probe?.id)) return;
    const id = this.nextWrite++;
    const data = new Uint8Array([id & 0xff, (id >> 8) & 0xff, (id >> 16) & 0xff]);
    try {
      const at = leader.core.propose(data);
      leader.proposals.set(at.index, { term: at.term, id });
      this.probe = { node: leader.id, id };
      // The probe commits behind the uncommitted backlog; with one entry per message and one
      // message in flight, each backlog entry may take a round trip plus an fsync.
      const backlog = at.index - leader.core.status().commit;
      const perEntry = 2 * this.p.maxDelayMs + this.p.persistMaxMs + this.p.tickMs;
      this.deadline = Math.max(this.deadline, this.now + LIVENESS_TIMEOUTS * 2 * this.p.electionTicks * this.p.tickMs + backlog * perEntry);
      this.log(`liveness probe ${id} proposed on ${leader.id} at ${at.index} (backlog ${backlog})`);
    } catch (err) {
      if (!(err instanceof LatchError)) throw err;
    }
    this.pump(leader);
  }
}

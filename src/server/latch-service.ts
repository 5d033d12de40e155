/**
 * The lock service on one node: validates client requests (limits enforced before the log),
 * proposes commands, waits for blocked acquires, serves linearizable reads, keepalives, watches and
 * election observers, and runs leader duties while this node leads.
 */
import type { ServerDuplexStream, ServerWritableStream } from '@grpc/grpc-js';
import { systemClock, type Clock } from '../common/clock.js';
import { systemTimers, type Timers } from '../common/timers.js';
import { isNodeId } from '../common/ids.js';
import { LatchError, LeadershipLostError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  CheckpointAges,
  electionLockName,
  lockNameProblem,
  lockPrefixProblem,
  lockValueProblem,
  MAX_CLIENT_BYTES,
  type ApplyOutput,
  type LockCommand,
  type LockEvent,
  type LockInfo,
  type LockMode,
  type LockSuccess,
  sessionAccessProblem,
} from '../lock/index.js';
import { isHostPort } from '../node/members.js';
import { RaftNode } from '../node/raft-node.js';
import type { ServerConfig } from './config.js';
import { invalidArgument, toServiceError } from './grpc-errors.js';
import type { HttpRoute } from './http-server.js';
import { LeaderDuties } from './leader-duties.js';
import { LockFsm, encodeLockEntry } from './lock-fsm.js';
import { Metrics } from './metrics.js';
import { encodeSnapshotFile, sha256Hex } from './snapshot-file.js';

/** Size of one SnapshotSave data chunk. */
const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

type WireMode = 'EXCLUSIVE' | 'SHARED';

interface WaiterListener {
  resolve(r: LockSuccess): void;
  reject(e: Error): void;
}

/**
 * How a blocking call learns that its client gave up: a unary call's own `cancelled` event (the
 * client cancelled or went away), or, on Locks.Stream, a CancelCall for it or the end of its stream.
 */
export interface CallCancellation {
  on(event: 'cancelled', listener: () => void): unknown;
}

/** A `latch.v1.KeepAliveResponse` as the service writes it. */
export interface KeepAliveAnswer {
  readonly sessionId: string;
  readonly nonce: string;
  readonly ttlMs: number;
  readonly expired: boolean;
}

/** Converts a wire uint64 (decimal string) to a safe-integer id, or throws INVALID_ARGUMENT naming the field. */
export function wireId(field: string, v: unknown, required = true): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '';
  if (s === '' || s === '0') {
    if (required) throw invalidArgument(field, 'is required');
    return 0;
  }
  const n = Number(s);
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(n)) throw invalidArgument(field, `"${s}" is not a valid id`);
  return n;
}

function wireMode(v: unknown): LockMode {
  if (v === 'SHARED' || v === 1) return 'shared';
  if (v === 'EXCLUSIVE' || v === 0 || v === undefined || v === '') return 'exclusive';
  throw invalidArgument('mode', `"${String(v)}" is not EXCLUSIVE or SHARED`);
}

function modeWire(m: LockMode | null): WireMode {
  return m === 'shared' ? 'SHARED' : 'EXCLUSIVE';
}

function checkName(field: string, name: unknown): string {
  const p = lockNameProblem(name);
  if (p) throw invalidArgument(field, p);
  return name as string;
}

function checkValue(v: unknown): Uint8Array | undefined {
  if (v === undefined || v === null) return undefined;
  const buf = v as Uint8Array;
  if (buf.length === 0) return undefined;
  const p = lockValueProblem(buf);
  if (p) throw invalidArgument('value', p);
  return buf;
}

function failed(r: ApplyOutput['result']): LockSuccess {
  if (!r.ok) throw new LatchError(r.code, r.message);
  return r;
}

/** The lock service of one node. */
export class LatchService {
  /** The node's state machine port. */
  readonly stateMachine: LockFsm;
  readonly metrics: Metrics;
  private node!: RaftNode<ApplyOutput>;
  private duties: LeaderDuties | null = null;
  private dutiesReady: Promise<void> | null = null;
  private readonly waiters = new Map<number, Set<WaiterListener>>();
  /** Outcomes of waiters that completed before anyone listened (applied in the same batch as the queueing). */
  private readonly recentOutcomes = new Map<number, LockSuccess | LatchError>();
  private readonly eventListeners = new Set<(e: LockEvent) => void>();
  private readonly sessionsByPeer = new Map<string, Set<number>>();
  private readonly peerOfSession = new Map<number, string>();
  private readonly streams = new Set<{ end(): void }>();
  private readonly ages = new CheckpointAges();
  private leaseEntries = 0;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly timers: Timers;

  /** `clock` and `timers`: the time base of session deadlines and leader timers (the node's; default the process's). */
  constructor(
    private readonly config: ServerConfig,
    logger: Logger,
    opts: { readonly clock?: Clock; readonly timers?: Timers } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.log = logger.child({ component: 'lock-service' });
    this.stateMachine = new LockFsm({ maxWaitersPerLock: config.maxWaitersPerLock }, this.log);
    this.metrics = new Metrics();
    for (const rpc of ['KeepAlive', 'KeepAliveBatch']) this.metrics.keepAliveStreams.set({ rpc }, 0);
    this.stateMachine.onApply((out, entry) => this.onApply(out, entry.index));
  }

  /** Connects the service to its node (before the node starts). */
  attach(node: RaftNode<ApplyOutput>): void {
    this.node = node;
    node.on((e) => {
      if (e.type === 'role') {
        this.metrics.onRole(e.soft.role, e.term, e.soft.leader);
        if (e.soft.role === 'leader') this.becomeLeader();
        else this.stepDown();
      } else if (e.type === 'restored') {
        this.recentOutcomes.clear();
      }
    });
  }

  private get sm() {
    return this.stateMachine.sm;
  }

  // ---------- leadership ----------

  private becomeLeader(): void {
    if (this.dutiesReady) return;
    // Duties need every committed entry applied (a ReadIndex barrier needs this term's noop committed).
    this.dutiesReady = (async () => {
      for (;;) {
        if (!this.node.isLeader) throw new LeadershipLostError();
        try {
          await this.node.readBarrier();
          break;
        } catch (err) {
          if (!this.node.isLeader) throw err;
        }
      }
      if (!this.node.isLeader) throw new LeadershipLostError();
      this.duties = new LeaderDuties({
        propose: (cmd) => this.propose(cmd),
        sm: () => this.sm,
        leaseHeld: () => this.node.hasLeaderLease(),
        clock: this.clock,
        timers: this.timers,
        log: this.log,
        electionTimeoutMs: this.node.electionTimeoutMs,
        heartbeatMs: this.config.heartbeatMs,
        lockDelayMs: this.config.lockDelayMs,
        // Clients keep alive every ttl/3: a session silent for half its TTL has missed one.
        lapseAfterMs: (ttlMs) => ttlMs / 2,
        ages: this.ages,
      });
    })();
    this.dutiesReady.catch(() => undefined);
  }

  private stepDown(): void {
    this.duties?.close();
    this.duties = null;
    this.dutiesReady = null;
    const err = new LeadershipLostError('this node lost leadership while the call waited; retry with the same requestSeq');
    for (const set of this.waiters.values()) for (const w of set) w.reject(err);
    this.waiters.clear();
  }

  private async readyDuties(): Promise<LeaderDuties> {
    await this.leaderOrRedirect();
    if (!this.dutiesReady) this.becomeLeader();
    await this.dutiesReady;
    if (!this.duties || !this.node.isLeader) throw this.node.notLeaderError();
    return this.duties;
  }

  // ---------- apply side ----------

  private onApply(out: ApplyOutput, index: number): void {
    this.metrics.onApply(out);
    const r = out.result;
    if (r.ok && (r.type === 'open-session' || r.type === 'checkpoint-sessions')) {
      this.ages.applied(index, this.clock.now());
      if (++this.leaseEntries % 1000 === 0) this.ages.retain(this.sm.sessionLeases().map((s) => s.checkpointIndex));
    }
    for (const e of out.effects) {
      this.duties?.onEffect(e);
      switch (e.type) {
        case 'granted': {
          const r: LockSuccess = { ok: true, type: 'acquire', status: 'granted', name: e.name, mode: e.mode, sessionId: e.sessionId, token: e.token, alreadyHeld: false };
          this.completeWaiter(e.waiterId, r);
          break;
        }
        case 'wait-ended':
          this.completeWaiter(e.waiterId, new LatchError(e.code, e.code === 'WAIT_TIMEOUT' ? `waited too long for lock "${e.name}"` : `session ${e.sessionId} ended while waiting for lock "${e.name}"`));
          break;
        case 'session-ended': {
          const peer = this.peerOfSession.get(e.sessionId);
          if (peer) {
            this.peerOfSession.delete(e.sessionId);
            const set = this.sessionsByPeer.get(peer);
            set?.delete(e.sessionId);
            if (set?.size === 0) this.sessionsByPeer.delete(peer);
          }
          break;
        }
        default:
          break;
      }
    }
    for (const ev of out.events) for (const l of this.eventListeners) l(ev);
  }

  private completeWaiter(waiterId: number, outcome: LockSuccess | LatchError): void {
    const set = this.waiters.get(waiterId);
    if (!set || set.size === 0) {
      this.recentOutcomes.set(waiterId, outcome);
      if (this.recentOutcomes.size > 10_000) this.recentOutcomes.delete(this.recentOutcomes.keys().next().value!);
      return;
    }
    this.waiters.delete(waiterId);
    for (const w of set) outcome instanceof LatchError ? w.reject(outcome) : w.resolve(outcome);
  }

  private waitFor(waiterId: number, cancellation?: CallCancellation): Promise<LockSuccess> {
    const done = this.recentOutcomes.get(waiterId);
    if (done) {
      this.recentOutcomes.delete(waiterId);
      return done instanceof LatchError ? Promise.reject(done) : Promise.resolve(done);
    }
    return new Promise<LockSuccess>((resolve, reject) => {
      let set = this.waiters.get(waiterId);
      if (!set) this.waiters.set(waiterId, (set = new Set()));
      const w: WaiterListener = { resolve, reject };
      set.add(w);
      cancellation?.on('cancelled', () => {
        set.delete(w);
        reject(new LatchError('WAIT_TIMEOUT', 'the client cancelled the call'));
      });
    });
  }

  // ---------- proposing ----------

  /**
   * Returns when this node is the leader; otherwise throws NOT_LEADER with the leader's address.
   * While the leader it follows has gone quiet (dead or cut off), it first waits, up to two
   * election timeouts, for a live leader, so the client is redirected to the next leader rather
   * than to the dead one.
   */
  private async leaderOrRedirect(): Promise<void> {
    if (this.node.isLeader) return;
    await this.node.awaitLiveLeader();
    if (!this.node.isLeader) throw this.node.notLeaderError();
  }

  /**
   * Refuses early (before any log entry) a call from another identity than the one that opened
   * the session, when this node knows the session; the state machine checks again in `apply`.
   */
  private checkSessionAccess(sessionId: number, identity: string | undefined): void {
    const s = this.sm.getSession(sessionId);
    const problem = s === undefined ? undefined : sessionAccessProblem(s, identity);
    if (problem !== undefined) throw new LatchError('PERMISSION_DENIED', problem);
  }

  /** Proposes a command (leader only) and resolves with its apply output. */
  private async proposeOutput(cmd: LockCommand): Promise<ApplyOutput> {
    await this.leaderOrRedirect();
    return this.metrics.timeProposal(() => this.node.propose(encodeLockEntry(cmd)));
  }

  /** Proposes a command and returns its successful result, or throws its typed error. */
  private async propose(cmd: LockCommand): Promise<LockSuccess> {
    return failed((await this.proposeOutput(cmd)).result);
  }

  /** A linearizable read barrier (ReadIndex; followers ask the leader). */
  private async linearizable(): Promise<void> {
    await this.node.readBarrier();
  }

  // ---------- API: cluster ----------

  /** Cluster.Status */
  async clusterStatus(): Promise<object> {
    const st = this.node.status();
    const learners = new Set(st.confState.learners);
    return {
      id: st.id,
      role: st.role,
      term: String(st.term),
      commitIndex: String(st.commit),
      appliedIndex: String(st.applied),
      leader: st.leader ?? '',
      leaderClientAddress: st.leaderClientAddress ?? '',
      clientAddress: st.members.find((m) => m.id === st.id)?.clientAddress || this.config.listenClient,
      clusterId: st.clusterId,
      members: st.members.map((m) => ({ id: m.id, peerAddress: m.peerAddress, clientAddress: m.clientAddress, learner: learners.has(m.id) })),
    };
  }

  // ---------- API: sessions ----------

  /** Sessions.Open; with an `identity` (token or client certificate) the session belongs to it. */
  async openSession(req: { ttlMs?: number; client?: string; metadata?: Record<string, string> }, peer: string, identity?: string): Promise<object> {
    const requested = req.ttlMs ?? 0;
    const ttlMs = requested === 0 ? this.config.sessionTtlDefaultMs : Math.min(this.config.sessionTtlMaxMs, Math.max(this.config.sessionTtlMinMs, requested));
    const client = req.client ?? '';
    if (Buffer.byteLength(client) > MAX_CLIENT_BYTES) throw invalidArgument('client', `must be at most ${MAX_CLIENT_BYTES} bytes`);
    const mine = this.sessionsByPeer.get(peer);
    if (mine && mine.size >= this.config.maxSessionsPerConnection) {
      throw new LatchError('TOO_MANY_SESSIONS', `this connection already has ${mine.size} sessions (max ${this.config.maxSessionsPerConnection}); close some or use another connection`);
    }
    const meta = req.metadata && Object.keys(req.metadata).length > 0 ? req.metadata : undefined;
    const r = await this.propose({ type: 'open-session', ttlMs, client, ...(meta ? { meta } : {}), ...(identity ? { owner: identity } : {}) });
    if (r.type !== 'open-session') throw new LatchError('INVALID_ARGUMENT', 'unexpected result');
    let set = this.sessionsByPeer.get(peer);
    if (!set) this.sessionsByPeer.set(peer, (set = new Set()));
    set.add(r.sessionId);
    this.peerOfSession.set(r.sessionId, peer);
    return { sessionId: String(r.sessionId), ttlMs: r.ttlMs };
  }

  /** Sessions.Close (only by the identity that opened the session) */
  async closeSession(req: { sessionId?: string; requestSeq?: string }, identity?: string): Promise<object> {
    const sessionId = wireId('session_id', req.sessionId);
    const seq = wireId('request_seq', req.requestSeq);
    this.checkSessionAccess(sessionId, identity);
    await this.propose({ type: 'close-session', sessionId, seq, ...(identity ? { caller: identity } : {}) });
    return {};
  }

  /** Sessions.List */
  async listSessions(): Promise<object> {
    await this.linearizable();
    return {
      sessions: this.sm.listSessions().map((s) => ({
        sessionId: String(s.id),
        client: s.client,
        ttlMs: s.ttlMs,
        metadata: { ...s.meta },
        locks: [...s.holds],
        lapsed: s.lapsed,
        openedAtMs: String(Math.max(0, Math.floor(s.openedAt))),
      })),
    };
  }

  /**
   * One keepalive, as both Sessions.KeepAlive and Sessions.KeepAliveBatch run it (authorized by the
   * caller): resolves with its KeepAliveResponse once the lease is safely extended (after a
   * RenewSession commits if the log marks the session lapsed), `expired: true` for a session the
   * leader no longer tracks. Throws INVALID_ARGUMENT for a malformed id, NOT_LEADER off the leader,
   * and whatever a RenewSession proposal fails with (e.g. SESSION_EXPIRED, LEADERSHIP_LOST).
   */
  async keepAlive(req: { sessionId?: string; nonce?: string }, identity?: string): Promise<KeepAliveAnswer> {
    const sessionId = wireId('session_id', req.sessionId);
    const duties = await this.readyDuties();
    // Duties are ready: every committed entry is applied here, so the session's owner is known.
    this.checkSessionAccess(sessionId, identity);
    // Without the lease (heartbeats late, or cut off from the quorum), one fresh heartbeat round
    // renews it if a quorum still answers; a leader cut off fails here and the client moves on.
    if (!this.node.hasLeaderLease()) await this.node.readBarrier(this.node.electionTimeoutMs);
    const ttl = await duties.keepalive(sessionId);
    this.metrics.keepalives.inc();
    return { sessionId: String(sessionId), nonce: req.nonce ?? '0', ttlMs: ttl ?? 0, expired: ttl === null };
  }

  /** Sessions.KeepAlive: each request is answered once the lease is safely extended; any failure ends the stream. */
  keepAliveStream(call: ServerDuplexStream<unknown, unknown>, identity?: string): void {
    const untrack = this.trackKeepAliveStream('KeepAlive', { end: () => call.end() });
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      untrack();
      call.emit('error', toServiceError(err));
    };
    call.on('data', (req: { sessionId?: string; nonce?: string }) => {
      if (failed) return;
      this.keepAlive(req, identity)
        .then((res) => call.write(res))
        .catch(fail);
    });
    call.on('end', () => {
      untrack();
      if (!failed) call.end();
    });
    call.on('error', untrack);
    call.on('cancelled', untrack);
    call.on('close', untrack);
  }

  /**
   * Registers an open Sessions.KeepAlive or KeepAliveBatch stream: `close` ends it (shutdown) and the
   * `latch_keepalive_streams` gauge counts it. Returns the unregister function (idempotent).
   */
  trackKeepAliveStream(rpc: 'KeepAlive' | 'KeepAliveBatch', handle: { end(): void }): () => void {
    const untrack = this.trackStream(handle);
    this.metrics.keepAliveStreams.inc({ rpc });
    let tracked = true;
    return () => {
      if (!tracked) return;
      tracked = false;
      untrack();
      this.metrics.keepAliveStreams.dec({ rpc });
    };
  }

  // ---------- API: locks ----------

  private async acquireCommon(
    cmd: { sessionId: number; seq: number; name: string; mode: LockMode; waitMs: number; value?: Uint8Array; caller?: string },
    cancellation?: CallCancellation,
  ): Promise<LockSuccess | null> {
    this.checkSessionAccess(cmd.sessionId, cmd.caller);
    if (cmd.waitMs > 0) {
      const info = this.sm.getLock(cmd.name);
      if (info && info.waiters.length >= this.config.maxWaitersPerLock && !info.waiters.some((w) => w.sessionId === cmd.sessionId)) {
        throw new LatchError('TOO_MANY_WAITERS', `lock "${cmd.name}" already has ${info.waiters.length} waiters (max ${this.config.maxWaitersPerLock})`);
      }
    }
    const out = await this.proposeOutput({ type: 'acquire', ...cmd });
    const r = out.result;
    if (!r.ok) {
      if (r.code === 'LOCK_HELD') return null;
      throw new LatchError(r.code, r.message);
    }
    if (r.type === 'acquire' && r.status === 'queued') return this.waitFor(r.waiterId, cancellation);
    return r;
  }

  private sequencerOf(r: LockSuccess): object {
    if (r.type !== 'acquire' || r.status !== 'granted') throw new LatchError('INVALID_ARGUMENT', 'unexpected result');
    return { name: r.name, mode: modeWire(r.mode), token: String(r.token), sessionId: String(r.sessionId) };
  }

  /** Locks.Acquire (unary, or an `acquire` on Locks.Stream); a waiting acquire stops waiting when `cancellation` fires. */
  async acquire(
    req: { sessionId?: string; requestSeq?: string; name?: string; mode?: string; waitMs?: number; value?: Uint8Array },
    cancellation?: CallCancellation,
    identity?: string,
  ): Promise<object> {
    const name = checkName('name', req.name);
    const value = checkValue(req.value);
    const r = await this.acquireCommon(
      {
        sessionId: wireId('session_id', req.sessionId),
        seq: wireId('request_seq', req.requestSeq),
        name,
        mode: wireMode(req.mode),
        waitMs: req.waitMs ?? 0,
        ...(value ? { value } : {}),
        ...(identity ? { caller: identity } : {}),
      },
      cancellation,
    );
    if (!r) return { acquired: false };
    return { acquired: true, sequencer: this.sequencerOf(r) };
  }

  /** Locks.Release (unary, or a `release` on Locks.Stream) */
  async release(req: { sessionId?: string; requestSeq?: string; name?: string }, identity?: string): Promise<object> {
    await this.propose(this.sessionCommand('release', req, checkName('name', req.name), identity));
    return {};
  }

  /** A release (lock or election) of `name`, checked against the session's owner first. */
  private sessionCommand(type: 'release', req: { sessionId?: string; requestSeq?: string }, name: string, identity: string | undefined): LockCommand {
    const sessionId = wireId('session_id', req.sessionId);
    const seq = wireId('request_seq', req.requestSeq);
    this.checkSessionAccess(sessionId, identity);
    return { type, sessionId, seq, name, ...(identity ? { caller: identity } : {}) };
  }

  /** A set-value (lock value or election proclaim), checked against the session's owner first. */
  private setValueCommand(req: { sessionId?: string; requestSeq?: string; value?: Uint8Array }, name: string, identity: string | undefined): LockCommand {
    const sessionId = wireId('session_id', req.sessionId);
    const seq = wireId('request_seq', req.requestSeq);
    const value = checkValue(req.value) ?? new Uint8Array();
    this.checkSessionAccess(sessionId, identity);
    return { type: 'set-value', sessionId, seq, name, value, ...(identity ? { caller: identity } : {}) };
  }

  /** Locks.SetValue (unary, or a `set_value` on Locks.Stream) */
  async setValue(req: { sessionId?: string; requestSeq?: string; name?: string; value?: Uint8Array }, identity?: string): Promise<object> {
    await this.propose(this.setValueCommand(req, checkName('name', req.name), identity));
    return {};
  }

  private lockInfoWire(name: string, info: LockInfo | undefined): object {
    if (!info) return { name, held: false, mode: 'EXCLUSIVE', holders: [], value: Buffer.alloc(0), waiters: [], inDelay: false };
    return {
      name,
      held: info.holders.length > 0,
      mode: modeWire(info.mode),
      holders: info.holders.map((h) => ({ sessionId: String(h.sessionId), token: String(h.token) })),
      value: info.value ? Buffer.from(info.value) : Buffer.alloc(0),
      waiters: info.waiters.map((w) => ({ sessionId: String(w.sessionId), mode: modeWire(w.mode) })),
      inDelay: info.inDelay,
    };
  }

  /** Locks.Get (linearizable) */
  async getLock(req: { name?: string }): Promise<object> {
    const name = checkName('name', req.name);
    await this.linearizable();
    return this.lockInfoWire(name, this.sm.getLock(name));
  }

  /** Locks.List (linearizable) */
  async listLocks(req: { prefix?: string }): Promise<object> {
    const prefix = req.prefix ?? '';
    const p = lockPrefixProblem(prefix);
    if (p) throw invalidArgument('prefix', p);
    await this.linearizable();
    return { locks: this.sm.listLocks(prefix).map((l) => this.lockInfoWire(l.name, l)) };
  }

  /** Locks.CheckSequencer (linearizable) */
  async checkSequencer(req: { name?: string; mode?: string; token?: string; sessionId?: string }): Promise<object> {
    const seq = { name: checkName('name', req.name), mode: wireMode(req.mode), token: wireId('token', req.token), sessionId: wireId('session_id', req.sessionId) };
    await this.linearizable();
    return { current: this.sm.checkSequencer(seq) };
  }

  // ---------- API: elections ----------

  private electionName(name: unknown): string {
    if (typeof name !== 'string' || name === '') throw invalidArgument('name', 'an election name is required');
    const lock = electionLockName(name);
    checkName('name', lock);
    return lock;
  }

  private leaderWire(info: LockInfo | undefined): { hasLeader: boolean; sessionId: string; token: string; value: Buffer } {
    const h = info?.holders[0];
    if (!info || !h) return { hasLeader: false, sessionId: '0', token: '0', value: Buffer.alloc(0) };
    return { hasLeader: true, sessionId: String(h.sessionId), token: String(h.token), value: info.value ? Buffer.from(info.value) : Buffer.alloc(0) };
  }

  /** Elections.Campaign: blocks until elected or wait_ms passes (DEADLINE_EXCEEDED). */
  async campaign(req: { sessionId?: string; requestSeq?: string; name?: string; value?: Uint8Array; waitMs?: number }, cancellation?: CallCancellation, identity?: string): Promise<object> {
    const name = this.electionName(req.name);
    const value = checkValue(req.value);
    const waitMs = req.waitMs && req.waitMs > 0 ? req.waitMs : 2_147_483_647;
    const r = await this.acquireCommon(
      { sessionId: wireId('session_id', req.sessionId), seq: wireId('request_seq', req.requestSeq), name, mode: 'exclusive', waitMs, ...(value ? { value } : {}), ...(identity ? { caller: identity } : {}) },
      cancellation,
    );
    if (!r || r.type !== 'acquire' || r.status !== 'granted') throw new LatchError('WAIT_TIMEOUT', 'not elected');
    return { hasLeader: true, sessionId: String(r.sessionId), token: String(r.token), value: Buffer.from(this.sm.getLock(name)?.value ?? new Uint8Array()) };
  }

  /** Elections.Proclaim */
  async proclaim(req: { sessionId?: string; requestSeq?: string; name?: string; value?: Uint8Array }, identity?: string): Promise<object> {
    const name = this.electionName(req.name);
    await this.propose(this.setValueCommand(req, name, identity));
    return this.leaderWire(this.sm.getLock(name));
  }

  /** Elections.Resign */
  async resign(req: { sessionId?: string; requestSeq?: string; name?: string }, identity?: string): Promise<object> {
    await this.propose(this.sessionCommand('release', req, this.electionName(req.name), identity));
    return {};
  }

  /** Elections.Leader (linearizable) */
  async electionLeader(req: { name?: string }): Promise<object> {
    const name = this.electionName(req.name);
    await this.linearizable();
    return this.leaderWire(this.sm.getLock(name));
  }

  /** Elections.Observe: the current leader, then each change. */
  observeStream(call: ServerWritableStream<unknown, unknown>): void {
    let name: string;
    try {
      name = this.electionName((call.request as { name?: string }).name);
    } catch (err) {
      call.emit('error', toServiceError(err));
      return;
    }
    let last = '';
    const send = (): void => {
      const w = this.leaderWire(this.sm.getLock(name));
      const key = `${w.hasLeader}/${w.sessionId}/${w.token}/${w.value.toString('hex')}`;
      if (key === last) return;
      last = key;
      call.write(w);
    };
    // Until the read barrier resolves this node may still be replaying old leaders: ignore events
    // until then, so an observer never sees the leadership go backwards.
    let caughtUp = false;
    const listener = (e: LockEvent): void => {
      if (caughtUp && e.name === name) send();
    };
    const stop = this.subscribe(call, listener);
    this.linearizable().then(() => {
      caughtUp = true;
      send();
    }, (err: unknown) => {
      stop();
      call.emit('error', toServiceError(err));
    });
  }

  // ---------- API: watch ----------

  /** Watch.Watch: events for a prefix from an index, then live; OUT_OF_RANGE when the ring has moved past it. */
  watchStream(call: ServerWritableStream<unknown, unknown>): void {
    const req = call.request as { prefix?: string; fromIndex?: string };
    const prefix = req.prefix ?? '';
    const p = lockPrefixProblem(prefix);
    let from: number;
    try {
      if (p) throw invalidArgument('prefix', p);
      from = wireId('from_index', req.fromIndex, false);
    } catch (err) {
      call.emit('error', toServiceError(err));
      return;
    }
    const toWire = (e: LockEvent): object => ({
      index: String(e.index),
      type: e.type,
      name: e.name ?? '',
      sessionId: String(e.sessionId),
      token: String(e.token ?? 0),
      mode: modeWire(e.mode ?? null),
      atMs: String(Math.max(0, Math.floor(e.at))),
    });
    let lastSent = 0;
    const matches = (e: LockEvent): boolean => prefix === '' || (e.name !== undefined && e.name.startsWith(prefix));
    // Every event of an entry is sent (one entry can carry several); replay and live events never
    // overlap (the ring is read in the same synchronous step as the subscription), so `>=` only
    // guards against going backwards.
    const stop = this.subscribe(call, (e) => {
      if (e.index >= lastSent && matches(e)) {
        lastSent = e.index;
        call.write(toWire(e));
      }
    });
    if (from > 0) {
      const r = this.sm.eventsSince(from, prefix);
      if (!r.ok) {
        stop();
        call.emit('error', toServiceError(new LatchError(r.code, r.message)));
        return;
      }
      for (const e of r.events) {
        if (e.index >= lastSent) {
          lastSent = e.index;
          call.write(toWire(e));
        }
      }
    }
  }

  private subscribe(call: ServerWritableStream<unknown, unknown>, listener: (e: LockEvent) => void): () => void {
    this.eventListeners.add(listener);
    const handle = { end: () => call.end() };
    this.streams.add(handle);
    const stop = (): void => {
      this.eventListeners.delete(listener);
      this.streams.delete(handle);
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    return stop;
  }

  // ---------- API: admin (members, snapshots) ----------

  /** Admin.MemberList: this node's view; the leader adds replication progress. */
  async memberList(): Promise<object> {
    const st = this.node.status();
    const learners = new Set(st.confState.learners);
    const ids = [...st.confState.voters, ...st.confState.learners];
    return {
      clusterId: st.clusterId,
      leader: st.leader ?? '',
      commitIndex: String(st.commit),
      lastIndex: String(st.lastIndex),
      members: ids.map((id) => {
        const m = st.members.find((x) => x.id === id);
        const pr = id === st.id && st.role === 'leader' ? { match: st.lastIndex, state: 'self' } : st.progress?.[id];
        return {
          id,
          peerAddress: m?.peerAddress ?? '',
          clientAddress: m?.clientAddress ?? '',
          learner: learners.has(id),
          leader: id === st.leader,
          hasProgress: pr !== undefined,
          matchIndex: String(pr?.match ?? 0),
          replicationState: pr?.state ?? '',
        };
      }),
    };
  }

  private async confChange(change: Parameters<RaftNode['proposeConfChange']>[0]): Promise<object> {
    if (!this.node.isLeader) throw this.node.notLeaderError();
    await this.node.proposeConfChange(change);
    return this.memberList();
  }

  private memberId(v: unknown): string {
    if (!isNodeId(v)) throw invalidArgument('id', `"${String(v)}" is not a node id (1-64 of A-Z a-z 0-9 _ -)`);
    return v;
  }

  /** Admin.MemberAdd: a learner by default (promote it once caught up). */
  async memberAdd(req: { id?: string; peerAddress?: string; clientAddress?: string; voter?: boolean }): Promise<object> {
    const id = this.memberId(req.id);
    const peerAddress = req.peerAddress ?? '';
    const clientAddress = req.clientAddress ?? '';
    if (!isHostPort(peerAddress)) throw invalidArgument('peer_address', `"${peerAddress}" is not host:port`);
    if (!isHostPort(clientAddress)) throw invalidArgument('client_address', `"${clientAddress}" is not host:port`);
    const conf = this.node.status().confState;
    const current = new Set([...conf.voters, ...conf.learners]);
    const taken = this.node.memberList().find((m) => m.id !== id && current.has(m.id) && m.peerAddress === peerAddress);
    if (taken) throw invalidArgument('peer_address', `${peerAddress} is already the peer address of ${taken.id}`);
    const context = RaftNode.memberContext({ id, peerAddress, clientAddress });
    return this.confChange(req.voter ? { type: 'add-voter', node: id, context } : { type: 'add-learner', node: id, context });
  }

  /** Admin.MemberPromote: PROPOSAL_DROPPED (retry) while the learner is behind. */
  async memberPromote(req: { id?: string }): Promise<object> {
    return this.confChange({ type: 'promote', node: this.memberId(req.id) });
  }

  /** Admin.MemberRemove */
  async memberRemove(req: { id?: string }): Promise<object> {
    return this.confChange({ type: 'remove', node: this.memberId(req.id) });
  }

  /**
   * Admin.SnapshotSave: on the leader, after a ReadIndex barrier (so it includes every write
   * acknowledged before the call), the state machine and its applied index captured in one
   * synchronous step, sent as a header chunk with index/term/size/checksum and then data chunks.
   */
  snapshotSaveStream(call: ServerWritableStream<unknown, unknown>): void {
    void (async () => {
      if (!this.node.isLeader) throw this.node.notLeaderError();
      await this.linearizable();
      if (!this.node.isLeader) throw this.node.notLeaderError();
      const st = this.node.status();
      const bytes = encodeSnapshotFile({
        clusterId: st.clusterId,
        index: st.applied,
        term: st.term,
        takenAtMs: Date.now(),
        members: st.members,
        sm: this.stateMachine.snapshot(),
      });
      this.log.info({ index: st.applied, bytes: bytes.length }, 'snapshot saved for a client');
      let cancelled = false;
      call.on('cancelled', () => (cancelled = true));
      for (let off = 0, first = true; first || off < bytes.length; off += SNAPSHOT_CHUNK_BYTES, first = false) {
        if (cancelled) return;
        const data = Buffer.from(bytes.subarray(off, off + SNAPSHOT_CHUNK_BYTES));
        const msg = first ? { data, index: String(st.applied), term: String(st.term), totalBytes: String(bytes.length), sha256: sha256Hex(bytes) } : { data };
        if (!call.write(msg)) await new Promise<void>((r) => call.once('drain', () => r()));
      }
      call.end();
    })().catch((err: unknown) => call.emit('error', toServiceError(err)));
  }

  /** Subscribes to every applied lock event on this node (status page); returns the unsubscribe function. */
  onLockEvent(listener: (e: LockEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Registers a client stream that `close` ends (shutdown); returns the unregister function. */
  trackStream(handle: { end(): void }): () => void {
    this.streams.add(handle);
    return () => this.streams.delete(handle);
  }

  /** Counts one finished call (metrics). */
  countCall(method: string, code: string): void {
    this.metrics.rpcs.inc({ method, code });
  }

  /**
   * Milliseconds until this leader expires a session (≤ 0 once due), or undefined when this node is
   * not a leader with duties running or does not track the session. For the status page.
   */
  sessionTimeLeft(sessionId: number): number | undefined {
    const deadline = this.duties?.deadline(sessionId);
    return deadline === undefined ? undefined : deadline - this.clock.now();
  }

  /** Extra HTTP routes (metrics). */
  httpRoutes(): HttpRoute[] {
    return [this.metrics.route(() => this.node.status(), () => this.sm)];
  }

  /** Ends streams and leader duties (shutdown). */
  close(): void {
    this.duties?.close();
    this.duties = null;
    for (const s of this.streams) s.end();
    this.streams.clear();
    this.eventListeners.clear();
  }
}

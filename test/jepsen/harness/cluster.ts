/**
 * The cluster under test: real `latch server` processes, controlled by PID only (start, SIGKILL,
 * SIGTERM, SIGSTOP/SIGCONT, restart from the data dir), their output appended to one log file per
 * node, and their `/status` polled for leader discovery. Exits the harness did not cause are kept
 * as findings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import type { Clock } from '../../../src/common/clock.js';
import { HarnessError } from './harness-error.js';
import { agreedLeader, claimedLeader, parseNodeStatus, type NodeStatus } from './node-status.js';

/** How to run one node. */
export interface NodeSpec {
  readonly id: string;
  /** The executable and its arguments (the server, possibly wrapped in `ip netns exec`). */
  readonly command: string;
  readonly args: readonly string[];
  /** host:port of the node's HTTP endpoint, as the harness reaches it. */
  readonly httpAddress: string;
  /** host:port of the node's client endpoint, as clients reach it. */
  readonly clientAddress: string;
  /** Where stdout and stderr are appended. */
  readonly logFile: string;
  /** The node's data dir (what `wipe` deletes); without it the node cannot be wiped. */
  readonly dataDir?: string;
}

/** What the harness last did to a node. */
export type NodeState = 'running' | 'paused' | 'stopped';

/** A node process that exited. */
export interface NodeExit {
  readonly id: string;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Harness time of the exit. */
  readonly at: number;
  /** False when the harness did not kill or stop it: a crash to report. */
  readonly expected: boolean;
}

interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Set before the harness signals it, so the exit counts as expected. */
  expectExit: boolean;
}

/** Options of a Cluster. */
export interface ClusterOptions {
  readonly clock: Clock;
  /** Called on every unexpected exit (a crash), e.g. to log it. */
  readonly onCrash?: (exit: NodeExit) => void;
  /** Per-request timeout of `/status`; default 1 000 ms. */
  readonly statusTimeoutMs?: number;
}

/** Real server processes; see the file comment. */
export class Cluster {
  private readonly procs = new Map<string, Proc>();
  private readonly states = new Map<string, NodeState>();
  private readonly exitLog: NodeExit[] = [];
  private readonly specs: ReadonlyMap<string, NodeSpec>;
  /** Cluster ids given to `setJoin`: such nodes start with `--join` from then on. */
  private readonly joins = new Map<string, string>();

  constructor(
    specs: readonly NodeSpec[],
    private readonly opts: ClusterOptions,
  ) {
    this.specs = new Map(specs.map((s) => [s.id, s]));
    if (this.specs.size !== specs.length) throw new HarnessError('BAD_OPTION', 'node ids must be distinct');
    for (const s of specs) this.states.set(s.id, 'stopped');
  }

  /** The node ids, in spec order. */
  get ids(): string[] {
    return [...this.specs.keys()];
  }

  /** Every node's client endpoint. */
  get endpoints(): string[] {
    return [...this.specs.values()].map((s) => s.clientAddress);
  }

  /** The state the harness put a node in. */
  state(id: string): NodeState {
    return this.states.get(this.spec(id).id) ?? 'stopped';
  }

  /** PID of a live node process, if any. */
  pid(id: string): number | undefined {
    return this.procs.get(id)?.pid;
  }

  /** Live PIDs → node ids (for attributing connections). */
  pidMap(): Map<number, string> {
    return new Map([...this.procs].map(([id, p]) => [p.pid, id]));
  }

  /** Every exit so far, expected or not. */
  exits(): readonly NodeExit[] {
    return this.exitLog;
  }

  /** Starts a stopped node and waits (up to `waitMs`, default 20 s) until its HTTP endpoint answers. */
  async start(id: string, waitMs = 20_000): Promise<void> {
    const spec = this.spec(id);
    if (this.procs.has(id)) throw new HarnessError('PROCESS', `${id} is already running`);
    const fd = openSync(spec.logFile, 'a');
    const join = this.joins.get(id);
    let child: ChildProcess;
    try {
      child = spawn(spec.command, [...spec.args, ...(join === undefined ? [] : ['--join', join])], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise<void>((r) => child.once('error', () => r()));
      throw new HarnessError('PROCESS', `cannot start ${id}: ${spec.command} did not spawn`);
    }
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const proc: Proc = { child, pid, exited, expectExit: false };
    this.procs.set(id, proc);
    this.states.set(id, 'running');
    child.once('exit', (code, signal) => {
      const exit: NodeExit = { id, pid, code, signal, at: this.opts.clock.now(), expected: proc.expectExit };
      this.exitLog.push(exit);
      if (this.procs.get(id) === proc) {
        this.procs.delete(id);
        this.states.set(id, 'stopped');
      }
      if (!exit.expected) this.opts.onCrash?.(exit);
      resolveExit();
    });
    const deadline = this.opts.clock.now() + waitMs;
    for (;;) {
      if (!this.procs.has(id)) throw new HarnessError('CLUSTER_START', `${id} exited while starting; see ${spec.logFile}`);
      if ((await this.status(id)) !== undefined) return;
      if (this.opts.clock.now() > deadline) throw new HarnessError('CLUSTER_START', `${id} did not serve /status within ${waitMs} ms; see ${spec.logFile}`);
      await pause(100);
    }
  }

  /** Sends `signal` (default SIGKILL) to a node by PID and waits for it to exit; a no-op when stopped. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(this.spec(id).id);
    if (!p) return;
    p.expectExit = true;
    if (this.states.get(id) === 'paused') signalPid(p.pid, 'SIGCONT');
    signalPid(p.pid, signal);
    await p.exited;
  }

  /** SIGTERM (a graceful stop with leadership hand-off), then SIGKILL after `graceMs`. */
  async terminate(id: string, graceMs = 5_000): Promise<void> {
    const p = this.procs.get(this.spec(id).id);
    if (!p) return;
    p.expectExit = true;
    if (this.states.get(id) === 'paused') signalPid(p.pid, 'SIGCONT');
    signalPid(p.pid, 'SIGTERM');
    const timer = setTimeout(() => signalPid(p.pid, 'SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }

  /** Deletes a stopped node's data dir, so its next start begins empty (a node that must rejoin). */
  wipe(id: string): void {
    const spec = this.spec(id);
    if (this.procs.has(id)) throw new HarnessError('PROCESS', `cannot wipe ${id}: it is running`);
    if (spec.dataDir === undefined) throw new HarnessError('PROCESS', `cannot wipe ${id}: its spec names no data dir`);
    rmSync(spec.dataDir, { recursive: true, force: true });
  }

  /**
   * From now on, starts `id` with `--join CLUSTER_ID` (a node that was removed and re-added must
   * never again start as a bootstrap member: with an empty log it would write the genesis
   * configuration). `--join` is harmless on a restart from existing data.
   */
  setJoin(id: string, clusterId: string): void {
    this.spec(id);
    this.joins.set(id, clusterId);
  }

  /** The cluster id `id` joins with, if `setJoin` was called for it. */
  joinOf(id: string): string | undefined {
    return this.joins.get(id);
  }

  /** SIGSTOP: the node freezes, sockets and all. */
  pause(id: string): void {
    const p = this.procs.get(this.spec(id).id);
    if (!p) throw new HarnessError('PROCESS', `cannot pause ${id}: not running`);
    signalPid(p.pid, 'SIGSTOP');
    this.states.set(id, 'paused');
  }

  /** SIGCONT a paused node. */
  resume(id: string): void {
    const p = this.procs.get(this.spec(id).id);
    if (!p) return;
    signalPid(p.pid, 'SIGCONT');
    this.states.set(id, 'running');
  }

  /** One node's `/status`, or undefined when it does not answer in time (paused nodes are not asked). */
  async status(id: string): Promise<NodeStatus | undefined> {
    const spec = this.spec(id);
    if (this.states.get(id) !== 'running') return undefined;
    try {
      const res = await fetch(`http://${spec.httpAddress}/status`, { signal: AbortSignal.timeout(this.opts.statusTimeoutMs ?? 1_000) });
      if (!res.ok) return undefined;
      return parseNodeStatus(await res.json());
    } catch {
      return undefined;
    }
  }

  /** Every node's status (undefined for those that do not answer). */
  async statuses(): Promise<Map<string, NodeStatus | undefined>> {
    const ids = this.ids;
    const all = await Promise.all(ids.map((id) => this.status(id)));
    return new Map(ids.map((id, i) => [id, all[i]]));
  }

  /** The node claiming leadership in the highest term right now, if any. */
  async leader(): Promise<string | undefined> {
    return claimedLeader((await this.statuses()).values())?.id;
  }

  /** Waits until a majority agrees on a leader; its id, or undefined after `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<string | undefined> {
    const deadline = this.opts.clock.now() + timeoutMs;
    for (;;) {
      const l = agreedLeader((await this.statuses()).values(), this.specs.size);
      if (l !== undefined) return l;
      if (this.opts.clock.now() > deadline) return undefined;
      await pause(100);
    }
  }

  /** Resumes paused nodes and SIGKILLs every node by PID, waiting for each to exit. Idempotent. */
  async stopAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill(id, 'SIGKILL')));
  }

  private spec(id: string): NodeSpec {
    const s = this.specs.get(id);
    if (!s) throw new HarnessError('PROCESS', `unknown node ${id}`);
    return s;
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new HarnessError('PROCESS', `cannot send ${signal} to pid ${pid}: ${String(err)}`, { cause: err });
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The harness side of the client workers: starts each worker as a child process with its own SDK
 * client, records its ops into the history (see worker-protocol.ts), serves the fenced register,
 * shares recent sequencers with the workers, and stops or kills workers by PID. When a worker
 * dies, its open ops become `info`, and every critical section it still held gets an `exit`
 * invoked at the moment of death with an unknown outcome (`{ killed: true }`): the lock is
 * released later, by expiry.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Clock } from '../../../src/common/clock.js';
import type { HistoryRecorder } from '../checker/index.js';
import type { FencedRegister } from './fenced-register.js';
import { HarnessError } from './harness-error.js';
import { parseFromWorker, type FromWorker, type SequencerJson, type ToWorker, type WorkerConfig } from './worker-protocol.js';

/** Options of a WorkerPool. */
export interface WorkerPoolOptions {
  readonly recorder: HistoryRecorder;
  readonly register: FencedRegister;
  readonly clock: Clock;
  /** The worker entry point (a .ts file, run with tsx). */
  readonly script: string;
  /** Worker stdout/stderr go to `<logPrefix><slot>.log`. */
  readonly logPrefix: string;
  readonly log: (line: string) => void;
}

interface Section {
  readonly name: string;
  readonly token: number;
  readonly process: number;
}

interface Lane {
  process: number;
  open: { readonly f: string; readonly value: unknown } | undefined;
  readonly sections: Section[];
}

interface Worker {
  readonly slot: number;
  readonly config: WorkerConfig;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lanes: Map<number, Lane>;
  readonly exited: Promise<void>;
  state: 'starting' | 'running' | 'stopping' | 'exited';
  killedByHarness: boolean;
}

/** A worker's exit, for the report. */
export interface WorkerExit {
  readonly slot: number;
  readonly pid: number;
  readonly at: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the harness killed it (a client-kill nemesis, or the end of the run). */
  readonly killed: boolean;
}

const SEQUENCERS_KEPT = 24;

/** The tsx loader, by absolute URL, so workers load TypeScript whatever the working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The running workers; see the file comment. */
export class WorkerPool {
  private readonly workers = new Map<number, Worker>();
  private nextProcess = 0;
  private readonly recent: SequencerJson[] = [];
  private broadcastTimer: NodeJS.Timeout | undefined;
  private readonly exitLog: WorkerExit[] = [];
  private readonly problems: string[] = [];

  constructor(private readonly opts: WorkerPoolOptions) {}

  /** Worker exits so far. */
  exits(): readonly WorkerExit[] {
    return this.exitLog;
  }

  /** Protocol problems seen (a worker broke the rules; the harness, not the system, is at fault). */
  protocolProblems(): readonly string[] {
    return this.problems;
  }

  /** A history process number of the harness's own (e.g. the expiry watchers'), never given to a worker lane. */
  allocateProcess(): number {
    return this.nextProcess++;
  }

  /** Slots with a live worker. */
  liveSlots(): number[] {
    return [...this.workers.values()].filter((w) => w.state === 'starting' || w.state === 'running').map((w) => w.slot);
  }

  /** Slots whose worker holds at least one critical section right now. */
  holdingSlots(): number[] {
    return [...this.workers.values()].filter((w) => w.state === 'running' && [...w.lanes.values()].some((l) => l.sections.length > 0)).map((w) => w.slot);
  }

  /** Starts a worker for `config.slot` (which must be free) and resolves once it is ready. */
  async start(config: WorkerConfig): Promise<void> {
    if (this.workers.get(config.slot)?.state !== undefined && this.workers.get(config.slot)?.state !== 'exited') throw new HarnessError('PROCESS', `worker slot ${config.slot} is busy`);
    const fd = openSync(`${this.opts.logPrefix}${config.slot}.log`, 'a');
    let child: ChildProcess;
    try {
      child = fork(this.opts.script, [], { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', fd, fd, 'ipc'], serialization: 'json' });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new HarnessError('PROCESS', `worker ${config.slot} did not spawn`);
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const w: Worker = { slot: config.slot, config, child, pid: child.pid, lanes: new Map(), exited, state: 'starting', killedByHarness: false };
    this.workers.set(config.slot, w);
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    child.on('message', (raw: unknown) => {
      let msg: FromWorker;
      try {
        msg = parseFromWorker(raw);
      } catch (err) {
        this.problem(w, err instanceof Error ? err.message : String(err));
        return;
      }
      if (msg.type === 'ready') {
        w.state = 'running';
        resolveReady();
        return;
      }
      this.handle(w, msg);
    });
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      this.onExit(w, code, signal);
      rejectReady(new HarnessError('PROCESS', `worker ${config.slot} exited (${signal ?? code}) before it was ready`));
      resolveExit();
    });
    this.send(w, { type: 'start', config });
    await ready;
  }

  /** SIGKILLs the worker in `slot` by PID and waits for it to exit (its ops and sections are closed as described above). */
  async kill(slot: number): Promise<void> {
    const w = this.workers.get(slot);
    if (!w || w.state === 'exited') return;
    w.killedByHarness = true;
    try {
      process.kill(w.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await w.exited;
  }

  /** Asks every worker to stop, waits up to `graceMs`, then SIGKILLs the rest by PID. */
  async stopAll(graceMs: number): Promise<void> {
    if (this.broadcastTimer) clearTimeout(this.broadcastTimer);
    this.broadcastTimer = undefined;
    const live = [...this.workers.values()].filter((w) => w.state !== 'exited');
    for (const w of live) {
      w.state = 'stopping';
      this.send(w, { type: 'stop' });
    }
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    await Promise.race([Promise.all(live.map((w) => w.exited)), timeout]);
    await Promise.all(live.filter((w) => w.state !== 'exited').map((w) => this.kill(w.slot)));
  }

  private send(w: Worker, msg: ToWorker): void {
    if (w.state === 'exited' || !w.child.connected) return;
    try {
      w.child.send(msg);
    } catch {
      /* the channel closed; the exit handler cleans up */
    }
  }

  private lane(w: Worker, n: number): Lane {
    let l = w.lanes.get(n);
    if (!l) w.lanes.set(n, (l = { process: this.nextProcess++, open: undefined, sections: [] }));
    return l;
  }

  private handle(w: Worker, msg: FromWorker): void {
    const rec = this.opts.recorder;
    try {
      switch (msg.type) {
        case 'ready':
          return;
        case 'invoke': {
          const l = this.lane(w, msg.lane);
          if (l.open) throw new HarnessError('PROTOCOL', `lane ${msg.lane} invoked ${msg.f} while ${l.open.f} is open`);
          rec.invoke(l.process, msg.f, msg.value);
          l.open = { f: msg.f, value: msg.value };
          if (msg.f === 'exit') this.closeSection(l, msg.value);
          this.send(w, { type: 'ack', id: msg.id });
          return;
        }
        case 'complete': {
          const l = this.lane(w, msg.lane);
          const open = l.open;
          if (!open) throw new HarnessError('PROTOCOL', `lane ${msg.lane} completed nothing`);
          l.open = undefined;
          if (msg.outcome === 'ok') {
            rec.ok(l.process, msg.value);
            if (open.f === 'enter') this.openSection(l, open.value, msg.value);
          } else if (msg.outcome === 'fail') rec.fail(l.process, msg.value, msg.error);
          else {
            rec.info(l.process, msg.value, msg.error);
            l.process = this.nextProcess++;
          }
          return;
        }
        case 'note': {
          const l = this.lane(w, msg.lane);
          if (l.open) throw new HarnessError('PROTOCOL', `lane ${msg.lane} noted ${msg.f} while ${l.open.f} is open`);
          rec.invoke(l.process, msg.f, msg.value);
          rec.ok(l.process, msg.result);
          return;
        }
        case 'write': {
          const l = this.lane(w, msg.lane);
          if (l.open) throw new HarnessError('PROTOCOL', `lane ${msg.lane} wrote while ${l.open.f} is open`);
          rec.invoke(l.process, 'write', { key: msg.key, token: msg.token, value: msg.value });
          const accepted = this.opts.register.write(msg.key, msg.token, msg.value);
          rec.ok(l.process, { accepted });
          this.send(w, { type: 'register', id: msg.id, accepted, value: null });
          return;
        }
        case 'read': {
          const l = this.lane(w, msg.lane);
          if (l.open) throw new HarnessError('PROTOCOL', `lane ${msg.lane} read while ${l.open.f} is open`);
          rec.invoke(l.process, 'read', { key: msg.key });
          const value = this.opts.register.read(msg.key);
          rec.ok(l.process, { value });
          this.send(w, { type: 'register', id: msg.id, accepted: null, value });
          return;
        }
        case 'log':
          this.opts.log(`worker ${w.slot}: ${msg.message}`);
          return;
        case 'stopped':
          return;
      }
    } catch (err) {
      this.problem(w, err instanceof Error ? err.message : String(err));
    }
  }

  private openSection(l: Lane, invokeValue: unknown, okValue: unknown): void {
    const name = (invokeValue as { name?: unknown } | null)?.name;
    const v = okValue as { token?: unknown; sessionId?: unknown } | null;
    if (typeof name !== 'string' || typeof v?.token !== 'number') return;
    l.sections.push({ name, token: v.token, process: l.process });
    if (typeof v.sessionId === 'string') this.noteSequencer({ name, token: String(v.token), sessionId: v.sessionId });
  }

  private closeSection(l: Lane, exitValue: unknown): void {
    const v = exitValue as { name?: unknown; token?: unknown } | null;
    const i = l.sections.findIndex((s) => s.name === v?.name && s.token === v?.token);
    if (i >= 0) l.sections.splice(i, 1);
  }

  private noteSequencer(s: SequencerJson): void {
    this.recent.push(s);
    if (this.recent.length > SEQUENCERS_KEPT) this.recent.splice(0, this.recent.length - SEQUENCERS_KEPT);
    if (this.broadcastTimer) return;
    this.broadcastTimer = setTimeout(() => {
      this.broadcastTimer = undefined;
      const list = [...this.recent];
      for (const w of this.workers.values()) if (w.state === 'running' && w.config.role === 'checker') this.send(w, { type: 'sequencers', list });
    }, 100);
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    w.state = 'exited';
    const rec = this.opts.recorder;
    const killed = w.killedByHarness;
    this.exitLog.push({ slot: w.slot, pid: w.pid, at: this.opts.clock.now(), code, signal, killed });
    if (!killed && code !== 0) this.opts.log(`worker ${w.slot} (pid ${w.pid}) exited on its own (${signal ?? `code ${code}`}); see ${this.opts.logPrefix}${w.slot}.log`);
    for (const [n, l] of w.lanes) {
      if (l.open) {
        rec.info(l.process, null, killed ? 'client killed' : 'client exited');
        const crashed = l.process;
        l.open = undefined;
        l.process = this.nextProcess++;
        if (l.sections.some((s) => s.process === crashed)) this.opts.log(`worker ${w.slot} lane ${n} died with an op open while holding a section; that section stays open`);
      }
      // One section per lane at most (the workloads hold one lock per lane); its exit is invoked
      // on the process that entered it, which then counts as crashed.
      for (const s of l.sections.splice(0)) {
        if (s.process !== l.process) {
          this.opts.log(`worker ${w.slot} lane ${n}: section ${s.name} token ${s.token} stays open (its process can no longer invoke)`);
          continue;
        }
        rec.invoke(s.process, 'exit', { name: s.name, token: s.token, killed: true });
        rec.info(s.process, null, 'holder died; released by expiry');
        l.process = this.nextProcess++;
      }
    }
  }

  private problem(w: Worker, message: string): void {
    const line = `worker ${w.slot}: protocol problem: ${message}`;
    this.problems.push(line);
    this.opts.log(line);
  }
}

/**
 * The worker side of the IPC protocol (see harness/worker-protocol.ts): recording ops through the
 * harness, the register, the shared sequencers, and the stop signal.
 */
import { HarnessError } from '../harness/harness-error.js';
import type { FromWorker, Outcome, SequencerJson, ToWorker, WorkerConfig } from '../harness/worker-protocol.js';
import { classifyError } from './classify.js';

/** Records ops through the harness; one per worker process. */
export class WorkerRuntime {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: ToWorker) => void; reject: (e: Error) => void }>();
  private readonly stopper = new AbortController();
  private configWaiters: Array<(c: WorkerConfig) => void> = [];
  private cfg: WorkerConfig | undefined;
  /** The most recent sequencers granted anywhere (for the sequencer checkers). */
  sequencers: readonly SequencerJson[] = [];

  constructor(private readonly send: (msg: FromWorker) => void) {}

  /** Fires when the harness asks the worker to stop. */
  get stop(): AbortSignal {
    return this.stopper.signal;
  }

  /** Resolves with the start config. */
  config(): Promise<WorkerConfig> {
    if (this.cfg) return Promise.resolve(this.cfg);
    return new Promise((r) => this.configWaiters.push(r));
  }

  /** Feeds one message from the harness. */
  onMessage(msg: ToWorker): void {
    switch (msg.type) {
      case 'start':
        this.cfg = msg.config;
        for (const w of this.configWaiters.splice(0)) w(msg.config);
        return;
      case 'ack':
      case 'register': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.resolve(msg);
        return;
      }
      case 'sequencers':
        this.sequencers = msg.list;
        return;
      case 'stop':
        this.stopper.abort(new HarnessError('PROCESS', 'the harness stopped this worker'));
        return;
    }
  }

  /** Fails every pending request (the channel to the harness closed). */
  disconnect(): void {
    for (const p of this.pending.values()) p.reject(new HarnessError('PROTOCOL', 'the harness went away'));
    this.pending.clear();
    if (!this.stopper.signal.aborted) this.stopper.abort(new HarnessError('PROTOCOL', 'the harness went away'));
  }

  /** Records an invoke on `lane`; resolves once the harness has recorded it. */
  async invoke(lane: number, f: string, value: unknown): Promise<void> {
    await this.request((id) => ({ type: 'invoke', id, lane, f, value }));
  }

  /** Records the completion of the open op of `lane`. */
  complete(lane: number, outcome: Outcome, value: unknown = null, error?: string): void {
    this.send(error === undefined ? { type: 'complete', lane, outcome, value } : { type: 'complete', lane, outcome, value, error });
  }

  /** Records an instantaneous observation on `lane`: an invoke with `value` and its ok with `result`. */
  note(lane: number, f: string, value: unknown, result: unknown = null): void {
    this.send({ type: 'note', lane, f, value, result });
  }

  /** Writes the fenced register (recorded by the harness); whether the write was accepted. */
  async write(lane: number, key: string, token: number, value: string): Promise<boolean> {
    const res = await this.request((id) => ({ type: 'write', id, lane, key, token, value }));
    return res.type === 'register' && res.accepted === true;
  }

  /** Reads the fenced register (recorded by the harness). */
  async read(lane: number, key: string): Promise<unknown> {
    const res = await this.request((id) => ({ type: 'read', id, lane, key }));
    return res.type === 'register' ? res.value : null;
  }

  /** A line for the harness log. */
  log(message: string): void {
    this.send({ type: 'log', message });
  }

  /**
   * Runs one recorded op: invoke, `run`, then ok with `result(value)`, or fail/info by
   * `classifyError` (`kind`). Resolves with the value, or undefined when the op did not succeed.
   */
  async op<T>(lane: number, f: string, value: unknown, run: () => Promise<T>, result: (t: T) => unknown, kind: 'mutating' | 'read'): Promise<{ readonly ok: true; readonly value: T } | { readonly ok: false; readonly outcome: 'fail' | 'info'; readonly error: unknown }> {
    await this.invoke(lane, f, value);
    let v: T;
    try {
      v = await run();
    } catch (err) {
      const c = classifyError(err, kind);
      this.complete(lane, c.outcome, null, c.error);
      return { ok: false, outcome: c.outcome, error: err };
    }
    this.complete(lane, 'ok', result(v));
    return { ok: true, value: v };
  }

  private request(make: (id: number) => FromWorker): Promise<ToWorker> {
    const id = this.nextId++;
    return new Promise<ToWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(make(id));
    });
  }
}

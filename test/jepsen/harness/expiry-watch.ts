/**
 * The watchers of the session-lease checker: one SDK watch per node (each client pinned to that
 * node's endpoint, so an event reaches the harness as soon as any node has applied it, whichever
 * side of a partition it is on), recording each server-side session expiry with its session id
 * and the time it was received on the run's clock (checker/session-lease.ts). A watch that ends is
 * started again after the last event it delivered (from now when the node no longer has them).
 *
 * An expiry shows as a `session-expired` event, and as an `expired` event for each lock the
 * session held (same log index, same session id). Both are recorded: today a watch delivers only
 * the first event of each log index (the server's stream and the SDK both skip events whose index
 * is not above the last one sent), so the expiry of a lock holder arrives as its lock's `expired`
 * event only.
 */
import { LatchClient, WatchCompactedError } from '../../../src/client/index.js';
import type { Clock } from '../../../src/common/clock.js';
import { SESSION_EXPIRED_F } from '../checker/session-lease.js';

/** What a watcher records: one `session-expired` invoke value. */
export interface WatchedExpiry {
  readonly session: string;
  readonly at: number;
  readonly via: 'watch';
  readonly node: string;
  /** The log index of the ExpireSession entry. */
  readonly index: string;
  /** The watch event it came from: `session-expired`, or `expired` (a lock released by the expiry). */
  readonly event: 'session-expired' | 'expired';
}

/** Options of `ExpiryWatchers.start`. */
export interface ExpiryWatchOptions {
  /** Node id → client endpoint. */
  readonly nodes: ReadonlyMap<string, string>;
  readonly clock: Clock;
  /** Records one observation (as a `session-expired` op). */
  readonly record: (f: typeof SESSION_EXPIRED_F, value: WatchedExpiry) => void;
  readonly log: (line: string) => void;
}

/** The running watchers; `stop` ends them. */
export class ExpiryWatchers {
  private readonly abort = new AbortController();
  private readonly clients: LatchClient[] = [];
  private readonly loops: Promise<void>[] = [];
  private seen = 0;
  private events = 0;

  private constructor(private readonly opts: ExpiryWatchOptions) {}

  /** Starts one watcher per node. */
  static async start(opts: ExpiryWatchOptions): Promise<ExpiryWatchers> {
    const w = new ExpiryWatchers(opts);
    for (const [node, endpoint] of opts.nodes) {
      const client = await LatchClient.connect({ endpoints: [endpoint], verify: false, callTimeoutMs: 5_000, name: `jepsen-watch-${node}`, clock: opts.clock });
      w.clients.push(client);
      w.loops.push(w.run(node, client));
    }
    return w;
  }

  /** Expiry events (`session-expired` or `expired`) recorded so far. */
  get recorded(): number {
    return this.seen;
  }

  /** Watch events of any type received so far (every watcher). */
  get received(): number {
    return this.events;
  }

  /** Ends every watch and closes the clients. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((c) => Promise.race([c.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())])));
  }

  private async run(node: string, client: LatchClient): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    let from = 0n;
    while (!signal.aborted) {
      try {
        for await (const ev of client.watch('', { signal, fromIndex: from })) {
          failures = 0;
          this.events++;
          from = ev.index + 1n;
          if (ev.type !== 'session-expired' && ev.type !== 'expired') continue;
          this.seen++;
          this.opts.record(SESSION_EXPIRED_F, { session: ev.sessionId.toString(), at: this.opts.clock.now(), via: 'watch', node, index: ev.index.toString(), event: ev.type });
        }
      } catch (err) {
        if (signal.aborted) break;
        // Compacted: the events since `from` are gone; go on from now (an expiry may be missed, never invented).
        if (err instanceof WatchCompactedError) from = 0n;
        if (++failures % 10 === 1) this.opts.log(`expiry watch on ${node} ended (${failures}): ${err instanceof Error ? err.message : String(err)}; watching again ${from === 0n ? 'from now' : `from index ${from}`}`);
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * failures)));
    }
  }
}

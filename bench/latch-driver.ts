/**
 * Latch driven through its SDK (src/client): one `LatchClient` and one session per load-generator
 * client; a lock is `session.lock(name)` (one RPC, granted in the commit that frees the lock) and
 * release is `lock.release()`.
 */
import { LatchClient, type Lock, type Session } from '../src/client/index.js';
import { withTimeout } from './timeout.js';
import type { AcquireOptions, HeldSessions, LockClient, SessionCounters, SessionOpener } from './types.js';

/** Session TTL of a lock client, ms (the same 30 s as the etcd lock leases and ZooKeeper sessions). */
const LOCK_SESSION_TTL_MS = 30_000;
/** Deadline of every SDK call, so nothing hangs for ever during a failover. */
const CALL_TIMEOUT_MS = 5_000;
/** Each client gets its own TCP connection (grpc-js otherwise shares one between equal channels). */
const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 } as const;
/** Sessions per client connection in the sessions workload (the server allows 1000 per connection). */
const SESSIONS_PER_CLIENT = 500;

/** One load-generator client of Latch (its own client, connection and session). */
export async function connectLatch(endpoints: readonly string[]): Promise<LockClient<Lock>> {
  const client = await LatchClient.connect({ endpoints, name: 'latch-bench', callTimeoutMs: CALL_TIMEOUT_MS, channelOptions: OWN_CONNECTION });
  let session: Session;
  try {
    session = await client.session({ ttlMs: LOCK_SESSION_TTL_MS });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
  return {
    acquire: async (name: string, opts: AcquireOptions = {}) => {
      const signal = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs);
      // The SDK abandons the wait on the signal (and releases a late grant itself); the outer timeout
      // is a backstop a little later, in case a call ignores it.
      const p = session.lock(name, signal ? { signal } : {});
      return withTimeout(p, opts.timeoutMs === undefined ? undefined : opts.timeoutMs + 1000, `Latch acquire ${name}`, (late) => void late.release().catch(() => undefined));
    },
    release: (lock: Lock) => lock.release(),
    close: async () => {
      await session.close().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/**
 * Holds `count` Latch sessions of `ttlMs` kept alive by the SDK (one keepalive stream per session,
 * every TTL / 3), 500 sessions per client connection. Expiries are the sessions' `expired` events;
 * keepalives are counted on the servers (`latch_keepalives_total`).
 */
export const openLatchSessions: SessionOpener = async (endpoints, count, ttlMs, counters: SessionCounters, signal) => {
  const clients: LatchClient[] = [];
  const sessions: Session[] = [];
  let closing = false;
  const held: HeldSessions = {
    close: async () => {
      closing = true;
      await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  };
  try {
    for (let i = 0; i < Math.ceil(count / SESSIONS_PER_CLIENT); i++) clients.push(await LatchClient.connect({ endpoints, name: 'latch-bench-sessions', callTimeoutMs: 30_000, channelOptions: OWN_CONNECTION }));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!signal.aborted && next < count) {
        const i = next++;
        try {
          const s = await clients[Math.floor(i / SESSIONS_PER_CLIENT)]!.session({ ttlMs });
          s.on('expired', (ev) => {
            if (closing) return;
            counters.expiries++;
            counters.firstExpiry ??= ev.error.message;
          });
          sessions.push(s);
          counters.opened++;
        } catch (err) {
          counters.openErrors++;
          counters.firstOpenError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    // 32 opens in flight: a steady pace, as for the other systems.
    await Promise.all(Array.from({ length: 32 }, worker));
  } catch (err) {
    await held.close();
    throw err;
  }
  return held;
};

/**
 * etcd driven through the npm `etcd3` client. A lock is `client.lock(name)`: a fresh lease
 * (LeaseGrant + a keepalive stream) and a transaction that creates the key under that lease if it
 * does not exist; release revokes the lease. That lock never waits, so a blocking acquire that
 * finds the key taken reads it (Range, giving revision R), watches it from R + 1 and tries again
 * once it is deleted: no wake-up can be missed, and every waiter retries after each release (the
 * library has no queue).
 */
import { Etcd3, EtcdLockFailedError, type Lease, type Lock } from 'etcd3';
import { BenchTimeoutError, forEachLimited, withTimeout } from './timeout.js';
import type { AcquireOptions, HeldSessions, LockClient, SessionCounters, SessionOpener } from './types.js';

/** Lease TTL of each lock (etcd3's default), seconds. */
const LOCK_LEASE_TTL_S = 30;
/** Deadline of every unary etcd call, so no call can hang for ever during a failover. */
const CALL_DEADLINE_MS = 5_000;
const KEY_PREFIX = 'latch-bench/locks/';
/** Session opens in flight per holder process: a steady pace, not a stress test of the opening. */
const OPEN_CONCURRENCY = 32;

function newClient(endpoints: readonly string[], deadlineMs = CALL_DEADLINE_MS): Etcd3 {
  return new Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    // Each client gets its own connections (grpc-js otherwise shares one between equal channels).
    grpcOptions: { 'grpc.use_local_subchannel_pool': 1 },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + deadlineMs }),
  });
}

/** Waits until `key` is absent, reading it once and then watching from the revision after that read. */
async function waitForDelete(client: Etcd3, key: string, signal: AbortSignal): Promise<void> {
  const res = await client.get(key).exec();
  if (res.kvs.length === 0) return;
  const watcher = await client.watch().key(key).startRevision(String(BigInt(res.header.revision) + 1n)).create();
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new BenchTimeoutError('wait abandoned'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      watcher.once('delete', () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      watcher.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      });
    });
  } finally {
    await watcher.cancel().catch(() => undefined);
  }
}

/** One load-generator client of etcd (its own `Etcd3` instance and connections). */
export async function connectEtcd(endpoints: readonly string[]): Promise<LockClient<Lock>> {
  const client = newClient(endpoints);
  // Fail now, not at the first acquire, if the cluster does not answer.
  await client.get('latch-bench/ping').exec();

  const acquireBlocking = async (key: string, signal: AbortSignal): Promise<Lock> => {
    for (;;) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new BenchTimeoutError('acquire abandoned');
      const lock = client.lock(key).ttl(LOCK_LEASE_TTL_S);
      try {
        return await lock.acquire();
      } catch (err) {
        // On EtcdLockFailedError the library has already revoked its lease; on any other error the
        // lease may exist and be kept alive, so give it back.
        if (!(err instanceof EtcdLockFailedError)) {
          void lock.release().catch(() => undefined);
          throw err;
        }
      }
      await waitForDelete(client, key, signal);
    }
  };

  return {
    acquire: async (name: string, opts: AcquireOptions = {}) => {
      const ctl = new AbortController();
      const p = acquireBlocking(KEY_PREFIX + name, ctl.signal);
      try {
        return await withTimeout(p, opts.timeoutMs, `etcd acquire ${name}`, (late) => void late.release().catch(() => undefined));
      } catch (err) {
        ctl.abort(err);
        throw err;
      }
    },
    release: (lock: Lock) => lock.release(),
    close: async () => {
      client.close();
    },
  };
}

/**
 * Holds `count` etcd leases of `ttlMs` (whole seconds) kept alive by etcd3's keepalive loop
 * (every TTL / 3, one LeaseKeepAlive stream per lease), 1000 leases per client connection.
 * Keepalives are counted on `keepaliveSucceeded`, expiries on `lost`.
 */
export const openEtcdSessions: SessionOpener = async (endpoints, count, ttlMs, counters: SessionCounters, signal) => {
  const perClient = 1000;
  // A long deadline: timed-out grants would trip etcd3's per-host circuit breaker (open for 5 s).
  const clients = Array.from({ length: Math.ceil(count / perClient) }, () => newClient(endpoints, 30_000));
  const leases: Lease[] = [];
  let closing = false;
  await forEachLimited(
    Array.from({ length: count }, (_, i) => i),
    OPEN_CONCURRENCY,
    async (i) => {
      const lease = clients[Math.floor(i / perClient)]!.lease(Math.round(ttlMs / 1000));
      lease.on('keepaliveSucceeded', () => {
        counters.keepalives++;
      });
      let granted = false;
      lease.on('lost', (err) => {
        // A failed grant is reported as 'lost' too: that is an open error, not an expiry.
        if (closing || !granted) return;
        counters.expiries++;
        counters.firstExpiry ??= err.message;
      });
      try {
        await lease.grant();
        granted = true;
        leases.push(lease);
        counters.opened++;
      } catch (err) {
        counters.openErrors++;
        counters.firstOpenError ??= err instanceof Error ? err.message : String(err);
      }
    },
    signal,
  );
  const held: HeldSessions = {
    close: async () => {
      closing = true;
      await forEachLimited(leases, 200, async (l) => {
        await l.revoke().catch(() => undefined);
      });
      for (const c of clients) c.close();
    },
  };
  return held;
};

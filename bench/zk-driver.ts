/**
 * ZooKeeper driven through npm `node-zookeeper-client` with the standard lock recipe, as Curator's
 * InterProcessMutex does it: create an ephemeral sequential node `_c_<uuid>-lock-` under
 * `/latch-bench/locks/<name>` (protected mode: after a connection loss the create is found again
 * by its uuid instead of leaking a node), list the children, hold the lock if ours is the lowest,
 * otherwise watch only the predecessor (getData with a watcher) and look again when it goes.
 * Release deletes our node.
 */
import { randomUUID } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { lockDecision } from './zk-lock-order.js';
import { BenchTimeoutError, forEachLimited, withTimeout } from './timeout.js';
import type { AcquireOptions, HeldSessions, LockClient, SessionCounters, SessionOpener } from './types.js';

type ZkClient = zookeeper.Client;

const LOCK_ROOT = '/latch-bench/locks';
/** Session timeout of a lock client, ms (the same 30 s as the etcd lock leases). */
const LOCK_SESSION_TIMEOUT_MS = 30_000;

/** A held ZooKeeper lock: the path of our contender node. */
export interface ZkLock {
  readonly path: string;
}

function codeOf(err: unknown): number | undefined {
  return err instanceof zookeeper.Exception ? err.getCode() : undefined;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Connects one client (its own TCP connection and session) and waits for SyncConnected. */
export function connectZkClient(endpoints: readonly string[], sessionTimeoutMs: number, timeoutMs = 15_000): Promise<ZkClient> {
  // spinDelay 100 ms (library default 1000): reconnect to another server quickly after a failover.
  const client = zookeeper.createClient(endpoints.join(','), { sessionTimeout: sessionTimeoutMs, spinDelay: 100, retries: 0 });
  return new Promise<ZkClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new BenchTimeoutError(`ZooKeeper connect did not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

function create(c: ZkClient, path: string, mode: number): Promise<string> {
  return new Promise((res, rej) => c.create(path, mode, (err, p) => (err ? rej(asError(err)) : res(p))));
}

function getChildren(c: ZkClient, path: string): Promise<string[]> {
  return new Promise((res, rej) => c.getChildren(path, (err, kids) => (err ? rej(asError(err)) : res(kids))));
}

function mkdirp(c: ZkClient, path: string): Promise<void> {
  return new Promise((res, rej) => c.mkdirp(path, (err) => (err ? rej(asError(err)) : res())));
}

function remove(c: ZkClient, path: string): Promise<void> {
  return new Promise((res, rej) =>
    c.remove(path, -1, (err) => (err && codeOf(err) !== zookeeper.Exception.NO_NODE ? rej(asError(err)) : res())),
  );
}

/** Resolves once `path` is deleted or changed (or is already gone); rejects when `signal` aborts. */
function watchGone(c: ZkClient, path: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => finish(signal.reason instanceof Error ? signal.reason : new BenchTimeoutError('wait abandoned'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    c.getData(
      path,
      () => finish(),
      (err) => {
        if (!err) return; // it exists: the watcher fires when it goes
        if (codeOf(err) === zookeeper.Exception.NO_NODE) finish();
        else finish(asError(err));
      },
    );
  });
}

/** Creates our contender node (protected mode) and returns its name. */
async function createContender(c: ZkClient, lockPath: string, signal: AbortSignal): Promise<string> {
  const prefix = `_c_${randomUUID()}-lock-`;
  for (;;) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new BenchTimeoutError('acquire abandoned');
    try {
      const full = await create(c, `${lockPath}/${prefix}`, zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL);
      return full.slice(full.lastIndexOf('/') + 1);
    } catch (err) {
      const code = codeOf(err);
      if (code === zookeeper.Exception.NO_NODE) {
        await mkdirp(c, lockPath);
        continue;
      }
      if (code !== zookeeper.Exception.CONNECTION_LOSS) throw err;
      // The create may have happened: look for our uuid before trying again.
      const found = (await getChildren(c, lockPath).catch(() => [] as string[])).find((k) => k.startsWith(prefix));
      if (found) return found;
    }
  }
}

async function acquireZk(c: ZkClient, name: string, signal: AbortSignal): Promise<ZkLock> {
  const lockPath = `${LOCK_ROOT}/${name}`;
  const ours = await createContender(c, lockPath, signal);
  const path = `${lockPath}/${ours}`;
  try {
    for (;;) {
      const d = lockDecision(await getChildren(c, lockPath), ours);
      switch (d.type) {
        case 'acquired':
          return { path };
        case 'lost':
          throw new Error(`ZooKeeper lock ${name}: our node ${ours} is gone (session expired?)`);
        case 'wait':
          await watchGone(c, `${lockPath}/${d.predecessor}`, signal);
          break;
      }
    }
  } catch (err) {
    // Give up our place in the queue so nobody waits behind an abandoned node.
    void remove(c, path).catch(() => undefined);
    throw err;
  }
}

/** One load-generator client of ZooKeeper (its own connection and session). */
export async function connectZk(endpoints: readonly string[]): Promise<LockClient<ZkLock>> {
  const client = await connectZkClient(endpoints, LOCK_SESSION_TIMEOUT_MS);
  await mkdirp(client, LOCK_ROOT);
  return {
    acquire: async (name: string, opts: AcquireOptions = {}) => {
      const ctl = new AbortController();
      try {
        return await withTimeout(acquireZk(client, name, ctl.signal), opts.timeoutMs, `ZooKeeper acquire ${name}`, (late) => void remove(client, late.path).catch(() => undefined));
      } catch (err) {
        ctl.abort(err);
        throw err;
      }
    },
    release: (lock: ZkLock) => remove(client, lock.path),
    close: async () => {
      client.close();
    },
  };
}

/**
 * Holds `count` ZooKeeper sessions, each on its own connection (a ZooKeeper session is bound to
 * one), kept alive by the client's pings (one every timeout / 3 of idleness). Pings are not
 * observable through the library, so keepalives are counted on the servers (see the workload);
 * expiries are the client's `expired` state.
 */
export const openZkSessions: SessionOpener = async (endpoints, count, ttlMs, counters: SessionCounters, signal) => {
  const clients: ZkClient[] = [];
  let closing = false;
  await forEachLimited(
    Array.from({ length: count }, (_, i) => i),
    32, // a steady pace, as for the other systems
    async () => {
      try {
        const c = await connectZkClient(endpoints, ttlMs, 30_000);
        c.on('state', (s) => {
          if (s !== zookeeper.State.EXPIRED || closing) return;
          counters.expiries++;
          counters.firstExpiry ??= 'the client saw SESSION_EXPIRED';
        });
        clients.push(c);
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
      for (const c of clients) c.close();
    },
  };
  return held;
};

/**
 * The three systems under test: how to tell whether each is installed, its version, how to start
 * its cluster and how to open a load-generator client.
 */
import { assertNever } from '../src/common/assert.js';
import { etcdBinary, etcdVersion, startEtcdCluster } from './etcd-cluster.js';
import { latchUnavailable, startLatchCluster } from './latch-cluster.js';
import { startZkCluster, zookeeperInstall, zookeeperVersion } from './zk-cluster.js';
import type { Lock as EtcdLock } from 'etcd3';
import type { Lock as LatchLock } from '../src/client/index.js';
import type { ZkLock } from './zk-driver.js';
import type { Cluster, LockClient, SystemId } from './types.js';

/** One system, ready to start; `H` is its driver's lock handle. */
export interface SystemSpec<H> {
  readonly id: SystemId;
  readonly version: string;
  start(): Promise<Cluster>;
  connect(endpoints: readonly string[]): Promise<LockClient<H>>;
}

/** What `describeSystem` found. */
export type SystemLookup =
  | { readonly type: 'ready'; readonly use: <R>(run: <H>(spec: SystemSpec<H>) => Promise<R>) => Promise<R> }
  | { readonly type: 'unavailable'; readonly reason: string };

/**
 * Looks a system up: `unavailable` (with the reason, e.g. the Debian package to install) when its
 * binaries are missing, else `ready` with a runner that hands a typed spec to a generic callback.
 * `profileDir` makes Latch's servers write CPU profiles there.
 */
export async function describeSystem(id: SystemId, profileDir?: string): Promise<SystemLookup> {
  switch (id) {
    case 'etcd': {
      const bin = etcdBinary();
      if (!bin) return { type: 'unavailable', reason: 'etcd is not installed (apt-get install etcd-server)' };
      const { connectEtcd } = await import('./etcd-driver.js');
      const spec: SystemSpec<EtcdLock> = {
        id,
        version: etcdVersion(bin),
        start: () => startEtcdCluster(bin),
        connect: connectEtcd,
      };
      return { type: 'ready', use: (run) => run(spec) };
    }
    case 'zk': {
      const install = zookeeperInstall();
      if (!install) return { type: 'unavailable', reason: 'ZooKeeper (and java) are not installed (apt-get install zookeeper)' };
      const { connectZk } = await import('./zk-driver.js');
      const spec: SystemSpec<ZkLock> = {
        id,
        version: zookeeperVersion(install),
        start: () => startZkCluster(install),
        connect: connectZk,
      };
      return { type: 'ready', use: (run) => run(spec) };
    }
    case 'latch': {
      const why = latchUnavailable();
      if (why) return { type: 'unavailable', reason: why };
      const { connectLatch } = await import('./latch-driver.js');
      const spec: SystemSpec<LatchLock> = {
        id,
        version: 'Latch (this checkout)',
        start: () => startLatchCluster(profileDir),
        connect: connectLatch,
      };
      return { type: 'ready', use: (run) => run(spec) };
    }
    default:
      return assertNever(id);
  }
}

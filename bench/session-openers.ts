/** Each system's session opener, loaded on demand so a holder only loads its own client library. */
import { assertNever } from '../src/common/assert.js';
import type { SessionOpener, SystemId } from './types.js';

/** The `SessionOpener` of `system`. */
export async function sessionOpener(system: SystemId): Promise<SessionOpener> {
  switch (system) {
    case 'etcd':
      return (await import('./etcd-driver.js')).openEtcdSessions;
    case 'zk':
      return (await import('./zk-driver.js')).openZkSessions;
    case 'latch':
      return (await import('./latch-driver.js')).openLatchSessions;
    default:
      return assertNever(system);
  }
}

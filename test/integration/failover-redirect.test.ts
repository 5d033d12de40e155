/**
 * After the leader dies, a follower does not send clients to it: a mutating call that reaches a
 * follower whose leader has gone quiet is held until the next leader is known, then served (the
 * follower won) or redirected to the new leader. Real processes, leader SIGKILLed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/local-cluster.js';
import { RawClient } from '../helpers/raw-client.js';

let cluster: TestCluster | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  try {
    for (const c of clients.splice(0)) c.close();
  } finally {
    await cluster?.stop();
    cluster = undefined;
  }
});

describe('redirect after a leader SIGKILL', () => {
  it('never hints the dead leader once it has gone quiet', { timeout: 60_000 }, async () => {
    cluster = await startTestCluster({ nodes: 3, heartbeatMs: 50, electionTimeoutMs: 500, logLevel: 'warn' });
    const c = cluster;
    for (let round = 0; round < 2; round++) {
      const dead = await c.leader();
      const deadAddress = c.nodes.find((n) => n.id === dead)!.clientAddress;
      const followers = c.nodes.filter((n) => n.id !== dead && c.pid(n.id) !== undefined);
      await c.kill(dead, 'SIGKILL');
      // Past two heartbeats of silence (the election itself takes at least 500 ms).
      await new Promise((r) => setTimeout(r, 200));
      const hints: (string | undefined)[] = [];
      let served = 0;
      await Promise.all(
        followers.map(async (f) => {
          const rc = new RawClient(f.clientAddress, true);
          clients.push(rc);
          // Until this follower serves the call or names a leader (a split vote may first end a
          // hold with no leader known: that answer names none, and we ask again).
          for (let i = 0; i < 20; i++) {
            const a = await rc.attempt('Sessions', 'Open', { ttlMs: 5000, client: 'redirect-test' }, 10_000);
            if (a.ok) {
              served++;
              return;
            }
            expect(a.error.latchCode).toBe('NOT_LEADER');
            hints.push(a.error.leader);
            if (a.error.leader !== undefined) return;
          }
        }),
      );
      expect(hints).not.toContain(deadAddress);
      // The follower that won the election served it.
      expect(served).toBeGreaterThanOrEqual(1);
      await c.start(dead);
    }
  });
});

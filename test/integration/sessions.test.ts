/**
 * Session lifetimes against real processes (issue 4, DESIGN §3): a client SIGKILLed while holding
 * a lock loses it only after its lease and the lock-delay; a dead client's session still expires
 * while the leader is killed every couple of seconds; a follower restored from a snapshot answers
 * like the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { RawClient, leaderEndpoint } from '../helpers/raw-client.js';

let cluster: TestCluster | undefined;
const pids = new Set<number>();
const clients: RawClient[] = [];

afterEach(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  pids.clear();
  try {
    for (const c of clients.splice(0)) c.close();
  } finally {
    // Always stop the servers, even if closing a client threw.
    await cluster?.stop();
    cluster = undefined;
  }
});

const TTL = 3000;
const ELECTION = 500;
const LOCK_DELAY = 1500;

/** Runs `latch lock NAME -- sh -c 'echo started $$; exec sleep 600'`; resolves once the command runs. */
async function holdWithCli(endpoints: readonly string[], name: string): Promise<{ cli: ChildProcess; sleeper: number; token: string }> {
  const cli = spawn(process.execPath, [CLI, 'lock', name, '--ttl', `${TTL}ms`, '--wait', '20s', '--endpoints', endpoints.join(','), '--', 'sh', '-c', 'echo started $$ $LATCH_TOKEN; exec sleep 600'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (cli.pid) pids.add(cli.pid);
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: cli.stdout! }).on('line', (l) => l.startsWith('started ') && res(l));
    cli.once('exit', (code) => rej(new Error(`latch lock exited early with ${code}`)));
  });
  const [, sleeper, token] = line.split(' ');
  pids.add(Number(sleeper));
  return { cli, sleeper: Number(sleeper), token: token! };
}

async function sigkill(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  pids.delete(pid);
}

async function leaderClient(c: TestCluster): Promise<RawClient> {
  const ep = await waitFor(() => leaderEndpoint(c.endpoints), 15_000, 'a leader endpoint');
  const rc = new RawClient(ep);
  clients.push(rc);
  return rc;
}

describe('session lifetimes', () => {
  it('a SIGKILLed holder loses its lock only after its lease and the lock-delay, then the lock is free', async () => {
    cluster = await startTestCluster({ nodes: 3, electionTimeoutMs: ELECTION, extraArgs: ['--lock-delay-ms', String(LOCK_DELAY)] });
    const { cli, sleeper, token } = await holdWithCli(cluster.endpoints, 'jobs/crash');
    expect(Number(token)).toBeGreaterThan(0);
    const rc = await leaderClient(cluster);
    const other = await rc.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 30_000, client: 'other' });
    const killedAt = Date.now();
    await sigkill(cli.pid!);
    await sigkill(sleeper);
    let seq = 1;
    const tryAcquire = () => rc.call<{ acquired: boolean; sequencer?: { token: string } }>('Locks', 'acquire', { sessionId: other.sessionId, requestSeq: String(seq++), name: 'jobs/crash', waitMs: 0 });
    // Right after the kill the lock is still held (the lease runs at least 2/3 of the TTL past the last keepalive).
    expect((await tryAcquire()).acquired).toBe(false);
    const got = await waitFor(async () => {
      const r = await tryAcquire();
      return r.acquired ? { at: Date.now(), token: r.sequencer!.token } : undefined;
    }, 30_000, 'the lock to be free');
    const elapsed = got.at - killedAt;
    // Safety: never before the shortest possible lease (TTL less one keepalive interval) plus the lock-delay.
    expect(elapsed).toBeGreaterThanOrEqual((TTL * 2) / 3 + LOCK_DELAY);
    expect(BigInt(got.token)).toBeGreaterThan(BigInt(token));
    // The release came from expiry (with lock-delay), not from a release call.
    const info = await rc.call<{ holders: { sessionId: string }[] }>('Locks', 'get', { name: 'jobs/crash' });
    expect(info.holders.map((h) => h.sessionId)).toEqual([other.sessionId]);
  });

  it("a dead client's session expires while the leader is SIGKILLed every couple of seconds", async () => {
    cluster = await startTestCluster({ nodes: 3, electionTimeoutMs: ELECTION, heartbeatMs: 50 });
    const c = cluster;
    const { cli, sleeper } = await holdWithCli(c.endpoints, 'jobs/churn');
    const rc0 = await leaderClient(c);
    const sessions0 = await rc0.call<{ sessions: { sessionId: string; client: string }[] }>('Sessions', 'list');
    expect(sessions0.sessions.length).toBe(1);
    const victim = sessions0.sessions[0]!.sessionId;
    await sigkill(cli.pid!);
    await sigkill(sleeper);
    const killedAt = Date.now();
    let churning = true;
    const churn = (async () => {
      while (churning) {
        await new Promise((r) => setTimeout(r, 2000));
        if (!churning) break;
        const l = await c.leader(15_000).catch(() => undefined);
        if (!l || !churning) continue;
        await c.kill(l, 'SIGKILL');
        await c.start(l);
      }
    })();
    try {
      await waitFor(async () => {
        const ep = await leaderEndpoint(c.endpoints);
        if (!ep) return undefined;
        const rc = new RawClient(ep);
        try {
          const r = await rc.call<{ sessions: { sessionId: string }[] }>('Sessions', 'list', {}, 2000);
          return r.sessions.every((s) => s.sessionId !== victim) ? true : undefined;
        } finally {
          rc.close();
        }
      }, 60_000, 'the dead session to expire');
    } finally {
      churning = false;
      await churn;
    }
    const elapsed = Date.now() - killedAt;
    // Liveness under leader churn (DESIGN §3): bounded, not reset by every election. The bound holds for
    // the lease (TTL), the lapse detection (TTL/2) and one election per checkpoint hand-over, plus commit time.
    expect(elapsed).toBeLessThan(TTL + TTL / 2 + 4 * ELECTION + 6000);
  });

  it('a follower restarted from a snapshot lists the same locks as the others', async () => {
    cluster = await startTestCluster({ nodes: 3, snapshotThreshold: 20 });
    const c = cluster;
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n.id !== leader)!;
    await c.kill(follower.id, 'SIGKILL');
    const rc = await leaderClient(c);
    const s = await rc.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 60_000, client: 'snap' });
    for (let i = 0; i < 30; i++) {
      await rc.call('Locks', 'acquire', { sessionId: s.sessionId, requestSeq: String(2 * i + 1), name: `snap/l${i}`, waitMs: 0 });
      if (i % 2 === 1) await rc.call('Locks', 'release', { sessionId: s.sessionId, requestSeq: String(2 * i + 2), name: `snap/l${i}` });
    }
    await c.start(follower.id);
    await waitFor(async () => Number((await c.status(follower.id)).snapshotIndex) > 0, 20_000, 'follower restored from a snapshot');
    const outputs = await Promise.all(
      c.nodes.map(
        (n) =>
          new Promise<string>((res, rej) => {
            const p = spawn(process.execPath, [CLI, 'locks', 'snap/', '--json', '--endpoints', n.clientAddress], { stdio: ['ignore', 'pipe', 'pipe'] });
            if (p.pid) pids.add(p.pid);
            let out = '';
            p.stdout.on('data', (d: Buffer) => (out += d.toString()));
            p.once('exit', (code) => (code === 0 ? res(out) : rej(new Error(`latch locks on ${n.id} exited ${code}`))));
          }),
      ),
    );
    const parsed = outputs.map((o) => JSON.parse(o) as unknown);
    expect(JSON.stringify(parsed[0])).toContain('snap/l0');
    expect(JSON.stringify(parsed[0])).not.toContain('snap/l1"');
    for (const p of parsed) expect(p).toEqual(parsed[0]);
  });
});

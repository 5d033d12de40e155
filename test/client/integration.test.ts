/**
 * The SDK and the client CLI commands against real `latch server` processes (run `npx tsc -p
 * tsconfig.json` first: the servers and the CLI run from dist/). One cluster serves the file; the
 * last test kills every node.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient, type LeaderInfo, type Lock, type Session, type WatchEvent } from '../../src/client/index.js';
import { startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';

const CLI_ENTRY = resolve(import.meta.dirname, '../../dist/src/cli/main.js');
const TTL = 4000;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the client CLI; the test owns the process and it always ends (by itself or by `kill(pid)`). */
function runCli(args: readonly string[], onStart?: (pid: number) => void): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', rej);
    child.once('exit', (code) => res({ code, stdout, stderr }));
    if (child.pid !== undefined) onStart?.(child.pid);
  });
}

describe('SDK and CLI against a real cluster', () => {
  let cluster: TestCluster;
  let endpoints: string[];
  const clients: LatchClient[] = [];
  const cliPids = new Set<number>();

  const connect = async (name = 'itest'): Promise<LatchClient> => {
    const c = await LatchClient.connect({ endpoints, name, callTimeoutMs: 15_000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 3 });
    endpoints = [...cluster.endpoints];
    await cluster.leader();
  });

  afterAll(async () => {
    for (const pid of cliPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.allSettled(clients.map((c) => c.close()));
    await cluster?.stop();
  });

  it('runs the documented SDK example end to end', async () => {
    const client = await connect();
    const status = await client.status();
    expect(status.members.length).toBe(3);
    const session = await client.session({ ttlMs: TTL });
    expect(session.ttlMs).toBe(TTL);
    const events: WatchEvent[] = [];
    const ac = new AbortController();
    const watching = (async () => {
      try {
        for await (const e of client.watch('jobs/', { signal: ac.signal })) events.push(e);
      } catch {
        // aborted
      }
    })();
    let sequencer;
    {
      await using lock = await session.lock('jobs/nightly', { waitMs: 5_000 });
      expect(lock.held).toBe(true);
      expect(typeof lock.token).toBe('bigint');
      expect(lock.sequencer).toEqual({ name: 'jobs/nightly', mode: 'exclusive', token: lock.token, sessionId: session.id });
      sequencer = lock.sequencer;
      expect(await client.checkSequencer(lock.sequencer)).toBe(true);
      const info = await client.lockInfo('jobs/nightly');
      expect(info.holders).toEqual([{ sessionId: session.id, token: lock.token }]);
      expect((await client.locks('jobs/')).map((l) => l.name)).toContain('jobs/nightly');
      expect((await client.sessions()).find((s) => s.sessionId === session.id)?.locks).toEqual(['jobs/nightly']);
    }
    expect(await client.checkSequencer(sequencer)).toBe(false);
    const v = await session.withLock('jobs/nightly', (l) => l.token);
    expect(v).toBeGreaterThan(sequencer.token);
    expect((await client.lockInfo('jobs/nightly')).held).toBe(false);
    await waitFor(() => events.filter((e) => e.name === 'jobs/nightly').length >= 4, 10_000, 'watch events');
    expect(events.filter((e) => e.name === 'jobs/nightly').map((e) => e.type).slice(0, 4)).toEqual(['acquired', 'released', 'acquired', 'released']);
    ac.abort();
    await watching;
    await session.close();
    expect((await client.sessions()).some((s) => s.sessionId === session.id)).toBe(false);
  });

  it('keeps mutual exclusion among many concurrent clients, with strictly increasing tokens', async () => {
    const workers = 6;
    const rounds = 4;
    let inside = 0;
    let overlaps = 0;
    const grants: bigint[] = [];
    const sessions: Session[] = [];
    for (let i = 0; i < workers; i++) sessions.push(await (await connect(`worker-${i}`)).session({ ttlMs: TTL }));
    await Promise.all(
      sessions.map(async (s) => {
        for (let r = 0; r < rounds; r++) {
          await s.withLock(
            'mx/counter',
            async (lock) => {
              inside++;
              if (inside > 1) overlaps++;
              grants.push(lock.token);
              await new Promise((res) => setTimeout(res, 5));
              inside--;
            },
            { waitMs: 60_000 },
          );
        }
      }),
    );
    expect(overlaps).toBe(0);
    expect(grants.length).toBe(workers * rounds);
    for (let i = 1; i < grants.length; i++) expect(grants[i]! > grants[i - 1]!).toBe(true);
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('admits many shared holders and keeps a writer out until they are gone', async () => {
    const client = await connect();
    const readers = await Promise.all([0, 1, 2].map(() => client.session({ ttlMs: TTL })));
    const writer = await client.session({ ttlMs: TTL });
    const held: Lock[] = [];
    for (const r of readers) held.push(await r.lock('data/shared', { mode: 'shared', waitMs: 5000 }));
    expect((await client.lockInfo('data/shared')).holders.length).toBe(3);
    expect(await writer.tryLock('data/shared')).toBeNull();
    const pending = writer.lock('data/shared', { waitMs: 30_000 });
    await waitFor(async () => (await client.lockInfo('data/shared')).waiters.length === 1, 5000, 'the writer to queue');
    let granted = false;
    void pending.then(() => (granted = true));
    await held[0]!.release();
    await held[1]!.release();
    expect(granted).toBe(false);
    await held[2]!.release();
    const w = await pending;
    expect(w.mode).toBe('exclusive');
    for (const h of held) expect(w.token > h.token).toBe(true);
    await Promise.all([...readers, writer].map((s) => s.close()));
  });

  it('hands an election over when the leader session closes, and observers see it', async () => {
    const client = await connect();
    const a = await client.session({ ttlMs: TTL });
    const b = await client.session({ ttlMs: TTL });
    const seen: Array<LeaderInfo | null> = [];
    const ac = new AbortController();
    const observing = (async () => {
      try {
        for await (const l of a.election('scheduler').observe({ signal: ac.signal })) seen.push(l);
      } catch {
        // aborted
      }
    })();
    const leadA = await a.election('scheduler').campaign('node-a');
    expect(leadA.name).toBe('election/scheduler');
    const bWins = b.election('scheduler').campaign('node-b');
    await a.election('scheduler').proclaim('node-a2');
    const now = await b.election('scheduler').leader();
    expect(now && Buffer.from(now.value).toString()).toBe('node-a2');
    expect(now?.sessionId).toBe(a.id);
    await a.close();
    const leadB = await bWins;
    expect(leadB.token > leadA.token).toBe(true);
    expect((await b.election('scheduler').leader())?.sessionId).toBe(b.id);
    await waitFor(() => seen.some((l) => l?.sessionId === b.id), 10_000, 'the observer to see node-b');
    const values = seen.filter((l): l is LeaderInfo => l !== null).map((l) => Buffer.from(l.value).toString());
    expect(values).toContain('node-a');
    expect(values.at(-1)).toBe('node-b');
    ac.abort();
    await observing;
    await b.election('scheduler').resign();
    expect(await b.election('scheduler').leader()).toBeNull();
    await b.close();
  });

  it('latch lock runs the command with the lock in its environment and exits with its code', async () => {
    const client = await connect();
    const script = 'console.log(JSON.stringify({t: process.env.LATCH_TOKEN, l: process.env.LATCH_LOCK, s: process.env.LATCH_SESSION})); process.exit(5)';
    const r = await runCli(['lock', 'cli/job', '--ttl', '4s', '--endpoints', endpoints.join(','), '--', process.execPath, '-e', script], (pid) => cliPids.add(pid));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(5);
    const env = JSON.parse(r.stdout.trim()) as { t: string; l: string; s: string };
    expect(env.l).toBe('cli/job');
    expect(BigInt(env.t)).toBeGreaterThan(0n);
    expect(BigInt(env.s)).toBeGreaterThan(0n);
    expect((await client.lockInfo('cli/job')).held).toBe(false);
    expect((await client.sessions()).some((s) => s.sessionId === BigInt(env.s))).toBe(false);
  });

  it('latch lock exits 3 without running the command when the wait runs out', async () => {
    const client = await connect();
    const holder = await client.session({ ttlMs: TTL });
    const lock = await holder.lock('cli/busy', { waitMs: 5000 });
    const r = await runCli(['lock', 'cli/busy', '--wait', '500ms', '--endpoints', endpoints.join(','), '--', process.execPath, '-e', 'console.log("RAN")'], (pid) =>
      cliPids.add(pid),
    );
    expect(r.code).toBe(3);
    expect(r.stdout).not.toContain('RAN');
    expect(r.stderr).toMatch(/^latch: timed out after 500ms waiting for lock cli\/busy\n$/);
    expect(lock.held).toBe(true);
    await holder.close();
  });

  it('latch lock reports a bad duration as one line and exit code 2', async () => {
    const r = await runCli(['lock', 'cli/x', '--ttl', 'ten', '--endpoints', endpoints.join(','), '--', process.execPath, '-e', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^latch: --ttl: "ten" is not a duration.*\n$/);
  });

  it('latch locks and latch sessions print JSON that round-trips', async () => {
    const client = await connect();
    const s = await client.session({ ttlMs: TTL, name: 'lister' });
    await s.lock('list/a', { waitMs: 5000 });
    const locks = await runCli(['locks', 'list/', '--json', '--endpoints', endpoints.join(',')]);
    expect(locks.code).toBe(0);
    const parsed = JSON.parse(locks.stdout) as Array<{ name: string; holders: Array<{ sessionId: string }> }>;
    expect(parsed.map((l) => l.name)).toEqual(['list/a']);
    expect(parsed[0]!.holders[0]!.sessionId).toBe(s.id.toString());
    const human = await runCli(['sessions', '--endpoints', endpoints.join(',')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${s.id}\\s+lister\\s+4s\\s+list/a\\s+live`, 'm'));
    await s.close();
  });

  it('a session survives a SIGKILL of the leader and its lock is still held', async () => {
    const client = await connect();
    const session = await client.session({ ttlMs: 6000 });
    const lock = await session.lock('failover/a', { waitMs: 5000 });
    const states: string[] = [];
    session.on('jeopardy', () => states.push('jeopardy'));
    session.on('expired', () => states.push('expired'));
    const old = await cluster.leader();
    await cluster.kill(old, 'SIGKILL');
    const next = await cluster.leader(20_000);
    expect(next).not.toBe(old);
    // Keepalives must reach the new leader: wait for a few full keepalive periods.
    await waitFor(async () => (await client.checkSequencer(lock.sequencer)) && client.leaderEndpoint !== undefined, 15_000, 'the sequencer to be current on the new leader');
    await new Promise((r) => setTimeout(r, 6000));
    expect(states).toEqual([]);
    expect(session.state).toBe('safe');
    expect(lock.held).toBe(true);
    expect(await client.checkSequencer(lock.sequencer)).toBe(true);
    const other = await client.session({ ttlMs: TTL });
    expect(await other.tryLock('failover/a')).toBeNull();
    await other.close();
    await lock.release();
    await session.close();
    // The killed node stays down (two of three keep quorum); the next test kills the rest.
  });

  it('latch lock stops the command and exits 4 when the lock is lost (every node killed)', async () => {
    const client = await connect();
    let pid = 0;
    const run = runCli(['lock', 'cli/lost', '--ttl', '3s', '--kill-grace', '1s', '--endpoints', endpoints.join(','), '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], (p) => {
      pid = p;
      cliPids.add(p);
    });
    await waitFor(async () => (await client.lockInfo('cli/lost')).held, 15_000, 'latch lock to hold cli/lost');
    for (const n of cluster.nodes) await cluster.kill(n.id, 'SIGKILL');
    const r = await run;
    cliPids.delete(pid);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/may be lost.*stopping the command/);
  });
});


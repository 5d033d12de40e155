/**
 * Token authentication and prefix ACLs on a real 3-node cluster (issue 7): a missing, wrong or
 * expired token is UNAUTHENTICATED, a token without the prefix is PERMISSION_DENIED, a removed
 * token stops working after SIGHUP (and an added one starts), a bad file on reload keeps the old
 * tokens; none of the refused calls changes state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { hashToken } from '../../src/server/auth.js';
import { waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { leaderEndpoint, RawClient } from '../helpers/raw-client.js';
import { startTokenCluster } from './token-cluster.js';

let cluster: TestCluster;
let dir: string;
let tokenFile: string;
const clients: LatchClient[] = [];

const base = `role:jobs:read,lock:jobs/
ops:${hashToken('ops-secret')}:root
runner:${hashToken('runner-secret')}:jobs
old:${hashToken('old-secret')}:jobs:2001-01-01T00:00:00Z
intruder:${hashToken('intruder-secret')}:root
`;

async function client(token: string | undefined, verify = true): Promise<LatchClient> {
  const c = await LatchClient.connect({ endpoints: cluster.endpoints, ...(token !== undefined ? { token } : {}), verify, connectTimeoutMs: 3_000, callTimeoutMs: 3_000 });
  clients.push(c);
  return c;
}

async function sighupAll(): Promise<void> {
  for (const n of cluster.nodes) process.kill(cluster.pid(n.id)!, 'SIGHUP');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-auth-'));
  tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, base);
  cluster = await startTokenCluster(tokenFile, 'ops-secret', { nodes: 3 });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('token authentication and ACLs', () => {
  it('refuses missing, wrong and expired tokens and names without the prefix, changing nothing', async () => {
    const ops = await client('ops-secret');
    const sessionsBefore = (await ops.sessions()).length;
    await expect(client(undefined)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(client('wrong-secret')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(client('old-secret')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const anon = await client(undefined, false);
    await expect(anon.session({ ttlMs: 30_000 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    const runner = await client('runner-secret');
    const s = await runner.session({ ttlMs: 30_000 });
    const lock = await s.lock('jobs/nightly');
    expect(lock.token).toBeGreaterThan(0n);
    await expect(s.lock('billing/run')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(s.tryLock('jobsx')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(runner.locks('')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(runner.sessions()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(s.election('jobs/leader').campaign('me')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((await runner.locks('jobs/')).map((l) => l.name)).toEqual(['jobs/nightly']);

    // Nothing the refused calls tried is visible.
    expect((await ops.locks('')).map((l) => l.name)).toEqual(['jobs/nightly']);
    expect((await ops.sessions()).length).toBe(sessionsBefore + 1);
    await s.close();
  });

  it('binds a session to the token that opened it: another token, even root, can neither use nor close it, and nothing changes', async () => {
    const ops = await client('ops-secret');
    const s = await ops.session({ ttlMs: 30_000 });
    const owned = await s.lock('jobs/owned');
    const secret = await s.lock('other/secret');
    const el = s.election('ops-el');
    await el.campaign('ops-value');
    const id = s.id.toString();
    const before = (await ops.locks('')).map((l) => ({ name: l.name, holders: l.holders.map((h) => `${h.sessionId}/${h.token}`), value: Buffer.from(l.value ?? new Uint8Array()).toString('hex') }));
    const leader = await leaderEndpoint(cluster.endpoints, 'ops-secret');
    expect(leader).toBeDefined();
    const intruder = new RawClient(leader!, true, 'intruder-secret');
    const owner = new RawClient(leader!, true, 'ops-secret');
    try {
      let seq = 1_000;
      const denied = async (service: string, method: string, req: object): Promise<void> => {
        const r = await intruder.attempt(service, method, req);
        expect(r.ok ? 'ok' : r.error.latchCode, `${service}.${method}`).toBe('PERMISSION_DENIED');
        if (!r.ok) expect(r.error.code).toBe(7); // grpc PERMISSION_DENIED
      };
      await denied('Sessions', 'close', { sessionId: id, requestSeq: String(++seq) });
      await denied('Locks', 'release', { sessionId: id, requestSeq: String(++seq), name: 'other/secret' });
      await denied('Locks', 'acquire', { sessionId: id, requestSeq: String(++seq), name: 'jobs/more', waitMs: 0 });
      await denied('Locks', 'setValue', { sessionId: id, requestSeq: String(++seq), name: 'jobs/owned', value: Buffer.from('x') });
      await denied('Elections', 'campaign', { sessionId: id, requestSeq: String(++seq), name: 'other-el', value: Buffer.from('x'), waitMs: 1 });
      await denied('Elections', 'proclaim', { sessionId: id, requestSeq: String(++seq), name: 'ops-el', value: Buffer.from('x') });
      await denied('Elections', 'resign', { sessionId: id, requestSeq: String(++seq), name: 'ops-el' });
      await expect(intruder.keepAliveOnce({ sessionId: id, nonce: '1' })).rejects.toMatchObject({ code: 7, latchCode: 'PERMISSION_DENIED' });

      // Nothing changed: same locks, holders, tokens and values; the session is alive and its owner still uses it.
      const after = (await ops.locks('')).map((l) => ({ name: l.name, holders: l.holders.map((h) => `${h.sessionId}/${h.token}`), value: Buffer.from(l.value ?? new Uint8Array()).toString('hex') }));
      expect(after).toEqual(before);
      expect((await ops.sessions()).some((x) => x.sessionId === s.id)).toBe(true);
      expect(s.state).toBe('safe');
      expect(owned.held && secret.held).toBe(true);
      const ka = await owner.keepAliveOnce({ sessionId: id, nonce: '1' });
      expect(ka['expired']).toBe(false);
      // The intruder's own session works as usual.
      const own = await intruder.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 10_000, client: 'intruder' });
      await intruder.call('Locks', 'acquire', { sessionId: own.sessionId, requestSeq: '1', name: 'jobs/intruder', waitMs: 0 });
      await intruder.call('Sessions', 'close', { sessionId: own.sessionId, requestSeq: '2' });
    } finally {
      intruder.close();
      owner.close();
      await s.close();
    }
  });

  it('reloads the token file on SIGHUP: removed tokens stop, new ones start, a bad file is ignored', async () => {
    const runner = await client('runner-secret');
    const s = await runner.session({ ttlMs: 30_000 });
    await s.lock('jobs/before-reload');
    await expect(client('fresh-secret')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    // A file with an error is refused and the previous tokens stay in force.
    writeFileSync(tokenFile, `${base}broken line\n`);
    await sighupAll();
    await waitFor(() => cluster.nodes.every((n) => cluster.output(n.id).includes('token file reload failed')), 10_000, 'every node to log the failed reload');
    expect((await runner.locks('jobs/')).length).toBe(1);

    writeFileSync(tokenFile, `role:jobs:read,lock:jobs/\nops:${hashToken('ops-secret')}:root\nfresh:${hashToken('fresh-secret')}:jobs\n`);
    await sighupAll();
    await waitFor(() => cluster.nodes.every((n) => cluster.output(n.id).includes('token file reloaded')), 10_000, 'every node to reload');
    await expect(runner.locks('jobs/')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.lock('jobs/after-reload')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const fresh = await client('fresh-secret');
    expect((await fresh.locks('jobs/')).map((l) => l.name)).toEqual(['jobs/before-reload']);
  });
});

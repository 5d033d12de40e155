/**
 * The HTTP port behind the token file on a real 3-node cluster (issue 16.2): every route but
 * `/healthz` and the page shell answers 401 to no token or a wrong one, 403 to a token without read
 * on every name, `/metrics` also to a metrics-only token, and a SIGHUP reload applies at once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { hashToken } from '../../src/server/auth.js';
import { waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { startTokenCluster, HTTP_TEST_TOKENS } from './token-cluster.js';

let cluster: TestCluster;
let dir: string;
let tokenFile: string;
let client: LatchClient | undefined;

const TOKENS = HTTP_TEST_TOKENS;

/** Every data route of the HTTP port. */
const ROUTES = ['/status', '/api/overview', '/metrics'] as const;

async function get(path: string, token?: string, node = cluster.nodes[0]!): Promise<{ status: number; challenge: string | null; body: string }> {
  const res = await fetch(`http://${node.httpAddress}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-http-auth-'));
  tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, TOKENS);
  cluster = await startTokenCluster(tokenFile, 'viewer-secret', { nodes: 3 });
  // Something worth hiding: a session and a lock whose names the HTTP port would show.
  client = await LatchClient.connect({ endpoints: cluster.endpoints, token: 'ops-secret' });
  const session = await client.session({ ttlMs: 30_000, name: 'payroll-batch' });
  await session.lock('jobs/payroll');
});

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('HTTP port with --token-file', () => {
  it('answers every data route without a token with 401, a Bearer challenge and one line, on every node', async () => {
    for (const node of cluster.nodes) {
      for (const path of [...ROUTES, '/nope']) {
        const r = await get(path, undefined, node);
        expect(r.status, `${node.id} ${path}`).toBe(401);
        expect(r.challenge).toMatch(/^Bearer realm="latch"$/);
        expect(r.body).toBe('a bearer token is required (authorization: Bearer <token>)\n');
      }
    }
  });

  it('answers a wrong token with 401 naming the problem', async () => {
    for (const path of ROUTES) {
      const r = await get(path, 'wrong-secret');
      expect(r.status, path).toBe(401);
      expect(r.challenge).toBe('Bearer realm="latch", error="invalid_token"');
      expect(r.body).toBe('unknown token\n');
    }
  });

  it('answers a token without read on every name with 403, /metrics included', async () => {
    for (const path of ROUTES) {
      const r = await get(path, 'runner-secret');
      expect(r.status, path).toBe(403);
      expect(r.body).not.toContain('payroll');
      expect(r.body.trim().split('\n')).toHaveLength(1);
    }
    expect((await get('/api/overview', 'runner-secret')).body).toBe('token "runner" lacks read on every name\n');
  });

  it('serves /metrics to a metrics-only token and nothing else', async () => {
    const m = await get('/metrics', 'prom-secret');
    expect(m.status).toBe(200);
    expect(m.body).toContain('latch_raft_term');
    for (const path of ['/status', '/api/overview']) {
      const r = await get(path, 'prom-secret');
      expect(r.status, path).toBe(403);
      expect(r.body).toBe('token "prom" lacks read on every name\n');
    }
  });

  it('serves every route to a token with read on every name (and to root)', async () => {
    for (const token of ['viewer-secret', 'ops-secret']) {
      for (const path of ROUTES) expect((await get(path, token)).status, `${token} ${path}`).toBe(200);
    }
    const overview = JSON.parse((await get('/api/overview', 'viewer-secret')).body) as { sessions: { client: string }[]; locks: { name: string }[] };
    expect(overview.sessions.map((s) => s.client)).toContain('payroll-batch');
    expect(overview.locks.map((l) => l.name)).toContain('jobs/payroll');
    expect((await get('/nope', 'viewer-secret')).status).toBe(404);
  });

  it('keeps /healthz and the page shell open, without any cluster data in the shell', async () => {
    for (const token of [undefined, 'wrong-secret']) {
      expect((await get('/healthz', token)).status).toBe(200);
      for (const path of ['/', '/status.js', '/status.css']) {
        const r = await get(path, token);
        expect(r.status, path).toBe(200);
        expect(r.body).not.toContain('payroll');
      }
    }
  });

  it('applies a token file reload (SIGHUP) to the HTTP port', async () => {
    writeFileSync(tokenFile, `role:reader:read:*\nops:${hashToken('ops-secret')}:root\nfresh:${hashToken('fresh-secret')}:reader\n`);
    for (const n of cluster.nodes) process.kill(cluster.pid(n.id)!, 'SIGHUP');
    await waitFor(() => cluster.nodes.every((n) => cluster.output(n.id).includes('token file reloaded')), 10_000, 'every node to reload');
    for (const node of cluster.nodes) {
      expect((await get('/api/overview', 'viewer-secret', node)).status, node.id).toBe(401);
      expect((await get('/metrics', 'prom-secret', node)).status, node.id).toBe(401);
      expect((await get('/api/overview', 'fresh-secret', node)).status, node.id).toBe(200);
    }
  });
});

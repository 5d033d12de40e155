/**
 * The HTTP port behind the token file, in process (issue 16.2): which path needs what, the 401/403
 * answers and their headers, reloads, the open routes, behaviour without auth, and the config rule
 * for a non-loopback HTTP address.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { LockStateMachine } from '../../src/lock/index.js';
import type { NodeStatus } from '../../src/node/raft-node.js';
import { Authorizer, checkHttpRequest, hashToken, parseTokenFile, PUBLIC_HTTP_PATHS, requiredHttpAccess } from '../../src/server/auth.js';
import { resolveConfig } from '../../src/server/config.js';
import { startHttpServer, type HttpAuthorize } from '../../src/server/http-server.js';
import { Metrics } from '../../src/server/metrics.js';
import { STATUS_HTML, StatusPage } from '../../src/server/status-page.js';
import { HTTP_TEST_TOKENS } from './token-cluster.js';

const TOKENS = `${HTTP_TEST_TOKENS}old:${hashToken('old-secret')}:reader:2001-01-01T00:00:00Z
`;

const nodeStatus = (): NodeStatus => ({
  id: 'n1', term: 3, vote: 'n1', role: 'leader', leader: 'n1', commit: 5, applied: 5, firstIndex: 1, lastIndex: 5, snapshotIndex: 0,
  confState: { voters: ['n1'], learners: [] }, leadTransferee: null, clusterId: 'c', members: [], leaderClientAddress: null,
});

let server: Server | undefined;
afterEach(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
  }
  server = undefined;
});

/** Starts the HTTP port as run-server does (metrics and status page routes); returns its base URL. */
async function start(authorize?: HttpAuthorize): Promise<string> {
  const sm = new LockStateMachine();
  sm.apply({ type: 'open-session', ttlMs: 10_000, client: 'secret-client' }, { index: 1, term: 1, at: 0 });
  const page = new StatusPage({ nodeStatus, sm: () => sm });
  const metrics = new Metrics();
  server = await startHttpServer({
    listen: '127.0.0.1:0',
    status: () => ({ id: 'n1', role: 'leader', term: 3, commitIndex: 5, appliedIndex: 5, clientAddress: '127.0.0.1:1', leader: 'n1' }),
    healthy: () => true,
    routes: [metrics.route(nodeStatus, () => sm), page.route()],
    ...(authorize ? { authorize } : {}),
    logger: silentLogger,
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = (url: string, token?: string, method = 'GET'): Promise<Response> => fetch(url, { method, ...(token !== undefined ? { headers: { authorization: token } } : {}) });

describe('which HTTP path needs what', () => {
  it('leaves /healthz and the page shell public, asks metrics for /metrics and read on every name elsewhere', () => {
    for (const p of ['/healthz', '/', '/status.js', '/status.css']) expect(requiredHttpAccess(p), p).toBeNull();
    expect(requiredHttpAccess('/metrics')).toEqual({ type: 'metrics' });
    for (const p of ['/status', '/api/overview', '/nope', '/metrics/', '//status', '/index.html']) expect(requiredHttpAccess(p), p).toEqual({ type: 'prefix', any: ['read'], prefix: '' });
  });

  it('makes public exactly the assets the page shell loads before it can ask for a token', () => {
    const assets = [...STATUS_HTML.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThan(0);
    expect(new Set(['/', '/healthz', ...assets])).toEqual(PUBLIC_HTTP_PATHS);
  });

  it('grants /metrics to the metrics permission or read on every name, nothing else to a metrics token', () => {
    const auth = new Authorizer(parseTokenFile(TOKENS));
    const check = (token: string, path: string): string | null => checkHttpRequest(auth, `Bearer ${token}`, path);
    expect(check('prom-secret', '/metrics')).toBe('prom');
    expect(check('viewer-secret', '/metrics')).toBe('viewer');
    expect(check('ops-secret', '/metrics')).toBe('ops');
    expect(() => check('runner-secret', '/metrics')).toThrow(/lacks the metrics permission/);
    expect(() => check('prom-secret', '/api/overview')).toThrow(/token "prom" lacks read on every name/);
    expect(() => check('runner-secret', '/status')).toThrow(/token "runner" lacks read on every name/);
    expect(check('nobody', '/healthz')).toBeNull();
  });
});

describe('the HTTP port with a token file', () => {
  const auth = (): Authorizer => new Authorizer(parseTokenFile(TOKENS));

  it.each([
    ['no header', undefined, /^a bearer token is required/, 'Bearer realm="latch"'],
    ['a wrong token', 'Bearer wrong-secret', /^unknown token$/, 'Bearer realm="latch", error="invalid_token"'],
    ['an expired token', 'Bearer old-secret', /^token "old" has expired$/, 'Bearer realm="latch", error="invalid_token"'],
    ['a non-bearer header', 'Basic b3BzOm9wcw==', /^malformed authorization header/, 'Bearer realm="latch", error="invalid_token"'],
  ])('answers %s with 401, a Bearer challenge and one line saying why, on every data route', async (_what, header, body, challenge) => {
    const a = auth();
    const base = await start((h, p) => checkHttpRequest(a, h, p));
    for (const path of ['/status', '/api/overview', '/metrics', '/nope']) {
      const res = await get(`${base}${path}`, header);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toBe(challenge);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const text = await res.text();
      expect(text.endsWith('\n') && text.split('\n').length === 2, JSON.stringify(text)).toBe(true);
      expect(text.trim()).toMatch(body);
      expect(text).not.toContain('secret-client');
    }
  });

  it('answers a valid token without the permission with 403, and the right tokens with the data', async () => {
    const a = auth();
    const base = await start((h, p) => checkHttpRequest(a, h, p));
    const status = async (path: string, token: string): Promise<number> => (await get(`${base}${path}`, `Bearer ${token}`)).status;
    const denied = await get(`${base}/api/overview`, 'Bearer runner-secret');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="latch", error="insufficient_scope"');
    expect((await denied.text()).trim()).toBe('token "runner" lacks read on every name');
    expect(await status('/status', 'runner-secret')).toBe(403);
    expect(await status('/metrics', 'runner-secret')).toBe(403);

    expect(await status('/metrics', 'prom-secret')).toBe(200);
    expect(await status('/status', 'prom-secret')).toBe(403);
    expect(await status('/api/overview', 'prom-secret')).toBe(403);

    for (const token of ['viewer-secret', 'ops-secret']) {
      for (const path of ['/status', '/api/overview', '/metrics']) expect(await status(path, token), `${token} ${path}`).toBe(200);
      expect(await status('/nope', token)).toBe(404);
    }
    const o = (await (await get(`${base}/api/overview`, 'bearer viewer-secret')).json()) as { sessions: { client: string }[] };
    expect(o.sessions.map((s) => s.client)).toEqual(['secret-client']);
  });

  it('serves /healthz and the page shell to anyone, whatever header they send', async () => {
    const a = auth();
    const base = await start((h, p) => checkHttpRequest(a, h, p));
    for (const header of [undefined, 'Bearer wrong-secret', 'Bearer runner-secret']) {
      expect((await get(`${base}/healthz`, header)).status).toBe(200);
      for (const path of ['/', '/status.js', '/status.css']) {
        const res = await get(`${base}${path}`, header);
        expect(res.status, path).toBe(200);
        expect(await res.text()).not.toContain('secret-client');
      }
    }
  });

  it('answers HEAD the same way without a body, and refuses other methods first', async () => {
    const a = auth();
    const base = await start((h, p) => checkHttpRequest(a, h, p));
    const head = await get(`${base}/status`, undefined, 'HEAD');
    expect(head.status).toBe(401);
    expect(await head.text()).toBe('');
    expect((await get(`${base}/status`, 'Bearer viewer-secret', 'HEAD')).status).toBe(200);
    expect((await get(`${base}/status`, undefined, 'POST')).status).toBe(405);
  });

  it('applies a replaced token file (SIGHUP) to the next request', async () => {
    const a = auth();
    const base = await start((h, p) => checkHttpRequest(a, h, p));
    expect((await get(`${base}/status`, 'Bearer viewer-secret')).status).toBe(200);
    a.replace(parseTokenFile(`role:reader:read:*\nfresh:${hashToken('fresh-secret')}:reader\n`));
    expect((await get(`${base}/status`, 'Bearer viewer-secret')).status).toBe(401);
    expect((await get(`${base}/status`, 'Bearer fresh-secret')).status).toBe(200);
  });

  it('turns any other error of the authorizer into a 500, not an open door', async () => {
    const base = await start(() => {
      throw new Error('boom');
    });
    expect((await get(`${base}/status`, 'Bearer viewer-secret')).status).toBe(500);
  });
});

describe('the HTTP port without a token file', () => {
  it('serves every route to anyone, as before', async () => {
    const base = await start();
    for (const path of ['/healthz', '/status', '/api/overview', '/metrics', '/']) expect((await get(`${base}${path}`)).status, path).toBe(200);
    expect((await get(`${base}/nope`)).status).toBe(404);
  });
});

describe('--listen-http', () => {
  const base = { id: 'n1', dataDir: '/tmp/x', initialCluster: 'n1=127.0.0.1:7101/127.0.0.1:7001' };

  it('defaults to loopback', () => {
    expect(resolveConfig(base).listenHttp).toBe('127.0.0.1:7201');
  });

  it('refuses a non-loopback address without a token file unless --insecure', () => {
    expect(() => resolveConfig({ ...base, listenHttp: '0.0.0.0:7201' })).toThrow(/invalid config listen-http: refusing an unauthenticated HTTP port on non-loopback 0.0.0.0:7201: give --token-file/);
    expect(() => resolveConfig({ ...base, listenHttp: '10.0.0.5:7201', cert: 'c', key: 'k', ca: 'a' })).toThrow(/listen-http/);
    expect(resolveConfig({ ...base, listenHttp: '0.0.0.0:7201', tokenFile: '/etc/latch/tokens' }).listenHttp).toBe('0.0.0.0:7201');
    expect(resolveConfig({ ...base, listenHttp: '0.0.0.0:7201', insecure: 'true' }).listenHttp).toBe('0.0.0.0:7201');
    for (const host of ['127.0.0.2', 'localhost', '[::1]']) expect(resolveConfig({ ...base, listenHttp: `${host}:7201` }).listenHttp).toBe(`${host}:7201`);
  });
});

/**
 * TLS (issue 7): a 3-node cluster of real processes with mutual TLS on client and peer listeners.
 * A client without a certificate, in plain text, or with a certificate from another CA cannot
 * connect; a peer with another CA's certificate cannot take part; none of it changes state. And a
 * node refuses plain text on a non-loopback address unless told `--insecure`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { serverArgsFor } from '../../src/cli/cluster-up.js';
import { resolveConfig } from '../../src/server/config.js';
import { CLI, startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { makePki, tlsArgs, type TestPki } from './certs.js';
import { RawClient } from '../helpers/raw-client.js';

let pki: TestPki;
let other: TestPki;
let cluster: TestCluster;
const clients: LatchClient[] = [];
let rogue: ChildProcess | undefined;

const creds = (p: TestPki, who: 'client' | 'node' = 'client') =>
  credentials.createSsl(readFileSync(p.ca.cert), readFileSync(p[who].key), readFileSync(p[who].cert));

async function connect(c: ReturnType<typeof credentials.createSsl> | ReturnType<typeof credentials.createInsecure>): Promise<LatchClient> {
  const client = await LatchClient.connect({ endpoints: cluster.endpoints, credentials: c, connectTimeoutMs: 2_000, callTimeoutMs: 3_000 });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  pki = makePki('cluster');
  other = makePki('other');
  cluster = await startTestCluster({ nodes: 3, extraArgs: tlsArgs(pki) });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (rogue?.pid && rogue.exitCode === null && rogue.signalCode === null) process.kill(rogue.pid, 'SIGKILL');
  await cluster?.stop();
  for (const p of [pki, other]) if (p) rmSync(p.dir, { recursive: true, force: true });
});

describe('mutual TLS', () => {
  it('serves a client with a certificate from the cluster CA and refuses everyone else without changing state', async () => {
    const good = await connect(creds(pki));
    const session = await good.session({ ttlMs: 30_000 });
    const lock = await session.lock('tls/ok');
    expect(lock.token).toBeGreaterThan(0n);
    const before = (await good.sessions()).map((s) => s.sessionId);

    // Plain text, TLS without a client certificate, and a client certificate from another CA.
    await expect(connect(credentials.createInsecure())).rejects.toThrow();
    await expect(connect(credentials.createSsl(readFileSync(pki.ca.cert)))).rejects.toThrow();
    await expect(connect(creds(other))).rejects.toThrow();
    // A client that trusts another CA does not accept the cluster's server certificate either.
    await expect(connect(credentials.createSsl(readFileSync(other.ca.cert), readFileSync(pki.client.key), readFileSync(pki.client.cert)))).rejects.toThrow();
    // Refused clients that skip the status check cannot open sessions either.
    const blind = await LatchClient.connect({ endpoints: cluster.endpoints, credentials: creds(other), verify: false, callTimeoutMs: 2_000 });
    clients.push(blind);
    await expect(blind.session({ ttlMs: 30_000 })).rejects.toThrow();

    expect((await good.sessions()).map((s) => s.sessionId)).toEqual(before);
    expect((await good.lockInfo('tls/ok')).holders.map((h) => h.sessionId)).toEqual([session.id]);
    await session.close();
  });

  it('binds a session to the client certificate that opened it: another certificate of the same CA cannot use or close it', async () => {
    const good = await connect(creds(pki));
    const session = await good.session({ ttlMs: 30_000 });
    const lock = await session.lock('tls/owned');
    const leader = (await good.status()).leaderClientAddress;
    expect(leader).toBeTruthy();
    const other = new RawClient(leader!, true, undefined, creds(pki, 'node'));
    const own = new RawClient(leader!, true, undefined, creds(pki));
    try {
      for (const [service, method, req] of [
        ['Sessions', 'close', { sessionId: session.id.toString(), requestSeq: '900' }],
        ['Locks', 'release', { sessionId: session.id.toString(), requestSeq: '901', name: 'tls/owned' }],
      ] as const) {
        const r = await other.attempt(service, method, req);
        expect(r.ok ? 'ok' : r.error.latchCode, `${service}.${method}`).toBe('PERMISSION_DENIED');
      }
      expect((await good.lockInfo('tls/owned')).holders.map((h) => h.sessionId)).toEqual([session.id]);
      expect(lock.held).toBe(true);
      // The same certificate as the session's own client is its owner.
      const ka = await own.keepAliveOnce({ sessionId: session.id.toString(), nonce: '1' });
      expect(ka['expired']).toBe(false);
    } finally {
      other.close();
      own.close();
    }
    await session.close();
  });

  it('keeps a peer with another CA\'s certificate out, and lets it back in with the cluster\'s', async () => {
    const leader = await cluster.leader();
    const target = cluster.nodes.find((n) => n.id !== leader)!.id;
    await cluster.kill(target, 'SIGKILL');
    const node = cluster.nodes.find((n) => n.id === target)!;
    rogue = spawn(process.execPath, [CLI, ...serverArgsFor(node, cluster.nodes, 'info'), '--heartbeat-ms', '50', '--election-timeout-ms', '500', ...tlsArgs(other)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rogueOut = '';
    rogue.stdout?.on('data', (d: Buffer) => (rogueOut += d.toString()));
    rogue.stderr?.on('data', (d: Buffer) => (rogueOut += d.toString()));
    await waitFor(async () => (await fetch(`http://${node.httpAddress}/status`)).ok, 20_000, 'the rogue node to serve HTTP');
    const rogueApplied = Number((await cluster.status(target)).appliedIndex);

    const good = await connect(creds(pki));
    const s = await good.session({ ttlMs: 30_000 });
    await s.lock('tls/after-rogue');
    const leaderNow = await cluster.leader();
    const committed = Number((await cluster.status(leaderNow)).commitIndex);
    expect(committed).toBeGreaterThan(rogueApplied);
    // Give the rogue every chance (many heartbeats and election timeouts) to catch up or disrupt.
    await new Promise((r) => setTimeout(r, 3_000));
    const st = await cluster.status(target);
    expect(Number(st.appliedIndex)).toBe(rogueApplied);
    expect(st.role).not.toBe('leader');
    expect(await cluster.leader()).toBe(leaderNow);

    const exited = new Promise<void>((r) => rogue!.once('exit', () => r()));
    process.kill(rogue.pid!, 'SIGKILL');
    await exited;
    expect(rogueOut).not.toContain('"level":60');
    // Same data dir, the cluster's certificate: it catches up, which shows the refusal was the CA.
    await cluster.start(target);
    await waitFor(async () => Number((await cluster.status(target)).appliedIndex) >= committed, 20_000, `${target} to catch up`);
    await s.close();
  });
});

describe('plain text on a non-loopback address', () => {
  const base = { id: 'n1', dataDir: '/tmp/x', initialCluster: 'n1=127.0.0.1:7101/127.0.0.1:7001' };

  it('is refused in one line unless --insecure, and TLS needs cert, key and ca together', () => {
    expect(() => resolveConfig({ ...base, listenClient: '0.0.0.0:7001' })).toThrow(/listen-client: refusing plain text on non-loopback 0.0.0.0:7001/);
    expect(() => resolveConfig({ ...base, listenPeer: '10.1.2.3:7101' })).toThrow(/listen-peer/);
    expect(resolveConfig({ ...base, listenClient: '0.0.0.0:7001', insecure: 'true' }).insecure).toBe(true);
    expect(resolveConfig({ ...base, listenClient: '[::1]:7001' }).tls).toBeNull();
    expect(resolveConfig({ ...base, listenClient: '0.0.0.0:7001', cert: 'c', key: 'k', ca: 'a' }).tls).toEqual({ cert: 'c', key: 'k', ca: 'a' });
    expect(() => resolveConfig({ ...base, cert: 'c', key: 'k' })).toThrow(/invalid config ca: TLS needs all of --cert, --key and --ca/);
    expect(() => resolveConfig({ ...base, insecure: 'maybe' })).toThrow(/insecure/);
  });

  it('makes `latch server` exit 2 with one line, and --insecure / --check-config accept it', () => {
    const args = ['server', '--id', 'n1', '--data-dir', '/tmp/latch-never-created', '--initial-cluster', 'n1=127.0.0.1:7101/127.0.0.1:7001', '--listen-client', '0.0.0.0:7001'];
    const refused = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim().split('\n')).toEqual(['latch: invalid config listen-client: refusing plain text on non-loopback 0.0.0.0:7001: give --cert, --key and --ca, or --insecure to accept it']);
    const checked = spawnSync(process.execPath, [CLI, ...args, '--insecure', '--check-config'], { encoding: 'utf8', timeout: 20_000 });
    expect(checked.status).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ id: 'n1', insecure: true, listenClient: '0.0.0.0:7001', tls: null });
  });

  it('stops a node whose certificate files are missing or not PEM, before it listens', () => {
    const args = ['server', '--id', 'n1', '--data-dir', '/tmp/latch-never-created', '--initial-cluster', 'n1=127.0.0.1:7101/127.0.0.1:7001'];
    const missing = spawnSync(process.execPath, [CLI, ...args, '--cert', '/nonexistent.crt', '--key', pki.node.key, '--ca', pki.ca.cert], { encoding: 'utf8', timeout: 20_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('invalid config cert: cannot read /nonexistent.crt: ENOENT');
    const notPem = spawnSync(process.execPath, [CLI, ...args, '--cert', pki.node.cert, '--key', pki.node.cert, '--ca', pki.ca.cert], { encoding: 'utf8', timeout: 20_000 });
    expect(notPem.status).toBe(2);
    expect(notPem.stderr).toContain('holds no PEM private key');
  });
});

/**
 * Membership changes on real processes under load (issue 7): grow a 3-node cluster to 5 with
 * `latch members add` (a learner that catches up and is promoted) and shrink it back with
 * `latch members remove`, while a client keeps taking locks; every acknowledged lock is there at
 * the end. A joining node never campaigns while it is a learner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient, type Session } from '../../src/client/index.js';
import { localClusterLayout, serverArgsFor, type LocalNode } from '../../src/cli/cluster-up.js';
import { CLI, freeBasePort, startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';

let cluster: TestCluster;
const extra: ChildProcess[] = [];
let client: LatchClient;
let stopLoad = false;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI; resolves when it exits. */
function latch(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function startExtra(node: LocalNode, all: readonly LocalNode[], join: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...serverArgsFor(node, all, 'info'), '--heartbeat-ms', '50', '--election-timeout-ms', '500', '--join', join], { stdio: ['ignore', 'ignore', 'ignore'] });
  extra.push(child);
  return child;
}

async function stopExtra(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

async function httpStatus(node: LocalNode): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://${node.httpAddress}/status`)).json()) as Record<string, unknown>;
}

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 3 });
  client = await LatchClient.connect({ endpoints: cluster.endpoints });
});

afterAll(async () => {
  stopLoad = true;
  await client?.close();
  for (const c of extra) await stopExtra(c);
  await cluster?.stop();
});

describe('latch members', () => {
  it('grows 3 → 5 and shrinks back to 3 under load without losing an acknowledged lock', async () => {
    // n4 and n5 get ports checked free (the cluster helper only checked three nodes' ports).
    const spare = localClusterLayout(5, cluster.dir, await freeBasePort(5));
    const [n4, n5] = [spare[3]!, spare[4]!];
    const five = [...cluster.nodes, n4, n5];
    const eps = ['--endpoints', cluster.endpoints.join(',')];

    // Load: one session taking distinct locks; each acknowledged one is recorded.
    const session: Session = await client.session({ ttlMs: 30_000 });
    const acked: string[] = [];
    let failures = 0;
    const load = (async () => {
      for (let i = 0; !stopLoad; i++) {
        try {
          await session.lock(`load/${i}`);
          acked.push(`load/${i}`);
        } catch {
          failures++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();

    const listed = await latch(['members', 'list', ...eps, '--json']);
    expect(listed.code).toBe(0);
    const clusterId = (JSON.parse(listed.stdout) as { clusterId: string }).clusterId;
    expect(clusterId).toMatch(/^[0-9a-f]{16}$/);

    // n4: add as a learner, start it, check it never leads or votes, then promote it.
    const add4 = await latch(['members', 'add', 'n4', n4.peerAddress, n4.clientAddress, '--learner', ...eps]);
    expect(add4.code, add4.stderr).toBe(0);
    expect(add4.stdout).toContain(`--join ${clusterId}`);
    startExtra(n4, five.slice(0, 4), clusterId);
    await waitFor(async () => (await httpStatus(n4)).leader !== null, 20_000, 'n4 to hear from the leader');
    const learnerList = JSON.parse((await latch(['members', 'list', ...eps, '--json'])).stdout) as { members: { id: string; learner: boolean }[] };
    expect(learnerList.members.find((m) => m.id === 'n4')?.learner).toBe(true);
    expect((await httpStatus(n4)).role).toBe('follower');
    const promote4 = await latch(['members', 'promote', 'n4', '--timeout', '30s', ...eps]);
    expect(promote4.code, promote4.stderr).toBe(0);
    expect(promote4.stdout).toContain('promoted n4 to voter');

    // n5: the one-step `add` (learner, wait for catch-up, promote) with the node started meanwhile.
    const add5 = latch(['members', 'add', 'n5', n5.peerAddress, n5.clientAddress, '--timeout', '30s', ...eps]);
    await waitFor(async () => JSON.parse((await latch(['members', 'list', ...eps, '--json'])).stdout).members.some((m: { id: string }) => m.id === 'n5'), 20_000, 'n5 to be added');
    startExtra(n5, five, clusterId);
    const r5 = await add5;
    expect(r5.code, r5.stderr).toBe(0);
    const grown = JSON.parse((await latch(['members', 'list', ...eps, '--json'])).stdout) as { members: { id: string; learner: boolean; hasProgress: boolean }[] };
    expect(grown.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(grown.members.every((m) => !m.learner && m.hasProgress)).toBe(true);
    const mid = acked.length;

    const text = (await latch(['members', 'list', ...eps])).stdout;
    expect(text).toMatch(/^n5\s+voter\s+/m);

    // Shrink back.
    for (const id of ['n5', 'n4']) {
      const r = await latch(['members', 'remove', id, ...eps]);
      expect(r.code, r.stderr).toBe(0);
    }
    const shrunk = JSON.parse((await latch(['members', 'list', ...eps, '--json'])).stdout) as { members: { id: string }[] };
    expect(shrunk.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const c of extra) await stopExtra(c);
    await waitFor(() => acked.length > mid + 5, 20_000, 'locks to keep being granted after the shrink');

    stopLoad = true;
    await load;
    const held = new Set((await client.locks('load/')).map((l) => l.name));
    for (const name of acked) expect(held.has(name), `${name} was acknowledged`).toBe(true);
    expect(acked.length).toBeGreaterThan(20);
    expect(failures).toBeLessThan(acked.length);
    await session.close();
  });

  it('refuses bad member changes with a clear error and changes nothing', async () => {
    const eps = ['--endpoints', cluster.endpoints.join(',')];
    const before = (await latch(['members', 'list', ...eps, '--json'])).stdout;
    const dup = await latch(['members', 'add', 'n1', '127.0.0.1:1', '127.0.0.1:2', '--learner', ...eps]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('n1 is already a member');
    const badId = await latch(['members', 'remove', 'bad id!', ...eps]);
    expect(badId.code).toBe(2);
    const unknown = await latch(['members', 'remove', 'n9', ...eps]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('n9 is not a member');
    const notLearner = await latch(['members', 'promote', 'n2', '--timeout', '1s', ...eps]);
    expect(notLearner.code).toBe(1);
    expect(notLearner.stderr).toContain('n2 is not a learner');
    const badAddr = await latch(['members', 'add', 'n7', 'nowhere', '127.0.0.1:2', ...eps]);
    expect(badAddr.code).toBe(2);
    const after = JSON.parse((await latch(['members', 'list', ...eps, '--json'])).stdout) as { members: unknown[] };
    expect(after.members).toEqual((JSON.parse(before) as { members: unknown[] }).members.map((m) => expect.objectContaining({ id: (m as { id: string }).id })));
  });
});

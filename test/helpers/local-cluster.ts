/**
 * Real `latch server` processes on 127.0.0.1 for integration tests. Each test that starts a cluster
 * stops it (by PID) in its own teardown. Runs the built CLI from dist/ (npm test builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localClusterLayout, serverArgsFor, type LocalNode } from '../../src/cli/cluster-up.js';

/** Path of the built CLI. */
export const CLI = resolve(import.meta.dirname, '../../dist/src/cli/main.js');

/** A running test cluster. */
export interface TestCluster {
  readonly nodes: readonly LocalNode[];
  /** Client endpoints of every node (host:port). */
  readonly endpoints: readonly string[];
  readonly dir: string;
  /** PID of a running node, or undefined. */
  pid(id: string): number | undefined;
  /** Sends `signal` (default SIGKILL) to a node and waits for it to exit. */
  kill(id: string, signal?: NodeJS.Signals): Promise<void>;
  /** (Re)starts a node from its data dir. */
  start(id: string): Promise<void>;
  /** The id of the node every live node agrees is leader (waits up to `timeoutMs`). */
  leader(timeoutMs?: number): Promise<string>;
  /** GET /status of one node. */
  status(id: string): Promise<Record<string, unknown>>;
  /** Everything a node printed (stdout+stderr). */
  output(id: string): string;
  /** Stops every node (SIGKILL by PID) and removes the data dir. */
  stop(): Promise<void>;
}

/** Options for a test cluster. */
export interface TestClusterOptions {
  readonly nodes?: number;
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
  readonly snapshotThreshold?: number;
  readonly extraArgs?: readonly string[];
  readonly logLevel?: string;
  /** Extra arguments for `node` itself, before the CLI path (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Bearer token (read on every name) for the helper's own `/status` calls, when `extraArgs` has `--token-file`. */
  readonly httpToken?: string;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** Picks a base port whose client, peer and HTTP ports are all free. */
export async function freeBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below the ephemeral range (32768+), so outgoing connections never hold our ports.
    const base = 20_000 + Math.floor(Math.random() * 120) * 100;
    let ok = true;
    for (let i = 1; i <= nodes && ok; i++) {
      for (const p of [base + i, base + 100 + i, base + 200 + i]) if (!(await portFree(p))) ok = false;
    }
    if (ok) return base;
  }
  throw new Error('no free base port found');
}

/** Waits until `fn` returns a truthy value (polling), or throws after `timeoutMs` with `what`. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a cluster of real server processes and waits for a leader. */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const n = opts.nodes ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'latch-test-'));
  const base = await freeBasePort(n);
  const nodes = localClusterLayout(n, dir, base);
  const procs = new Map<string, ChildProcess>();
  const httpInit: RequestInit = opts.httpToken ? { headers: { authorization: `Bearer ${opts.httpToken}` } } : {};
  const outputs = new Map<string, string[]>();
  const extra = [
    '--heartbeat-ms', String(opts.heartbeatMs ?? 50),
    '--election-timeout-ms', String(opts.electionTimeoutMs ?? 500),
    ...(opts.snapshotThreshold ? ['--snapshot-threshold', String(opts.snapshotThreshold)] : []),
    ...(opts.extraArgs ?? []),
  ];

  const byId = (id: string): LocalNode => {
    const node = nodes.find((x) => x.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  };

  const start = async (id: string): Promise<void> => {
    const prev = procs.get(id);
    if (prev && prev.exitCode === null && prev.signalCode === null) throw new Error(`${id} is already running`);
    const node = byId(id);
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...serverArgsFor(node, nodes, opts.logLevel ?? 'info'), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    const buf = outputs.get(id) ?? [];
    outputs.set(id, buf);
    child.stdout?.on('data', (d: Buffer) => buf.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => buf.push(d.toString()));
    procs.set(id, child);
    await waitFor(async () => (await fetch(`http://${node.httpAddress}/status`, httpInit)).ok, 20_000, `${id} to serve HTTP`).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- ${id} output ---\n${buf.join('')}`);
    });
  };

  const kill = async (id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const child = procs.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (child.pid) process.kill(child.pid, signal);
    await exited;
  };

  const status = async (id: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://${byId(id).httpAddress}/status`, httpInit);
    return (await res.json()) as Record<string, unknown>;
  };

  const running = (): string[] => nodes.filter((x) => procs.get(x.id)?.exitCode === null && procs.get(x.id)?.signalCode === null).map((x) => x.id);

  const leader = async (timeoutMs = 20_000): Promise<string> =>
    waitFor(
      async () => {
        const ids = running();
        const sts = await Promise.all(ids.map((id) => status(id).catch(() => undefined)));
        const leaders = sts.filter((s) => s?.role === 'leader').map((s) => String(s?.id));
        if (leaders.length !== 1) return undefined;
        const l = leaders[0]!;
        const ldr = sts.find((s) => s?.id === l);
        // Every live node should know the leader of the leader's term.
        return sts.every((s) => s && (s.leader === l || Number(s.term) < Number(ldr?.term))) ? l : undefined;
      },
      timeoutMs,
      'a single leader',
    );

  const cluster: TestCluster = {
    nodes,
    endpoints: nodes.map((x) => x.clientAddress),
    dir,
    pid: (id) => {
      const c = procs.get(id);
      return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
    },
    kill,
    start,
    leader,
    status,
    output: (id) => (outputs.get(id) ?? []).join(''),
    stop: async () => {
      await Promise.all(nodes.map((x) => kill(x.id, 'SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((x) => start(x.id)));
    await leader();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

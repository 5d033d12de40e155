/**
 * `latch cluster up`: a local development cluster of real `latch server` processes on 127.0.0.1.
 * Node i is `n<i>`: clients on base+i, peers on base+100+i, HTTP on base+200+i.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatLogLine } from './log-format.js';

/** Options of `latch cluster up`. */
export interface ClusterUpOptions {
  readonly nodes: number;
  readonly dir: string;
  readonly basePort: number;
  readonly logLevel: string;
  /** Extra `latch server` flags passed to every node (e.g. timings). */
  readonly serverArgs?: readonly string[];
}

/** One node of a local cluster: its id and ports. */
export interface LocalNode {
  readonly id: string;
  readonly clientAddress: string;
  readonly peerAddress: string;
  readonly httpAddress: string;
  readonly dataDir: string;
}

/** The layout of a local cluster (ids, ports, data dirs) for `nodes` nodes from `basePort`. */
export function localClusterLayout(nodes: number, dir: string, basePort: number): LocalNode[] {
  return Array.from({ length: nodes }, (_, k) => {
    const i = k + 1;
    return {
      id: `n${i}`,
      clientAddress: `127.0.0.1:${basePort + i}`,
      peerAddress: `127.0.0.1:${basePort + 100 + i}`,
      httpAddress: `127.0.0.1:${basePort + 200 + i}`,
      dataDir: join(resolve(dir), `n${i}`),
    };
  });
}

/** The `latch server` arguments for one node of a local cluster. */
export function serverArgsFor(node: LocalNode, all: readonly LocalNode[], logLevel: string): string[] {
  const initial = all.map((n) => `${n.id}=${n.peerAddress}/${n.clientAddress}`).join(',');
  return [
    'server',
    '--id', node.id,
    '--data-dir', node.dataDir,
    '--listen-client', node.clientAddress,
    '--listen-peer', node.peerAddress,
    '--listen-http', node.httpAddress,
    '--initial-cluster', initial,
    '--log-level', logLevel,
  ];
}

/** The command line that runs this CLI again (node + loader flags + main script). */
export function selfCommand(): { cmd: string; args: string[] } {
  const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url));
  return { cmd: process.execPath, args: [...process.execArgv, main] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the cluster and resolves with the exit code once every node has stopped. */
export async function clusterUp(opts: ClusterUpOptions): Promise<number> {
  if (opts.nodes !== 3 && opts.nodes !== 5) {
    process.stderr.write(`latch cluster up: --nodes must be 3 or 5, got ${opts.nodes}\n`);
    return 2;
  }
  const layout = localClusterLayout(opts.nodes, opts.dir, opts.basePort);
  for (const n of layout) {
    const pidFile = join(n.dataDir, 'latch.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        process.stderr.write(`latch cluster up: ${n.id} is already running (pid ${pid}, ${pidFile}); stop it first\n`);
        return 2;
      }
    }
  }
  const self = selfCommand();
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const out = (id: string, line: string): void => {
    process.stdout.write(`${id.padEnd(3)} | ${formatLogLine(line)}\n`);
  };
  const done = new Promise<number>((resolveDone) => {
    let remaining = layout.length;
    let worst = 0;
    for (const n of layout) {
      mkdirSync(n.dataDir, { recursive: true });
      const child = spawn(self.cmd, [...self.args, ...serverArgsFor(n, layout, opts.logLevel), ...(opts.serverArgs ?? [])], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.set(n.id, child);
      const pidFile = join(n.dataDir, 'latch.pid');
      if (child.pid) writeFileSync(pidFile, `${child.pid}\n`);
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (l) => out(n.id, l));
      }
      child.on('exit', (code, signal) => {
        out(n.id, `exited (${signal ? `signal ${signal}` : `code ${code}`})${stopping ? '' : '; not restarting it'}`);
        rmSync(pidFile, { force: true });
        if (!stopping && code !== 0) worst = 1;
        if (--remaining === 0) resolveDone(worst);
      });
    }
  });
  process.stdout.write(
    `latch: started ${layout.length} nodes; clients at ${layout.map((n) => n.clientAddress).join(',')}; data in ${resolve(opts.dir)}; Ctrl-C stops them\n`,
  );
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('latch: stopping the cluster\n');
    for (const c of children.values()) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    setTimeout(() => {
      for (const c of children.values()) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
    }, 10_000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return code;
}

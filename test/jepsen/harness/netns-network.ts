/**
 * The namespace network (`--netns`, root only): each node runs in its own network namespace with
 * one veth into a bridge namespace; the harness's namespace joins the same bridge, so clients
 * reach every node at 10.x.y.i. Faults use `ip` only (there is no `tc netem`): a node is cut off
 * by taking its bridge port down, and a bridge topology by port isolation (isolated ports reach
 * only non-isolated ones). So a split isolates every node outside the largest group (a minority
 * of two becomes two single nodes), a bridge of more than three nodes becomes a star around the
 * bridge node, and one-way loss and delays are not available.
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { assertNever } from '../../../src/common/assert.js';
import { HarnessError } from './harness-error.js';
import type { Applied, Network, NodeLaunch, PartitionStyle } from './network.js';
import { describePartition, type Partition } from './partitions.js';

const run = promisify(execFile);

const CLIENT_PORT = 7001;
const PEER_PORT = 7101;
const HTTP_PORT = 7201;

/** Runs `ip` with `args`; a HarnessError NETWORK with its stderr on failure. */
async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', [...args]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new HarnessError('NETWORK', `ip ${args.join(' ')} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

/** True when this process may create network namespaces (root on Linux). */
export function canUseNetns(): boolean {
  return process.platform === 'linux' && typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Namespaces joined by a bridge; see the file comment. */
export class NetnsNetwork implements Network {
  readonly kind = 'netns' as const;
  private readonly down = new Set<string>();
  private readonly isolated = new Set<string>();
  private closed = false;
  private current = 'healthy';

  private constructor(
    readonly nodes: readonly string[],
    private readonly prefix: string,
    private readonly subnet: string,
  ) {}

  /** Creates the namespaces, veths and bridge. Throws NOT_ROOT when not root. */
  static async create(nodes: readonly string[]): Promise<NetnsNetwork> {
    if (!canUseNetns()) throw new HarnessError('NOT_ROOT', '--netns needs root on Linux (it creates network namespaces); run without --netns to use TCP proxies');
    const tag = randomInt(0x1000, 0xffff).toString(16);
    const net = new NetnsNetwork(nodes, `lj${tag}`, `10.${200 + randomInt(0, 50)}.${randomInt(0, 255)}`);
    try {
      await net.setup();
    } catch (err) {
      await net.close();
      throw err;
    }
    return net;
  }

  private ns(id: string): string {
    return `${this.prefix}-${id}`;
  }

  private get bridgeNs(): string {
    return `${this.prefix}-br`;
  }

  private port(i: number): string {
    return `${this.prefix}b${i}`;
  }

  private addr(id: string): string {
    return `${this.subnet}.${this.nodes.indexOf(id) + 1}`;
  }

  private async setup(): Promise<void> {
    const br = this.bridgeNs;
    await ip(['netns', 'add', br]);
    await ip(['-n', br, 'link', 'set', 'lo', 'up']);
    await ip(['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', br, 'link', 'set', 'br0', 'up']);
    for (const [i, id] of this.nodes.entries()) {
      const ns = this.ns(id);
      const inner = `${this.prefix}n${i}`;
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['link', 'add', inner, 'type', 'veth', 'peer', 'name', this.port(i)]);
      await ip(['link', 'set', inner, 'netns', ns]);
      await ip(['link', 'set', this.port(i), 'netns', br]);
      await ip(['-n', ns, 'link', 'set', inner, 'name', 'eth0']);
      await ip(['-n', ns, 'addr', 'add', `${this.addr(id)}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', br, 'link', 'set', this.port(i), 'master', 'br0']);
      await ip(['-n', br, 'link', 'set', this.port(i), 'up']);
    }
    const host = `${this.prefix}h`;
    await ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', `${this.prefix}hb`]);
    await ip(['link', 'set', `${this.prefix}hb`, 'netns', br]);
    await ip(['-n', br, 'link', 'set', `${this.prefix}hb`, 'master', 'br0']);
    await ip(['-n', br, 'link', 'set', `${this.prefix}hb`, 'up']);
    await ip(['addr', 'add', `${this.subnet}.254/24`, 'dev', host]);
    await ip(['link', 'set', host, 'up']);
  }

  launch(id: string): NodeLaunch {
    if (!this.nodes.includes(id)) throw new HarnessError('NETWORK', `unknown node ${id}`);
    const a = this.addr(id);
    return {
      listenClient: `${a}:${CLIENT_PORT}`,
      listenPeer: `${a}:${PEER_PORT}`,
      listenHttp: `${a}:${HTTP_PORT}`,
      clientAddress: `${a}:${CLIENT_PORT}`,
      httpAddress: `${a}:${HTTP_PORT}`,
      initialCluster: this.nodes.map((x) => `${x}=${this.addr(x)}:${PEER_PORT}/${this.addr(x)}:${CLIENT_PORT}`).join(','),
      // Plain text off loopback, inside namespaces only this harness can reach.
      serverArgs: ['--insecure'],
      // `ip netns exec` execs the command, so the PID the harness signals is the server's.
      wrap: (command, args) => ({ command: 'ip', args: ['netns', 'exec', this.ns(id), command, ...args] }),
    };
  }

  memberAddress(id: string): { readonly peer: string; readonly client: string } {
    if (!this.nodes.includes(id)) throw new HarnessError('NETWORK', `unknown node ${id}`);
    return { peer: `${this.addr(id)}:${PEER_PORT}`, client: `${this.addr(id)}:${CLIENT_PORT}` };
  }

  async partition(p: Partition, _style: PartitionStyle): Promise<Applied> {
    await this.heal();
    switch (p.type) {
      case 'split': {
        const groups = [...p.groups].sort((a, b) => b.length - a.length);
        const keep = new Set(groups[0] ?? []);
        const cut = this.nodes.filter((n) => !keep.has(n));
        for (const n of cut) await this.setPort(n, 'down');
        this.current = `${describePartition(p)} (ports down: ${cut.join(' ')})`;
        return { ok: true, description: this.current };
      }
      case 'bridge': {
        const iso = [...p.left, ...p.right];
        for (const n of iso) await this.setIsolated(n, true);
        this.current = `${describePartition(p)} (isolated ports: ${iso.join(' ')}; only ${p.bridge} reaches them)`;
        return { ok: true, description: this.current };
      }
      case 'one-way':
        return { ok: false, reason: 'one-way loss needs the proxy network (ip link down cuts both directions)' };
      default:
        return assertNever(p, 'partition');
    }
  }

  slow(_delayMs: number): Promise<Applied> {
    return Promise.resolve({ ok: false, reason: 'delays need tc netem, which this machine lacks; use the proxy network' });
  }

  async heal(): Promise<void> {
    for (const n of [...this.down]) await this.setPort(n, 'up');
    for (const n of [...this.isolated]) await this.setIsolated(n, false);
    this.current = 'healthy';
  }

  describe(): string {
    return this.current;
  }

  stats(): Record<string, number> {
    return { portsDown: this.down.size, portsIsolated: this.isolated.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.nodes) await ip(['netns', 'del', this.ns(id)]).catch(() => undefined);
    await ip(['netns', 'del', this.bridgeNs]).catch(() => undefined);
    await ip(['link', 'del', `${this.prefix}h`]).catch(() => undefined);
  }

  private async setPort(id: string, state: 'up' | 'down'): Promise<void> {
    await ip(['-n', this.bridgeNs, 'link', 'set', this.port(this.nodes.indexOf(id)), state]);
    if (state === 'down') this.down.add(id);
    else this.down.delete(id);
  }

  private async setIsolated(id: string, on: boolean): Promise<void> {
    await ip(['-n', this.bridgeNs, 'link', 'set', 'dev', this.port(this.nodes.indexOf(id)), 'type', 'bridge_slave', 'isolated', on ? 'on' : 'off']);
    if (on) this.isolated.add(id);
    else this.isolated.delete(id);
  }
}

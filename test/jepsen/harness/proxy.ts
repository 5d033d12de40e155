/**
 * A TCP proxy for one directed peer link `source → target`: node `source` dials the proxy's
 * address instead of `target`'s peer listener. What each connection suffers is read from a
 * FaultLookup under the link (actual source, target), so cuts, black holes and delays can be set
 * per link and per byte direction, and changed while connections are open:
 *
 * - `cut`: open connections are reset; new ones are accepted and reset at once.
 * - `drop` in a direction: bytes in that direction are discarded (the connection stays open and
 *   hangs, as with lost packets). Because TCP is a byte stream, a connection that lost bytes can
 *   never carry a valid frame again, so it is reset when that direction passes again.
 * - `delayMs` in a direction: every chunk is held that long; order is kept.
 *
 * The actual source of a connection is the link's nominal source unless `identify` names another
 * node (a node may dial through another node's proxy after adopting its address book from a
 * snapshot); such connections count as `misrouted`, and get the faults of their real link once
 * identified (identification runs alongside the traffic, which starts under the nominal link).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { flowOf, type FaultLookup, type FlowDirection } from './link-faults.js';
import { HarnessError } from './harness-error.js';

/** Options of `LinkProxy.start`. */
export interface LinkProxyOptions {
  /** The nominal source node id. */
  readonly source: string;
  /** The target node id. */
  readonly target: string;
  /** The target's real peer address, `host:port`. */
  readonly targetAddress: string;
  /** Where to listen; default `127.0.0.1:0` (an ephemeral port). */
  readonly listen?: string;
  readonly faults: FaultLookup;
  /** Names the node that opened `socket`, when it can tell; the nominal source otherwise. */
  readonly identify?: (socket: Socket) => Promise<string | undefined>;
}

/** Counters of one proxy. */
export interface ProxyStats {
  readonly accepted: number;
  /** Connections reset at once because the link was cut (or the target refused). */
  readonly refused: number;
  /** Connections reset by a fault change (cut, or healed after losing bytes). */
  readonly reset: number;
  readonly open: number;
  /** Connections whose identified source was not the nominal one. */
  readonly misrouted: number;
  readonly bytesForward: number;
  readonly bytesBackward: number;
  readonly droppedForward: number;
  readonly droppedBackward: number;
}

interface Conn {
  /** The node that opened the connection (the nominal source until identified otherwise). */
  source: string;
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Whether the upstream connection to the target was established. */
  connected: boolean;
  /** Directions that lost bytes since the connection opened. */
  readonly lost: Set<FlowDirection>;
  /** When the last delayed chunk of each direction is due (keeps order under changing delays). */
  readonly due: Record<FlowDirection, number>;
  closed: boolean;
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new HarnessError('NETWORK', `"${s}" is not host:port`);
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** One listening proxy; see the file comment. */
export class LinkProxy {
  private readonly conns = new Set<Conn>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private closing: Promise<void> | undefined;
  private counters = { accepted: 0, refused: 0, reset: 0, misrouted: 0, bytesForward: 0, bytesBackward: 0, droppedForward: 0, droppedBackward: 0 };

  private constructor(
    private readonly opts: LinkProxyOptions,
    private readonly server: Server,
    /** The address the proxy listens on, `host:port`. */
    readonly address: string,
  ) {
    this.unsubscribe = opts.faults.onChange(() => this.refresh());
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: LinkProxyOptions): Promise<LinkProxy> {
    const target = splitHostPort(opts.targetAddress);
    const listen = splitHostPort(opts.listen ?? '127.0.0.1:0');
    let proxy: LinkProxy | undefined;
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      if (proxy) proxy.accept(socket, target);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new HarnessError('NETWORK', `proxy ${opts.source}->${opts.target} cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { cause: err })));
      server.listen(listen.port, listen.host, () => resolve());
    });
    server.on('error', () => undefined);
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new HarnessError('NETWORK', 'proxy has no TCP address');
    proxy = new LinkProxy(opts, server, `${listen.host}:${addr.port}`);
    return proxy;
  }

  /** Counters so far. */
  stats(): ProxyStats {
    return { ...this.counters, open: this.conns.size };
  }

  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.unsubscribe();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      for (const c of [...this.conns]) this.destroy(c, 'hard');
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    })();
    return this.closing;
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    this.counters.accepted++;
    client.on('error', () => undefined);
    if (this.opts.faults.get(this.opts.source, this.opts.target).type === 'cut' && this.opts.identify) {
      // Refusing needs to know whose connection this is: it may come from a node whose link is fine.
      void this.opts
        .identify(client)
        .catch(() => undefined)
        .then((source) => this.open(client, target, source ?? this.opts.source, false));
      return;
    }
    this.open(client, target, this.opts.source, true);
  }

  /**
   * Admits or refuses a connection from `source`. With `identifyLater`, traffic starts under that
   * link's faults while identification runs alongside (it reads /proc, which can take a while on a
   * busy machine) and moves the connection to its real link.
   */
  private open(client: Socket, target: { host: string; port: number }, source: string, identifyLater: boolean): void {
    if (this.closing || client.destroyed) {
      client.destroy();
      return;
    }
    if (source !== this.opts.source) this.counters.misrouted++;
    const conn: Conn = { source, client, upstream: undefined, connected: false, lost: new Set(), due: { forward: 0, backward: 0 }, closed: false };
    if (this.opts.faults.get(source, this.opts.target).type === 'cut') {
      this.counters.refused++;
      client.resetAndDestroy();
      return;
    }
    this.conns.add(conn);
    if (identifyLater) void this.identify(conn);
    const upstream = connect({ host: target.host, port: target.port, noDelay: true });
    conn.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.once('connect', () => {
      conn.connected = true;
      if (!conn.closed) client.resume();
    });
    upstream.on('data', (chunk: Buffer) => this.flow(conn, 'backward', chunk));
    client.on('data', (chunk: Buffer) => this.flow(conn, 'forward', chunk));
    client.on('end', () => this.endLater(conn, 'forward'));
    upstream.on('end', () => this.endLater(conn, 'backward'));
    client.once('close', (hadError) => this.sideClosed(conn, 'forward', hadError));
    upstream.once('close', (hadError) => {
      if (!conn.closed && !conn.connected) this.counters.refused++;
      this.sideClosed(conn, 'backward', hadError || !conn.connected);
    });
  }

  /** Attributes `conn` to the node that opened it, when `identify` can tell, and applies that link's fault. */
  private async identify(conn: Conn): Promise<void> {
    if (!this.opts.identify) return;
    let source: string | undefined;
    try {
      source = await this.opts.identify(conn.client);
    } catch {
      return;
    }
    if (source === undefined || source === conn.source || conn.closed) return;
    conn.source = source;
    this.counters.misrouted++;
    this.refresh();
  }

  /** Moves one chunk in `dir` according to the link's current fault. */
  private flow(conn: Conn, dir: FlowDirection, chunk: Buffer): void {
    if (conn.closed) return;
    const fault = this.opts.faults.get(conn.source, this.opts.target);
    const f = flowOf(fault, dir);
    if (f.type === 'drop') {
      conn.lost.add(dir);
      if (dir === 'forward') this.counters.droppedForward += chunk.length;
      else this.counters.droppedBackward += chunk.length;
      return;
    }
    const to = dir === 'forward' ? conn.upstream : conn.client;
    const from = dir === 'forward' ? conn.client : conn.upstream;
    if (!to || !from) return;
    const deliver = (): void => {
      if (conn.closed || to.destroyed) return;
      if (dir === 'forward') this.counters.bytesForward += chunk.length;
      else this.counters.bytesBackward += chunk.length;
      if (!to.write(chunk) && f.delayMs === 0) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    const now = performance.now();
    const at = Math.max(now + f.delayMs, conn.due[dir]);
    if (at <= now) {
      deliver();
      return;
    }
    conn.due[dir] = at;
    const t = setTimeout(() => {
      this.timers.delete(t);
      deliver();
    }, at - now);
    this.timers.add(t);
  }

  /** Half-closes the other side once the chunks queued before the end were delivered. */
  private endLater(conn: Conn, dir: FlowDirection): void {
    const to = dir === 'forward' ? conn.upstream : conn.client;
    const wait = Math.max(0, conn.due[dir] - performance.now());
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!conn.closed) to?.end();
    }, wait);
    this.timers.add(t);
  }

  /**
   * One socket closed (`dir` is the direction it was the source of): an error resets the other
   * side at once; a clean close lets the other side finish its delayed chunks first.
   */
  private sideClosed(conn: Conn, dir: FlowDirection, hadError: boolean): void {
    if (conn.closed) return;
    if (hadError) {
      this.destroy(conn, true);
      return;
    }
    const wait = Math.max(0, conn.due[dir] - performance.now());
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.destroy(conn, false);
    }, wait);
    this.timers.add(t);
  }

  /** Applies a fault change to every open connection. */
  private refresh(): void {
    for (const c of [...this.conns]) {
      const fault = this.opts.faults.get(c.source, this.opts.target);
      if (fault.type === 'cut') {
        this.counters.reset++;
        this.destroy(c, true);
        continue;
      }
      const healedLoss = [...c.lost].some((dir) => flowOf(fault, dir).type === 'pass');
      if (healedLoss) {
        this.counters.reset++;
        this.destroy(c, true);
      }
    }
  }

  /** Ends a connection: `true` resets both sides, `false` closes them after their writes flush, `'hard'` drops them. */
  private destroy(conn: Conn, reset: boolean | 'hard'): void {
    if (conn.closed) return;
    conn.closed = true;
    this.conns.delete(conn);
    for (const s of [conn.client, conn.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset === 'hard') s.destroy();
      else if (reset) s.resetAndDestroy();
      else s.destroySoon();
    }
  }
}

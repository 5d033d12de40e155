/** Builds GrpcTransports on free 127.0.0.1 ports and closes them after each test. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/common/logger.js';
import type { NodeId } from '../../src/common/ids.js';
import type { Snapshot } from '../../src/raft/types.js';
import { GrpcTransport } from '../../src/transport/grpc-transport.js';
import type { GrpcTransportLimits } from '../../src/transport/grpc-transport-options.js';
import type { PeerAddress, SnapshotSource } from '../../src/transport/types.js';
import { freePorts, Recorder } from './helpers.js';

/** Limits that keep reconnection quick in tests. */
export const TEST_LIMITS: Partial<GrpcTransportLimits> = { backoffInitialMs: 20, backoffMaxMs: 100, connectTimeoutMs: 3000 };

/** A pino logger writing JSON lines into `lines`. */
export function captureLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}

/** One running transport with its recorder. */
export interface TestNode {
  readonly id: NodeId;
  readonly address: string;
  readonly transport: GrpcTransport;
  readonly rec: Recorder;
}

/** Options of `makeNode`. */
export interface NodeSpec {
  readonly id: NodeId;
  readonly port: number;
  readonly peers: readonly PeerAddress[];
  readonly clusterId?: string;
  readonly limits?: Partial<GrpcTransportLimits>;
  readonly snapshotSource?: SnapshotSource;
  readonly logger?: Logger;
}

/** Tracks the transports of one test so `closeAll` can stop them. */
export class Fixture {
  private readonly open: GrpcTransport[] = [];

  /** Creates and starts a transport. */
  async node(spec: NodeSpec): Promise<TestNode> {
    const rec = new Recorder();
    const transport = new GrpcTransport({
      clusterId: spec.clusterId ?? 'c1',
      nodeId: spec.id,
      listen: `127.0.0.1:${spec.port}`,
      peers: spec.peers,
      snapshotSource: spec.snapshotSource ?? (() => Promise.resolve<Snapshot | undefined>(undefined)),
      limits: { ...TEST_LIMITS, ...spec.limits },
      ...(spec.logger ? { logger: spec.logger } : {}),
    });
    this.open.push(transport);
    await transport.start(rec);
    return { id: spec.id, address: transport.address, transport, rec };
  }

  /** A full mesh of `ids` in one cluster, on fresh ports. */
  async mesh(ids: readonly NodeId[], extra: Partial<NodeSpec> = {}): Promise<TestNode[]> {
    const ports = await freePorts(ids.length);
    const peers = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]}` }));
    const out: TestNode[] = [];
    for (const [i, id] of ids.entries()) out.push(await this.node({ ...extra, id, port: ports[i] ?? 0, peers }));
    return out;
  }

  /** Closes every transport made by this fixture. */
  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((t) => t.close()));
  }
}

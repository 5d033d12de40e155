/**
 * The address book of a cluster: who the members are and where they listen. Raft ids are distinct
 * from addresses (hashicorp/raft); addresses travel in conf-change contexts and in snapshots.
 */
import { pack, unpack } from '../common/codec.js';
import { ConfigError } from '../common/errors.js';
import { isNodeId, type NodeId } from '../common/ids.js';

/** One member's addresses. */
export interface MemberInfo {
  readonly id: NodeId;
  /** host:port of the peer (Raft) listener. */
  readonly peerAddress: string;
  /** host:port of the client gRPC listener. */
  readonly clientAddress: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/** True when `s` looks like host:port with a port in 1..65535. */
export function isHostPort(s: string): boolean {
  const m = HOST_PORT.exec(s);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

/**
 * Parses an initial-cluster string: `n1=peerHost:port/clientHost:port,n2=…`
 * (the client address may be omitted: `n1=127.0.0.1:7101`). Throws ConfigError naming `field`.
 */
export function parseInitialCluster(spec: string, field = 'initial-cluster'): MemberInfo[] {
  const members: MemberInfo[] = [];
  const seen = new Set<string>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(field, `"${part}" is not ID=PEER_ADDR[/CLIENT_ADDR]`);
    const id = part.slice(0, eq);
    const [peerAddress = '', clientAddress = ''] = part.slice(eq + 1).split('/');
    if (!isNodeId(id)) throw new ConfigError(field, `"${id}" is not a valid node id (1-64 of A-Z a-z 0-9 _ -)`);
    if (seen.has(id)) throw new ConfigError(field, `node id "${id}" appears twice`);
    if (!isHostPort(peerAddress)) throw new ConfigError(field, `peer address "${peerAddress}" of ${id} is not host:port`);
    if (clientAddress && !isHostPort(clientAddress)) throw new ConfigError(field, `client address "${clientAddress}" of ${id} is not host:port`);
    seen.add(id);
    members.push({ id, peerAddress, clientAddress });
  }
  if (members.length === 0) throw new ConfigError(field, 'no members given');
  return members;
}

/** Formats members back into the initial-cluster syntax. */
export function formatInitialCluster(members: readonly MemberInfo[]): string {
  return members.map((m) => `${m.id}=${m.peerAddress}${m.clientAddress ? `/${m.clientAddress}` : ''}`).join(',');
}

/** Encodes a member as a conf-change context. */
export function encodeMemberContext(m: MemberInfo): Uint8Array {
  return pack({ id: m.id, peerAddress: m.peerAddress, clientAddress: m.clientAddress });
}

/** Decodes a conf-change context; undefined when absent or malformed. */
export function decodeMemberContext(ctx: Uint8Array | undefined): MemberInfo | undefined {
  if (!ctx || ctx.length === 0) return undefined;
  try {
    const v = unpack<Partial<MemberInfo>>(ctx);
    if (typeof v?.id === 'string' && typeof v.peerAddress === 'string' && typeof v.clientAddress === 'string') {
      return { id: v.id, peerAddress: v.peerAddress, clientAddress: v.clientAddress };
    }
  } catch {
    /* malformed context: treated as absent */
  }
  return undefined;
}

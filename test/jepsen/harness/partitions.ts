/**
 * Network partitions as data (Jepsen's grudges): which directed links between nodes are lost.
 * Pure: the networks (proxies, namespaces) apply them.
 */
import { assertNever } from '../../../src/common/assert.js';
import type { Rng } from '../../../src/common/rng.js';

/** A partition of the cluster's nodes. */
export type Partition =
  /** Disjoint groups; every link between two groups is lost both ways. Nodes in no group are alone. */
  | { readonly type: 'split'; readonly groups: readonly (readonly string[])[] }
  /** Two sides that cannot talk to each other, and one node that talks to both. */
  | { readonly type: 'bridge'; readonly left: readonly string[]; readonly bridge: string; readonly right: readonly string[] }
  /** Messages from `from` to `to` are lost; the other direction works. */
  | { readonly type: 'one-way'; readonly from: readonly string[]; readonly to: readonly string[] };

/** A directed link `from → to`. */
export type Link = readonly [from: string, to: string];

/** Every directed link between `nodes` that `p` loses, in a stable order. */
export function lostLinks(nodes: readonly string[], p: Partition): Link[] {
  const out: Link[] = [];
  const lost = lostPredicate(p);
  for (const a of nodes) for (const b of nodes) if (a !== b && lost(a, b)) out.push([a, b]);
  return out;
}

function lostPredicate(p: Partition): (a: string, b: string) => boolean {
  switch (p.type) {
    case 'split': {
      const groupOf = new Map<string, number>();
      p.groups.forEach((g, i) => g.forEach((n) => groupOf.set(n, i)));
      return (a, b) => {
        const ga = groupOf.get(a);
        return ga === undefined || ga !== groupOf.get(b);
      };
    }
    case 'bridge': {
      const left = new Set(p.left);
      const right = new Set(p.right);
      return (a, b) => (left.has(a) && right.has(b)) || (right.has(a) && left.has(b));
    }
    case 'one-way': {
      const from = new Set(p.from);
      const to = new Set(p.to);
      return (a, b) => from.has(a) && to.has(b);
    }
    default:
      return assertNever(p, 'partition');
  }
}

/** One line for logs and reports, e.g. `[n1] | [n2 n3]`, `[n1] -x-> [n2 n3]`. */
export function describePartition(p: Partition): string {
  const g = (xs: readonly string[]): string => `[${xs.join(' ')}]`;
  switch (p.type) {
    case 'split':
      return p.groups.map(g).join(' | ');
    case 'bridge':
      return `${g(p.left)} <- ${p.bridge} -> ${g(p.right)}`;
    case 'one-way':
      return `${g(p.from)} -x-> ${g(p.to)}`;
    default:
      return assertNever(p, 'partition');
  }
}

/** A seeded Fisher–Yates shuffle (a new array). */
export function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a;
}

/** `node` alone, everyone else together. */
export function isolate(nodes: readonly string[], node: string): Partition {
  requireNode(nodes, node);
  return { type: 'split', groups: [[node], nodes.filter((n) => n !== node)] };
}

/** A random minority (at most ⌊(n−1)/2⌋ nodes, at least one) cut off from the majority. */
export function majorityMinority(nodes: readonly string[], rng: Rng, include?: string): Partition {
  if (nodes.length < 2) throw new RangeError('a partition needs at least two nodes');
  const order = shuffled(nodes, rng);
  if (include !== undefined) {
    requireNode(nodes, include);
    order.splice(order.indexOf(include), 1);
    order.unshift(include);
  }
  const minority = Math.max(1, Math.floor((nodes.length - 1) / 2));
  return { type: 'split', groups: [order.slice(0, minority), order.slice(minority)] };
}

/** Two halves joined only through one bridge node (Jepsen's `bridge`). */
export function bridgeOf(nodes: readonly string[], rng: Rng, bridge?: string): Partition {
  if (nodes.length < 3) throw new RangeError('a bridge needs at least three nodes');
  const b = bridge ?? nodes[rng.int(nodes.length)]!;
  requireNode(nodes, b);
  const rest = shuffled(
    nodes.filter((n) => n !== b),
    rng,
  );
  const half = Math.floor(rest.length / 2);
  return { type: 'bridge', left: rest.slice(0, half), bridge: b, right: rest.slice(half) };
}

/** `node`'s messages to everyone else are lost (`out`), or everyone's messages to it (`in`). */
export function oneWay(nodes: readonly string[], node: string, dir: 'out' | 'in'): Partition {
  requireNode(nodes, node);
  const others = nodes.filter((n) => n !== node);
  return dir === 'out' ? { type: 'one-way', from: [node], to: others } : { type: 'one-way', from: others, to: [node] };
}

function requireNode(nodes: readonly string[], node: string): void {
  if (!nodes.includes(node)) throw new RangeError(`unknown node ${node}`);
}

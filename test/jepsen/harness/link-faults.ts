/**
 * The fault state of every directed peer link `from → to` of a cluster under test. A link is the
 * TCP traffic node `from` opens towards node `to`: its *forward* bytes carry `from`'s Raft
 * messages, its *backward* bytes carry `to`'s transport acknowledgements on the same connection.
 * (`to`'s own Raft messages travel on the separate link `to → from`.) Proxies read this table; the
 * nemeses write it. Pure: no sockets, no timers.
 */
import { assertNever } from '../../../src/common/assert.js';

/** What happens to the bytes of one direction of a link. */
export type Flow = { readonly type: 'pass'; readonly delayMs: number } | { readonly type: 'drop' };

/** The fault of one directed link. */
export type LinkFault =
  | { readonly type: 'healthy' }
  /** Connections are reset and new ones refused (a fast, visible failure). */
  | { readonly type: 'cut' }
  /** Connections are accepted; each direction passes (maybe delayed) or is black-holed. */
  | { readonly type: 'degraded'; readonly forward: Flow; readonly backward: Flow };

/** A byte direction on a link: `forward` from the dialling node, `backward` towards it. */
export type FlowDirection = 'forward' | 'backward';

/** The healthy link. */
export const HEALTHY: LinkFault = { type: 'healthy' };

/** A pass-through flow with no delay. */
export const PASS: Flow = { type: 'pass', delayMs: 0 };

/** The flow of `dir` under `fault` (`cut` counts as drop). */
export function flowOf(fault: LinkFault, dir: FlowDirection): Flow {
  switch (fault.type) {
    case 'healthy':
      return PASS;
    case 'cut':
      return { type: 'drop' };
    case 'degraded':
      return dir === 'forward' ? fault.forward : fault.backward;
    default:
      return assertNever(fault, 'link fault');
  }
}

/** A black hole in the given directions (`both` by default): accepted, then silently dropped. */
export function blackhole(dir: FlowDirection | 'both' = 'both'): LinkFault {
  const drop: Flow = { type: 'drop' };
  return { type: 'degraded', forward: dir === 'backward' ? PASS : drop, backward: dir === 'forward' ? PASS : drop };
}

/** A delay of `ms` in the given directions (`both` by default). */
export function delayed(ms: number, dir: FlowDirection | 'both' = 'both'): LinkFault {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a finite number of ms >= 0, got ${ms}`);
  const d: Flow = { type: 'pass', delayMs: ms };
  return { type: 'degraded', forward: dir === 'backward' ? PASS : d, backward: dir === 'forward' ? PASS : d };
}

/** A short rendering: `ok`, `cut`, `drop→`, `+50ms⇄`… */
export function describeFault(fault: LinkFault): string {
  switch (fault.type) {
    case 'healthy':
      return 'ok';
    case 'cut':
      return 'cut';
    case 'degraded': {
      const f = (x: Flow): string => (x.type === 'drop' ? 'drop' : x.delayMs > 0 ? `+${x.delayMs}ms` : 'pass');
      return `fwd ${f(fault.forward)}, back ${f(fault.backward)}`;
    }
    default:
      return assertNever(fault, 'link fault');
  }
}

/** Read access to link faults, as proxies need it. */
export interface FaultLookup {
  /** The fault of link `from → to` (healthy when never set). */
  get(from: string, to: string): LinkFault;
  /** Calls `listener` after every change; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void;
}

/** The fault table of one cluster; every node pair starts healthy. */
export class LinkFaultTable implements FaultLookup {
  private readonly faults = new Map<string, LinkFault>();
  private readonly listeners = new Set<() => void>();

  /** `nodes`: the node ids; setting a link with an unknown end is a RangeError. */
  constructor(readonly nodes: readonly string[]) {
    if (new Set(nodes).size !== nodes.length) throw new RangeError(`node ids must be distinct: ${nodes.join(',')}`);
  }

  get(from: string, to: string): LinkFault {
    return this.faults.get(key(from, to)) ?? HEALTHY;
  }

  /** Sets the faults of several links at once (one change notification). */
  set(changes: Iterable<readonly [from: string, to: string, fault: LinkFault]>): void {
    let changed = false;
    for (const [from, to, fault] of changes) {
      this.check(from, to);
      if (fault.type === 'healthy') changed = this.faults.delete(key(from, to)) || changed;
      else {
        this.faults.set(key(from, to), fault);
        changed = true;
      }
    }
    if (changed) this.notify();
  }

  /** Makes every link healthy. */
  healAll(): void {
    if (this.faults.size === 0) return;
    this.faults.clear();
    this.notify();
  }

  /** Every link that is not healthy. */
  faulty(): Array<{ readonly from: string; readonly to: string; readonly fault: LinkFault }> {
    return [...this.faults].map(([k, fault]) => {
      const [from = '', to = ''] = k.split('\u0000');
      return { from, to, fault };
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private check(from: string, to: string): void {
    if (!this.nodes.includes(from) || !this.nodes.includes(to)) throw new RangeError(`unknown link ${from} -> ${to}`);
    if (from === to) throw new RangeError(`a link needs two different nodes, got ${from} -> ${to}`);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function key(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

/**
 * Command-line parsing for `npm run bench` (pure: no I/O). `--quick` picks short durations and
 * small counts; explicit flags override whatever `--quick` or the defaults chose.
 */
import { SYSTEM_IDS, WORKLOAD_IDS, type SystemId, type WorkloadId } from './types.js';

/** Everything a benchmark run needs to know. */
export interface BenchConfig {
  readonly systems: readonly SystemId[];
  readonly workloads: readonly WorkloadId[];
  readonly quick: boolean;
  /** Warm-up before each measured window, ms. */
  readonly warmupMs: number;
  /** Measured window of the uncontended and contended workloads, ms. */
  readonly durationMs: number;
  /** Client counts of the uncontended workload. */
  readonly uncontendedClients: readonly number[];
  /** Clients on the one lock name of the contended workload. */
  readonly contendedClients: number;
  /** Clients acquiring in a loop during the failover workload. */
  readonly failoverClients: number;
  /** Leader kills in the failover workload. */
  readonly failoverTrials: number;
  /** Session counts of the sessions workload. */
  readonly sessionCounts: readonly number[];
  /** Session TTL, ms (keepalives at TTL / 3). */
  readonly sessionTtlMs: number;
  /** How long the sessions are held once all are open, ms. */
  readonly sessionHoldMs: number;
  /** Where the JSON results go. */
  readonly outDir: string;
  /** When set, Latch's servers run under `node --cpu-prof` and write their profiles here. */
  readonly profileDir?: string;
}

/** What the command line asked for. */
export type ParsedArgs = { readonly type: 'run'; readonly config: BenchConfig } | { readonly type: 'help' };

/** A bad command line; `message` says which flag and why. */
export class BenchArgsError extends Error {
  override readonly name = 'BenchArgsError';
}

/** Defaults of a full run (issue 6's numbers). */
export const FULL_DEFAULTS: BenchConfig = {
  systems: SYSTEM_IDS,
  workloads: WORKLOAD_IDS,
  quick: false,
  warmupMs: 5_000,
  durationMs: 20_000,
  uncontendedClients: [16, 64],
  contendedClients: 16,
  failoverClients: 8,
  failoverTrials: 3,
  sessionCounts: [10_000, 50_000],
  sessionTtlMs: 15_000,
  sessionHoldMs: 60_000,
  outDir: 'bench/results',
};

/** Defaults of `--quick`: every workload, short, so the whole run stays under two minutes. */
export const QUICK_DEFAULTS: BenchConfig = {
  ...FULL_DEFAULTS,
  quick: true,
  warmupMs: 500,
  durationMs: 2_000,
  failoverClients: 4,
  failoverTrials: 1,
  sessionCounts: [300],
  sessionTtlMs: 6_000,
  sessionHoldMs: 4_000,
};

/** Usage text of `npm run bench -- --help`. */
export const USAGE = `Usage: npm run bench -- [options]

Runs the lock benchmark of issue 6 against 3-node Latch, etcd and ZooKeeper clusters on 127.0.0.1.

Options:
  --quick                     short version of every workload (under two minutes in total)
  --systems LIST              comma-separated subset of: ${SYSTEM_IDS.join(',')}
  --workloads LIST            comma-separated subset of: ${WORKLOAD_IDS.join(',')}
  --warmup SECONDS            warm-up before each measured window
  --duration SECONDS          measured window of the uncontended and contended workloads
  --clients LIST              client counts of the uncontended workload (default 16,64)
  --contended-clients N       clients on the one lock of the contended workload (default 16)
  --failover-clients N        clients acquiring in a loop during failover (default 8)
  --failover-trials N         leader kills per system (default 3)
  --sessions LIST             session counts of the sessions workload (default 10000,50000)
  --session-ttl SECONDS       session TTL; keepalives at TTL/3 (default 15)
  --hold SECONDS              how long the sessions are held (default 60)
  --out DIR                   where the JSON results go (default bench/results)
  --profile DIR               run Latch's servers under node --cpu-prof, profiles written to DIR
  -h, --help                  this text
`;

function pickList<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new BenchArgsError(`${flag} needs at least one of ${allowed.join(',')}`);
  const out: T[] = [];
  for (const item of items) {
    const found = allowed.find((a) => a === item);
    if (found === undefined) throw new BenchArgsError(`${flag}: unknown value "${item}" (choose from ${allowed.join(',')})`);
    if (!out.includes(found)) out.push(found);
  }
  // Keep the canonical order so tables always read the same way.
  return allowed.filter((a) => out.includes(a));
}

function positiveInt(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw new BenchArgsError(`${flag} needs a positive integer, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new BenchArgsError(`${flag} needs a positive integer, got "${raw}"`);
  return n;
}

function intList(flag: string, raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p.length === 0)) throw new BenchArgsError(`${flag} needs a comma-separated list of positive integers, got "${raw}"`);
  return [...new Set(parts.map((p) => positiveInt(flag, p)))];
}

function seconds(flag: string, raw: string, allowZero: boolean): number {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new BenchArgsError(`${flag} needs a number of seconds, got "${raw}"`);
  const ms = Math.round(Number(raw) * 1000);
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) throw new BenchArgsError(`${flag} needs a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got "${raw}"`);
  return ms;
}

/** Parses the arguments after `bench/main.ts`. Throws `BenchArgsError` on anything it does not know. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const overrides: { -readonly [K in keyof BenchConfig]?: BenchConfig[K] } = {};
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '-h' || arg === '--help') return { type: 'help' };
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new BenchArgsError(`${flag} needs a value`);
      i++;
      return next;
    };
    switch (flag) {
      case '--systems':
        overrides.systems = pickList(flag, takeValue(), SYSTEM_IDS);
        break;
      case '--workloads':
        overrides.workloads = pickList(flag, takeValue(), WORKLOAD_IDS);
        break;
      case '--warmup':
        overrides.warmupMs = seconds(flag, takeValue(), true);
        break;
      case '--duration':
        overrides.durationMs = seconds(flag, takeValue(), false);
        break;
      case '--clients':
        overrides.uncontendedClients = intList(flag, takeValue());
        break;
      case '--contended-clients':
        overrides.contendedClients = positiveInt(flag, takeValue());
        break;
      case '--failover-clients':
        overrides.failoverClients = positiveInt(flag, takeValue());
        break;
      case '--failover-trials':
        overrides.failoverTrials = positiveInt(flag, takeValue());
        break;
      case '--sessions':
        overrides.sessionCounts = intList(flag, takeValue());
        break;
      case '--session-ttl': {
        const ttl = seconds(flag, takeValue(), false);
        // etcd leases are whole seconds, at least 1; ZooKeeper clamps to [2, 20] ticks of 2 s.
        if (ttl < 4_000 || ttl % 1000 !== 0) throw new BenchArgsError(`${flag} needs a whole number of seconds, at least 4 (ZooKeeper's minimum session timeout)`);
        overrides.sessionTtlMs = ttl;
        break;
      }
      case '--hold':
        overrides.sessionHoldMs = seconds(flag, takeValue(), false);
        break;
      case '--out': {
        const dir = takeValue();
        if (dir.trim().length === 0) throw new BenchArgsError('--out needs a directory');
        overrides.outDir = dir;
        break;
      }
      case '--profile': {
        const dir = takeValue();
        if (dir.trim().length === 0) throw new BenchArgsError('--profile needs a directory');
        overrides.profileDir = dir;
        break;
      }
      default:
        throw new BenchArgsError(`unknown option "${arg}" (see --help)`);
    }
  }
  const base = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  return { type: 'run', config: { ...base, ...overrides, quick } };
}

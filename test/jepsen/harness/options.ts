/**
 * The options of a Jepsen run and their command-line parsing (pure: argv in, options or a
 * BAD_OPTION HarnessError out).
 */
import { defaultDriftMargin } from '../../../src/client/local-lease.js';
import { HarnessError } from './harness-error.js';

/** The workloads. */
export const WORKLOADS = ['mutex', 'sequencer', 'election', 'sessions'] as const;
/** A workload name. */
export type WorkloadName = (typeof WORKLOADS)[number];

/** The nemeses (`all` on the command line means every one). */
export const NEMESES = ['kill', 'pause', 'partition', 'rolling-restart', 'slow', 'membership'] as const;
/** A nemesis kind. */
export type NemesisKind = (typeof NEMESES)[number];

/** Everything a run needs; durations in milliseconds. */
export interface RunOptions {
  readonly timeMs: number;
  readonly nodes: number;
  readonly clients: number;
  readonly workload: WorkloadName;
  readonly nemeses: readonly NemesisKind[];
  /** Quiet time between two faults (the mean; ±50 % jitter). */
  readonly nemesisIntervalMs: number;
  /** How long a fault lasts (the mean; ±50 % jitter); pauses always outlast the session TTL. */
  readonly faultMs: number;
  readonly netns: boolean;
  readonly seed: number;
  /** Where `<timestamp>/` result folders go. */
  readonly resultsDir: string;
  /** How many distinct lock names the lock workloads use. */
  readonly locks: number;
  readonly sessionTtlMs: number;
  readonly lockDelayMs: number;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /**
   * The drift margin of the clients' sessions (SDK `driftMarginMs`): their local lease ends this
   * long before send time + TTL. Null: a wide TTL / 4, so a lost lock's exit is recorded well before
   * the lock can be granted again (see `clientDriftMs`).
   */
  readonly driftMarginMs: number | null;
  readonly snapshotThreshold: number;
  /** Time budget of each linearizability check. */
  readonly checkTimeoutMs: number;
  readonly progressEveryMs: number;
  readonly serverLogLevel: string;
  /** No progress lines (the report is still printed). */
  readonly quiet: boolean;
  /**
   * A planted harness fault, to show the checkers catch what they exist to catch on a real run:
   * `unfenced-register` makes the register accept every write, stale tokens included.
   */
  readonly plant: 'none' | 'unfenced-register';
}

/** The defaults (a 60 s mutex run with every nemesis but `slow`, on 3 nodes). */
export const DEFAULT_OPTIONS: RunOptions = {
  timeMs: 60_000,
  nodes: 3,
  clients: 5,
  workload: 'mutex',
  nemeses: ['kill', 'pause', 'partition', 'rolling-restart', 'membership'],
  nemesisIntervalMs: 6_000,
  faultMs: 6_000,
  netns: false,
  seed: 0,
  resultsDir: 'test/jepsen/results',
  locks: 2,
  sessionTtlMs: 3_000,
  lockDelayMs: 2_000,
  heartbeatMs: 50,
  electionTimeoutMs: 500,
  driftMarginMs: null,
  snapshotThreshold: 500,
  checkTimeoutMs: 120_000,
  progressEveryMs: 5_000,
  serverLogLevel: 'info',
  quiet: false,
  plant: 'none',
};

/** The usage text. */
export const USAGE = `usage: npm run jepsen -- [options]

  --time SECONDS              how long the workload runs (default 60)
  --nodes 3|5                 cluster size (default 3)
  --clients N                 client worker processes (default 5)
  --workload NAME             mutex | sequencer | election | sessions (default mutex)
  --nemesis LIST              comma-separated: kill,pause,partition,rolling-restart,slow,membership,
                              or all (every one), or none (default: all but slow)
  --nemesis-interval SECONDS  mean quiet time between faults (default 6)
  --fault-duration SECONDS    mean length of a fault (default 6)
  --netns                     run each node in its own network namespace (root only)
  --seed N                    seed of the schedule and the clients' choices (default: random)
  --results DIR               results folder (default test/jepsen/results)
  --locks N                   lock names used by the lock workloads (default 2)
  --ttl MS                    session TTL (default 3000)
  --lock-delay MS             lock-delay after an expiry (default 2000)
  --heartbeat MS              Raft heartbeat (default 50)
  --election-timeout MS       Raft election timeout (default 500)
  --drift-margin MS|sdk       the clients' session drift margin: their local lease ends this long
                              before send time + TTL (default TTL/4; sdk: the SDK's default,
                              5 % of the TTL, at least 50 ms, what applications get)
  --snapshot-threshold N      entries between snapshots (default 500)
  --check-timeout SECONDS     time budget of each linearizability check (default: 2 × --time, at least 60)
  --progress SECONDS          progress line period (default 5)
  --server-log-level LEVEL    server log level in the node logs (default info)
  --quiet                     no progress lines
  --plant unfenced-register   plant a fault in the harness's register (the run must then fail)
  --recheck FILE              check a saved history.jsonl again (with --workload and --lock-delay of its run)
  --help                      this text
`;

/** The result of parsing: options to run with, a saved history to check again, or a request for the usage text. */
export type ParsedArgs =
  | { readonly type: 'run'; readonly options: RunOptions }
  | { readonly type: 'recheck'; readonly path: string; readonly options: RunOptions }
  | { readonly type: 'help' };

const FLAGS = new Set([
  'time',
  'nodes',
  'clients',
  'workload',
  'nemesis',
  'nemesis-interval',
  'fault-duration',
  'netns',
  'seed',
  'results',
  'locks',
  'ttl',
  'lock-delay',
  'heartbeat',
  'election-timeout',
  'drift-margin',
  'snapshot-threshold',
  'check-timeout',
  'progress',
  'server-log-level',
  'quiet',
  'recheck',
  'plant',
  'help',
]);
const BOOLEAN_FLAGS = new Set(['netns', 'quiet', 'help']);

/**
 * Parses `argv` (without `node` and the script): `--flag value` or `--flag=value`. `randomSeed`
 * supplies the seed when `--seed` is absent. Throws HarnessError BAD_OPTION naming the flag.
 */
export function parseArgs(argv: readonly string[], randomSeed: () => number = () => Math.floor(Math.random() * 2 ** 31)): ParsedArgs {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw bad(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!FLAGS.has(name)) throw bad(`unknown option --${name}`);
    if (given.has(name)) throw bad(`--${name} given twice`);
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq >= 0) throw bad(`--${name} takes no value`);
      given.set(name, 'true');
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw bad(`--${name} needs a value`);
    given.set(name, value);
  }
  if (given.has('help')) return { type: 'help' };
  const d = DEFAULT_OPTIONS;
  const num = (flag: string, def: number, min: number, max: number, scale = 1): number => {
    const raw = given.get(flag);
    if (raw === undefined) return Math.round(def * scale);
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw bad(`--${flag} must be a number in [${min}, ${max}], got "${raw}"`);
    return Math.round(n * scale);
  };
  const int = (flag: string, def: number, min: number, max: number): number => {
    const v = num(flag, def, min, max);
    const raw = given.get(flag);
    if (raw !== undefined && !Number.isInteger(Number(raw))) throw bad(`--${flag} must be an integer, got "${raw}"`);
    return v;
  };
  const workload = given.get('workload') ?? d.workload;
  if (!(WORKLOADS as readonly string[]).includes(workload)) throw bad(`--workload must be one of ${WORKLOADS.join(', ')}, got "${workload}"`);
  const nodes = int('nodes', d.nodes, 3, 5);
  if (nodes !== 3 && nodes !== 5) throw bad(`--nodes must be 3 or 5, got ${nodes}`);
  const ttl = int('ttl', d.sessionTtlMs, 500, 600_000);
  const heartbeat = int('heartbeat', d.heartbeatMs, 10, 10_000);
  const election = int('election-timeout', d.electionTimeoutMs, 50, 60_000);
  if (election < 3 * heartbeat) throw bad(`--election-timeout must be at least 3 × --heartbeat (${3 * heartbeat})`);
  const driftRaw = given.get('drift-margin');
  let driftMarginMs: number | null = d.driftMarginMs;
  if (driftRaw === 'sdk') driftMarginMs = defaultDriftMargin(ttl);
  else if (driftRaw !== undefined) {
    driftMarginMs = int('drift-margin', 0, 0, 600_000);
    if (driftMarginMs * 2 >= ttl) throw bad(`--drift-margin must be less than half of --ttl (${ttl}), got ${driftMarginMs}`);
  }
  const serverLogLevel = given.get('server-log-level') ?? d.serverLogLevel;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(serverLogLevel)) throw bad(`--server-log-level must be a pino level, got "${serverLogLevel}"`);
  const plant = given.get('plant') ?? d.plant;
  if (plant !== 'none' && plant !== 'unfenced-register') throw bad(`--plant must be unfenced-register, got "${plant}"`);
  const results = given.get('results') ?? d.resultsDir;
  if (results.trim() === '') throw bad('--results must not be empty');
  const timeMs = num('time', d.timeMs / 1000, 1, 86_400, 1000);
  const options: RunOptions = {
    timeMs,
    nodes,
    clients: int('clients', d.clients, 1, 64),
    workload: workload as WorkloadName,
    nemeses: parseNemeses(given.get('nemesis')),
    nemesisIntervalMs: num('nemesis-interval', d.nemesisIntervalMs / 1000, 0.5, 3_600, 1000),
    faultMs: num('fault-duration', d.faultMs / 1000, 0.5, 3_600, 1000),
    netns: given.has('netns'),
    seed: given.has('seed') ? int('seed', 0, 0, 2 ** 31 - 1) : randomSeed(),
    resultsDir: results,
    locks: int('locks', d.locks, 1, 100),
    sessionTtlMs: ttl,
    lockDelayMs: int('lock-delay', d.lockDelayMs, 0, 600_000),
    heartbeatMs: heartbeat,
    electionTimeoutMs: election,
    driftMarginMs,
    snapshotThreshold: int('snapshot-threshold', d.snapshotThreshold, 1, 100_000_000),
    // A longer run records a longer history: by default the search gets twice the run's time.
    checkTimeoutMs: given.has('check-timeout') ? num('check-timeout', d.checkTimeoutMs / 1000, 1, 86_400, 1000) : Math.max(60_000, 2 * timeMs),
    progressEveryMs: num('progress', d.progressEveryMs / 1000, 0.5, 3_600, 1000),
    serverLogLevel,
    quiet: given.has('quiet'),
    plant,
  };
  const recheck = given.get('recheck');
  if (recheck !== undefined) return { type: 'recheck', path: recheck, options };
  return { type: 'run', options };
}

/** Parses `--nemesis`: a comma-separated list, `all`, or `none`. */
export function parseNemeses(raw: string | undefined): NemesisKind[] {
  if (raw === undefined) return [...DEFAULT_OPTIONS.nemeses];
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 1 && parts[0] === 'none') return [];
  if (parts.length === 1 && parts[0] === 'all') return [...NEMESES];
  if (parts.length === 0) throw bad('--nemesis needs at least one kind (or none)');
  const out: NemesisKind[] = [];
  for (const p of parts) {
    if (!(NEMESES as readonly string[]).includes(p)) throw bad(`--nemesis: unknown kind "${p}" (expected ${NEMESES.join(', ')}, all or none)`);
    if (!out.includes(p as NemesisKind)) out.push(p as NemesisKind);
  }
  return out;
}

/** The drift margin the clients' sessions use: `--drift-margin`, else TTL / 4. */
export function clientDriftMs(o: Pick<RunOptions, 'driftMarginMs' | 'sessionTtlMs'>): number {
  return o.driftMarginMs ?? Math.round(o.sessionTtlMs / 4);
}

function bad(message: string): HarnessError {
  return new HarnessError('BAD_OPTION', message);
}

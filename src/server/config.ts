/**
 * Server configuration: one schema, read from a config file, `LATCH_*` environment variables and
 * flags, in rising order of precedence. Every bad field is a ConfigError naming the field.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors.js';
import { isNodeId } from '../common/ids.js';
import { isHostPort, parseInitialCluster, type MemberInfo } from '../node/members.js';

/** A validated server configuration. Durations are milliseconds. */
export interface ServerConfig {
  readonly id: string;
  readonly dataDir: string;
  readonly listenClient: string;
  readonly listenPeer: string;
  readonly listenHttp: string;
  readonly initialCluster: readonly MemberInfo[];
  readonly clusterToken: string;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotThreshold: number;
  readonly logLevel: string;
  readonly sessionTtlMinMs: number;
  readonly sessionTtlMaxMs: number;
  readonly sessionTtlDefaultMs: number;
  readonly lockDelayMs: number;
  readonly maxWaitersPerLock: number;
  readonly maxSessionsPerConnection: number;
  /** TLS material (PEM file paths) for the client and peer listeners; null = plain text. */
  readonly tls: TlsPaths | null;
  /** Plain text allowed on a non-loopback address, and an unauthenticated HTTP port there (an explicit operator choice). */
  readonly insecure: boolean;
  /** Token file (`name:sha256hex:role,role`, reloaded on SIGHUP), guarding the client API and the HTTP port; null = no authentication. */
  readonly tokenFile: string | null;
  /** Cluster id to join as a new member (started empty, learns membership from the leader); null = bootstrap. */
  readonly join: string | null;
}

/** PEM file paths: this node's certificate and key, and the cluster CA that signs every node and client. */
export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Every field: its kind, default, and the flag/env/file names derived from its key. */
const FIELDS = {
  id: { kind: 'string', def: undefined },
  dataDir: { kind: 'string', def: undefined },
  listenClient: { kind: 'hostport', def: '127.0.0.1:7001' },
  listenPeer: { kind: 'hostport', def: '127.0.0.1:7101' },
  listenHttp: { kind: 'hostport', def: '127.0.0.1:7201' },
  initialCluster: { kind: 'string', def: undefined },
  clusterToken: { kind: 'string', def: 'latch' },
  heartbeatMs: { kind: 'int', def: 100 },
  electionTimeoutMs: { kind: 'int', def: 1000 },
  snapshotThreshold: { kind: 'int', def: 10_000 },
  logLevel: { kind: 'string', def: 'info' },
  sessionTtlMinMs: { kind: 'int', def: 2_000 },
  sessionTtlMaxMs: { kind: 'int', def: 300_000 },
  sessionTtlDefaultMs: { kind: 'int', def: 10_000 },
  lockDelayMs: { kind: 'int', def: 10_000 },
  maxWaitersPerLock: { kind: 'int', def: 10_000 },
  maxSessionsPerConnection: { kind: 'int', def: 1_000 },
  cert: { kind: 'string', def: '' },
  key: { kind: 'string', def: '' },
  ca: { kind: 'string', def: '' },
  insecure: { kind: 'bool', def: 'false' },
  tokenFile: { kind: 'string', def: '' },
  join: { kind: 'string', def: '' },
} as const;

/** True for a loopback host (127.0.0.0/8, ::1, localhost): plain text is allowed there. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A config field key. */
export type ConfigKey = keyof typeof FIELDS;

/** True for a boolean field (a flag that may be given without a value). */
export function isBoolKey(key: ConfigKey): boolean {
  return FIELDS[key].kind === 'bool';
}

/** The config keys, in a stable order. */
export const CONFIG_KEYS = Object.keys(FIELDS) as ConfigKey[];

/** `dataDir` → `data-dir` (the flag and file spelling). */
export function flagName(key: ConfigKey): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `dataDir` → `LATCH_DATA_DIR`. */
export function envName(key: ConfigKey): string {
  return `LATCH_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}

/** Raw string values by key, before validation. */
export type RawConfig = Partial<Record<ConfigKey, string | number>>;

/** Reads a JSON config file whose keys are flag names (`data-dir`) or camelCase (`dataDir`). */
export function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError('config', `${path} must hold a JSON object`);
  const out: RawConfig = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = CONFIG_KEYS.find((c) => c === k || flagName(c) === k);
    if (!key) throw new ConfigError(k, `unknown field in ${path}`);
    if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(flagName(key), `must be a string or number in ${path}`);
    out[key] = v;
  }
  return out;
}

/** Reads `LATCH_*` variables from `env`. */
export function readEnv(env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {};
  for (const key of CONFIG_KEYS) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

/** Merges sources (later wins) and validates every field. */
export function resolveConfig(...sources: RawConfig[]): ServerConfig {
  const raw: RawConfig = Object.assign({}, ...sources);
  const get = (key: ConfigKey): string | number | undefined => raw[key] ?? FIELDS[key].def;
  const str = (key: ConfigKey): string => {
    const v = get(key);
    if (v === undefined || v === '') throw new ConfigError(flagName(key), `is required (flag --${flagName(key)} or ${envName(key)})`);
    return String(v);
  };
  const int = (key: ConfigKey, min: number, max: number): number => {
    const v = get(key);
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(flagName(key), `"${v}" must be an integer in [${min}, ${max}]`);
    return n;
  };
  const hostport = (key: ConfigKey): string => {
    const v = str(key);
    if (!isHostPort(v)) throw new ConfigError(flagName(key), `"${v}" is not host:port`);
    return v;
  };
  const id = str('id');
  if (!isNodeId(id)) throw new ConfigError('id', `"${id}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
  const initialCluster = parseInitialCluster(str('initialCluster'), 'initial-cluster');
  if (!initialCluster.some((m) => m.id === id)) throw new ConfigError('initial-cluster', `does not include this node's id "${id}"`);
  const heartbeatMs = int('heartbeatMs', 10, 10_000);
  const electionTimeoutMs = int('electionTimeoutMs', 50, 60_000);
  if (electionTimeoutMs < heartbeatMs * 3) throw new ConfigError('election-timeout-ms', `must be at least 3 × heartbeat-ms (${heartbeatMs * 3})`);
  const sessionTtlMinMs = int('sessionTtlMinMs', 500, 3_600_000);
  const sessionTtlMaxMs = int('sessionTtlMaxMs', sessionTtlMinMs, 3_600_000);
  const sessionTtlDefaultMs = int('sessionTtlDefaultMs', sessionTtlMinMs, sessionTtlMaxMs);
  const opt = (key: ConfigKey): string | null => {
    const v = get(key);
    return v === undefined || v === '' ? null : String(v);
  };
  const bool = (key: ConfigKey): boolean => {
    const v = String(get(key)).trim().toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    throw new ConfigError(flagName(key), `"${v}" must be true or false`);
  };
  const [cert, key, ca] = [opt('cert'), opt('key'), opt('ca')];
  const given = [cert, key, ca].filter((v) => v !== null).length;
  if (given !== 0 && given !== 3) throw new ConfigError(cert === null ? 'cert' : key === null ? 'key' : 'ca', 'TLS needs all of --cert, --key and --ca (the cluster CA signs every node and client)');
  const tls = cert !== null && key !== null && ca !== null ? { cert, key, ca } : null;
  const insecure = bool('insecure');
  const listenClient = hostport('listenClient');
  const listenPeer = hostport('listenPeer');
  if (!tls && !insecure) {
    for (const [k, v] of [['listen-client', listenClient], ['listen-peer', listenPeer]] as const) {
      const host = v.slice(0, v.lastIndexOf(':'));
      if (!isLoopbackHost(host)) throw new ConfigError(k, `refusing plain text on non-loopback ${v}: give --cert, --key and --ca, or --insecure to accept it`);
    }
  }
  // The HTTP port is always plain HTTP. Off loopback it must not serve lock, session and client
  // names to anyone who reaches it: that needs a token file (then only /healthz is anonymous) or
  // --insecure, the operator's explicit acceptance, as for plain text on the client and peer ports.
  const listenHttp = hostport('listenHttp');
  const tokenFile = opt('tokenFile');
  if (tokenFile === null && !insecure && !isLoopbackHost(listenHttp.slice(0, listenHttp.lastIndexOf(':')))) {
    throw new ConfigError('listen-http', `refusing an unauthenticated HTTP port on non-loopback ${listenHttp}: give --token-file (every route but /healthz then needs a bearer token), or --insecure to accept it`);
  }
  const join = opt('join');
  if (join !== null && !/^[\x21-\x7e]{1,128}$/.test(join)) throw new ConfigError('join', `"${join}" is not a cluster id (see \`latch members list\`)`);
  const logLevel = str('logLevel');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new ConfigError('log-level', `"${logLevel}" is not one of fatal, error, warn, info, debug, trace, silent`);
  return {
    id,
    dataDir: str('dataDir'),
    listenClient,
    listenPeer,
    listenHttp,
    initialCluster,
    clusterToken: str('clusterToken'),
    heartbeatMs,
    electionTimeoutMs,
    snapshotThreshold: int('snapshotThreshold', 2, 10_000_000),
    logLevel,
    sessionTtlMinMs,
    sessionTtlMaxMs,
    sessionTtlDefaultMs,
    lockDelayMs: int('lockDelayMs', 0, 600_000),
    maxWaitersPerLock: int('maxWaitersPerLock', 1, 1_000_000),
    maxSessionsPerConnection: int('maxSessionsPerConnection', 1, 1_000_000),
    tls,
    insecure,
    tokenFile,
    join,
  };
}

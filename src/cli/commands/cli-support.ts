/**
 * Shared pieces of the client-facing CLI commands: endpoints from flag / environment / default,
 * exit codes, one-line errors, and JSON that can carry bigints.
 */
import { isLatchError } from '../../common/errors.js';
import { InvalidArgumentError, LatchClient, isLatchClientError } from '../../client/index.js';
import { channelCredentials, tlsFromEnv } from '../../server/tls.js';

/** Exit codes of the client commands (a command run by `latch lock` passes its own code through). */
export const EXIT = {
  OK: 0,
  /** Any error, printed as `latch: <message>`. */
  ERROR: 1,
  /** Bad usage: a malformed flag value, lock name or argument (INVALID_ARGUMENT). */
  USAGE: 2,
  /** `latch lock` / `latch elect`: the wait ran out; the command was not run. */
  WAIT_TIMEOUT: 3,
  /** `latch lock` / `latch elect`: the lock or leadership was lost while the command ran; it was stopped. */
  LOCK_LOST: 4,
  /** The command could not be found. */
  NOT_FOUND: 127,
  /** The command could not be executed. */
  CANNOT_EXECUTE: 126,
  /** Added to a signal number when the command (or latch itself) was stopped by a signal. */
  SIGNAL_BASE: 128,
} as const;

/** Endpoints used when neither `--endpoints` nor `LATCH_ENDPOINTS` is set. */
export const DEFAULT_ENDPOINTS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] as const;

/** The endpoints from `--endpoints`, else `LATCH_ENDPOINTS`, else the local defaults. */
export function resolveEndpoints(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = flag ?? env.LATCH_ENDPOINTS;
  if (raw === undefined || raw.trim() === '') return [...DEFAULT_ENDPOINTS];
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new InvalidArgumentError(`--endpoints: ${JSON.stringify(raw)} names no endpoint`);
  return list;
}

/** Options every client command accepts. */
export interface ClientCommandOptions {
  readonly endpoints?: string;
  readonly json?: boolean;
}

/** Connects to the cluster for one command (TLS from LATCH_CA/LATCH_CERT/LATCH_KEY, bearer token from LATCH_AUTH_TOKEN). */
export function connectClient(opts: ClientCommandOptions, name: string): Promise<LatchClient> {
  const tls = tlsFromEnv();
  const token = process.env.LATCH_AUTH_TOKEN;
  return LatchClient.connect({ endpoints: resolveEndpoints(opts.endpoints), name, ...(tls ? { credentials: channelCredentials(tls) } : {}), ...(token ? { token } : {}) });
}

/** The one-line message of an error, for `latch: <message>`. */
export function errorMessage(err: unknown): string {
  if (isLatchError(err)) return `${err.message} (${err.code})`;
  if (isLatchClientError(err)) return `${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Prints `latch: <message>` on stderr. */
export function printError(err: unknown): void {
  process.stderr.write(`latch: ${errorMessage(err).replace(/\s*\n\s*/g, ' ')}\n`);
}

/** Runs a command's body; an error becomes one line on stderr and a non-zero exit code. */
export async function runCommand(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    printError(err);
    process.exitCode = err instanceof InvalidArgumentError ? EXIT.USAGE : EXIT.ERROR;
  }
}

/** JSON.stringify that writes bigints as decimal strings and bytes as text (see `showBytes`). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key]; // before Buffer#toJSON ran
    if (typeof v === 'bigint') return v.toString();
    if (original instanceof Uint8Array) return showBytes(original);
    return v;
  });
}

/** Bytes as text for people: UTF-8 when printable, else base64 with a `base64:` prefix. */
export function showBytes(b: Uint8Array): string {
  const s = Buffer.from(b).toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (!/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(s)) return s;
  return `base64:${Buffer.from(b).toString('base64')}`;
}

/** Resolves when one of `signals` arrives (and removes its handlers); `cancel` removes them early. */
export function onSignals(signals: readonly NodeJS.Signals[], fn: (sig: NodeJS.Signals) => void): () => void {
  const handlers = signals.map((sig) => {
    const h = (): void => fn(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

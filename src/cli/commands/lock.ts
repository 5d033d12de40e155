/**
 * `latch lock NAME [--ttl 10s] [--wait 30s] [--shared] [--endpoints a,b,c] -- CMD ARGS…`
 *
 * Acquires NAME, runs CMD with `LATCH_TOKEN` (the fencing token), `LATCH_LOCK` and `LATCH_SESSION`
 * in its environment, releases the lock when CMD exits and exits with CMD's code. If the lock may
 * be lost (session jeopardy or expiry) CMD gets SIGTERM, then SIGKILL after `--kill-grace`, and
 * latch exits 4. If the wait runs out, latch exits 3 without running CMD. Without CMD, latch holds
 * the lock until interrupted.
 */
import type { Command } from 'commander';
import { LockLostError, WaitTimeoutError, type Lock, type Session } from '../../client/index.js';
import { EXIT, connectClient, onSignals, printError, runCommand, type ClientCommandOptions } from './cli-support.js';
import { formatDuration, parseDuration } from './duration.js';
import { runWhileHeld } from './run-child.js';

/** Options of `latch lock`. */
export interface LockCommandOptions extends ClientCommandOptions {
  readonly ttl: string;
  readonly wait: string;
  readonly shared?: boolean;
  readonly killGrace: string;
}

/** Registers `latch lock`. */
export function registerLockCommand(program: Command): void {
  program
    .command('lock')
    .description('run a command while holding a lock (the fencing token is in LATCH_TOKEN)')
    .argument('<name>', 'lock name, e.g. jobs/nightly')
    .argument('[command...]', 'the command to run, after --')
    .option('--ttl <duration>', 'session TTL', '10s')
    .option('--wait <duration>', 'how long to wait for the lock (0 = try once)', '30s')
    .option('--shared', 'take the lock in shared mode')
    .option('--kill-grace <duration>', 'after a loss, time between SIGTERM and SIGKILL', '10s')
    .option('--endpoints <list>', 'comma-separated client endpoints (default: LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .addHelpText('after', '\nExit codes: the command\'s own; 3 wait timed out; 4 lock lost (command stopped); 1 error; 2 bad usage; 127 command not found.')
    .action(async (name: string, command: string[], opts: LockCommandOptions) => {
      await runCommand(() => lockAndRun(name, command, opts));
    });
}

/** Acquires, runs, releases; returns the exit code. */
export async function lockAndRun(name: string, command: readonly string[], opts: LockCommandOptions): Promise<number> {
  const ttlMs = parseDuration(opts.ttl, '--ttl');
  const waitMs = parseDuration(opts.wait, '--wait');
  const killGraceMs = parseDuration(opts.killGrace, '--kill-grace');
  const client = await connectClient(opts, 'latch lock');
  let session: Session | undefined;
  try {
    session = await client.session({ ttlMs, name: 'latch lock', metadata: { lock: name, command: command.join(' ').slice(0, 200), pid: String(process.pid) } });
    const lock = await acquireInterruptibly(session, name, waitMs, opts.shared === true);
    if (typeof lock === 'number') return lock;
    return await holdAndRun(lock, command, killGraceMs, { LATCH_LOCK: name });
  } finally {
    await closeQuietly(session);
    await client.close();
  }
}

/** Waits for the lock; a number is the exit code when it was not acquired (timeout or interrupt). */
async function acquireInterruptibly(session: Session, name: string, waitMs: number, shared: boolean): Promise<Lock | number> {
  const ac = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const stop = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], (sig) => {
    interrupted = sig;
    ac.abort(new Error(`interrupted by ${sig}`));
  });
  try {
    return await session.lock(name, { waitMs, mode: shared ? 'shared' : 'exclusive', signal: ac.signal });
  } catch (err) {
    if (err instanceof WaitTimeoutError) {
      process.stderr.write(`latch: timed out after ${formatDuration(waitMs)} waiting for lock ${name}\n`);
      return EXIT.WAIT_TIMEOUT;
    }
    if (interrupted) return EXIT.SIGNAL_BASE + (interrupted === 'SIGINT' ? 2 : interrupted === 'SIGHUP' ? 1 : 15);
    throw err;
  } finally {
    stop();
  }
}

/**
 * Runs `command` (or, without one, waits for a signal) while `lock` is held, then releases it.
 * Shared by `latch lock` and `latch elect`.
 */
export async function holdAndRun(lock: Lock, command: readonly string[], killGraceMs: number, extraEnv: Readonly<Record<string, string>>): Promise<number> {
  const env = { ...process.env, ...extraEnv, LATCH_TOKEN: lock.token.toString(), LATCH_SESSION: lock.sessionId.toString() };
  let lostReason: unknown;
  if (command.length === 0) {
    process.stdout.write(`latch: holding ${lock.name} (token ${lock.token}); Ctrl-C releases it\n`);
    const code = await new Promise<number>((resolve) => {
      const stop = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], () => {
        stop();
        lock.signal.removeEventListener('abort', onLost);
        resolve(EXIT.OK);
      });
      const onLost = (): void => {
        stop();
        lostReason = lock.signal.reason;
        resolve(EXIT.LOCK_LOST);
      };
      if (lock.signal.aborted) onLost();
      else lock.signal.addEventListener('abort', onLost, { once: true });
    });
    if (code === EXIT.LOCK_LOST) printError(lostReason);
    else await lock.release();
    return code;
  }
  const outcome = await runWhileHeld({
    argv: command,
    env,
    lost: lock.signal,
    killGraceMs,
    onLoss: (reason) => printError(`${reasonText(reason)}; stopping the command`),
  });
  if (outcome.spawnError) {
    printError(`cannot run ${command[0]}: ${outcome.spawnError.message}`);
    await lock.release().catch(() => undefined);
    return outcome.exitCode;
  }
  if (outcome.stoppedForLoss) return EXIT.LOCK_LOST;
  try {
    await lock.release();
  } catch (err) {
    if (err instanceof LockLostError) {
      // Nothing was left to release: the lock was lost while the command ran.
      printError(reasonText(err));
      return EXIT.LOCK_LOST;
    }
    printError(`could not release ${lock.name}: ${reasonText(err)} (it is released when the session ends)`);
  }
  return outcome.exitCode;
}

/**
 * Closes the session, best effort: a session in jeopardy or expired gets only a short try (its
 * server side ends with its TTL anyway), so latch exits promptly after a loss.
 */
export async function closeQuietly(session: Session | undefined): Promise<void> {
  if (!session) return;
  const healthy = session.state === 'safe';
  await session.close(healthy ? {} : { timeoutMs: 2_000 }).catch(() => undefined);
}

function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

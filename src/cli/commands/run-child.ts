/**
 * Runs a command while a lock (or leadership) is held: stdio inherited, extra environment, and
 * when `lost` fires the command gets SIGTERM, then SIGKILL after `killGraceMs` if still running.
 * SIGINT, SIGTERM and SIGHUP sent to latch are forwarded to the command.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { EXIT, onSignals } from './cli-support.js';

/** How a supervised command ended. */
export interface ChildOutcome {
  /** Its exit code, 128 + n when killed by signal n, 127/126 when it could not be started. */
  readonly exitCode: number;
  /** True when it was stopped because the lock was lost. */
  readonly stoppedForLoss: boolean;
  /** Why it could not be started, if so. */
  readonly spawnError?: Error;
}

/** Options of `runWhileHeld`. */
export interface RunWhileHeldOptions {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Fires when the lock may be lost. */
  readonly lost: AbortSignal;
  /** Time between SIGTERM and SIGKILL after a loss. */
  readonly killGraceMs: number;
  /** Called once when the loss stops the command. */
  onLoss?(reason: unknown): void;
}

/** The exit code for a process that ended with `code` or `signal`. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return EXIT.SIGNAL_BASE + (n ?? 0);
}

/** Runs the command; see the file comment. Never rejects. */
export function runWhileHeld(opts: RunWhileHeldOptions): Promise<ChildOutcome> {
  const [cmd, ...args] = opts.argv;
  if (cmd === undefined) return Promise.resolve({ exitCode: EXIT.USAGE, stoppedForLoss: false, spawnError: new Error('no command given') });
  return new Promise((resolve) => {
    let settled = false;
    let stoppedForLoss = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(cmd, args, { stdio: 'inherit', env: opts.env });
    const stopForwarding = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    });
    const onLost = (): void => {
      if (settled || stoppedForLoss) return;
      stoppedForLoss = true;
      opts.onLoss?.(opts.lost.reason);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, opts.killGraceMs);
    };
    const finish = (outcome: ChildOutcome): void => {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      opts.lost.removeEventListener('abort', onLost);
      stopForwarding();
      resolve(outcome);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      // Only a failure to start ends things here; other errors (e.g. a failed kill) are followed by 'exit'.
      if (child.pid !== undefined) return;
      finish({ exitCode: err.code === 'ENOENT' ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE, stoppedForLoss: false, spawnError: err });
    });
    child.once('exit', (code, signal) => finish({ exitCode: exitCodeOf(code, signal), stoppedForLoss }));
    if (opts.lost.aborted) onLost();
    else opts.lost.addEventListener('abort', onLost, { once: true });
  });
}

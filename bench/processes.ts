/**
 * Server processes started by the benchmark. Every PID is registered so that a crash, an error or
 * Ctrl-C still stops them: the clusters stop their own processes by PID, and a last-resort `exit`
 * hook SIGKILLs any PID still registered.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const live = new Set<number>();
let hookInstalled = false;

/** Registers a PID to be SIGKILLed if the benchmark exits while it still runs. */
export function trackPid(pid: number): void {
  live.add(pid);
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', killTrackedNow);
  }
}

/** Forgets a PID (its process has exited or was stopped). */
export function untrackPid(pid: number): void {
  live.delete(pid);
}

/** PIDs of this process's direct children, from /proc (empty where /proc is not readable). */
export function childPids(parent = process.pid): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // ppid (field 4) is the second field after the parenthesised command name.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[1]);
      if (ppid === parent) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * SIGKILLs every tracked PID and every direct child of this process (all of which the benchmark
 * started, some of them, like the Latch servers, through helpers that do not report their PIDs
 * until they are up), synchronously: safe inside an `exit` handler.
 */
export function killTrackedNow(): void {
  for (const pid of childPids()) live.add(pid);
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** True if a process with this PID exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const OUTPUT_LIMIT = 64 * 1024;

/** A child process with its recent output kept for error messages. */
export interface ManagedProcess {
  readonly pid: number;
  readonly label: string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when the process has exited. */
  readonly exit: Promise<void>;
  /** The last 64 KiB it printed (stdout and stderr). */
  output(): string;
  /** Sends `signal` (default SIGKILL) by PID and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `cmd args` with stdout and stderr captured, and tracks its PID. */
export function spawnManaged(label: string, cmd: string, args: readonly string[], opts: Omit<SpawnOptions, 'stdio'> = {}): ManagedProcess {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${label} (${cmd})`);
  trackPid(pid);
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > OUTPUT_LIMIT * 2) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((res) => {
    child.once('exit', () => {
      exited = true;
      untrackPid(pid);
      res();
    });
    child.once('error', (err) => {
      keep(Buffer.from(`\n[spawn error] ${String(err)}\n`));
      exited = true;
      untrackPid(pid);
      res();
    });
  });
  return {
    pid,
    label,
    get exited() {
      return exited;
    },
    exit,
    output: () => out.slice(-OUTPUT_LIMIT),
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (exited) return;
      try {
        process.kill(pid, signal);
      } catch {
        // raced with its own exit
      }
      await exit;
    },
  };
}

/** Polls `fn` every `everyMs` until it returns a value that is not undefined, or throws after `timeoutMs`. */
export async function pollUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Memory and CPU of a server process from /proc (Linux): RSS from /proc/<pid>/status, CPU time
 * from /proc/<pid>/stat. The parsers are pure; `sampleProcess` does the reading.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A malformed /proc file. */
export class ProcParseError extends Error {
  override readonly name = 'ProcParseError';
}

/** Resident set size in bytes from the text of /proc/<pid>/status (its `VmRSS:` line, in kB). */
export function parseRssBytes(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB\s*$/m.exec(statusText);
  if (!m) throw new ProcParseError('no VmRSS line in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

/**
 * utime + stime, in clock ticks, from the text of /proc/<pid>/stat. The command name (field 2) is
 * in parentheses and may itself contain spaces and parentheses, so fields are counted from the
 * last `)`: after it come state (field 3) ... utime (14) and stime (15).
 */
export function parseCpuTicks(statText: string): number {
  const close = statText.lastIndexOf(')');
  if (close < 0) throw new ProcParseError('no ")" in /proc/<pid>/stat');
  const rest = statText.slice(close + 1).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new ProcParseError('utime/stime missing in /proc/<pid>/stat');
  return utime + stime;
}

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`, 100 if that fails). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isSafeInteger(v) && v > 0 ? v : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** One reading of a process. */
export interface ProcSample {
  readonly rssBytes: number;
  /** CPU time used so far (user + system), seconds. */
  readonly cpuSeconds: number;
  /** `performance.now()` at the reading. */
  readonly at: number;
}

/** Reads RSS and CPU time of `pid`; null if the process is gone. */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { rssBytes: parseRssBytes(status), cpuSeconds: parseCpuTicks(stat) / clockTicksPerSecond(), at: performance.now() };
  } catch (err) {
    if (err instanceof ProcParseError) throw err;
    return null;
  }
}

/** CPU use between two readings, in percent of one core. */
export function cpuPercent(from: ProcSample, to: ProcSample): number {
  const wall = (to.at - from.at) / 1000;
  return wall > 0 ? ((to.cpuSeconds - from.cpuSeconds) / wall) * 100 : 0;
}

/** Durations on the command line: `500ms`, `10s`, `1.5s`, `2m`, `1h`, or `0`. */
import { InvalidArgumentError } from '../../client/index.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses a duration into whole milliseconds; throws InvalidArgumentError naming `what` when malformed. */
export function parseDuration(text: string, what = 'duration'): number {
  const s = String(text).trim();
  if (s === '0') return 0;
  const m = DURATION.exec(s);
  if (!m) throw new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is not a duration (use e.g. 500ms, 10s, 2m, 1h)`);
  const ms = Math.round(Number(m[1]) * (UNITS[m[2]!] ?? Number.NaN));
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is out of range`);
  return ms;
}

/** Formats milliseconds for people: `250ms`, `10s`, `1.5s`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toFixed(3))}s`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${ms / 60_000}m`;
}

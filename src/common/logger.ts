import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Creates the root structured logger (pino JSON to stderr); children are made with `child({ component })`. */
export function createLogger(opts: { level?: LevelWithSilent | string; node?: string } = {}): Logger {
  const base = opts.node ? { node: opts.node } : {};
  return pino({ level: opts.level ?? 'info', base }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that discards everything (tests, the simulator). */
export const silentLogger: Logger = pino({ level: 'silent' });

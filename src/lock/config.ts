/** Lock state machine tuning: defaults and validation (the values must match on every node). */
import { ConfigError } from '../common/index.js';
import type { LockConfig } from './types.js';

/** Defaults: 1000 waiters per lock, 10 000 retained events, 10 000 remembered ended sessions. */
export const DEFAULT_LOCK_CONFIG: LockConfig = Object.freeze({
  maxWaitersPerLock: 1000,
  eventRingSize: 10_000,
  endedSessionMemory: 10_000,
});

const LIMITS: Readonly<Record<keyof LockConfig, readonly [number, number]>> = {
  maxWaitersPerLock: [1, 1_000_000],
  eventRingSize: [1, 10_000_000],
  endedSessionMemory: [0, 10_000_000],
};

/** Fills defaults and checks ranges; throws ConfigError naming the field. */
export function resolveLockConfig(partial: Partial<LockConfig> = {}): LockConfig {
  if (typeof partial !== 'object' || partial === null) throw new ConfigError('lock', 'expected an object');
  const out: Record<string, number> = {};
  for (const key of Object.keys(LIMITS) as (keyof LockConfig)[]) {
    const v = partial[key] ?? DEFAULT_LOCK_CONFIG[key];
    const [min, max] = LIMITS[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new ConfigError(`lock.${key}`, `must be an integer between ${min} and ${max}, got ${String(v)}`);
    }
    out[key] = v;
  }
  return out as unknown as LockConfig;
}

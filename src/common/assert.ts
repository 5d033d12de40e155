/** Compile-time exhaustiveness check for discriminated unions; throws if reached at run time. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}

/** Throws an Error with `message` when `cond` is false (an invariant, not input validation). */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${message}`);
}

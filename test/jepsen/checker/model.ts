/**
 * The sequential specification a linearizability check runs against (Porcupine's `Model`, made
 * explicit about unknown outcomes).
 */

/** The outcome of applying one op to a state: legal with a next state, or illegal. */
export type StepResult<S> = { readonly ok: true; readonly state: S } | { readonly ok: false };

/** An op's input and, when known, output, decoded from history values. */
export interface DecodedOp<I, O> {
  readonly input: I;
  /** Undefined when the outcome is unknown (an `info` or never-completed op). */
  readonly output: O | undefined;
}

/**
 * A deterministic sequential object.
 *
 * Invariants the checker relies on:
 * - `step` is pure and deterministic; states are immutable values.
 * - `equal(a, b)` implies `hash(a) === hash(b)`.
 * - With `output === undefined` (unknown outcome), `step` answers for "the op took effect": it returns
 *   one state that covers every way the op could have taken effect (a model may keep symbolic
 *   state for this, e.g. "held by an unknown token"), or `{ ok: false }` when taking effect could
 *   not change the state. The checker separately allows the op to never take effect.
 * - `partition`, when present, maps each input to a key such that ops with different keys never
 *   interact (P-compositionality); each key is then checked on its own.
 */
export interface Model<S, I, O> {
  /** A short name for reports, e.g. `lock`. */
  readonly name: string;
  /** The initial state. */
  init(): S;
  /** Applies `input` with observed `output` (or undefined when unknown) to `state`. */
  step(state: S, input: I, output: O | undefined): StepResult<S>;
  /** Structural state equality. */
  equal(a: S, b: S): boolean;
  /** A string hash of a state, consistent with `equal`. */
  hash(state: S): string;
  /** The independent sub-object an input touches (lock name, register key). */
  partition?(input: I): string;
  /**
   * Decodes a history op: `f`, the invoke's value, and the completion's value (`known` false for
   * info/open ops, whose completion value is not a result). Throws HistoryError on a bad shape.
   */
  decode(f: string, invokeValue: unknown, completionValue: unknown, known: boolean): DecodedOp<I, O>;
  /** A human-readable state for reports. */
  describeState?(state: S): string;
  /** A human-readable op for reports. */
  describeOp?(input: I, output: O | undefined): string;
}

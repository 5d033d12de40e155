/** Where in a history (or its JSONL file) a problem was found. */
export interface HistoryErrorLocation {
  /** 1-based line of the JSONL file, when the history came from one. */
  readonly line?: number;
  /** The `index` field of the offending op, when known. */
  readonly index?: number;
  readonly cause?: unknown;
}

/**
 * A history (or a value inside one) is malformed: bad JSON, a missing or mistyped field, an
 * out-of-order index, a completion with no open invoke, or an op value a model cannot decode.
 * The message starts with the line number when one is known.
 */
export class HistoryError extends Error {
  readonly code = 'HISTORY_INVALID';
  readonly line: number | undefined;
  readonly index: number | undefined;
  constructor(message: string, at: HistoryErrorLocation = {}) {
    const where = at.line !== undefined ? `line ${at.line}: ` : at.index !== undefined ? `op index ${at.index}: ` : '';
    super(`${where}${message}`, at.cause === undefined ? undefined : { cause: at.cause });
    this.name = 'HistoryError';
    this.line = at.line;
    this.index = at.index;
  }
}

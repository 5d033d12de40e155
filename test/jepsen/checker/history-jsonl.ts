/**
 * JSONL reading and writing of histories: one op per line, as a JSON object with the fields of
 * `Op`. This is the only module of the checkers that does I/O.
 */

import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { HistoryError } from './history-error.js';
import { pairHistory, validateOp, type History, type Op } from './history.js';
import { canonicalJson } from './values.js';

/** One op as a JSONL line (without the newline); fields in a fixed order, the value canonical. */
export function formatOpLine(op: Op): string {
  const v = validateOp(op);
  const parts = [
    `"index":${v.index}`,
    `"time":${JSON.stringify(v.time)}`,
    `"process":${v.process}`,
    `"type":${JSON.stringify(v.type)}`,
    `"f":${JSON.stringify(v.f)}`,
    `"value":${canonicalJson(v.value)}`,
  ];
  if (v.error !== undefined) parts.push(`"error":${JSON.stringify(v.error)}`);
  return `{${parts.join(',')}}`;
}

/** A whole history as JSONL text (a trailing newline after every op). */
export function formatHistoryJsonl(ops: History): string {
  return ops.map((op) => `${formatOpLine(op)}\n`).join('');
}

/**
 * Parses JSONL text into a validated history. Blank lines are skipped. Throws HistoryError with the
 * 1-based line number on malformed JSON, a bad field, or a broken ordering/pairing rule.
 */
export function parseHistoryJsonl(text: string): Op[] {
  const ops: Op[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  rows.forEach((raw, i) => {
    const row = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (row.trim().length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch (err) {
      throw new HistoryError(`invalid JSON (${err instanceof Error ? err.message : String(err)})`, { line: i + 1, cause: err });
    }
    ops.push(validateOp(parsed, i + 1));
    lines.push(i + 1);
  });
  pairHistory(ops, lines);
  return ops;
}

/** Reads and validates a JSONL history file. */
export async function readHistoryFile(path: string): Promise<Op[]> {
  return parseHistoryJsonl(await readFile(path, 'utf8'));
}

/** Writes a history to a JSONL file (replacing it), after validating its ordering and pairing. */
export async function writeHistoryFile(path: string, ops: History): Promise<void> {
  pairHistory(ops);
  await writeFile(path, formatHistoryJsonl(ops), 'utf8');
}

/**
 * Appends ops to a JSONL file as they happen (for long runs, so a crash of the harness keeps the
 * history so far). Appends are written in call order; `close()` flushes and closes the file.
 * Each op is shape-checked and its index must increase; pairing is checked when the file is read.
 */
export class HistoryFileWriter {
  private chain: Promise<void> = Promise.resolve();
  private lastIndex = -1;
  private closed = false;
  private failure: unknown = undefined;

  private constructor(private readonly handle: FileHandle) {}

  /** Creates (or truncates) `path` and returns a writer for it. */
  static async create(path: string): Promise<HistoryFileWriter> {
    return new HistoryFileWriter(await open(path, 'w'));
  }

  /** Queues one op for writing; throws HistoryError at once on a bad op or a non-increasing index. */
  append(op: Op): void {
    if (this.closed) throw new HistoryError('append after close');
    const line = formatOpLine(op);
    if (op.index <= this.lastIndex) throw new HistoryError(`index ${op.index} does not increase (previous ${this.lastIndex})`, { index: op.index });
    this.lastIndex = op.index;
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await this.handle.write(`${line}\n`);
      } catch (err) {
        this.failure = err;
      }
    });
  }

  /** Waits for every queued op to be written; rejects with the first write error, if any. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Flushes, syncs and closes the file; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
  }
}

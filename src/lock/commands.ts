/**
 * Defensive structural validation of commands and apply metadata. The log may hold anything the
 * decoder produced, so `apply` checks every field here first; a failure becomes an
 * `INVALID_ARGUMENT` result with no state change.
 */
import type { ApplyMeta, LockCommand, LockCommandType, LockMode, SessionMeta } from './types.js';
import {
  MAX_CHECKPOINT_BATCH,
  MAX_LOCK_DELAY_MS,
  MAX_TTL_MS,
  MAX_WAIT_MS,
  clientProblem,
  describeInput,
  identityProblem,
  idProblem,
  intRangeProblem,
  isPlainObject,
  lockNameProblem,
  lockValueProblem,
  sessionMetaProblem,
  ttlProblem,
} from './validate.js';

/** Outcome of `parseLockCommand`. */
export type ParsedCommand = { readonly ok: true; readonly command: LockCommand } | { readonly ok: false; readonly message: string };

const COMMAND_TYPES: ReadonlySet<string> = new Set<LockCommandType>([
  'open-session',
  'close-session',
  'expire-session',
  'expire-sessions',
  'checkpoint-sessions',
  'renew-session',
  'acquire',
  'release',
  'set-value',
  'cancel-wait',
  'end-lock-delay',
]);

function modeProblem(mode: unknown): string | undefined {
  return mode === 'exclusive' || mode === 'shared' ? undefined : `lock mode must be 'exclusive' or 'shared', got ${describeInput(mode)}`;
}

function absent(x: unknown): boolean {
  return x === undefined || x === null;
}

function firstProblem(...checks: (() => string | undefined)[]): string | undefined {
  for (const c of checks) {
    const p = c();
    if (p !== undefined) return p;
  }
  return undefined;
}

/**
 * Checks that `x` is a well-formed LockCommand and returns it normalised (absent optional fields
 * dropped, null treated as absent). Never throws.
 */
export function parseLockCommand(x: unknown): ParsedCommand {
  if (!isPlainObject(x)) return { ok: false, message: `a lock command must be an object, got ${describeInput(x)}` };
  const t = x['type'];
  if (typeof t !== 'string' || !COMMAND_TYPES.has(t)) return { ok: false, message: `unknown lock command type ${describeInput(t)}` };
  const type = t as LockCommandType;
  const sid = (): string | undefined => idProblem('sessionId', x['sessionId']);
  const seq = (): string | undefined => idProblem('seq', x['seq']);
  const name = (): string | undefined => lockNameProblem(x['name']);
  const caller = (): string | undefined => (absent(x['caller']) ? undefined : identityProblem('caller', x['caller']));
  const withCaller = <C extends object>(c: C): C & { caller?: string } => (absent(x['caller']) ? c : { ...c, caller: x['caller'] as string });
  let problem: string | undefined;
  let command: LockCommand;
  switch (type) {
    case 'open-session': {
      problem = firstProblem(
        () => ttlProblem(x['ttlMs']),
        () => clientProblem(x['client']),
        () => (absent(x['meta']) ? undefined : sessionMetaProblem(x['meta'])),
        () => (absent(x['owner']) ? undefined : identityProblem('owner', x['owner'])),
      );
      command = {
        type,
        ttlMs: x['ttlMs'] as number,
        client: x['client'] as string,
        ...(absent(x['meta']) ? {} : { meta: x['meta'] as SessionMeta }),
        ...(absent(x['owner']) ? {} : { owner: x['owner'] as string }),
      };
      break;
    }
    case 'close-session':
      problem = firstProblem(sid, seq, caller);
      command = withCaller({ type, sessionId: x['sessionId'] as number, seq: x['seq'] as number });
      break;
    case 'expire-session':
      problem = firstProblem(sid, () => intRangeProblem('lockDelayMs', x['lockDelayMs'], 0, MAX_LOCK_DELAY_MS));
      command = { type, sessionId: x['sessionId'] as number, lockDelayMs: x['lockDelayMs'] as number };
      break;
    case 'expire-sessions': {
      const ids = x['sessionIds'];
      problem = firstProblem(
        () => (Array.isArray(ids) && ids.length >= 1 && ids.length <= MAX_CHECKPOINT_BATCH ? undefined : `sessionIds must be a list of 1–${MAX_CHECKPOINT_BATCH} session ids, got ${describeInput(ids)}`),
        () => (Array.isArray(ids) ? ids.map((id, i) => idProblem(`sessionIds[${i}]`, id)).find((p) => p !== undefined) : undefined),
        () => intRangeProblem('lockDelayMs', x['lockDelayMs'], 0, MAX_LOCK_DELAY_MS),
      );
      command = { type, sessionIds: (Array.isArray(ids) ? ids : []) as number[], lockDelayMs: x['lockDelayMs'] as number };
      break;
    }
    case 'checkpoint-sessions': {
      const list = x['sessions'];
      problem = checkpointListProblem(list);
      command = { type, sessions: (Array.isArray(list) ? list : []) as [number, number][] };
      break;
    }
    case 'renew-session':
      problem = sid();
      command = { type, sessionId: x['sessionId'] as number };
      break;
    case 'acquire': {
      problem = firstProblem(
        sid,
        seq,
        name,
        () => modeProblem(x['mode']),
        () => intRangeProblem('waitMs', x['waitMs'], 0, MAX_WAIT_MS),
        () => (absent(x['value']) ? undefined : lockValueProblem(x['value'])),
        caller,
      );
      const base = {
        type,
        sessionId: x['sessionId'] as number,
        seq: x['seq'] as number,
        name: x['name'] as string,
        mode: x['mode'] as LockMode,
        waitMs: x['waitMs'] as number,
      };
      command = withCaller(absent(x['value']) ? base : { ...base, value: x['value'] as Uint8Array });
      break;
    }
    case 'release':
      problem = firstProblem(sid, seq, name, caller);
      command = withCaller({ type, sessionId: x['sessionId'] as number, seq: x['seq'] as number, name: x['name'] as string });
      break;
    case 'set-value':
      problem = firstProblem(sid, seq, name, () => lockValueProblem(x['value']), caller);
      command = withCaller({
        type,
        sessionId: x['sessionId'] as number,
        seq: x['seq'] as number,
        name: x['name'] as string,
        value: x['value'] as Uint8Array,
      });
      break;
    case 'cancel-wait':
      problem = idProblem('waiterId', x['waiterId']);
      command = { type, waiterId: x['waiterId'] as number };
      break;
    case 'end-lock-delay':
      problem = firstProblem(name, () => (absent(x['since']) ? undefined : idProblem('since', x['since'])));
      command = absent(x['since'])
        ? { type, name: x['name'] as string }
        : { type, name: x['name'] as string, since: x['since'] as number };
      break;
  }
  return problem === undefined ? { ok: true, command } : { ok: false, message: `${type}: ${problem}` };
}

function checkpointListProblem(list: unknown): string | undefined {
  if (!Array.isArray(list)) return `sessions must be an array of [sessionId, remainingMs], got ${describeInput(list)}`;
  if (list.length > MAX_CHECKPOINT_BATCH) return `${list.length} sessions in one checkpoint; the limit is ${MAX_CHECKPOINT_BATCH}`;
  for (let i = 0; i < list.length; i++) {
    const pair: unknown = list[i];
    if (!Array.isArray(pair) || pair.length !== 2) return `sessions[${i}] must be a [sessionId, remainingMs] pair`;
    const p = idProblem(`sessions[${i}] sessionId`, pair[0]) ?? intRangeProblem(`sessions[${i}] remainingMs`, pair[1], 0, MAX_TTL_MS);
    if (p !== undefined) return p;
  }
  return undefined;
}

/** Why `meta` is not valid apply metadata after `appliedIndex` (indexes only move forward). */
export function applyMetaProblem(meta: unknown, appliedIndex: number): string | undefined {
  if (!isPlainObject(meta) && (typeof meta !== 'object' || meta === null)) return `apply meta must be an object, got ${describeInput(meta)}`;
  const m = meta as Partial<Record<keyof ApplyMeta, unknown>>;
  const p =
    idProblem('entry index', m.index) ??
    intRangeProblem('entry term', m.term, 0, Number.MAX_SAFE_INTEGER) ??
    (typeof m.at === 'number' && Number.isFinite(m.at) ? undefined : `entry timestamp must be a finite number, got ${describeInput(m.at)}`);
  if (p !== undefined) return p;
  if ((m.index as number) <= appliedIndex) return `entry index ${String(m.index)} is not after the last applied index ${appliedIndex}`;
  return undefined;
}

import { describe, expect, it } from 'vitest';
import { LatchError } from '../../../src/common/errors.js';
import { LatchClientError, LockHeldError, SessionExpiredError, UnavailableError, WaitTimeoutError } from '../../../src/client/index.js';
import { HarnessError } from '../harness/harness-error.js';
import { DEFAULT_OPTIONS, NEMESES, parseArgs, parseNemeses } from '../harness/options.js';
import { rolesFor } from '../harness/run.js';
import { parseFromWorker, parseToWorker } from '../harness/worker-protocol.js';
import { classifyError } from '../workloads/classify.js';

function options(argv: string[]) {
  const p = parseArgs(argv, () => 42);
  if (p.type !== 'run') throw new Error('expected run options');
  return p.options;
}

function badOption(argv: string[]): string {
  try {
    parseArgs(argv, () => 1);
  } catch (err) {
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe('BAD_OPTION');
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('parseArgs', () => {
  it('gives the defaults, in ms, with the supplied random seed', () => {
    expect(options([])).toEqual({ ...DEFAULT_OPTIONS, seed: 42 });
  });

  it('reads the documented flags in both spellings', () => {
    const o = options(['--', '--time', '120', '--nemesis', 'kill,pause,partition', '--clients=8', '--workload', 'sessions', '--nodes', '5', '--seed', '7', '--netns', '--quiet', '--check-timeout', '2.5']);
    expect(options(['--plant', 'unfenced-register']).plant).toBe('unfenced-register');
    expect(o).toMatchObject({ timeMs: 120_000, nemeses: ['kill', 'pause', 'partition'], clients: 8, workload: 'sessions', nodes: 5, seed: 7, netns: true, quiet: true, checkTimeoutMs: 2_500 });
  });

  it('gives the checker twice the run time by default, at least 60 s, and --check-timeout wins', () => {
    expect(options(['--time', '20']).checkTimeoutMs).toBe(60_000);
    expect(options(['--time', '600']).checkTimeoutMs).toBe(1_200_000);
    expect(options(['--time', '600', '--check-timeout', '30']).checkTimeoutMs).toBe(30_000);
  });

  it('answers --help, and --recheck with the options of the run to check', () => {
    expect(parseArgs(['--help']).type).toBe('help');
    const r = parseArgs(['--recheck', 'h.jsonl', '--workload', 'election', '--lock-delay', '500'], () => 1);
    expect(r).toMatchObject({ type: 'recheck', path: 'h.jsonl', options: { workload: 'election', lockDelayMs: 500 } });
  });

  it('rejects bad input with a message naming the flag', () => {
    expect(badOption(['--time'])).toMatch(/--time needs a value/);
    expect(badOption(['--time', 'soon'])).toMatch(/--time must be a number/);
    expect(badOption(['--nodes', '4'])).toMatch(/--nodes must be 3 or 5/);
    expect(badOption(['--workload', 'queue'])).toMatch(/--workload must be one of/);
    expect(badOption(['--frobnicate'])).toMatch(/unknown option --frobnicate/);
    expect(badOption(['--clients', '2.5'])).toMatch(/--clients must be an integer/);
    expect(badOption(['--heartbeat', '100', '--election-timeout', '200'])).toMatch(/at least 3/);
    expect(badOption(['--quiet=yes'])).toMatch(/takes no value/);
    expect(badOption(['--seed', '1', '--seed', '2'])).toMatch(/given twice/);
    expect(badOption(['stray'])).toMatch(/unexpected argument/);
    expect(badOption(['--plant', 'gremlins'])).toMatch(/--plant must be/);
  });

  it('parses nemesis lists, all and none, without duplicates', () => {
    expect(parseNemeses('all')).toEqual([...NEMESES]);
    expect(parseNemeses('all')).toEqual(['kill', 'pause', 'partition', 'rolling-restart', 'slow', 'membership']);
    expect(parseNemeses(undefined)).toEqual(['kill', 'pause', 'partition', 'rolling-restart', 'membership']);
    expect(parseNemeses('membership,kill')).toEqual(['membership', 'kill']);
    expect(parseNemeses('none')).toEqual([]);
    expect(parseNemeses('kill, kill,slow')).toEqual(['kill', 'slow']);
    expect(() => parseNemeses('kill,teleport')).toThrow(/unknown kind "teleport"/);
    expect(() => parseNemeses(',')).toThrow(/at least one/);
  });
});

describe('worker protocol', () => {
  it('accepts well-formed messages both ways', () => {
    expect(parseFromWorker({ type: 'invoke', id: 1, lane: 0, f: 'enter', value: { name: 'a' } })).toEqual({ type: 'invoke', id: 1, lane: 0, f: 'enter', value: { name: 'a' } });
    expect(parseFromWorker({ type: 'complete', lane: 2, outcome: 'info', value: null, error: 'gone' })).toMatchObject({ outcome: 'info', error: 'gone' });
    expect(parseFromWorker({ type: 'write', id: 3, lane: 0, key: 'a', token: 9, value: 'v' })).toMatchObject({ token: 9 });
    expect(parseFromWorker({ type: 'note', lane: 1, f: 'observe', value: { name: 'e' }, result: { token: 4 } })).toEqual({ type: 'note', lane: 1, f: 'observe', value: { name: 'e' }, result: { token: 4 } });
    expect(parseToWorker({ type: 'sequencers', list: [{ name: 'a', token: '5', sessionId: '2' }] })).toMatchObject({ list: [{ token: '5' }] });
    const config = { slot: 0, workload: 'mutex', role: 'mutex', endpoints: ['127.0.0.1:1'], originNs: '123', seed: 1, ttlMs: 3000, driftMarginMs: 750, lockDelayMs: 0, locks: ['a'], election: 'e', waitMs: 100 };
    expect(parseToWorker({ type: 'start', config })).toEqual({ type: 'start', config });
  });

  it('rejects malformed messages with PROTOCOL errors', () => {
    const bad = [
      () => parseFromWorker(null),
      () => parseFromWorker({ type: 'teleport' }),
      () => parseFromWorker({ type: 'invoke', id: -1, lane: 0, f: 'x' }),
      () => parseFromWorker({ type: 'invoke', id: 1, lane: 0, f: '' }),
      () => parseFromWorker({ type: 'complete', lane: 0, outcome: 'maybe' }),
      () => parseFromWorker({ type: 'write', id: 1, lane: 0, key: 'a', token: 1.5, value: 'v' }),
      () => parseToWorker({ type: 'sequencers', list: [{ name: 'a', token: 'x', sessionId: '1' }] }),
      () => parseToWorker({ type: 'start', config: { slot: 0 } }),
      () => parseToWorker({ type: 'register', id: 1, accepted: 'yes' }),
    ];
    for (const f of bad) {
      expect(f).toThrow(HarnessError);
      try {
        f();
      } catch (err) {
        expect((err as HarnessError).code).toBe('PROTOCOL');
      }
    }
  });
});

describe('classifyError', () => {
  it('treats answers that guarantee nothing happened as fail', () => {
    expect(classifyError(new WaitTimeoutError('w'), 'mutating').outcome).toBe('fail');
    expect(classifyError(new LockHeldError('h'), 'mutating').outcome).toBe('fail');
    expect(classifyError(new UnavailableError('u', false), 'mutating').outcome).toBe('fail');
    expect(classifyError(new LatchError('NOT_LEADER', 'n'), 'mutating').outcome).toBe('fail');
  });

  it('treats possibly-applied outcomes as info', () => {
    expect(classifyError(new UnavailableError('u', true), 'mutating').outcome).toBe('info');
    expect(classifyError(new LatchError('LEADERSHIP_LOST', 'l'), 'mutating').outcome).toBe('info');
    expect(classifyError(new SessionExpiredError('s'), 'mutating').outcome).toBe('info');
    expect(classifyError(new LatchClientError('CANCELLED', 'c'), 'mutating').outcome).toBe('info');
    expect(classifyError(new Error('boom'), 'mutating')).toEqual({ outcome: 'info', error: 'boom' });
  });

  it('treats every failed read as fail, and keeps the code in the message', () => {
    expect(classifyError(new UnavailableError('u', true), 'read')).toEqual({ outcome: 'fail', error: 'UNAVAILABLE: u' });
    expect(classifyError('weird', 'read')).toEqual({ outcome: 'fail', error: 'weird' });
  });
});

describe('rolesFor', () => {
  it('splits clients into the roles each workload needs', () => {
    expect(rolesFor('mutex', 3)).toEqual(['mutex', 'mutex', 'mutex']);
    expect(rolesFor('sequencer', 5)).toEqual(['holder', 'holder', 'holder', 'checker', 'checker']);
    expect(rolesFor('sessions', 4)).toEqual(['holder', 'holder', 'contender', 'contender']);
    expect(rolesFor('sessions', 1)).toEqual(['holder']);
    expect(rolesFor('election', 1)).toEqual(['candidate']);
    expect(rolesFor('election', 2)).toEqual(['candidate', 'observer']);
    expect(rolesFor('election', 8)).toEqual(['candidate', 'candidate', 'candidate', 'candidate', 'candidate', 'candidate', 'observer', 'observer']);
  });
});

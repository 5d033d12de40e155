import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/common/clock.js';
import { checkElection } from '../checker/election.js';
import { checkFencing } from '../checker/fencing.js';
import { checkLinearizability } from '../checker/linearizability.js';
import { lockModel, registerModel } from '../checker/models.js';
import { combineResults, renderVerdict } from '../checker/report.js';
import { HistoryBuilder } from './build.js';

describe('report', () => {
  const locks = new HistoryBuilder().op(0, 'acquire', { name: 'a' }, { token: 1 }).op(0, 'release', { name: 'a', token: 1 }).build();
  const badLocks = new HistoryBuilder().op(0, 'acquire', { name: 'a' }, { token: 1 }).op(1, 'acquire', { name: 'a' }, { token: 2 }).build();
  const fenced = new HistoryBuilder().op(0, 'enter', null, { token: 1 }).op(1, 'enter', null, { token: 2 }).op(1, 'write', { token: 2 }, true).op(0, 'write', { token: 1 }, true).build();
  const elected = new HistoryBuilder().op(0, 'campaign', null, { token: 1 }).op(1, 'observe', null, { token: 1 }).build();

  it('passes only when every check passes, and renders a table', () => {
    const v = combineResults([
      ['locks', checkLinearizability(lockModel, locks)],
      ['election', checkElection(elected)],
    ]);
    expect(v.valid).toBe(true);
    expect(v.checks.map((c) => [c.name, c.checker, c.valid])).toEqual([
      ['locks', 'linearizability', true],
      ['election', 'election', true],
    ]);
    const text = renderVerdict(v);
    expect(text.split('\n')).toEqual([
      'verdict: PASS',
      'check    | checker         | result | summary',
      '---------+-----------------+--------+--------',
      'locks    | linearizability | PASS   | 2 ops in 1 partition(s) linearizable',
      'election | election        | PASS   | 1 grants, 1 observer(s) consistent',
    ]);
  });

  it('fails when any check fails and appends the failing checks’ details', () => {
    const v = combineResults([
      ['locks', checkLinearizability(lockModel, badLocks)],
      ['fencing', checkFencing(fenced)],
      ['election', checkElection(elected)],
    ]);
    expect(v.valid).toBe(false);
    expect(v.checks.map((c) => c.valid)).toEqual([false, false, true]);
    expect(v.checks[1]?.summary).toBe('1 stale-write-accepted');
    const text = renderVerdict(v);
    expect(text).toContain('locks    | linearizability | FAIL   | 1 of 1 partition(s) not linearizable; first: "a"');
    expect(text).toContain('\nlocks:\nlock model: NOT linearizable');
    expect(text).toContain('\nfencing:\nfencing: 1 violation(s)');
    expect(text).not.toContain('\nelection:\n');
  });

  it('is unknown when a check timed out (and none failed) or when nothing was checked', () => {
    let t = 0;
    const jumpy: Clock = { now: () => (t += 1000) };
    const b = new HistoryBuilder();
    for (let i = 0; i < 400; i++) b.op(0, 'write', { value: i }).op(1, 'read', null, { value: i });
    const v = combineResults([
      ['register', checkLinearizability(registerModel(), b.build(), { timeoutMs: 1, clock: jumpy })],
      ['election', checkElection(elected)],
    ]);
    expect(v.valid).toBe('unknown');
    expect(v.checks[0]?.summary).toBe('timed out; 1 of 1 partition(s) unchecked');
    expect(renderVerdict(v)).toContain('verdict: UNKNOWN');
    expect(combineResults([]).valid).toBe('unknown');
  });
});

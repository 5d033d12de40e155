import { describe, expect, it } from 'vitest';
import { checkFencing, renderFencing } from '../checker/fencing.js';
import { HistoryError } from '../checker/history.js';
import { HistoryBuilder } from './build.js';

const enter = (b: HistoryBuilder, p: number, token: number, name?: string) => b.op(p, 'enter', name === undefined ? null : { name }, { token });
const write = (b: HistoryBuilder, p: number, token: number, accepted: boolean) => b.op(p, 'write', { token, value: `${p}@${token}` }, { accepted });

describe('fencing checker', () => {
  it('accepts sequential sections, and overlapping ones whose stale writes were rejected', () => {
    const b = new HistoryBuilder();
    enter(b, 0, 1);
    write(b, 0, 1, true);
    b.op(0, 'exit', { token: 1 });
    enter(b, 1, 2);
    write(b, 1, 2, true);
    b.op(1, 'read', null, { value: '1@2' }); // other ops are ignored
    enter(b, 0, 3);
    write(b, 0, 3, true);
    write(b, 1, 2, false); // p1 lost its lock without knowing; the resource fences it off
    const res = checkFencing(b.build());
    expect(res.valid).toBe(true);
    expect(res.sections.map((s) => [s.process, s.token, s.end === Infinity])).toEqual([
      [0, 1, false],
      [1, 2, true],
      [0, 3, true],
    ]);
    expect(res.overlaps.map(([a, c]) => [a.token, c.token])).toEqual([[2, 3]]);
    expect(res.writes).toEqual({ accepted: 3, rejected: 1, unknown: 0 });
    expect(renderFencing(res)).toMatch(/^fencing: ok \(3 sections, 1 overlapping pair\(s\), writes 3 accepted \/ 1 rejected \/ 0 unknown\)$/);
  });

  it('flags a stale write the resource accepted during an overlap', () => {
    const b = new HistoryBuilder();
    enter(b, 0, 1);
    enter(b, 1, 2);
    write(b, 1, 2, true);
    write(b, 0, 1, true);
    const res = checkFencing(b.build());
    expect(res.valid).toBe(false);
    expect(res.findings).toHaveLength(1);
    const f = res.findings[0];
    expect(f?.type).toBe('stale-write-accepted');
    if (f?.type !== 'stale-write-accepted') return;
    expect([f.token, f.newerToken, f.overlapping, f.key]).toEqual([1, 2, true, 'default']);
    expect(renderFencing(res)).toContain('stale write accepted on default: token 1 after token 2 (overlapping critical sections)');
  });

  it('does not flag a stale write that was concurrent with the newer one (the resource may have taken it first)', () => {
    const b = new HistoryBuilder();
    enter(b, 0, 1);
    enter(b, 1, 2);
    b.inv(1, 'write', { token: 2 }).inv(0, 'write', { token: 1 }).ok(1, true).ok(0, true);
    expect(checkFencing(b.build()).valid).toBe(true);
  });

  it('flags a token granted twice and a token going backwards', () => {
    const b = new HistoryBuilder();
    enter(b, 0, 5, 'a');
    b.op(0, 'exit', { name: 'a', token: 5 });
    enter(b, 1, 5, 'a');
    b.op(1, 'exit', { name: 'a', token: 5 });
    enter(b, 2, 4, 'a');
    enter(b, 3, 1, 'b'); // another lock: its own order
    const res = checkFencing(b.build());
    expect(res.findings.map((f) => f.type)).toEqual(['double-grant', 'token-regression']);
    const [dbl, back] = res.findings;
    if (dbl?.type !== 'double-grant' || back?.type !== 'token-regression') return;
    expect([dbl.name, dbl.token, dbl.first.process, dbl.second.process]).toEqual(['a', 5, 0, 1]);
    expect([back.earlierToken, back.laterToken, back.later.process]).toEqual([5, 4, 2]);
    const text = renderFencing(res);
    expect(text).toContain('double grant of a token 5');
    expect(text).toContain('token went backwards on a: 4 granted after 5');
  });

  it('does not flag grants whose windows overlap, in either token order', () => {
    const b = new HistoryBuilder().inv(0, 'enter', null).inv(1, 'enter', null).ok(1, { token: 9 }).ok(0, { token: 8 });
    expect(checkFencing(b.build()).valid).toBe(true);
  });

  it('flags a rejection no higher token explains, but not one an unknown write may explain', () => {
    const lost = new HistoryBuilder();
    enter(lost, 0, 3);
    write(lost, 0, 3, false);
    const res = checkFencing(lost.build());
    expect(res.findings.map((f) => f.type)).toEqual(['unjustified-rejection']);
    expect(renderFencing(res)).toContain('write rejected with no higher token before it on default');

    const explained = new HistoryBuilder();
    enter(explained, 0, 3);
    explained.inv(1, 'write', { token: 7 }).info(1);
    write(explained, 0, 3, false);
    const r2 = checkFencing(explained.build());
    expect(r2.valid).toBe(true);
    expect(r2.writes.unknown).toBe(1);
    // A failed write never happened, so it explains nothing.
    const failed = new HistoryBuilder();
    failed.inv(1, 'write', { token: 7 }).fail(1);
    write(failed, 0, 3, false);
    expect(checkFencing(failed.build()).valid).toBe(false);
  });

  it('raises a HistoryError on malformed section ops', () => {
    expect(() => checkFencing(new HistoryBuilder().op(0, 'exit', { token: 1 }).build())).toThrow(/holds no such section/);
    expect(() => checkFencing(new HistoryBuilder().op(0, 'write', { value: 1 }, true).build())).toThrow(HistoryError);
    expect(() => checkFencing(new HistoryBuilder().op(0, 'enter', null, { tok: 1 }).build())).toThrow(/op index 0: enter of process 0: enter ok value: field "token"/);
    expect(() => checkFencing(new HistoryBuilder().op(0, 'enter', 7, { token: 1 }).build())).toThrow(/enter invoke value must be an object/);
  });
});

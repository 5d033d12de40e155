import { describe, expect, it } from 'vitest';
import { checkElection, renderElection } from '../checker/election.js';
import { HistoryBuilder } from './build.js';

const win = (b: HistoryBuilder, p: number, token: number) => b.op(p, 'campaign', { value: `p${p}` }, { token });
const see = (b: HistoryBuilder, p: number, token: number | null, f = 'observe') => b.op(p, f, null, { token });

describe('election checker', () => {
  it('accepts leaders in token order seen as subsequences by every observer', () => {
    const b = new HistoryBuilder();
    win(b, 0, 1);
    see(b, 5, 1);
    b.op(0, 'proclaim', { token: 1, value: 'x' });
    b.op(0, 'resign', { token: 1 });
    see(b, 5, null);
    b.inv(1, 'campaign', null).inv(2, 'campaign', null).ok(2, { token: 3 });
    see(b, 6, 3);
    b.op(2, 'proclaim', { token: 3 }).op(2, 'resign', { token: 3 });
    b.ok(1, { token: 4 });
    see(b, 5, 4);
    see(b, 5, 4);
    see(b, 6, 4, 'leader');
    b.inv(1, 'proclaim', { token: 1 }).fail(1);
    const res = checkElection(b.build());
    expect(res.findings).toEqual([]);
    expect(res.valid).toBe(true);
    expect([res.grants, res.observers]).toEqual([3, 2]);
    expect(renderElection(res)).toBe('election: ok (3 grants, 2 observer(s))');
  });

  it('flags two leaders: a token won twice, won out of order, or a stale leader accepted', () => {
    const b = new HistoryBuilder();
    win(b, 0, 2);
    win(b, 1, 2);
    win(b, 2, 5);
    win(b, 3, 4);
    b.op(0, 'proclaim', { token: 2, value: 'late' });
    const res = checkElection(b.build());
    expect(res.findings.map((f) => f.type)).toEqual(['double-grant', 'grant-order', 'stale-leader-accepted']);
    const text = renderElection(res);
    expect(text).toContain('two leaders: default token 2 won twice');
    expect(text).toContain('two leaders: default token 4 won after token 5 had won');
    expect(text).toContain('accepted proclaim from token 2 after a newer leader won');
  });

  it('flags a proclaim accepted after its leader resigned', () => {
    const b = new HistoryBuilder();
    win(b, 0, 1);
    b.op(0, 'resign', { token: 1 }).op(0, 'proclaim', { token: 1, value: 'again' });
    const res = checkElection(b.build());
    expect(res.findings).toMatchObject([{ type: 'stale-leader-accepted', reason: 'resigned', token: 1 }]);
  });

  it('flags an observer that sees leaders out of order, or a leader no one elected', () => {
    const b = new HistoryBuilder();
    win(b, 0, 1);
    win(b, 1, 2);
    see(b, 7, 2);
    see(b, 7, 1);
    see(b, 8, 9);
    const res = checkElection(b.build());
    expect(res.findings.map((f) => f.type)).toEqual(['observer-reorder', 'unknown-leader']);
    expect(renderElection(res)).toContain('observer p7 saw default token 1 after token 2');
    // A campaign with an unknown outcome, invoked before the observation, may have won that token.
    const explained = new HistoryBuilder().inv(3, 'campaign', null).info(3);
    see(explained, 8, 9);
    expect(checkElection(explained.build()).valid).toBe(true);
  });

  it('keeps elections of different names apart', () => {
    const b = new HistoryBuilder().op(0, 'campaign', { name: 'a' }, { token: 5 }).op(1, 'campaign', { name: 'b' }, { token: 2 });
    b.op(2, 'observe', { name: 'a' }, { token: 5 }).op(2, 'observe', { name: 'b' }, { token: 2 });
    expect(checkElection(b.build()).valid).toBe(true);
  });

  it('flags a leader query answered with a leader older than one already elected', () => {
    const b = new HistoryBuilder();
    win(b, 0, 1);
    win(b, 1, 2);
    see(b, 4, 1, 'leader');
    const res = checkElection(b.build());
    expect(res.findings).toMatchObject([{ type: 'stale-leader-read', token: 1, newerToken: 2 }]);
    // An observer stream may lag: the same answer from observe is fine.
    const lag = new HistoryBuilder();
    win(lag, 0, 1);
    win(lag, 1, 2);
    see(lag, 4, 1);
    expect(checkElection(lag.build()).valid).toBe(true);
  });

  it('raises a HistoryError on malformed values', () => {
    expect(() => checkElection(new HistoryBuilder().op(0, 'campaign', null, { token: 'x' }).build())).toThrow(/op index 0: campaign of process 0: campaign ok value: field "token"/);
    expect(() => checkElection(new HistoryBuilder().op(0, 'observe', 3, { token: 1 }).build())).toThrow(/observe invoke value must be an object or null/);
    expect(() => checkElection(new HistoryBuilder().op(0, 'proclaim', { value: 1 }).build())).toThrow(/"token" must be a safe integer/);
  });
});

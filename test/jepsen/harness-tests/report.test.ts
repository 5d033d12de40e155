import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { HistoryRecorder } from '../checker/index.js';
import { checkRun } from '../harness/checks.js';
import { OpStats } from '../harness/op-stats.js';
import { DEFAULT_OPTIONS } from '../harness/options.js';
import { niceStep, renderLatencyPlot, xmlEscape } from '../harness/plot.js';
import { formatProgress, renderReport, reportJson, type RunReport } from '../harness/report.js';

function statsOf(): OpStats {
  const clock = new ManualClock();
  const stats = new OpStats();
  const rec = new HistoryRecorder(clock, (op) => stats.add(op));
  rec.invoke(0, 'enter', { name: 'a' });
  clock.advance(12);
  rec.ok(0, { token: 3 });
  rec.invoke(0, 'held', { name: 'a', token: 3, at: 12 });
  rec.ok(0, null);
  rec.invoke(1, 'enter', { name: 'a' });
  clock.advance(100);
  rec.fail(1, null, 'timeout');
  rec.invoke(2, 'enter', { name: 'a' });
  clock.advance(5);
  rec.info(2, null, 'unknown');
  rec.invoke(3, 'exit', { name: 'a', token: 3 });
  return stats;
}

describe('OpStats', () => {
  it('counts outcomes per function, keeps open ops apart, and plots requests only', () => {
    const s = statsOf();
    expect(Object.fromEntries(s.byFunction())).toEqual({
      enter: { ok: 1, fail: 1, info: 1, open: 0 },
      exit: { ok: 0, fail: 0, info: 0, open: 1 },
      held: { ok: 1, fail: 0, info: 0, open: 0 },
    });
    expect(s.totals()).toEqual({ ok: 2, fail: 1, info: 1, open: 1 });
    expect(s.completed).toBe(4);
    expect(s.latencies().map((p) => [p.f, p.outcome, p.latencyMs])).toEqual([
      ['enter', 'ok', 12],
      ['enter', 'fail', 100],
      ['enter', 'info', 5],
    ]);
  });
});

describe('latency plot', () => {
  it('draws a mark per op by outcome, shades nemesis windows, and escapes labels', () => {
    const svg = renderLatencyPlot({
      title: 'run <1> & co',
      toMs: 30_000,
      points: statsOf().latencies(),
      windows: [{ from: 5_000, to: 9_000, kind: 'partition', label: 'isolate "n1"' }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('run &lt;1&gt; &amp; co');
    expect(svg).toContain('isolate &quot;n1&quot;');
    expect(svg.match(/<circle [^>]*r="1.6"/g)).toHaveLength(1);
    expect(svg.match(/<circle [^>]*r="3" fill="none"/g)?.length).toBeGreaterThanOrEqual(1);
    expect(svg).toContain('fill-opacity="0.13"');
    expect(svg).not.toContain('NaN');
  });

  it('shades membership windows in a colour of their own', () => {
    const svg = renderLatencyPlot({ title: 't', toMs: 30_000, points: [], windows: [{ from: 5_000, to: 9_000, kind: 'membership', label: 'removed n2' }] });
    expect(svg).toMatch(/<rect [^>]*fill="#393b79" fill-opacity="0.13"><title>removed n2<\/title>/);
  });

  it('thins ok marks beyond the limit but keeps failures', () => {
    const points = Array.from({ length: 100 }, (_, i) => ({ f: 'enter', outcome: i % 10 === 0 ? ('fail' as const) : ('ok' as const), at: i * 10, latencyMs: 1 + i }));
    const svg = renderLatencyPlot({ title: 't', toMs: 1_000, points, windows: [], maxOkPoints: 30 });
    expect(svg.match(/r="1.6"/g)).toHaveLength(30);
    // Ten failures, plus the legend's ring.
    expect(svg.match(/r="3" fill="none"/g)).toHaveLength(11);
    expect(svg).toContain('thinned 1 in 3');
  });

  it('draws only the points inside [fromMs, toMs]', () => {
    const points = [0, 500, 1_500, 2_500].map((at) => ({ f: 'enter', outcome: 'ok' as const, at, latencyMs: 5 }));
    const svg = renderLatencyPlot({ title: 't', fromMs: 400, toMs: 2_000, points, windows: [] });
    expect(svg.match(/r="1.6"/g)).toHaveLength(2);
  });

  it('picks nice tick steps and escapes XML', () => {
    expect(niceStep(120)).toBe(20);
    expect(niceStep(600)).toBe(100);
    expect(niceStep(7)).toBe(1);
    expect(niceStep(0)).toBe(1);
    expect(xmlEscape(`a<b>"c"&'d'`)).toBe('a&lt;b&gt;&quot;c&quot;&amp;&apos;d&apos;');
  });
});

describe('report', () => {
  const stats = statsOf();
  const report: RunReport = {
    options: { ...DEFAULT_OPTIONS, seed: 9 },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 60_000,
    resultsDir: '/tmp/r',
    network: { kind: 'proxy', stats: { accepted: 3 } },
    ops: stats.byFunction(),
    totals: stats.totals(),
    nemesis: [
      { episode: 1, kind: 'kill', planned: 'kill leader', description: 'SIGKILL n1 (leader)', startedAt: 3_000, healedAt: 9_000, skipped: false, healDescription: null, healError: null },
      {
        episode: 2,
        kind: 'membership',
        planned: 'membership remove leader',
        description: 'removed n2 (leader) from the configuration and stopped it; voters n1,n3',
        startedAt: 12_000,
        healedAt: 20_000,
        skipped: false,
        healDescription: 'rejoined n2 (wiped, --join, learner, promoted after 2.0 s); voters n1,n3,n2',
        healError: null,
      },
      { episode: 3, kind: 'membership', planned: 'membership remove random', description: 'removed n3 from the configuration and stopped it', startedAt: 25_000, healedAt: 40_000, skipped: false, healDescription: null, healError: 'not restored within 60 s' },
    ],
    crashes: [],
    membership: 'voters n1,n3,n2 (every node a voter)',
    leaderAfterHeal: 'n3',
    clientKills: 2,
    handovers: [{ name: 'a', token: 3, killedAt: 100, lastProofAt: 90, nextGrantAt: 5_100 }],
    verdict: checkRun('mutex', [], { lockDelayMs: 0, checkTimeoutMs: 1_000, crashes: [], problems: [] }),
    checkSeconds: 0.2,
  };

  it('renders the op table, nemesis events, verdict table and the linearizable line', () => {
    const text = renderReport(report);
    expect(text).toMatch(/enter\s+1\s+1\s+1/);
    expect(text).toMatch(/exit\s+0\s+0\s+1/);
    expect(text).toContain('nemesis events: 3 (kill 1, membership 2); client processes killed: 2');
    expect(text).toContain('#1 3.0s-9.0s');
    expect(text).toMatch(/#2 12\.0s-20\.0s\s+membership remove leader: removed n2 \(leader\).*\n\s+heal: rejoined n2 \(wiped/);
    expect(text).toMatch(/#3 .*\n\s+!! heal failed: not restored within 60 s/);
    expect(text).toContain('membership after the final heal: voters n1,n3,n2 (every node a voter)');
    expect(text).toContain('leader after the final heal: n3');
    expect(renderReport({ ...report, leaderAfterHeal: null })).toContain('leader after the final heal: NONE within 20 s (the cluster did not recover)');
    expect(text).toMatch(/check\s+checker\s+result\s+summary/);
    expect(text).toContain('linearizable: true');
    expect(text).toContain('verdict: PASS');
    expect(text).toContain('mean 5000 ms, max 5000 ms after the kill');
    // The session-lease checker's counts, in the verdict table and on a line of their own.
    expect(text).toMatch(/session-leases\s+session-lease\s+PASS\s+session leases: 0 server expiries, 0 inside an acknowledged lease/);
    expect(text).toContain('session leases: 0 server expiries, 0 inside an acknowledged lease (ok; 0 lease records');
  });

  it('writes JSON with infinities as null', () => {
    const json = JSON.parse(reportJson({ ...report, durationMs: Infinity })) as Record<string, unknown>;
    expect(json.durationMs).toBeNull();
    expect((json.verdict as { valid: unknown }).valid).toBe(true);
    expect((json.results as { sessionLeases: unknown }).sessionLeases).toMatchObject({ type: 'session-lease', valid: true, expiries: 0, violations: [] });
  });

  it('formats the progress line', () => {
    expect(formatProgress({ elapsedMs: 25_400, totalMs: 120_000, totals: { ok: 10, fail: 2, info: 1, open: 3 }, completed: 13, nemesis: 'SIGKILL n2', leader: undefined })).toBe(
      '[ 25s/120s] ops 13 (ok 10 fail 2 info 1) | nemesis: SIGKILL n2 | leader none',
    );
  });
});

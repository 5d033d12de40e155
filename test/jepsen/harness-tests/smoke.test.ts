/**
 * The CI smoke run: a real 3-node cluster behind the proxies, mutex clients, a kill and a
 * partition, then every checker over the history. Needs the built CLI (`npm test` builds first).
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairHistory } from '../checker/index.js';
import { DEFAULT_OPTIONS, type RunOptions } from '../harness/options.js';
import { runJepsen } from '../harness/run.js';

describe('jepsen smoke run', () => {
  it('survives kill and partition with no violation, on a non-trivial history', { timeout: 240_000 }, async () => {
    const options: RunOptions = {
      ...DEFAULT_OPTIONS,
      timeMs: 40_000,
      nodes: 3,
      clients: 4,
      workload: 'mutex',
      nemeses: ['kill', 'partition'],
      faultMs: 5_000,
      nemesisIntervalMs: 4_000,
      seed: 20_260_101,
      resultsDir: join(tmpdir(), 'latch-jepsen-smoke'),
      checkTimeoutMs: 60_000,
      quiet: true,
      serverLogLevel: 'warn',
    };
    const lines: string[] = [];
    const result = await runJepsen(options, { print: (l) => lines.push(l) });
    const report = lines.join('\n');
    try {
      // Both nemeses really ran.
      const applied = result.report.nemesis.filter((e) => !e.skipped).map((e) => e.kind);
      expect(new Set(applied), report).toEqual(new Set(['kill', 'partition']));
      expect(result.report.nemesis.every((e) => e.healedAt !== null)).toBe(true);
      // The history is well formed and not trivial.
      const paired = pairHistory(result.history);
      const grants = paired.filter((p) => p.f === 'enter' && p.outcome === 'ok').length;
      const writes = paired.filter((p) => p.f === 'write' && p.outcome === 'ok').length;
      expect(grants, report).toBeGreaterThanOrEqual(20);
      expect(writes, report).toBeGreaterThanOrEqual(20);
      // Every checker ran and found nothing.
      expect(result.verdict.rows.map((r) => r.name)).toEqual(['locks', 'register', 'fencing', 'leases', 'nodes', 'harness']);
      for (const row of result.verdict.rows) expect(row.valid, `${row.name}: ${row.summary}\n${row.details}\n${report}`).toBe(true);
      expect(result.verdict.linearizable).toBe(true);
      expect(result.exitCode).toBe(0);
      expect(report).toContain('linearizable: true');
    } finally {
      rmSync(result.dir, { recursive: true, force: true });
    }
  });
});

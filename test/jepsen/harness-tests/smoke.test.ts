/**
 * The CI smoke run: a real 3-node cluster behind the proxies, mutex clients, and about a minute
 * in which every nemesis runs at least once (kill, pause, partition, rolling-restart, slow,
 * membership), then every checker over the history (the session-lease checker on the workers'
 * lease records and the expiry watchers' events too). Needs the built CLI (`npm test` builds
 * first). No timing thresholds: the harness slides the schedule (and the run) when faults take
 * longer than planned on a loaded machine, and the vitest timeout is generous.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairHistory } from '../checker/index.js';
import { DEFAULT_OPTIONS, NEMESES, type RunOptions } from '../harness/options.js';
import { runJepsen } from '../harness/run.js';

describe('jepsen smoke run', () => {
  it('survives every nemesis with no violation, on a non-trivial history', { timeout: 420_000 }, async () => {
    const options: RunOptions = {
      ...DEFAULT_OPTIONS,
      timeMs: 60_000,
      nodes: 3,
      clients: 4,
      workload: 'mutex',
      nemeses: [...NEMESES],
      // Short faults and gaps so the six kinds fit in a minute whatever the seed (schedule.test.ts).
      faultMs: 3_000,
      nemesisIntervalMs: 2_000,
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
      // Every nemesis really ran (none skipped, none failed) and was healed.
      const events = result.report.nemesis;
      expect(new Set(events.map((e) => e.kind)), report).toEqual(new Set(NEMESES));
      for (const e of events) {
        expect(e.skipped, `#${e.episode} ${e.planned}: ${e.description}\n${report}`).toBe(false);
        expect(e.healedAt, `#${e.episode} ${e.planned}\n${report}`).not.toBeNull();
        expect(e.healError, `#${e.episode} ${e.planned}\n${report}`).toBeNull();
      }
      const described = (kind: string): string[] => events.filter((e) => e.kind === kind).map((e) => e.description);
      for (const d of described('kill')) expect(d, report).toMatch(/^SIGKILL n\d/);
      for (const d of described('pause')) expect(d, report).toMatch(/^SIGSTOP n\d/);
      for (const d of described('rolling-restart')) expect(d, report).toMatch(/^restarted n\d, n\d, n\d one at a time/);
      for (const d of described('slow')) expect(d, report).toMatch(/^every peer link \+\d+ ms each way/);
      for (const d of described('membership')) expect(d, report).toMatch(/^removed n\d.* from the configuration and stopped it/);
      // A membership episode ends with the removed node back as a voter, wiped and rejoined.
      for (const e of events.filter((x) => x.kind === 'membership')) expect(e.healDescription, report).toMatch(/rejoined n\d \(wiped, --join, learner, promoted after .*\); voters n\d,n\d,n\d$/);
      expect(result.report.membership, report).toMatch(/^voters n\d,n\d,n\d \(every node a voter\)$/);
      expect(result.report.membership?.split(' ')[1]?.split(',').sort(), report).toEqual(['n1', 'n2', 'n3']);
      // And the cluster recovered: a majority agreed on a leader after the final heal.
      expect(result.report.leaderAfterHeal, report).toMatch(/^n\d$/);
      // The history is well formed and not trivial.
      const paired = pairHistory(result.history);
      const grants = paired.filter((p) => p.f === 'enter' && p.outcome === 'ok').length;
      const writes = paired.filter((p) => p.f === 'write' && p.outcome === 'ok').length;
      expect(grants, report).toBeGreaterThanOrEqual(20);
      expect(writes, report).toBeGreaterThanOrEqual(20);
      // Every checker ran and found nothing.
      expect(result.verdict.rows.map((r) => r.name)).toEqual(['locks', 'register', 'fencing', 'leases', 'session-leases', 'nodes', 'harness']);
      for (const row of result.verdict.rows) expect(row.valid, `${row.name}: ${row.summary}\n${row.details}\n${report}`).toBe(true);
      // The session-lease checker ran on real records: every worker recorded its sessions' leases
      // (the SDK's lease end was readable), and no session expired inside an acknowledged lease.
      const sessionLeases = result.verdict.rows.find((r) => r.name === 'session-leases');
      expect(sessionLeases, report).toMatchObject({ checker: 'session-lease', valid: true });
      expect(sessionLeases?.summary, report).toMatch(/^session leases: \d+ server expiries, 0 inside an acknowledged lease$/);
      expect(report).toMatch(/session leases: \d+ server expiries, 0 inside an acknowledged lease \(ok; \d+ lease records/);
      const sl = result.verdict.results.sessionLease;
      expect(sl?.sessions ?? 0, report).toBeGreaterThanOrEqual(options.clients);
      expect(sl?.leases ?? 0, report).toBeGreaterThanOrEqual(20);
      expect(result.verdict.linearizable).toBe(true);
      expect(result.exitCode).toBe(0);
      expect(report).toContain('linearizable: true');
    } finally {
      rmSync(result.dir, { recursive: true, force: true });
    }
  });
});

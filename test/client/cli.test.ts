import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/client/errors.js';
import {
  DEFAULT_ENDPOINTS,
  EXIT,
  exitCodeOf,
  formatDuration,
  formatEvent,
  formatLeader,
  formatLocks,
  formatSessions,
  parseDuration,
  registerClientCommands,
  resolveEndpoints,
  runWhileHeld,
  toJson,
} from '../../src/cli/commands/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0', 0],
    [' 30s ', 30_000],
  ])('parses %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 's', '-1s', '10 s', '1d', '1e3ms', 'ten seconds', '9'.repeat(400) + 'h'])('rejects %j with a typed error naming the flag', (text) => {
    expect(() => parseDuration(text, '--wait')).toThrow(InvalidArgumentError);
    expect(() => parseDuration(text, '--wait')).toThrow(/--wait/);
  });

  it('formats durations back for people', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(10_000)).toBe('10s');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(7_200_000)).toBe('2h');
  });
});

describe('resolveEndpoints', () => {
  it('prefers the flag, then LATCH_ENDPOINTS, then the local defaults', () => {
    expect(resolveEndpoints('a:1, b:2,', { LATCH_ENDPOINTS: 'c:3' })).toEqual(['a:1', 'b:2']);
    expect(resolveEndpoints(undefined, { LATCH_ENDPOINTS: 'c:3,d:4' })).toEqual(['c:3', 'd:4']);
    expect(resolveEndpoints(undefined, {})).toEqual([...DEFAULT_ENDPOINTS]);
    expect(() => resolveEndpoints(' , ', {})).toThrow(InvalidArgumentError);
  });
});

describe('output', () => {
  it('prints locks, sessions, events and leaders in one line each', () => {
    const text = formatLocks([
      { name: 'jobs/a', held: true, mode: 'exclusive', holders: [{ sessionId: 4n, token: 17n }], value: Buffer.from('v1'), waiters: [{ sessionId: 5n, mode: 'exclusive' }], inDelay: false },
      { name: 'jobs/b', held: false, mode: 'exclusive', holders: [], value: new Uint8Array(), waiters: [], inDelay: true },
    ]).split('\n');
    expect(text[0]).toMatch(/^NAME\s+MODE\s+HOLDERS/);
    expect(text[1]).toMatch(/^jobs\/a\s+exclusive\s+4:17\s+1\s+held\s+v1$/);
    expect(text[2]).toMatch(/^jobs\/b\s+-\s+-\s+0\s+lock-delay$/);
    expect(formatLocks([])).toBe('no locks');
    const sessions = formatSessions([{ sessionId: 9n, client: 'latch lock', ttlMs: 10_000, metadata: {}, locks: ['jobs/a'], lapsed: false, openedAtMs: 0 }]);
    expect(sessions.split('\n')[1]).toMatch(/^9\s+latch lock\s+10s\s+jobs\/a\s+live\s+-$/);
    expect(formatEvent({ index: 12n, type: 'acquired', name: 'jobs/a', sessionId: 4n, token: 12n, mode: 'shared', atMs: 0 })).toBe('12 acquired jobs/a session=4 token=12 mode=shared');
    expect(formatEvent({ index: 13n, type: 'session-opened', name: '', sessionId: 6n, token: null, mode: 'exclusive', atMs: 0 })).toBe('13 session-opened session=6');
    expect(formatLeader('sched', null, false)).toBe('sched: no leader');
    expect(formatLeader('sched', { name: 'sched', sessionId: 3n, token: 8n, value: Buffer.from('node-a') }, false)).toBe('sched: leader node-a (session 3, token 8)');
    expect(JSON.parse(formatLeader('sched', { name: 'sched', sessionId: 3n, token: 8n, value: Buffer.from([0xff, 0x00]) }, true))).toEqual({
      election: 'sched',
      leader: { sessionId: '3', token: '8', value: 'base64:/wA=' },
    });
    expect(toJson({ a: 1n, b: Buffer.from('x') })).toBe('{"a":"1","b":"x"}');
  });
});

describe('command registration', () => {
  it('registers lock, elect, locks, sessions and watch with their flags', () => {
    const program = new Command('latch');
    registerClientCommands(program);
    const byName = new Map(program.commands.map((c) => [c.name(), c]));
    expect([...byName.keys()].sort()).toEqual(['elect', 'lock', 'locks', 'sessions', 'watch']);
    const flags = (name: string): string[] => byName.get(name)!.options.map((o) => o.long ?? '');
    expect(flags('lock')).toEqual(expect.arrayContaining(['--ttl', '--wait', '--shared', '--endpoints', '--kill-grace']));
    expect(flags('elect')).toEqual(expect.arrayContaining(['--ttl', '--observe', '--json', '--endpoints']));
    expect(flags('locks')).toEqual(expect.arrayContaining(['--json', '--endpoints']));
    expect(flags('watch')).toEqual(expect.arrayContaining(['--json', '--from']));
  });
});

describe('runWhileHeld', () => {
  const node = process.execPath;

  it('runs the command with the extra environment and passes its exit code through', async () => {
    const never = new AbortController();
    const out = await runWhileHeld({
      argv: [node, '-e', 'process.exit(process.env.LATCH_TOKEN === "42" ? 7 : 1)'],
      env: { ...process.env, LATCH_TOKEN: '42' },
      lost: never.signal,
      killGraceMs: 1000,
    });
    expect(out).toEqual({ exitCode: 7, stoppedForLoss: false });
  });

  it('stops the command with SIGTERM when the lock is lost', async () => {
    const lost = new AbortController();
    let reason: unknown;
    const run = runWhileHeld({
      argv: [node, '-e', 'process.stdout.write(""); setInterval(() => {}, 1000)'],
      env: process.env,
      lost: lost.signal,
      killGraceMs: 60_000,
      onLoss: (r) => {
        reason = r;
      },
    });
    lost.abort(new Error('jeopardy'));
    const out = await run;
    expect(out.stoppedForLoss).toBe(true);
    expect(out.exitCode).toBe(exitCodeOf(null, 'SIGTERM'));
    expect((reason as Error).message).toBe('jeopardy');
  });

  it('follows with SIGKILL when the command ignores SIGTERM', async () => {
    const lost = new AbortController();
    const run = runWhileHeld({
      argv: [node, '-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'],
      env: process.env,
      lost: lost.signal,
      killGraceMs: 100,
    });
    lost.abort(new Error('expired'));
    const out = await run;
    expect(out.stoppedForLoss).toBe(true);
    expect([exitCodeOf(null, 'SIGKILL'), exitCodeOf(null, 'SIGTERM')]).toContain(out.exitCode);
  });

  it('reports a missing command as 127 without throwing', async () => {
    const out = await runWhileHeld({ argv: ['/nonexistent/latch-test-command'], env: process.env, lost: new AbortController().signal, killGraceMs: 10 });
    expect(out.exitCode).toBe(EXIT.NOT_FOUND);
    expect(out.spawnError).toBeInstanceOf(Error);
  });

  it('maps signals to 128 + n', () => {
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, 'SIGTERM')).toBe(143);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
  });
});

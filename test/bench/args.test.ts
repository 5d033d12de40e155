import { describe, expect, it } from 'vitest';
import { BenchArgsError, FULL_DEFAULTS, parseArgs, QUICK_DEFAULTS } from '../../bench/args.js';

function config(argv: string[]) {
  const p = parseArgs(argv);
  if (p.type !== 'run') throw new Error('expected a run');
  return p.config;
}

describe('parseArgs', () => {
  it('gives the full defaults with no arguments', () => {
    expect(config([])).toEqual(FULL_DEFAULTS);
  });

  it('gives the quick defaults with --quick, and explicit flags win over them', () => {
    expect(config(['--quick'])).toEqual(QUICK_DEFAULTS);
    const c = config(['--duration', '7', '--quick', '--sessions=2000,3000']);
    expect(c.quick).toBe(true);
    expect(c.durationMs).toBe(7000);
    expect(c.sessionCounts).toEqual([2000, 3000]);
    expect(c.warmupMs).toBe(QUICK_DEFAULTS.warmupMs);
  });

  it('ignores a leading -- (npm run bench -- ...)', () => {
    expect(config(['--', '--systems', 'zk']).systems).toEqual(['zk']);
  });

  it('selects systems and workloads in canonical order without duplicates', () => {
    const c = config(['--systems', 'zk,latch,zk', '--workloads', 'sessions,uncontended']);
    expect(c.systems).toEqual(['latch', 'zk']);
    expect(c.workloads).toEqual(['uncontended', 'sessions']);
  });

  it('parses seconds with decimals and allows a zero warm-up', () => {
    const c = config(['--warmup', '0', '--hold', '1.5', '--session-ttl', '9']);
    expect(c.warmupMs).toBe(0);
    expect(c.sessionHoldMs).toBe(1500);
    expect(c.sessionTtlMs).toBe(9000);
  });

  it('takes --profile DIR and leaves it unset by default', () => {
    const on = parseArgs(['--quick', '--profile', '/tmp/p']);
    expect(on.type === 'run' && on.config.profileDir).toBe('/tmp/p');
    const off = parseArgs(['--quick']);
    expect(off.type === 'run' && off.config.profileDir).toBeUndefined();
  });

  it('returns help for -h and --help', () => {
    expect(parseArgs(['--quick', '-h'])).toEqual({ type: 'help' });
    expect(parseArgs(['--help'])).toEqual({ type: 'help' });
  });

  it.each([
    [['--systems', 'consul'], /unknown value "consul"/],
    [['--systems', ''], /needs at least one/],
    [['--workloads'], /needs a value/],
    [['--workloads', '--quick'], /needs a value/],
    [['--clients', '16,,64'], /comma-separated list/],
    [['--clients', '0'], /positive integer/],
    [['--contended-clients', '-3'], /positive integer/],
    [['--failover-trials', '1.5'], /positive integer/],
    [['--duration', '0'], /positive number of seconds/],
    [['--duration', 'ten'], /number of seconds/],
    [['--session-ttl', '3'], /at least 4/],
    [['--session-ttl', '4.5'], /whole number of seconds/],
    [['--out', ' '], /needs a directory/],
    [['--profile', ' '], /needs a directory/],
    [['--profile'], /needs a value/],
    [['--fast'], /unknown option "--fast"/],
  ])('refuses %j with a BenchArgsError', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(BenchArgsError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

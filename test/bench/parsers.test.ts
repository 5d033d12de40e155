import { describe, expect, it } from 'vitest';
import { parseMntr, parseMode } from '../../bench/four-letter.js';
import { asFromHolder, asToHolder } from '../../bench/holder-protocol.js';
import { cpuPercent, parseCpuTicks, parseRssBytes, ProcParseError } from '../../bench/proc-stats.js';
import { promSum } from '../../bench/prom-text.js';

describe('/proc parsers', () => {
  it('reads VmRSS in kB as bytes', () => {
    expect(parseRssBytes('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads:\t11\n')).toBe(123456 * 1024);
    expect(() => parseRssBytes('Name:\tzombie\n')).toThrow(ProcParseError);
  });

  it('sums utime and stime counted from the last ")" even when the name has spaces and parentheses', () => {
    const fields = ['S', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '250', '50', '0', '0'];
    expect(parseCpuTicks(`1234 (node) ${fields.join(' ')}`)).toBe(300);
    expect(parseCpuTicks(`1234 (a (b) c) ${fields.join(' ')}`)).toBe(300);
    expect(() => parseCpuTicks('1234 node S 1 2')).toThrow(ProcParseError);
    expect(() => parseCpuTicks('1234 (node) S 1 2')).toThrow(ProcParseError);
  });

  it('turns two readings into percent of one core', () => {
    expect(cpuPercent({ rssBytes: 0, cpuSeconds: 1, at: 0 }, { rssBytes: 0, cpuSeconds: 1.5, at: 2000 })).toBe(25);
    expect(cpuPercent({ rssBytes: 0, cpuSeconds: 1, at: 5 }, { rssBytes: 0, cpuSeconds: 2, at: 5 })).toBe(0);
  });
});

describe('ZooKeeper four-letter answers', () => {
  it('finds the mode in srvr', () => {
    expect(parseMode('Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n')).toBe('leader');
    expect(parseMode('This ZooKeeper instance is not currently serving requests\n')).toBeUndefined();
  });

  it('reads the numeric fields of mntr', () => {
    const m = parseMntr('zk_version\t3.8.0-xyz, built on 2022\nzk_packets_received\t1234\nzk_avg_latency\t0.5\n\n');
    expect(m).toEqual({ zk_packets_received: 1234, zk_avg_latency: 0.5 });
  });
});

describe('promSum', () => {
  const text = [
    '# HELP latch_keepalives_total Keepalives acknowledged',
    '# TYPE latch_keepalives_total counter',
    'latch_keepalives_total 40',
    'latch_keepalives_total_created 1700000000',
    'latch_rpcs_total{method="Acquire",code="OK"} 5',
    'latch_rpcs_total{method="Release",code="a } b"} 7 1700000000000',
  ].join('\n');

  it('sums every sample of the metric, with or without labels, and nothing else', () => {
    expect(promSum(text, 'latch_keepalives_total')).toBe(40);
    expect(promSum(text, 'latch_rpcs_total')).toBe(12);
    expect(promSum(text, 'latch_missing_total')).toBeNull();
  });
});

describe('holder IPC messages', () => {
  it('accepts well-formed messages', () => {
    expect(asToHolder({ type: 'start', system: 'zk', endpoints: ['127.0.0.1:1'], count: 5, ttlMs: 6000 })).toEqual({
      type: 'start',
      system: 'zk',
      endpoints: ['127.0.0.1:1'],
      count: 5,
      ttlMs: 6000,
    });
    expect(asToHolder({ type: 'close' })).toEqual({ type: 'close' });
    expect(asToHolder({ type: 'report' })).toEqual({ type: 'report' });
    const counters = { opened: 1, keepalives: 2, expiries: 0, openErrors: 0 };
    expect(asFromHolder({ type: 'opened', counters })).toEqual({ type: 'opened', counters });
    expect(asFromHolder({ type: 'error', message: 'x' })).toEqual({ type: 'error', message: 'x' });
  });

  it.each([
    null,
    'start',
    { type: 'start', system: 'consul', endpoints: [], count: 1, ttlMs: 1 },
    { type: 'start', system: 'zk', endpoints: [1], count: 1, ttlMs: 1 },
    { type: 'start', system: 'zk', endpoints: [], count: 0, ttlMs: 1 },
    { type: 'start', system: 'zk', endpoints: [], count: 1.5, ttlMs: 1 },
    { type: 'start', system: 'zk', endpoints: [], count: 1, ttlMs: -1 },
    { type: 'explode' },
  ])('refuses %j as a parent message', (msg) => {
    expect(asToHolder(msg)).toBeUndefined();
  });

  it('refuses holder messages with missing or non-numeric counters', () => {
    expect(asFromHolder({ type: 'progress', counters: { opened: 1 } })).toBeUndefined();
    expect(asFromHolder({ type: 'progress', counters: { opened: '1', keepalives: 0, expiries: 0, openErrors: 0 } })).toBeUndefined();
    expect(asFromHolder({ type: 'error' })).toBeUndefined();
    expect(asFromHolder(undefined)).toBeUndefined();
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { describePaired, HistoryError, pairHistory, validateOp, type Op } from '../checker/history.js';
import { formatHistoryJsonl, HistoryFileWriter, parseHistoryJsonl, readHistoryFile, writeHistoryFile } from '../checker/history-jsonl.js';
import { HistoryRecorder } from '../checker/recorder.js';
import { HistoryBuilder } from './build.js';

const op = (index: number, process: number, type: Op['type'], f: string, value: unknown = null): Op => ({ index, time: index * 10, process, type, f, value });

describe('history format', () => {
  it('pairs invokes with the next completion of the same process', () => {
    const h = [
      op(0, 1, 'invoke', 'write', { value: 1 }),
      op(1, 2, 'invoke', 'read'),
      op(2, 2, 'ok', 'read', { value: null }),
      op(3, 1, 'info', 'write'),
      op(4, 3, 'invoke', 'read'),
      op(5, 3, 'fail', 'read'),
      op(6, 4, 'invoke', 'write', { value: 2 }),
    ];
    const paired = pairHistory(h);
    expect(paired.map((p) => [p.id, p.process, p.outcome, p.start, p.end])).toEqual([
      [0, 1, 'info', 0, Infinity],
      [1, 2, 'ok', 1, 2],
      [2, 3, 'fail', 4, 5],
      [3, 4, 'info', 6, Infinity],
    ]);
    expect(paired[3]?.completion).toBeNull();
    expect(describePaired(paired[1] ?? (undefined as never))).toBe('#1 p2 read null -> ok {"value":null} [1..2]');
    expect(describePaired(paired[3] ?? (undefined as never))).toBe('#3 p4 write {"value":2} -> open [6..]');
  });

  it('rejects malformed ops with the field at fault', () => {
    expect(() => validateOp('x')).toThrow(/must be a JSON object/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), index: -1 })).toThrow(/"index" must be a non-negative safe integer/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), process: 1.5 })).toThrow(/op index 0: "process" must be a safe integer/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), type: 'done' })).toThrow(/"type" must be one of/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), f: '' })).toThrow(/"f" must be a non-empty string/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), time: Number.NaN })).toThrow(/"time"/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), proces: 1 })).toThrow(/unknown field "proces"/);
    expect(() => validateOp({ ...op(0, 1, 'invoke', 'r'), error: 5 })).toThrow(/"error" must be a string/);
    expect(validateOp({ ...op(0, 1, 'fail', 'r'), error: 'timeout' }).error).toBe('timeout');
  });

  it('rejects broken ordering and pairing, naming the op', () => {
    const cases: Array<[Op[], RegExp]> = [
      [[op(1, 1, 'invoke', 'r'), op(1, 2, 'invoke', 'r')], /index 1 does not increase/],
      [[{ ...op(0, 1, 'invoke', 'r'), time: 50 }, op(1, 2, 'invoke', 'r')], /time 10 goes backwards/],
      [[op(0, 1, 'invoke', 'r'), op(1, 1, 'invoke', 'r')], /process 1 invoked r while its r \(index 0\) is still open/],
      [[op(0, 1, 'ok', 'r')], /ok r of process 1 completes nothing/],
      [[op(0, 1, 'invoke', 'r'), op(1, 1, 'ok', 'w')], /has f "w" but the open invoke/],
      [[op(0, 1, 'invoke', 'r'), op(1, 1, 'info', 'r'), op(2, 1, 'invoke', 'r')], /invoked again after its info op \(index 1\)/],
    ];
    for (const [h, re] of cases) {
      expect(() => pairHistory(h)).toThrow(HistoryError);
      expect(() => pairHistory(h)).toThrow(re);
    }
  });
});

describe('JSONL', () => {
  const dir = mkdtemp(join(tmpdir(), 'latch-history-'));
  afterAll(async () => rm(await dir, { recursive: true, force: true }));

  const sample = new HistoryBuilder()
    .inv(0, 'write', { key: 'k', value: { nested: [1, 'two', null], z: true } })
    .inv(1, 'read', { key: 'k' })
    .ok(1, { value: null })
    .info(0)
    .inv(2, 'cas', { from: 1, to: 2 })
    .fail(2)
    .build();

  it('round-trips a history through text, with canonical values', () => {
    const text = formatHistoryJsonl(sample);
    expect(text.split('\n')).toHaveLength(sample.length + 1);
    expect(text.split('\n')[0]).toBe('{"index":0,"time":1,"process":0,"type":"invoke","f":"write","value":{"key":"k","value":{"nested":[1,"two",null],"z":true}}}');
    expect(parseHistoryJsonl(text)).toEqual(sample);
    // Blank lines and CRLF endings are fine.
    expect(parseHistoryJsonl(`\n${text.replaceAll('\n', '\r\n')}\n\n`)).toEqual(sample);
  });

  it('reports the line number of a malformed line', () => {
    const lines = formatHistoryJsonl(sample).split('\n');
    const withBadJson = [...lines.slice(0, 2), '', '{"index": 2, oops', ...lines.slice(3)].join('\n');
    expect(() => parseHistoryJsonl(withBadJson)).toThrow(/^line 4: invalid JSON/);
    const withBadField = [...lines.slice(0, 1), lines[1]?.replace('"type":"invoke"', '"type":"started"'), ...lines.slice(2)].join('\n');
    expect(() => parseHistoryJsonl(withBadField)).toThrow(/^line 2: "type" must be one of/);
    const orphan = [...lines.slice(0, 2), lines[5] ?? ''].join('\n');
    try {
      parseHistoryJsonl(orphan);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HistoryError);
      expect((err as HistoryError).line).toBe(3);
      expect((err as HistoryError).message).toMatch(/completes nothing/);
    }
    expect(() => formatHistoryJsonl([{ ...op(0, 1, 'invoke', 'r'), value: Number.POSITIVE_INFINITY }])).toThrow(/non-finite number/);
  });

  it('writes and reads files, whole or streamed', async () => {
    const d = await dir;
    const whole = join(d, 'whole.jsonl');
    await writeHistoryFile(whole, sample);
    expect(await readHistoryFile(whole)).toEqual(sample);
    await expect(writeHistoryFile(join(d, 'bad.jsonl'), [op(0, 1, 'ok', 'r')])).rejects.toThrow(HistoryError);

    const streamed = join(d, 'streamed.jsonl');
    const writer = await HistoryFileWriter.create(streamed);
    const rec = new HistoryRecorder(new ManualClock(5), (o) => writer.append(o));
    rec.invoke(0, 'read', null);
    rec.ok(0, { value: 1 });
    await writer.flush();
    expect((await readFile(streamed, 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
    rec.invoke(1, 'write', { value: 2 });
    expect(() => writer.append(op(0, 9, 'invoke', 'r'))).toThrow(/does not increase/);
    await writer.close();
    await writer.close();
    expect(() => writer.append(op(10, 9, 'invoke', 'r'))).toThrow(/append after close/);
    expect(await readHistoryFile(streamed)).toEqual(rec.history());
  });
});

describe('recorder', () => {
  it('stamps indexes and clock time and enforces the pairing rules as it goes', () => {
    const clock = new ManualClock(100);
    const rec = new HistoryRecorder(clock);
    expect(rec.invoke(3, 'acquire', { name: 'a' })).toEqual({ process: 3, type: 'invoke', f: 'acquire', value: { name: 'a' }, time: 100, index: 0 });
    expect(rec.isOpen(3)).toBe(true);
    expect(() => rec.invoke(3, 'release')).toThrow(/while its acquire is open/);
    clock.advance(7);
    expect(rec.info(3, null, 'deadline exceeded')).toMatchObject({ type: 'info', f: 'acquire', time: 107, index: 1, error: 'deadline exceeded' });
    expect(() => rec.invoke(3, 'acquire')).toThrow(/after an info op/);
    expect(() => rec.ok(4)).toThrow(/no open invoke/);
    expect(() => rec.invoke(5, 'write', { x: Number.NaN })).toThrow(HistoryError);
    rec.invoke(4, 'release', { name: 'a', token: 1 });
    rec.fail(4, null, 'not held');
    expect(pairHistory(rec.history()).map((p) => p.outcome)).toEqual(['info', 'fail']);
  });
});

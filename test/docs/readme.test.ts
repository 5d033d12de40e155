/** Keeps README.md's error and configuration tables in step with the code. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/errors.js';
import { CONFIG_KEYS, envName, flagName } from '../../src/server/config.js';

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(heading);
  expect(start, `README has "${heading}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
    } else if (inTable) break;
  }
  return rows.slice(2);
}

describe('README', () => {
  it('documents every error code with its gRPC status, and no other', () => {
    const rows = tableAfter('## Errors');
    const documented = Object.fromEntries(rows.map((r) => [r[0]!.replace(/`/g, ''), r[1]]));
    const expected = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, v.status]));
    expect(documented).toEqual(expected);
  });

  it('documents every server flag and environment variable, and no other', () => {
    const rows = tableAfter('## Running a server');
    expect(rows.map((r) => [r[0], r[1]])).toEqual(CONFIG_KEYS.map((k) => [`\`--${flagName(k)}\``, `\`${envName(k)}\``]));
  });

  it('gives the two newcomer commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
});

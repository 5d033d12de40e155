/** Keeps docs/http.md's route and refusal tables in step with src/server/auth.ts. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Authorizer, hashToken, parseTokenFile, PUBLIC_HTTP_PATHS, requiredHttpAccess, type Access } from '../../src/server/auth.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/http.md'), 'utf8');

function tableAfter(heading: string): string[][] {
  const start = doc.indexOf(heading);
  expect(start, `docs/http.md has "${heading}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of doc.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
    } else if (inTable) break;
  }
  return rows.slice(2);
}

const unquote = (s: string): string => s.replace(/^`|`$/g, '');

const ACCESS: Record<string, Access | null> = {
  open: null,
  '`metrics`, or `read` on every name': { type: 'metrics' },
  '`read` on every name': { type: 'prefix', any: ['read'], prefix: '' },
};

describe('docs/http.md', () => {
  it('lists every route with the access the server asks for, and every public path', () => {
    const rows = tableAfter('## Routes and what they need');
    expect(rows.length).toBeGreaterThan(5);
    const open: string[] = [];
    for (const [path = '', access = ''] of rows) {
      expect(Object.keys(ACCESS), `access of ${path}`).toContain(access);
      const p = path === 'anything else' ? '/anything-else' : unquote(path);
      expect(requiredHttpAccess(p), path).toEqual(ACCESS[access]);
      if (access === 'open') open.push(p);
    }
    expect(new Set(open)).toEqual(PUBLIC_HTTP_PATHS);
  });

  it('quotes the 401 bodies the server sends', () => {
    const auth = new Authorizer(parseTokenFile(`old:${hashToken('old')}:root:2001-01-01T00:00:00Z\n`));
    const message = (header: string | undefined): string => {
      try {
        auth.authenticate(header);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const bodies = Object.fromEntries(tableAfter('## Answers when a request is refused').map((r) => [r[0], unquote(r[3] ?? '')]));
    expect(bodies['no `Authorization` header']).toBe(message(undefined));
    expect(bodies['not `Bearer <token>`']).toBe(message('Basic abc'));
    expect(bodies['unknown token']).toBe(message('Bearer nope'));
    expect(bodies['expired token']).toBe(message('Bearer old').replace('"old"', '"NAME"'));
  });
});

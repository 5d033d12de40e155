/** Token file parsing, authentication and prefix access control (src/server/auth.ts), without a cluster. */
import { describe, expect, it } from 'vitest';
import { Authorizer, hashToken, parseTokenFile, requiredAccess } from '../../src/server/auth.js';

const file = (extra = ''): string => `# roles
role:jobs:read,lock:jobs/,reports/
role:elector:elect:svc/
role:reader:read:*
ops:${hashToken('ops-secret')}:root
runner:${hashToken('runner-secret')}:jobs,elector   # two roles
viewer:${hashToken('viewer-secret')}:reader
old:${hashToken('old-secret')}:reader:2020-01-01T00:00:00Z
${extra}`;

const bearer = (t: string): string => `Bearer ${t}`;

describe('token file', () => {
  it('parses roles, tokens, multiple roles and expiries', () => {
    const f = parseTokenFile(file());
    expect([...f.roles.keys()].sort()).toEqual(['elector', 'jobs', 'reader', 'root']);
    expect(f.tokens.get(hashToken('runner-secret'))).toMatchObject({ name: 'runner', roles: ['jobs', 'elector'], expiresAt: null });
    expect(f.tokens.get(hashToken('old-secret'))?.expiresAt).toBe(Date.parse('2020-01-01T00:00:00Z'));
  });

  it('knows the metrics permission (a scrape token), which root has too', () => {
    const f = parseTokenFile(`role:prom:metrics:*\nprom:${hashToken('prom-secret')}:prom\n`);
    expect([...(f.roles.get('prom')?.permissions ?? [])]).toEqual(['metrics']);
    expect(f.roles.get('root')?.permissions.has('metrics')).toBe(true);
    const auth = new Authorizer(f);
    expect(auth.check(bearer('prom-secret'), { type: 'metrics' })).toBe('prom');
    expect(() => auth.check(bearer('prom-secret'), requiredAccess('Locks.List', { prefix: '' }))).toThrow(/lacks read on every name/);
    expect(() => parseTokenFile('role:x:scrape:*')).toThrow(/unknown permission "scrape" \(read, lock, elect, admin, metrics\)/);
  });

  it.each([
    ['bob:abc:jobs', /SHA-256 in hex/],
    [`bob:${hashToken('x')}:nosuchrole`, /unknown role "nosuchrole"/],
    [`bob:${hashToken('x')}:`, /has no roles/],
    ['role:x:write:a/', /unknown permission "write"/],
    ['role:x:read:', /at least one prefix/],
    ['role:root:read:*', /defined twice/],
    [`ops:${hashToken('y')}:root`, /appears twice/],
    [`dup:${hashToken('ops-secret')}:root`, /same token hash/],
    [`bob:${hashToken('x')}:root:not-a-time`, /not an ISO 8601/],
    ['just-a-name', /expected <name>/],
  ])('refuses %s with a line number', (line, msg) => {
    expect(() => parseTokenFile(file(line), 'tokens.txt')).toThrow(msg);
    expect(() => parseTokenFile(file(line), 'tokens.txt')).toThrow(/tokens.txt line 9/);
  });
});

describe('Authorizer', () => {
  const auth = new Authorizer(parseTokenFile(file()), () => Date.parse('2026-01-01T00:00:00Z'));
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };

  it('refuses missing, malformed, unknown and expired tokens as UNAUTHENTICATED', () => {
    expect(code(() => auth.check(undefined, requiredAccess('Cluster.Status', {})))).toBe('UNAUTHENTICATED');
    expect(code(() => auth.check('Basic abc', requiredAccess('Cluster.Status', {})))).toBe('UNAUTHENTICATED');
    expect(code(() => auth.check(bearer('nope'), requiredAccess('Cluster.Status', {})))).toBe('UNAUTHENTICATED');
    expect(code(() => auth.check(bearer('old-secret'), requiredAccess('Locks.Get', { name: 'a' })))).toBe('UNAUTHENTICATED');
    expect(auth.check(bearer('viewer-secret'), requiredAccess('Cluster.Status', {}))).toBe('viewer');
  });

  it('grants permissions on name prefixes only', () => {
    const runner = bearer('runner-secret');
    expect(auth.check(runner, requiredAccess('Locks.Acquire', { name: 'jobs/nightly' }))).toBe('runner');
    expect(auth.check(runner, requiredAccess('Locks.Get', { name: 'reports/q1' }))).toBe('runner');
    expect(code(() => auth.check(runner, requiredAccess('Locks.Acquire', { name: 'other/x' })))).toBe('PERMISSION_DENIED');
    expect(code(() => auth.check(runner, requiredAccess('Locks.Acquire', { name: 'jobsx' })))).toBe('PERMISSION_DENIED');
    expect(auth.check(runner, requiredAccess('Locks.List', { prefix: 'jobs/a' }))).toBe('runner');
    expect(code(() => auth.check(runner, requiredAccess('Locks.List', { prefix: '' })))).toBe('PERMISSION_DENIED');
    expect(code(() => auth.check(runner, requiredAccess('Sessions.List', {})))).toBe('PERMISSION_DENIED');
    expect(auth.check(runner, requiredAccess('Elections.Campaign', { name: 'svc/api' }))).toBe('runner');
    expect(auth.check(runner, requiredAccess('Elections.Observe', { name: 'svc/api' }))).toBe('runner');
    expect(code(() => auth.check(runner, requiredAccess('Elections.Campaign', { name: 'jobs/x' })))).toBe('PERMISSION_DENIED');
    expect(code(() => auth.check(runner, requiredAccess('Admin.MemberAdd', {})))).toBe('PERMISSION_DENIED');
    const viewer = bearer('viewer-secret');
    expect(auth.check(viewer, requiredAccess('Watch.Watch', { prefix: '' }))).toBe('viewer');
    expect(code(() => auth.check(viewer, requiredAccess('Locks.Release', { name: 'jobs/a' })))).toBe('PERMISSION_DENIED');
    expect(auth.check(bearer('ops-secret'), requiredAccess('Admin.SnapshotSave', {}))).toBe('ops');
    expect(requiredAccess('Something.Unknown', {})).toEqual({ type: 'admin' });
  });

  it('uses the replaced file after a reload', () => {
    const a = new Authorizer(parseTokenFile(file()));
    expect(a.check(bearer('viewer-secret'), requiredAccess('Cluster.Status', {}))).toBe('viewer');
    a.replace(parseTokenFile(`role:reader:read:*\nnew:${hashToken('new-secret')}:reader\n`));
    expect(code(() => a.check(bearer('viewer-secret'), requiredAccess('Cluster.Status', {})))).toBe('UNAUTHENTICATED');
    expect(a.check(bearer('new-secret'), requiredAccess('Cluster.Status', {}))).toBe('new');
  });
});

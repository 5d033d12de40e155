/**
 * Bearer-token authentication and prefix access control for the client API.
 *
 * The token file (reloaded on SIGHUP) holds, one per line (`#` starts a comment):
 *   role:<role>:<permissions>:<prefixes>         e.g. role:jobs:read,lock:jobs/,reports/
 *   <name>:<sha256 hex of the token>:<roles>[:<expiry ISO 8601>]
 * Permissions are `read`, `lock`, `elect`, `admin` and `metrics`; a prefix `*` means every name. The
 * built-in role `root` has every permission on every name. A token names its roles; a call is allowed
 * when one of them grants the permission it needs on a prefix of the name it touches. Elections are
 * checked against the election name the client gives (not the internal `election/` lock name).
 * `admin` and `metrics` are not about names: a role holding them has them whatever its prefixes.
 * `metrics` grants only `GET /metrics` on the HTTP port (a Prometheus scrape token).
 *
 * The same Authorizer guards the HTTP port (`requiredHttpAccess`), so a SIGHUP reload applies there too.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, LatchError } from '../common/errors.js';

/** What a role may do. */
export type Permission = 'read' | 'lock' | 'elect' | 'admin' | 'metrics';

const PERMISSIONS: readonly Permission[] = ['read', 'lock', 'elect', 'admin', 'metrics'];

/** A role: permissions on name prefixes (`''` = every name). */
export interface Role {
  readonly name: string;
  readonly permissions: ReadonlySet<Permission>;
  readonly prefixes: readonly string[];
}

/** One token's entry (the token itself is never stored, only its SHA-256). */
export interface TokenEntry {
  readonly name: string;
  readonly sha256: string;
  readonly roles: readonly string[];
  /** Epoch ms after which the token is refused; null = never. */
  readonly expiresAt: number | null;
}

/** A parsed token file. */
export interface TokenFile {
  readonly roles: ReadonlyMap<string, Role>;
  readonly tokens: ReadonlyMap<string, TokenEntry>;
}

/** The built-in role with every permission on every name. */
export const ROOT_ROLE: Role = { name: 'root', permissions: new Set(PERMISSIONS), prefixes: [''] };

/**
 * What one call needs. `name` is a lock/election name; `prefix` a listing or watch prefix (`''` =
 * every name); `metrics` is the `metrics` permission or `read` on every name.
 */
export type Access =
  | { readonly type: 'authenticated' }
  | { readonly type: 'name'; readonly any: readonly Permission[]; readonly name: string }
  | { readonly type: 'prefix'; readonly any: readonly Permission[]; readonly prefix: string }
  | { readonly type: 'admin' }
  | { readonly type: 'metrics' };

/** The SHA-256 of a token as lowercase hex (what the token file stores). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses token-file text; ConfigError naming the line on any malformed line. */
export function parseTokenFile(text: string, source = 'token file'): TokenFile {
  const roles = new Map<string, Role>([[ROOT_ROLE.name, ROOT_ROLE]]);
  const pending: { entry: TokenEntry; line: number }[] = [];
  const tokens = new Map<string, TokenEntry>();
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    const where = `${source} line ${i + 1}`;
    if (line === '') return;
    const parts = line.split(':');
    if (parts[0] === 'role') {
      if (parts.length !== 4) throw new ConfigError('token-file', `${where}: expected role:<name>:<permissions>:<prefixes>`);
      const [, name = '', perms = '', prefixes = ''] = parts;
      if (!NAME.test(name)) throw new ConfigError('token-file', `${where}: bad role name "${name}"`);
      if (roles.has(name)) throw new ConfigError('token-file', `${where}: role "${name}" defined twice (or is built in)`);
      const permissions = new Set<Permission>();
      for (const p of perms.split(',').map((s) => s.trim())) {
        if (!PERMISSIONS.includes(p as Permission)) throw new ConfigError('token-file', `${where}: unknown permission "${p}" (${PERMISSIONS.join(', ')})`);
        permissions.add(p as Permission);
      }
      const list = prefixes.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (list.length === 0) throw new ConfigError('token-file', `${where}: role "${name}" needs at least one prefix (* for every name)`);
      roles.set(name, { name, permissions, prefixes: list.map((p) => (p === '*' ? '' : p)) });
      return;
    }
    // An ISO expiry contains ':' itself: rejoin everything after the roles.
    if (parts.length < 3) throw new ConfigError('token-file', `${where}: expected <name>:<sha256>:<roles>[:<expiry>]`);
    const [name = '', sha = '', roleList = '', ...rest] = parts;
    if (!NAME.test(name)) throw new ConfigError('token-file', `${where}: bad token name "${name}"`);
    if (names.has(name)) throw new ConfigError('token-file', `${where}: token name "${name}" appears twice`);
    if (!/^[0-9a-f]{64}$/i.test(sha)) throw new ConfigError('token-file', `${where}: the second field must be the token's SHA-256 in hex (64 digits)`);
    if (tokens.has(sha.toLowerCase())) throw new ConfigError('token-file', `${where}: the same token hash appears twice`);
    let expiresAt: number | null = null;
    if (rest.length > 0) {
      const iso = rest.join(':');
      expiresAt = Date.parse(iso);
      if (!Number.isFinite(expiresAt)) throw new ConfigError('token-file', `${where}: expiry "${iso}" is not an ISO 8601 time`);
    }
    const entry: TokenEntry = { name, sha256: sha.toLowerCase(), roles: roleList.split(',').map((s) => s.trim()).filter(Boolean), expiresAt };
    if (entry.roles.length === 0) throw new ConfigError('token-file', `${where}: token "${name}" has no roles`);
    names.add(name);
    tokens.set(entry.sha256, entry);
    pending.push({ entry, line: i + 1 });
  });
  for (const { entry, line } of pending) {
    for (const r of entry.roles) if (!roles.has(r)) throw new ConfigError('token-file', `${source} line ${line}: token "${entry.name}" names unknown role "${r}"`);
  }
  return { roles, tokens };
}

/** Reads and parses a token file. */
export function readTokenFile(path: string): TokenFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('token-file', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseTokenFile(text, path);
}

/** True when some role of `roles` grants one of `perms` on a prefix that covers `[name or prefix]`. */
function grants(roles: readonly Role[], perms: readonly Permission[], target: string): boolean {
  return roles.some((r) => perms.some((p) => r.permissions.has(p)) && r.prefixes.some((p) => target.startsWith(p)));
}

/** Decides whether a bearer token may make a call; the current file is swapped atomically on reload. */
export class Authorizer {
  private file: TokenFile;

  constructor(
    file: TokenFile,
    private readonly now: () => number = Date.now,
  ) {
    this.file = file;
  }

  /** Replaces the token file (SIGHUP). */
  replace(file: TokenFile): void {
    this.file = file;
  }

  /** The token's entry, or throws UNAUTHENTICATED (missing, unknown or expired token). */
  authenticate(authorization: string | undefined): TokenEntry {
    if (authorization === undefined || authorization === '') throw new LatchError('UNAUTHENTICATED', 'a bearer token is required (authorization: Bearer <token>)');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new LatchError('UNAUTHENTICATED', 'malformed authorization header; expected "Bearer <token>"');
    const entry = this.file.tokens.get(hashToken(m[1]!));
    if (!entry) throw new LatchError('UNAUTHENTICATED', 'unknown token');
    if (entry.expiresAt !== null && this.now() >= entry.expiresAt) throw new LatchError('UNAUTHENTICATED', `token "${entry.name}" has expired`);
    return entry;
  }

  /** Checks a call; returns the token's name, or throws UNAUTHENTICATED / PERMISSION_DENIED. */
  check(authorization: string | undefined, access: Access): string {
    const entry = this.authenticate(authorization);
    const roles = entry.roles.map((r) => this.file.roles.get(r)).filter((r): r is Role => r !== undefined);
    switch (access.type) {
      case 'authenticated':
        return entry.name;
      case 'admin':
        if (roles.some((r) => r.permissions.has('admin'))) return entry.name;
        throw new LatchError('PERMISSION_DENIED', `token "${entry.name}" lacks the admin permission`);
      case 'name':
        if (grants(roles, access.any, access.name)) return entry.name;
        throw new LatchError('PERMISSION_DENIED', `token "${entry.name}" lacks ${access.any.join(' or ')} on "${access.name}"`);
      case 'prefix':
        if (grants(roles, access.any, access.prefix)) return entry.name;
        throw new LatchError('PERMISSION_DENIED', `token "${entry.name}" lacks ${access.any.join(' or ')} on ${access.prefix === '' ? 'every name' : `every name under "${access.prefix}"`}`);
      case 'metrics':
        if (roles.some((r) => r.permissions.has('metrics')) || grants(roles, ['read'], '')) return entry.name;
        throw new LatchError('PERMISSION_DENIED', `token "${entry.name}" lacks the metrics permission (or read on every name)`);
      default: {
        const never: never = access;
        throw new LatchError('INVALID_ARGUMENT', `unknown access ${JSON.stringify(never)}`);
      }
    }
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * The access a client RPC needs, from its `Service.Method` name and request. Unknown methods need
 * `admin` (deny by default). Sessions are not named: opening, keeping alive and closing one needs
 * only a valid token; listing every session needs `read` on every name.
 */
export function requiredAccess(method: string, req: unknown): Access {
  const r = (typeof req === 'object' && req !== null ? req : {}) as Record<string, unknown>;
  switch (method) {
    case 'Cluster.Status':
    case 'Sessions.Open':
    case 'Sessions.Close':
    case 'Sessions.KeepAlive':
      return { type: 'authenticated' };
    case 'Sessions.List':
      return { type: 'prefix', any: ['read'], prefix: '' };
    case 'Locks.Acquire':
    case 'Locks.Release':
    case 'Locks.SetValue':
      return { type: 'name', any: ['lock'], name: str(r['name']) };
    case 'Locks.Get':
    case 'Locks.CheckSequencer':
      return { type: 'name', any: ['read'], name: str(r['name']) };
    case 'Locks.List':
    case 'Watch.Watch':
      return { type: 'prefix', any: ['read'], prefix: str(r['prefix']) };
    case 'Elections.Campaign':
    case 'Elections.Proclaim':
    case 'Elections.Resign':
      return { type: 'name', any: ['elect'], name: str(r['name']) };
    case 'Elections.Leader':
    case 'Elections.Observe':
      return { type: 'name', any: ['read', 'elect'], name: str(r['name']) };
    default:
      return { type: 'admin' };
  }
}

/** Paths of the HTTP port anyone may fetch: the health check and the status page's static shell (no cluster data in it). */
export const PUBLIC_HTTP_PATHS: ReadonlySet<string> = new Set(['/healthz', '/', '/status.js', '/status.css']);

/**
 * The access an HTTP request needs, from its path (without the query), or null for a public path.
 * `/metrics` needs the `metrics` permission or `read` on every name; every other path (`/status`,
 * `/api/overview`, and unknown paths: deny by default) needs `read` on every name, since each shows
 * lock names, holders, sessions and client names across the whole namespace.
 */
export function requiredHttpAccess(path: string): Access | null {
  if (PUBLIC_HTTP_PATHS.has(path)) return null;
  if (path === '/metrics') return { type: 'metrics' };
  return { type: 'prefix', any: ['read'], prefix: '' };
}

/** Checks one HTTP request: the token's name, null for a public path, or throws UNAUTHENTICATED / PERMISSION_DENIED. */
export function checkHttpRequest(authorizer: Authorizer, authorization: string | undefined, path: string): string | null {
  const access = requiredHttpAccess(path);
  return access ? authorizer.check(authorization, access) : null;
}

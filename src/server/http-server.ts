/**
 * The per-node HTTP endpoint: `/healthz` (200 with a leader, 503 without), `/status` (this node's
 * status as JSON), plus any extra routes the server registers (metrics, status page).
 *
 * With `authorize` (the server has a token file) every request passes it before any route runs:
 * a missing or refused bearer token gets 401 with `WWW-Authenticate: Bearer`, a valid token without
 * the permission 403, each with a one-line plain-text body saying what is wrong (docs/http.md).
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { LatchError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { isLoopbackHost } from './config.js';

/** A route handler: returns false to fall through to 404. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** The JSON shape of one member's status (also printed by `latch status --json`). */
export interface MemberStatusJson {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly clientAddress: string;
  readonly leader: string | null;
  /** Index of the latest snapshot on this node (0 when none). */
  readonly snapshotIndex?: number;
}

/**
 * Checks one request's `authorization` header for `path` (no query): returns normally when it may
 * proceed (a public path, or a token with the access it needs), throws a LatchError
 * `UNAUTHENTICATED` (→ 401) or `PERMISSION_DENIED` (→ 403) otherwise. Called on every request, so
 * a token-file reload applies at once.
 */
export type HttpAuthorize = (authorization: string | undefined, path: string) => unknown;

/** The `realm` of every HTTP bearer challenge. */
const REALM = 'latch';

/** Starts the HTTP server on host:port; resolves once listening. Without `authorize` every route is open. */
export async function startHttpServer(opts: {
  listen: string;
  status: () => MemberStatusJson;
  healthy: () => boolean;
  routes?: HttpRoute[];
  authorize?: HttpAuthorize;
  logger: Logger;
}): Promise<Server> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      opts.logger.warn({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
      res.end('method not allowed\n');
      return;
    }
    if (opts.authorize && !authorized(opts.authorize, req, res, path)) return;
    if (path === '/healthz') {
      const ok = opts.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'no leader\n');
      return;
    }
    if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(opts.status())}\n`);
      return;
    }
    for (const route of opts.routes ?? []) if (await route(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
  const { host, port } = splitHostPort(opts.listen);
  if (!isLoopbackHost(host)) {
    // Config refuses this without --token-file or --insecure; either way the port is plain HTTP.
    if (opts.authorize) opts.logger.warn({ http: opts.listen }, 'the HTTP port is plain text off loopback: bearer tokens sent to it can be read on the network');
    else opts.logger.warn({ http: opts.listen }, 'the HTTP port is unauthenticated off loopback (--insecure): anyone who reaches it sees every lock, session and client name');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Runs `authorize` for one request; on refusal answers 401 or 403 (RFC 6750 §3) and returns false.
 * Any other error propagates (a 500 from the caller).
 */
function authorized(authorize: HttpAuthorize, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const header = req.headers.authorization;
  try {
    authorize(header, path);
    return true;
  } catch (err) {
    if (!(err instanceof LatchError) || (err.code !== 'UNAUTHENTICATED' && err.code !== 'PERMISSION_DENIED')) throw err;
    const denied = err.code === 'PERMISSION_DENIED';
    // No header: a bare challenge; a refused one: invalid_token; a valid one without the permission: insufficient_scope.
    const challenge = denied ? `Bearer realm="${REALM}", error="insufficient_scope"` : header === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`;
    const headers: OutgoingHttpHeaders = {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'www-authenticate': challenge,
    };
    res.writeHead(denied ? 403 : 401, headers);
    res.end(req.method === 'HEAD' ? undefined : `${oneLine(err.message)}\n`);
    return false;
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** Splits host:port (IPv6 in brackets allowed). */
export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

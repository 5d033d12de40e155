/**
 * The per-node HTTP endpoint: `/healthz` (200 with a leader, 503 without), `/status` (this node's
 * status as JSON), plus any extra routes the server registers (metrics, status page).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../common/logger.js';

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

/** Starts the HTTP server on host:port; resolves once listening. */
export async function startHttpServer(opts: {
  listen: string;
  status: () => MemberStatusJson;
  healthy: () => boolean;
  routes?: HttpRoute[];
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
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
      res.end('method not allowed\n');
      return;
    }
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Splits host:port (IPv6 in brackets allowed). */
export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

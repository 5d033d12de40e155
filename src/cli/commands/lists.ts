/** `latch locks [PREFIX] [--json]`, `latch sessions [--json]` and `latch watch PREFIX [--json]`. */
import type { Command } from 'commander';
import { InvalidArgumentError, type LockInfo, type SessionInfo, type WatchEvent } from '../../client/index.js';
import { EXIT, connectClient, onSignals, runCommand, showBytes, toJson, type ClientCommandOptions } from './cli-support.js';
import { formatDuration } from './duration.js';

/** Lays out rows as left-aligned columns separated by two spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `latch locks` output for people. */
export function formatLocks(locks: readonly LockInfo[]): string {
  if (locks.length === 0) return 'no locks';
  return table(
    ['NAME', 'MODE', 'HOLDERS (session:token)', 'WAITERS', 'STATE', 'VALUE'],
    locks.map((l) => [
      l.name,
      l.held ? l.mode : '-',
      l.holders.map((h) => `${h.sessionId}:${h.token}`).join(',') || '-',
      String(l.waiters.length),
      l.inDelay ? 'lock-delay' : l.held ? 'held' : 'free',
      l.value.length > 0 ? showBytes(l.value) : '',
    ]),
  );
}

/** `latch sessions` output for people. */
export function formatSessions(sessions: readonly SessionInfo[]): string {
  if (sessions.length === 0) return 'no sessions';
  return table(
    ['SESSION', 'CLIENT', 'TTL', 'LOCKS', 'STATE', 'OPENED'],
    sessions.map((s) => [
      s.sessionId.toString(),
      s.client || '-',
      formatDuration(s.ttlMs),
      s.locks.join(',') || '-',
      s.lapsed ? 'lapsed' : 'live',
      s.openedAtMs > 0 ? new Date(s.openedAtMs).toISOString() : '-',
    ]),
  );
}

/** One `latch watch` line for people. */
export function formatEvent(e: WatchEvent): string {
  const parts = [String(e.index), e.type];
  if (e.name) parts.push(e.name);
  parts.push(`session=${e.sessionId}`);
  if (e.token !== null) parts.push(`token=${e.token}`, `mode=${e.mode}`);
  return parts.join(' ');
}

/** Registers `latch locks`, `latch sessions` and `latch watch`. */
export function registerListCommands(program: Command): void {
  program
    .command('locks')
    .description('list locks (holders, waiters, lock-delay)')
    .argument('[prefix]', 'only names starting with this', '')
    .option('--json', 'one JSON array')
    .option('--endpoints <list>', 'comma-separated client endpoints (default: LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .action(async (prefix: string, opts: ClientCommandOptions) => {
      await runCommand(async () => {
        const client = await connectClient(opts, 'latch locks');
        try {
          const locks = await client.locks(prefix);
          process.stdout.write(`${opts.json ? toJson(locks) : formatLocks(locks)}\n`);
          return EXIT.OK;
        } finally {
          await client.close();
        }
      });
    });

  program
    .command('sessions')
    .description('list open sessions')
    .option('--json', 'one JSON array')
    .option('--endpoints <list>', 'comma-separated client endpoints (default: LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .action(async (opts: ClientCommandOptions) => {
      await runCommand(async () => {
        const client = await connectClient(opts, 'latch sessions');
        try {
          const sessions = await client.sessions();
          process.stdout.write(`${opts.json ? toJson(sessions) : formatSessions(sessions)}\n`);
          return EXIT.OK;
        } finally {
          await client.close();
        }
      });
    });

  program
    .command('watch')
    .description('print lock and session events for a name prefix until interrupted')
    .argument('<prefix>', 'names starting with this ("" for all)')
    .option('--from <index>', 'start at this log index (default: from now)')
    .option('--json', 'one JSON object per line')
    .option('--endpoints <list>', 'comma-separated client endpoints (default: LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .action(async (prefix: string, opts: ClientCommandOptions & { from?: string }) => {
      await runCommand(async () => {
        const fromIndex = parseIndex(opts.from);
        const client = await connectClient(opts, 'latch watch');
        const ac = new AbortController();
        const stop = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], () => ac.abort(new Error('interrupted')));
        try {
          for await (const e of client.watch(prefix, { fromIndex, signal: ac.signal })) {
            process.stdout.write(`${opts.json ? toJson(e) : formatEvent(e)}\n`);
          }
          return EXIT.OK;
        } catch (err) {
          if (ac.signal.aborted) return EXIT.OK;
          throw err;
        } finally {
          stop();
          await client.close();
        }
      });
    });
}

function parseIndex(s: string | undefined): bigint {
  if (s === undefined) return 0n;
  if (!/^\d{1,20}$/.test(s)) throw new InvalidArgumentError(`--from: ${JSON.stringify(s)} is not a log index`);
  return BigInt(s);
}

/**
 * `latch elect NAME VALUE [--ttl 10s] [--wait DURATION] -- CMD…`: campaign with VALUE and run CMD
 * while leader, exactly like `latch lock` (LATCH_TOKEN, LATCH_SESSION, LATCH_ELECTION, LATCH_LOCK;
 * exit 4 when leadership is lost, 3 when `--wait` runs out). Without CMD, hold leadership until
 * interrupted.
 *
 * `latch elect NAME --observe [--json]`: print the leader, then every change, one line each.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, WaitTimeoutError, type LeaderInfo, type Lock, type Session } from '../../client/index.js';
import { EXIT, connectClient, onSignals, runCommand, showBytes, toJson, type ClientCommandOptions } from './cli-support.js';
import { formatDuration, parseDuration } from './duration.js';
import { closeQuietly, holdAndRun } from './lock.js';

/** Options of `latch elect`. */
export interface ElectCommandOptions extends ClientCommandOptions {
  readonly ttl: string;
  readonly wait?: string;
  readonly observe?: boolean;
  readonly killGrace: string;
}

/** Registers `latch elect`. */
export function registerElectCommand(program: Command): void {
  program
    .command('elect')
    .description('campaign in an election and run a command while leader, or --observe the leader')
    .argument('<name>', 'election name')
    .argument('[value]', 'this candidate\'s value (required unless --observe)')
    .argument('[command...]', 'the command to run while leader, after --')
    .option('--ttl <duration>', 'session TTL', '10s')
    .option('--wait <duration>', 'give up campaigning after this long (default: wait forever)')
    .option('--observe', 'print the leader and every change instead of campaigning')
    .option('--json', 'with --observe: one JSON object per line')
    .option('--kill-grace <duration>', 'after a loss, time between SIGTERM and SIGKILL', '10s')
    .option('--endpoints <list>', 'comma-separated client endpoints (default: LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .addHelpText('after', '\nExit codes: the command\'s own; 3 wait timed out; 4 leadership lost (command stopped); 1 error; 2 bad usage.')
    .action(async (name: string, value: string | undefined, command: string[], opts: ElectCommandOptions) => {
      await runCommand(() => (opts.observe ? observe(name, value, command, opts) : campaignAndRun(name, value, command, opts)));
    });
}

/** One line describing a leader (or its absence). */
export function formatLeader(name: string, leader: LeaderInfo | null, json: boolean): string {
  if (json) return toJson(leader === null ? { election: name, leader: null } : { election: name, leader: { sessionId: leader.sessionId, token: leader.token, value: showBytes(leader.value) } });
  if (leader === null) return `${name}: no leader`;
  return `${name}: leader ${showBytes(leader.value)} (session ${leader.sessionId}, token ${leader.token})`;
}

async function observe(name: string, value: string | undefined, command: readonly string[], opts: ElectCommandOptions): Promise<number> {
  if (value !== undefined || command.length > 0) throw new InvalidArgumentError('--observe takes no value or command');
  const client = await connectClient(opts, 'latch elect --observe');
  const ac = new AbortController();
  const stop = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], () => ac.abort(new Error('interrupted')));
  try {
    const session = await client.session({ ttlMs: parseDuration(opts.ttl, '--ttl'), name: 'latch elect --observe' });
    try {
      for await (const leader of session.election(name).observe({ signal: ac.signal })) {
        process.stdout.write(`${formatLeader(name, leader, opts.json === true)}\n`);
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    return EXIT.OK;
  } finally {
    stop();
    await client.close();
  }
}

async function campaignAndRun(name: string, value: string | undefined, command: readonly string[], opts: ElectCommandOptions): Promise<number> {
  if (value === undefined) throw new InvalidArgumentError('latch elect needs a VALUE (or --observe)');
  const ttlMs = parseDuration(opts.ttl, '--ttl');
  const waitMs = opts.wait === undefined ? Infinity : parseDuration(opts.wait, '--wait');
  const killGraceMs = parseDuration(opts.killGrace, '--kill-grace');
  const client = await connectClient(opts, 'latch elect');
  let session: Session | undefined;
  try {
    session = await client.session({ ttlMs, name: 'latch elect', metadata: { election: name, value: value.slice(0, 200), pid: String(process.pid) } });
    const election = session.election(name);
    const ac = new AbortController();
    let interrupted: NodeJS.Signals | undefined;
    const stop = onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], (sig) => {
      interrupted = sig;
      ac.abort(new Error(`interrupted by ${sig}`));
    });
    let lead: Lock;
    try {
      lead = await election.campaign(value, { waitMs, signal: ac.signal });
    } catch (err) {
      if (err instanceof WaitTimeoutError) {
        process.stderr.write(`latch: not elected within ${formatDuration(waitMs)} in election ${name}\n`);
        return EXIT.WAIT_TIMEOUT;
      }
      if (interrupted) return EXIT.SIGNAL_BASE + (interrupted === 'SIGINT' ? 2 : interrupted === 'SIGHUP' ? 1 : 15);
      throw err;
    } finally {
      stop();
    }
    process.stderr.write(`latch: elected in ${name} as ${value} (token ${lead.token})\n`);
    return await holdAndRun(lead, command, killGraceMs, { LATCH_ELECTION: name, LATCH_LOCK: lead.name });
  } finally {
    await closeQuietly(session);
    await client.close();
  }
}

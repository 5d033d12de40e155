/**
 * One Jepsen run, end to end: network and cluster up, client workers on, nemeses on their
 * schedule with a progress line, then everything healed and stopped (every process by PID, also
 * on failure), the history checked, and the report, history and plot written under
 * `<resultsDir>/<timestamp>/`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { SeededRng } from '../../../src/common/rng.js';
import { HistoryFileWriter, HistoryRecorder, type History } from '../checker/index.js';
import { checkRun, type RunVerdict } from './checks.js';
import { Cluster, type NodeExit, type NodeSpec } from './cluster.js';
import { ExpiryWatchers } from './expiry-watch.js';
import { FencedRegister } from './fenced-register.js';
import { HarnessError } from './harness-error.js';
import { AdminMembership, describeView } from './membership.js';
import { MonoClock } from './mono-clock.js';
import { Nemesis } from './nemesis.js';
import { NetnsNetwork } from './netns-network.js';
import type { Network } from './network.js';
import { OpStats } from './op-stats.js';
import { clientDriftMs, type RunOptions } from './options.js';
import { renderLatencyPlot, type PlotWindow } from './plot.js';
import { ProxyNetwork } from './proxy-network.js';
import { formatProgress, renderReport, reportJson, type RunReport } from './report.js';
import { NemesisScheduler, planSchedule } from './schedule.js';
import { WorkerPool } from './worker-pool.js';
import type { WorkerConfig, WorkerRole } from './worker-protocol.js';

/** The repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
/** The built CLI the nodes run. */
export const CLI_PATH = join(REPO_ROOT, 'dist/src/cli/main.js');
const WORKER_SCRIPT = resolve(import.meta.dirname, '../workloads/worker-main.ts');

/** What a run produced. */
export interface RunResult {
  readonly verdict: RunVerdict;
  readonly report: RunReport;
  readonly history: History;
  /** The folder with history.jsonl, report.txt, report.json, latency.svg and logs. */
  readonly dir: string;
  /** 0 valid, 1 a violation, 2 inconclusive. */
  readonly exitCode: number;
}

/** Hooks of a run. */
export interface RunHooks {
  /** Where progress and log lines go (default: stdout). */
  readonly print?: (line: string) => void;
  /** Ends the workload early (the run still heals, stops and checks). */
  readonly signal?: AbortSignal;
}

/** The newest .ts file under `dir` and its mtime (ms), or undefined when there is none. */
function newestSource(dir: string): { path: string; mtimeMs: number } | undefined {
  let best: { path: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    const mtimeMs = statSync(path).mtimeMs;
    if (!best || mtimeMs > best.mtimeMs) best = { path, mtimeMs };
  }
  return best;
}

/** Builds the CLI when dist/ lacks it (throws BUILD_MISSING if that fails); warns when it is older than src/. */
export function ensureBuilt(print: (line: string) => void): void {
  if (existsSync(CLI_PATH)) {
    const newest = newestSource(join(REPO_ROOT, 'src'));
    if (newest && newest.mtimeMs > statSync(CLI_PATH).mtimeMs) print(`warning: ${CLI_PATH} is older than ${newest.path}; the nodes run the old build (npm run build)`);
    return;
  }
  print(`${CLI_PATH} is missing; building (tsc -p tsconfig.json)…`);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  spawnSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.json')], { cwd: REPO_ROOT, stdio: 'ignore' });
  if (!existsSync(CLI_PATH)) throw new HarnessError('BUILD_MISSING', `${CLI_PATH} is missing and the build did not produce it; run \`npm run build\``);
}

/**
 * The endpoints worker `slot` is given: every node, its "own" node (slot mod nodes) first, as a
 * client running next to one node would list them; the SDK tries them in that order until it
 * learns the leader.
 */
export function ownNodeFirst(endpoints: readonly string[], slot: number): string[] {
  if (endpoints.length === 0) return [];
  const k = slot % endpoints.length;
  return [...endpoints.slice(k), ...endpoints.slice(0, k)];
}

/** The roles of the `clients` workers of a workload. */
export function rolesFor(workload: RunOptions['workload'], clients: number): WorkerRole[] {
  const half = Math.max(1, Math.ceil(clients / 2));
  return Array.from({ length: clients }, (_, i): WorkerRole => {
    switch (workload) {
      case 'mutex':
        return 'mutex';
      case 'sequencer':
        return i < half ? 'holder' : 'checker';
      case 'election':
        return clients >= 2 && i >= clients - Math.max(1, Math.floor(clients / 3)) ? 'observer' : 'candidate';
      case 'sessions':
        return i < half || clients === 1 ? 'holder' : 'contender';
    }
  });
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Runs one Jepsen test; see the file comment. */
export async function runJepsen(options: RunOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const print = hooks.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  ensureBuilt(print);
  const startedAt = new Date().toISOString();
  const dir = resolve(REPO_ROOT, options.resultsDir, `${timestamp()}-${options.workload}-s${options.seed}`);
  const logs = join(dir, 'logs');
  const data = join(dir, 'data');
  mkdirSync(logs, { recursive: true });
  mkdirSync(data, { recursive: true });
  const runLog: string[] = [];
  const clock = new MonoClock();
  const say = (line: string): void => {
    const stamped = `${(clock.now() / 1000).toFixed(1).padStart(7)}s ${line}`;
    runLog.push(stamped);
    if (!options.quiet) print(stamped);
  };

  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const stats = new OpStats();
  const writer = await HistoryFileWriter.create(join(dir, 'history.jsonl'));
  const recorder = new HistoryRecorder(clock, (op) => {
    writer.append(op);
    stats.add(op);
  });
  const crashes: NodeExit[] = [];
  let cluster: Cluster | undefined;
  let network: Network | undefined;
  let pool: WorkerPool | undefined;
  let watchers: ExpiryWatchers | undefined;
  let nemesis: Nemesis | undefined;
  let membership: AdminMembership | undefined;
  let membershipAfter: string | null = null;
  let leaderAfterHeal: string | null = null;
  let workloadStart = 0;
  let workloadEnd = 0;
  let clientKills = 0;
  const killMarks: PlotWindow[] = [];
  try {
    network = options.netns ? await NetnsNetwork.create(ids) : await ProxyNetwork.create({ nodes: ids, pids: () => cluster?.pidMap() ?? new Map() });
    const net = network;
    const specs: NodeSpec[] = ids.map((id) => {
      const l = net.launch(id);
      const args = [
        CLI_PATH,
        'server',
        ...['--id', id, '--data-dir', join(data, id)],
        ...['--listen-client', l.listenClient, '--listen-peer', l.listenPeer, '--listen-http', l.listenHttp],
        ...['--initial-cluster', l.initialCluster],
        ...['--heartbeat-ms', String(options.heartbeatMs), '--election-timeout-ms', String(options.electionTimeoutMs)],
        ...['--snapshot-threshold', String(options.snapshotThreshold), '--lock-delay-ms', String(options.lockDelayMs)],
        ...['--session-ttl-min-ms', String(Math.min(options.sessionTtlMs, 2_000)), '--session-ttl-default-ms', String(options.sessionTtlMs)],
        ...['--log-level', options.serverLogLevel],
        ...l.serverArgs,
      ];
      const w = l.wrap(process.execPath, args);
      return { id, command: w.command, args: w.args, httpAddress: l.httpAddress, clientAddress: l.clientAddress, logFile: join(logs, `${id}.log`), dataDir: join(data, id) };
    });
    cluster = new Cluster(specs, {
      clock,
      onCrash: (e) => {
        crashes.push(e);
        say(`!! node ${e.id} (pid ${e.pid}) exited on its own: ${e.signal ?? `code ${e.code}`}; see logs/${e.id}.log`);
      },
    });
    const c = cluster;
    say(`starting ${ids.length} nodes on the ${network.kind} network; results in ${dir}`);
    await Promise.all(ids.map((id) => c.start(id)));
    const leader = await c.waitForLeader(20_000);
    if (leader === undefined) throw new HarnessError('CLUSTER_START', `no leader was elected within 20 s; see ${logs}`);
    say(`leader ${leader}`);

    const rng = new SeededRng(options.seed);
    const register = new FencedRegister(options.plant !== 'unfenced-register');
    if (options.plant !== 'none') say(`!! planted fault: ${options.plant} (this run is expected to fail)`);
    pool = new WorkerPool({ recorder, register, clock, script: WORKER_SCRIPT, logPrefix: join(logs, 'client-'), log: say });
    const p = pool;
    // Every node's session-expired events, for the session-lease checker (on a process of their own).
    const watchProcess = p.allocateProcess();
    watchers = await ExpiryWatchers.start({
      nodes: new Map(specs.map((s) => [s.id, s.clientAddress])),
      clock,
      record: (f, value) => {
        recorder.invoke(watchProcess, f, value);
        recorder.ok(watchProcess, null);
      },
      log: say,
    });
    const locks = Array.from({ length: options.locks }, (_, i) => `jepsen/lock-${i}`);
    const roles = rolesFor(options.workload, options.clients);
    const longWait = 4 * (options.sessionTtlMs + options.lockDelayMs) + 10_000;
    let incarnation = 0;
    const configFor = (slot: number): WorkerConfig => ({
      slot,
      workload: options.workload,
      role: roles[slot] ?? 'mutex',
      endpoints: ownNodeFirst(c.endpoints, slot),
      originNs: clock.originNs.toString(),
      seed: (options.seed * 31 + slot * 7919 + incarnation++ * 104_729) % 2 ** 31,
      ttlMs: options.sessionTtlMs,
      driftMarginMs: clientDriftMs(options),
      lockDelayMs: options.lockDelayMs,
      locks,
      election: 'jepsen-leader',
      waitMs: options.workload === 'sessions' ? longWait : 4_000,
    });
    await Promise.all(roles.map((_, slot) => p.start(configFor(slot))));
    say(`${roles.length} clients running (${[...new Set(roles)].map((r) => `${roles.filter((x) => x === r).length} ${r}`).join(', ')})`);

    workloadStart = clock.now();
    const plan = planSchedule(
      {
        durationMs: options.timeMs,
        kinds: options.nemeses,
        nodes: options.nodes,
        warmupMs: Math.min(3_000, options.timeMs / 10),
        cooldownMs: Math.min(5_000, options.timeMs / 6),
        faultMs: options.faultMs,
        quietMs: options.nemesisIntervalMs,
        pauseMs: Math.round(options.sessionTtlMs * 1.5 + options.electionTimeoutMs),
        restartPerNodeMs: 3_000,
      },
      rng,
    );
    say(`nemesis plan: ${plan.length} episode(s)${plan.length ? `: ${plan.map((e) => e.spec.kind).join(', ')}` : ''}`);
    const scheduler = new NemesisScheduler(plan.map((e) => ({ ...e, startAt: e.startAt + workloadStart, healAt: e.healAt + workloadStart })));
    if (options.nemeses.includes('membership')) membership = new AdminMembership(c.endpoints);
    nemesis = new Nemesis({ cluster: c, network: net, rng, clock, log: say, ...(membership ? { membership } : {}) });
    const nm = nemesis;
    const killEvery = options.sessionTtlMs + options.lockDelayMs + 2_000;
    let nextKill = workloadStart + killEvery;
    let nextProgress = workloadStart + options.progressEveryMs;
    // When faults take longer than planned the schedule slides, and the run with it (by at most
    // half its length), so every planned episode still runs and the cool-down keeps its length.
    const end = (): number => workloadStart + options.timeMs + Math.min(scheduler.delay, options.timeMs / 2);
    while (clock.now() < end() && !hooks.signal?.aborted) {
      for (let a = scheduler.next(clock.now()); a !== undefined && clock.now() < end() && !hooks.signal?.aborted; a = scheduler.next(clock.now())) {
        if (a.type === 'start') await nm.start(a.episode);
        else await nm.heal(a.episode);
      }
      await nm.reviveCrashed();
      if (options.workload === 'sessions' && clock.now() >= nextKill) {
        nextKill = clock.now() + killEvery;
        const holders = p.holdingSlots().filter((s) => roles[s] === 'holder');
        const victim = holders.length ? holders[rng.int(holders.length)] : undefined;
        if (victim !== undefined) {
          const at = clock.now();
          await p.kill(victim);
          clientKills++;
          killMarks.push({ from: at, to: at + 150, kind: 'client-kill', label: `SIGKILL client ${victim}` });
          say(`client-kill: SIGKILL client ${victim} (a lock holder)`);
          // Restarted in the background: a worker takes seconds to load, and the schedule goes on.
          p.start(configFor(victim)).catch((err: unknown) => say(`could not restart client ${victim}: ${String(err)}`));
        }
      }
      if (clock.now() >= nextProgress) {
        nextProgress = clock.now() + options.progressEveryMs;
        if (!options.quiet) {
          const current = scheduler.current;
          const ev = current ? nm.events().find((e) => e.episode === current.id) : undefined;
          print(formatProgress({ elapsedMs: clock.now() - workloadStart, totalMs: options.timeMs, totals: stats.totals(), completed: stats.completed, nemesis: ev ? ev.description : 'none', leader: await c.leader() }));
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    workloadEnd = clock.now();
    if (scheduler.delay > 0) say(`the schedule slid by ${(scheduler.delay / 1000).toFixed(1)} s (faults took longer than planned); the run was extended by ${(Math.min(scheduler.delay, options.timeMs / 2) / 1000).toFixed(1)} s`);
    for (const a of scheduler.finish()) await nm.heal(a.episode);
    await nm.healAll();
    const restored = nm.membershipAfterHeal();
    if (restored) membershipAfter = restored.ok ? `${restored.view ? describeView(restored.view) : ''} (every node a voter)` : `NOT restored: ${restored.description}`;
    say(`workload over; every fault healed${membershipAfter ? `; membership: ${membershipAfter}` : ''}`);
    const healed = await c.waitForLeader(20_000);
    if (healed === undefined) say('!! no leader 20 s after healing everything');
    leaderAfterHeal = healed ?? null;
    await p.stopAll(15_000);
    say(`expiry watchers: ${watchers.received} watch event(s) received, ${watchers.recorded} of them session expiries (session-expired, or a lock expired)`);
  } finally {
    if (workloadEnd === 0) workloadEnd = clock.now();
    await pool?.stopAll(0).catch(() => undefined);
    await watchers?.stop().catch(() => undefined);
    membership?.close();
    await cluster?.stopAll().catch(() => undefined);
    await network?.close().catch(() => undefined);
    await writer.close().catch(() => undefined);
  }

  say('checking the history…');
  const history = recorder.history();
  const t0 = performance.now();
  const verdict = checkRun(options.workload, history, {
    lockDelayMs: options.lockDelayMs,
    checkTimeoutMs: options.checkTimeoutMs,
    crashes: crashes.map((e) => `${e.id} (pid ${e.pid}) exited on its own at ${(e.at / 1000).toFixed(1)}s: ${e.signal ?? `code ${e.code}`}`),
    problems: pool?.protocolProblems() ?? [],
  });
  const checkSeconds = (performance.now() - t0) / 1000;
  const events = nemesis?.events() ?? [];
  const report: RunReport = {
    options,
    startedAt,
    durationMs: workloadEnd - workloadStart,
    resultsDir: dir,
    network: { kind: network?.kind ?? (options.netns ? 'netns' : 'proxy'), stats: network?.stats() ?? {} },
    ops: stats.byFunction(),
    totals: stats.totals(),
    nemesis: events,
    crashes: crashes.map((e) => `${e.id} pid ${e.pid} ${e.signal ?? `code ${e.code}`}`),
    membership: membershipAfter,
    leaderAfterHeal,
    clientKills,
    handovers: verdict.results.lease.handovers,
    verdict,
    checkSeconds,
  };
  const text = renderReport(report);
  writeFileSync(join(dir, 'report.txt'), text);
  writeFileSync(join(dir, 'report.json'), reportJson(report));
  writeFileSync(join(dir, 'run.log'), `${runLog.join('\n')}\n`);
  const windows: PlotWindow[] = [
    ...events.filter((e) => !e.skipped).map((e) => ({ from: e.startedAt, to: e.healedAt ?? workloadEnd, kind: e.kind, label: `#${e.episode} ${e.planned}: ${e.description}` })),
    ...killMarks,
  ];
  writeFileSync(
    join(dir, 'latency.svg'),
    renderLatencyPlot({ title: `Latch ${options.workload}: ${options.nodes} nodes, ${options.clients} clients, seed ${options.seed}`, fromMs: workloadStart, toMs: Math.max(workloadEnd, workloadStart + 1), points: stats.latencies(), windows }),
  );
  if (verdict.valid === true) rmSync(data, { recursive: true, force: true });
  print(text);
  const exitCode = verdict.valid === true ? 0 : verdict.valid === false ? 1 : 2;
  return { verdict, report, history, dir, exitCode };
}

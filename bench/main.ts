/**
 * `npm run bench`: starts each installed system's 3-node cluster in turn (one at a time, so they
 * never share the CPU), runs the selected workloads against it through the same load generator,
 * stops it, and prints one markdown table per workload with the ratio of Latch to the best peer;
 * the same goes to bench/results/<timestamp>.json (and .md). Progress lines go to stderr, the
 * report to stdout. Every server process is stopped by PID at the end, on error and on Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { assertNever } from '../src/common/assert.js';
import { BenchArgsError, parseArgs, USAGE, type BenchConfig } from './args.js';
import { killTrackedNow } from './processes.js';
import { renderReport, resultsJson, type RunInfo } from './report.js';
import { describeSystem, type SystemSpec } from './systems.js';
import { SYSTEM_LABELS, type Cluster, type SystemId, type SystemOutcome, type VariantResult } from './types.js';
import { variantParams, variantsOf, variantTitle, variantWorkload, type Variant } from './variants.js';
import { describeError, type WorkloadEnv } from './workload-env.js';
import { runContended } from './workload-contended.js';
import { runFailover } from './workload-failover.js';
import { runSessions } from './workload-sessions.js';
import { runUncontended } from './workload-uncontended.js';

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

let activeCluster: Cluster | undefined;
let interrupted = false;

function onSignal(sig: NodeJS.Signals): void {
  if (interrupted) {
    killTrackedNow();
    process.exit(130);
  }
  interrupted = true;
  log(`${sig}: stopping every server process`);
  const c = activeCluster;
  void (c ? c.stop() : Promise.resolve()).finally(() => {
    killTrackedNow();
    process.exit(130);
  });
}

function runVariant<H>(v: Variant, env: WorkloadEnv<H>, lastOfSystem: boolean): Promise<SystemOutcome> {
  switch (v.type) {
    case 'uncontended':
      return runUncontended(env, v.clients);
    case 'contended':
      return runContended(env, v.clients);
    case 'failover':
      return runFailover(env, v.clients, v.trials, { restartAfterLastTrial: !lastOfSystem });
    case 'sessions':
      return runSessions(env, v.sessions);
    default:
      return assertNever(v);
  }
}

/** Runs every variant against one system; a failed variant gets a fresh cluster for the next one. */
async function runSystem<H>(
  spec: SystemSpec<H>,
  cfg: BenchConfig,
  variants: readonly Variant[],
  runId: string,
  onOutcome: (index: number, outcome: SystemOutcome, settings: string) => void,
): Promise<{ outcomes: SystemOutcome[]; settings: string }> {
  const outcomes: (SystemOutcome | undefined)[] = variants.map(() => undefined);
  const label = SYSTEM_LABELS[spec.id];
  let settings = '';
  // Failover runs last: its final leader kill then needs no restart (the cluster is stopped next).
  const order = [...variants.keys()].sort((a, b) => Number(variants[a]!.type === 'failover') - Number(variants[b]!.type === 'failover'));
  try {
    for (const k of order) {
      const v = variants[k]!;
      if (interrupted) break;
      const title = variantTitle(v);
      if (!activeCluster) {
        log(`[${label}] starting a 3-node cluster`);
        const t0 = performance.now();
        activeCluster = await spec.start();
        settings = activeCluster.settings;
        log(`[${label}] cluster up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${activeCluster.endpoints.join(' ')}`);
      }
      const cluster = activeCluster;
      const env: WorkloadEnv<H> = {
        system: spec.id,
        cluster,
        connect: () => spec.connect(cluster.endpoints),
        config: cfg,
        log: (line) => log(`[${label}] ${title}: ${line}`),
        namePrefix: `${runId}/v${k}`,
      };
      log(`[${label}] ${title}: starting`);
      const last = k === order[order.length - 1];
      try {
        const outcome = await runVariant(v, env, last);
        outcomes[k] = outcome;
        onOutcome(k, outcome, settings);
        log(`[${label}] ${title}: done`);
      } catch (err) {
        outcomes[k] = { type: 'failed', error: describeError(err) };
        onOutcome(k, outcomes[k], settings);
        log(`[${label}] ${title}: FAILED: ${describeError(err)}`);
        await cluster.stop();
        activeCluster = undefined;
      }
    }
  } catch (err) {
    // The cluster did not start: every remaining variant fails with that reason.
    const error = `cluster failed to start: ${describeError(err)}`;
    log(`[${label}] ${error}`);
    for (const k of variants.keys()) outcomes[k] ??= { type: 'failed', error };
  } finally {
    await activeCluster?.stop();
    activeCluster = undefined;
  }
  return { outcomes: outcomes.map((o) => o ?? { type: 'skipped', reason: 'interrupted' }), settings };
}

function machine(): string {
  const cs = cpus();
  // The load average says how much else was running: the systems run one after the other, so a
  // busy machine moves their figures (and the ratios) by more than it would with the machine alone.
  return `${cs.length} × ${cs[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}; load average ${loadavg()[0]?.toFixed(1) ?? '?'} at the start`;
}

async function main(argv: readonly string[]): Promise<number> {
  let cfg: BenchConfig;
  try {
    const parsed = parseArgs(argv);
    if (parsed.type === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    cfg = parsed.config;
  } catch (err) {
    if (err instanceof BenchArgsError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date().toISOString();
  const runId = `bench-${startedAt.replace(/[:.]/g, '-')}`;
  const variants = variantsOf(cfg);
  const results: VariantResult[] = variants.map((v) => ({ workload: variantWorkload(v), title: variantTitle(v), params: variantParams(v), outcomes: {} }));
  const settings: Partial<Record<SystemId, string>> = {};
  const versions: Partial<Record<SystemId, string>> = {};
  const setOutcome = (i: number, s: SystemId, o: SystemOutcome): void => {
    const r = results[i]!;
    results[i] = { ...r, outcomes: { ...r.outcomes, [s]: o } };
  };

  const outDir = resolve(cfg.outDir);
  const base = join(outDir, startedAt.replace(/[:.]/g, '-'));
  const machineInfo = machine();
  /** Writes the results so far (JSON and markdown) and returns the markdown. */
  const save = (): string => {
    const info: RunInfo = { startedAt, machine: machineInfo, quick: cfg.quick, settings, versions };
    const report = renderReport(info, results, cfg.systems);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(`${base}.json`, `${JSON.stringify(resultsJson(info, results, cfg.systems), null, 2)}\n`);
    writeFileSync(`${base}.md`, report);
    return report;
  };

  log(`bench${cfg.quick ? ' --quick' : ''}: systems ${cfg.systems.join(',')}; ${variants.length} workload variants: ${variants.map(variantTitle).join('; ')}`);
  for (const id of cfg.systems) {
    if (interrupted) break;
    const found = await describeSystem(id, cfg.profileDir === undefined ? undefined : resolve(cfg.profileDir));
    if (found.type === 'unavailable') {
      log(`[${SYSTEM_LABELS[id]}] skipped: ${found.reason}`);
      variants.forEach((_, i) => setOutcome(i, id, { type: 'skipped', reason: found.reason }));
      continue;
    }
    const ran = await found.use(async (spec) => {
      versions[id] = spec.version;
      return runSystem(spec, cfg, variants, runId, (i, o, st) => {
        // Save as we go, so a long run that is interrupted still leaves what it measured.
        setOutcome(i, id, o);
        if (st) settings[id] = st;
        save();
      });
    });
    if (ran.settings) settings[id] = ran.settings;
    ran.outcomes.forEach((o, i) => setOutcome(i, id, o));
  }

  const report = save();
  process.stdout.write(report);
  log(`results written to ${base}.json and ${base}.md`);
  return interrupted ? 130 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    killTrackedNow();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killTrackedNow();
    process.exit(1);
  },
);

/**
 * `npm run sim -- --seeds N` runs schedules 1..N (in worker threads) and ends with exactly one
 * line `sim: N schedules, V violations` (exit 1 if V > 0), printing each failing seed.
 * `npm run sim -- --seed S` replays one schedule and prints its trace (`--verbose` adds every delivery).
 * Options: `--from K` (first seed, default 1), `--workers W` (default: CPUs, at most 4),
 * `--plant FAULT` (commitPreviousTerm | doubleVote | skipVotePersist: the run must then fail).
 * `--stack` runs the stack simulator instead (the production RaftNode + LatchService + lock state
 * machine on virtual time; `--stack --seed S` prints its trace).
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { TestingFaults } from '../../src/raft/index.js';
import { runSchedule, type RunResult } from './simulation.js';
import { runStackSchedule } from './stack-sim.js';

interface WorkerResult {
  readonly seed: number;
  readonly violations: RunResult['violations'];
  readonly stats: RunResult['stats'];
}

function summarize(r: RunResult): WorkerResult {
  return { seed: r.seed, violations: r.violations, stats: r.stats };
}

function parseArgs(argv: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(a.slice(2), next);
      i++;
    } else out.set(a.slice(2), true);
  }
  return out;
}

function intArg(args: Map<string, string | true>, name: string, dflt: number): number {
  const v = args.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`sim: --${name} needs a non-negative integer\n`);
    process.exit(2);
  }
  return n;
}

/** `--plant FAULT`: a TestingFaults switch planted in every node's core (to show the simulator catches it). */
function plantedFaults(args: Map<string, string | true>): TestingFaults | undefined {
  const f = args.get('plant');
  if (f === undefined) return undefined;
  const known = ['commitPreviousTerm', 'doubleVote', 'skipVotePersist'];
  if (typeof f !== 'string' || !known.includes(f)) {
    process.stderr.write(`sim: --plant needs one of ${known.join(', ')}\n`);
    process.exit(2);
  }
  return { [f]: true };
}

function replay(seed: number, verbose: boolean, faults: TestingFaults | undefined): void {
  const r = runSchedule(seed, { trace: true, verbose, ...(faults ? { faults } : {}) });
  for (const line of r.trace) process.stdout.write(`${line}\n`);
  process.stdout.write(`stats ${JSON.stringify(r.stats)}\n`);
  for (const v of r.violations) process.stdout.write(`VIOLATION ${v.kind} at ${v.at}: ${v.detail}\n`);
  process.stdout.write(`sim: 1 schedules, ${r.violations.length > 0 ? 1 : 0} violations\n`);
  process.exitCode = r.violations.length > 0 ? 1 : 0;
}

async function many(from: number, count: number, workers: number, faults: TestingFaults | undefined): Promise<void> {
  const started = Date.now();
  const seeds = Array.from({ length: count }, (_, i) => from + i);
  const failures: WorkerResult[] = [];
  const totals: Record<string, number> = {};
  let done = 0;
  let lastProgress = Date.now();
  const onResult = (r: WorkerResult): void => {
    done++;
    if (r.violations.length > 0) {
      failures.push(r);
      const v = r.violations[0];
      process.stdout.write(`FAIL seed ${r.seed}: ${v?.kind} at ${v?.at}: ${v?.detail} (replay: npm run sim -- --seed ${r.seed})\n`);
    }
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (Date.now() - lastProgress > 3000) {
      lastProgress = Date.now();
      process.stdout.write(`sim: progress ${done}/${count} schedules, ${failures.length} failing, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  };
  const n = Math.max(1, Math.min(workers, count));
  if (n === 1) {
    for (const s of seeds) onResult(summarize(runSchedule(s, faults ? { faults } : {})));
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolve, reject) => {
          // Child processes (not worker threads) so that tsx's loader applies to them too.
          const child = fork(fileURLToPath(import.meta.url), ['--worker'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          const feed = (): void => {
            const s = seeds[next++];
            if (s === undefined) {
              child.kill();
              return;
            }
            child.send({ seed: s, faults });
          };
          child.on('message', (r: WorkerResult) => {
            onResult(r);
            feed();
          });
          child.on('error', reject);
          child.on('exit', (code, signal) => {
            if (code === 0 || signal === 'SIGTERM') resolve();
            else reject(new Error(`sim worker ${String(child.pid)} exited with ${String(code ?? signal)}`));
          });
          feed();
        }),
      ),
    );
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `sim: coverage ${Object.entries(totals)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} in ${secs} s\n`,
  );
  process.stdout.write(`sim: ${count} schedules, ${failures.length} violations\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

/** `--stack`: the stack simulator (production node + service + lock state machine), one process, seeds in order. */
async function stack(from: number, count: number, replaySeed: number | undefined): Promise<void> {
  const started = Date.now();
  const seeds = replaySeed !== undefined ? [replaySeed] : Array.from({ length: count }, (_, i) => from + i);
  let failing = 0;
  let lastProgress = Date.now();
  const totals: Record<string, number> = {};
  for (const [i, seed] of seeds.entries()) {
    const r = await runStackSchedule(seed, {}, replaySeed !== undefined);
    for (const line of r.trace) process.stdout.write(`${line}\n`);
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (r.violations.length > 0) {
      failing++;
      const v = r.violations[0];
      process.stdout.write(`FAIL stack seed ${seed}: ${v?.kind} at ${v?.at}: ${v?.detail} (replay: npm run sim -- --stack --seed ${seed})\n`);
    }
    if (Date.now() - lastProgress > 3000) {
      lastProgress = Date.now();
      process.stdout.write(`sim: progress ${i + 1}/${seeds.length} stack schedules, ${failing} failing, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
  process.stdout.write(`sim: coverage ${Object.entries(totals).map(([k, v]) => `${k}=${v}`).join(' ')} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`sim: ${seeds.length} stack schedules, ${failing} violations\n`);
  process.exitCode = failing > 0 ? 1 : 0;
}

const args = parseArgs(process.argv.slice(2));
if (args.has('stack')) {
  await stack(intArg(args, 'from', 1), intArg(args, 'seeds', 100), args.has('seed') ? intArg(args, 'seed', 1) : undefined);
} else if (args.has('worker')) {
  process.on('message', (m: { seed: number; faults?: TestingFaults }) => {
    process.send?.(summarize(runSchedule(m.seed, m.faults ? { faults: m.faults } : {})));
  });
} else if (args.has('seed')) {
  replay(intArg(args, 'seed', 1), args.has('verbose'), plantedFaults(args));
} else {
  const workers = intArg(args, 'workers', Math.min(4, availableParallelism()));
  await many(intArg(args, 'from', 1), intArg(args, 'seeds', 100), workers, plantedFaults(args));
}

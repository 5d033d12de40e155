/**
 * `npm run jepsen -- [options]`: one Jepsen-style run against a real Latch cluster (see
 * harness/options.ts for the flags). Exit code 0 when every check passed, 1 on any violation,
 * 2 when the run was inconclusive, 64 on bad options, 70 when the harness itself failed.
 * Ctrl-C ends the workload early; the run still heals, stops every process and checks.
 */
import { readHistoryFile } from './checker/index.js';
import { checkRun } from './harness/checks.js';
import { HarnessError } from './harness/harness-error.js';
import { parseArgs, USAGE, type RunOptions } from './harness/options.js';
import { renderVerdictRows } from './harness/report.js';
import { runJepsen } from './harness/run.js';

/** Checks a saved history again and prints the verdict; the exit code as for a run. */
async function recheck(path: string, options: RunOptions): Promise<number> {
  const history = await readHistoryFile(path);
  const verdict = checkRun(options.workload, history, { lockDelayMs: options.lockDelayMs, checkTimeoutMs: options.checkTimeoutMs, crashes: [], problems: [] });
  const lines = [`${history.length} ops from ${path}, checked as workload ${options.workload}`, '', ...renderVerdictRows(verdict.rows), '', `linearizable: ${String(verdict.linearizable)}`];
  for (const row of verdict.rows) if (row.valid !== true && row.details) lines.push('', `${row.name}:`, row.details);
  process.stdout.write(`${lines.join('\n')}\n`);
  return verdict.valid === true ? 0 : verdict.valid === false ? 1 : 2;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HarnessError && err.code === 'BAD_OPTION') {
      process.stderr.write(`jepsen: ${err.message}\n\n${USAGE}`);
      return 64;
    }
    throw err;
  }
  if (parsed.type === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.type === 'recheck') {
    try {
      return await recheck(parsed.path, parsed.options);
    } catch (err) {
      process.stderr.write(`jepsen: ${err instanceof Error ? err.message : String(err)}\n`);
      return 70;
    }
  }
  const stop = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++interrupts === 1) {
      process.stderr.write(`\njepsen: ${sig}; healing, stopping and checking (again to abandon the check)\n`);
      stop.abort();
    } else process.exit(130);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  try {
    const result = await runJepsen(parsed.options, { signal: stop.signal });
    return result.exitCode;
  } catch (err) {
    process.stderr.write(`jepsen: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof HarnessError && err.code === 'NOT_ROOT' ? 64 : 70;
  }
}

process.exitCode = await main();

/** The `latch` command: server, local cluster, status, and the lock/election/inspection commands. */
import { Command, Option } from 'commander';
import { ConfigError } from '../common/errors.js';
import { CONFIG_KEYS, flagName, envName, isBoolKey, readConfigFile, readEnv, resolveConfig, type RawConfig } from '../server/config.js';
import { clusterUp } from './cluster-up.js';
import { registerClientCommands } from './commands/index.js';
import { resolveEndpoints } from './commands/cli-support.js';
import { registerMembersCommand } from './members.js';
import { registerSnapshotCommand } from './snapshot.js';
import { runStatus } from './status.js';

/** Builds the `latch` command tree. */
export function buildProgram(): Command {
  const program = new Command('latch')
    .description('Latch: a Chubby-style lock service on Raft')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.startsWith('error:') ? `latch: ${s.slice(7)}` : s) });

  const server = program
    .command('server')
    .description('run one Latch node (flags win over LATCH_* environment variables, which win over --config)')
    .option('--config <file>', 'JSON config file (keys are the flag names)');
  for (const key of CONFIG_KEYS) server.addOption(new Option(`--${flagName(key)} ${isBoolKey(key) ? '[value]' : '<value>'}`, `(env ${envName(key)})`));
  server.option('--check-config', 'validate the configuration, print it as JSON and exit');
  server.action(async (opts: Record<string, string | boolean | undefined>) => {
    const flags: RawConfig = {};
    for (const key of CONFIG_KEYS) {
      const v = opts[key];
      if (v !== undefined) flags[key] = v === true ? 'true' : String(v);
    }
    const file = opts.config ?? process.env.LATCH_CONFIG;
    const config = resolveConfig(file ? readConfigFile(typeof file === 'string' ? file : String(file)) : {}, readEnv(process.env), flags);
    if (opts.checkConfig) {
      process.stdout.write(`${JSON.stringify(config)}\n`);
      return;
    }
    const { runServer } = await import('../server/run-server.js');
    await runServer(config);
  });

  const cluster = program.command('cluster').description('local development clusters');
  cluster
    .command('up')
    .description('start a local cluster of real `latch server` processes on 127.0.0.1 (Ctrl-C stops it)')
    .addOption(new Option('--nodes <n>', 'number of nodes').choices(['3', '5']).default('3'))
    .option('--dir <dir>', 'data directory (one folder per node)', './data')
    .option('--base-port <port>', 'node i listens on base+i (clients), base+100+i (peers), base+200+i (HTTP)', '7000')
    .option('--log-level <level>', 'server log level', 'info')
    .action(async (o: { nodes: string; dir: string; basePort: string; logLevel: string }) => {
      const basePort = Number(o.basePort);
      if (!Number.isInteger(basePort) || basePort < 1 || basePort + 205 > 65535) throw new ConfigError('base-port', `"${o.basePort}" must be an integer in [1, 65330]`);
      process.exitCode = await clusterUp({ nodes: Number(o.nodes), dir: o.dir, basePort, logLevel: o.logLevel });
    });

  program
    .command('status')
    .description('show every member: id, address, role, term, commit and applied index, and the leader')
    .option('--endpoints <list>', 'comma-separated client endpoints (default LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .option('--json', 'print one JSON object')
    .action(async (o: { endpoints?: string; json?: boolean }) => {
      const endpoints = resolveEndpoints(o.endpoints);
      process.exitCode = await runStatus(endpoints, o.json === true);
    });

  registerClientCommands(program);
  registerMembersCommand(program);
  registerSnapshotCommand(program);
  return program;
}


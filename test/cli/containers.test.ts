/**
 * Keeps Dockerfile and docker-compose.yml honest (no Docker engine here): every command, flag and
 * environment variable they pass is one the CLI accepts, and the resulting configs validate.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { CONFIG_KEYS, envName, flagName, readEnv, resolveConfig, type RawConfig } from '../../src/server/config.js';

const root = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { command: string[]; environment: Record<string, string>; ports: string[]; healthcheck: { test: string[] } }>;
};

/** Parses `server --flag value …` into a RawConfig, failing on any flag the server command lacks. */
function flagsToRaw(args: readonly string[]): RawConfig {
  const server = buildProgram().commands.find((c) => c.name() === 'server')!;
  const known = new Set(server.options.map((o) => o.long));
  const raw: RawConfig = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!;
    expect(known.has(flag), `flag ${flag} is accepted by latch server`).toBe(true);
    const key = CONFIG_KEYS.find((k) => `--${flagName(k)}` === flag);
    if (key) raw[key] = args[i + 1]!;
  }
  return raw;
}

/** The final-stage ENV of the Dockerfile as a map. */
function dockerEnv(): Record<string, string> {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const m = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/g;
  const env: Record<string, string> = {};
  for (const match of finalStage.matchAll(m)) {
    for (const pair of match[1]!.replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean)) {
      const [k, v] = pair.split('=');
      if (k && v !== undefined) env[k] = v;
    }
  }
  return env;
}

describe('Dockerfile', () => {
  it('runs the built CLI as a non-root user with a /healthz check and a data volume', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build/m);
    expect(dockerfile).toMatch(/--omit=dev/);
    expect(dockerfile).toMatch(/^USER latch$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]');
    expect(dockerfile).toContain('CMD ["server"]');
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: { latch: string } };
    expect(`/app/${pkg.bin.latch}`).toBe('/app/dist/src/cli/main.js');
  });

  it('sets only LATCH_* variables the server reads', () => {
    const env = dockerEnv();
    const latchVars = Object.keys(env).filter((k) => k.startsWith('LATCH_'));
    expect(latchVars.length).toBeGreaterThan(0);
    const knownEnv = new Set(CONFIG_KEYS.map(envName));
    for (const k of latchVars) expect(knownEnv.has(k), `${k} is read by latch server`).toBe(true);
  });
});

describe('docker-compose.yml', () => {
  const services = Object.entries(compose.services);

  it('has three nodes, each with a volume, a healthcheck and a published client port', () => {
    expect(services.map(([n]) => n).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const [, s] of services) {
      expect(s.healthcheck.test.join(' ')).toContain('/healthz');
      expect(s.ports.length).toBe(1);
    }
  });

  it('gives each node a config the server accepts, consistent with the initial cluster', () => {
    for (const [name, s] of services) {
      expect(s.command[0]).toBe('server');
      const env = { ...dockerEnv(), ...s.environment };
      const config = resolveConfig(readEnv(env), flagsToRaw(s.command.slice(1)));
      expect(config.id).toBe(name);
      const me = config.initialCluster.find((m) => m.id === name)!;
      // The peer address others dial must be this service's hostname and its peer listen port.
      expect(me.peerAddress).toBe(`${name}:${config.listenPeer.split(':')[1]}`);
      // The published host port must be the one advertised as the client address.
      const [hostIp, hostPort, containerPort] = s.ports[0]!.split(':');
      expect(me.clientAddress).toBe(`${hostIp}:${hostPort}`);
      expect(containerPort).toBe(config.listenClient.split(':')[1]);
      expect(s.healthcheck.test.join(' ')).toContain(`:${config.listenHttp.split(':')[1]}/healthz`);
    }
  });
});

/**
 * What every workload gets: the running cluster, a way to open load-generator clients, the run's
 * config and a logger; plus helpers to open and close a set of clients.
 */
import type { BenchConfig } from './args.js';
import { forEachLimited } from './timeout.js';
import type { Cluster, LockClient, SystemId } from './types.js';

/** The environment of one workload run against one system. */
export interface WorkloadEnv<H> {
  readonly system: SystemId;
  readonly cluster: Cluster;
  /** Opens one load-generator client (its own connection and session). */
  readonly connect: () => Promise<LockClient<H>>;
  readonly config: BenchConfig;
  /** Prints a progress line. */
  readonly log: (line: string) => void;
  /** A prefix unique to this run, so lock names never meet leftovers of an earlier workload. */
  readonly namePrefix: string;
}

/** Opens `n` clients, 16 at a time; if any fails, closes those opened and rethrows. */
export async function openClients<H>(env: WorkloadEnv<H>, n: number): Promise<LockClient<H>[]> {
  const clients: LockClient<H>[] = [];
  try {
    await forEachLimited(
      Array.from({ length: n }, (_, i) => i),
      16,
      async () => {
        clients.push(await env.connect());
      },
    );
  } catch (err) {
    await closeClients(clients);
    throw err;
  }
  return clients;
}

/** Closes every client (never rejects). */
export async function closeClients<H>(clients: readonly LockClient<H>[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
}

/** A short description of an error for notes. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/** A test cluster whose nodes run with `--token-file`; the helper's own `/status` calls send `httpToken`. */
import { hashToken } from '../../src/server/auth.js';
import { startTestCluster, type TestCluster, type TestClusterOptions } from '../helpers/local-cluster.js';

/** The HTTP tests' token file: root, read on every name, lock on jobs/ only, and metrics only. */
export const HTTP_TEST_TOKENS = `role:reader:read:*
role:jobs:read,lock:jobs/
role:prom:metrics:*
ops:${hashToken('ops-secret')}:root
viewer:${hashToken('viewer-secret')}:reader
runner:${hashToken('runner-secret')}:jobs
prom:${hashToken('prom-secret')}:prom
`;

/** Starts a cluster with `--token-file tokenFile`; the helper's HTTP polls use `httpToken` (read on every name). */
export async function startTokenCluster(tokenFile: string, httpToken: string, opts: TestClusterOptions = {}): Promise<TestCluster> {
  return startTestCluster({ ...opts, httpToken, extraArgs: [...(opts.extraArgs ?? []), '--token-file', tokenFile] });
}

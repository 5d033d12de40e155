/**
 * Committed proposals per second on a local 3-node cluster (real processes, fsync on), for 1, 16
 * and 64 concurrent proposers. Each proposal is an OpenSession call: one Raft entry, acknowledged
 * after it is fsynced on a majority and applied. Usage: npx tsx bench/proposals.ts [--seconds 5]
 */
import { startTestCluster, waitFor } from '../test/helpers/local-cluster.js';
import { RawClient, leaderEndpoint } from '../test/helpers/raw-client.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 5) || 5;
const cluster = await startTestCluster({ nodes: 3, heartbeatMs: 100, electionTimeoutMs: 1000, logLevel: 'warn' });
try {
  const ep = await waitFor(() => leaderEndpoint(cluster.endpoints), 15_000, 'leader');
  const rows: string[] = [];
  for (const c of [1, 16, 64]) {
    const clients = Array.from({ length: Math.min(c, 8) }, () => new RawClient(ep, true));
    let done = 0;
    const lat: number[] = [];
    const deadline = Date.now() + seconds * 1000;
    const tick = setInterval(() => process.stderr.write(`  c=${c}: ${done} committed\n`), 2000);
    await Promise.all(
      Array.from({ length: c }, async (_, i) => {
        const rc = clients[i % clients.length]!;
        while (Date.now() < deadline) {
          const t = performance.now();
          await rc.call('Sessions', 'open', { ttlMs: 300_000, client: 'bench' });
          lat.push(performance.now() - t);
          done++;
        }
      }),
    );
    clearInterval(tick);
    for (const rc of clients) rc.close();
    lat.sort((a, b) => a - b);
    const p = (q: number): string => (lat[Math.floor(q * (lat.length - 1))] ?? 0).toFixed(1);
    rows.push(`| ${c} | ${(done / seconds).toFixed(0)} | ${p(0.5)} | ${p(0.99)} |`);
  }
  console.log(`\n| proposers | committed/s | p50 ms | p99 ms |\n|---|---|---|---|\n${rows.join('\n')}`);
} finally {
  await cluster.stop();
}

/**
 * Free TCP ports on 127.0.0.1 for the benchmark's clusters, drawn from 10000–19999: below the
 * kernel's ephemeral range (so outgoing connections never take them first) and below the
 * 20000+ range the integration tests use.
 */
import { createServer } from 'node:net';

const LOW = 10_000;
const HIGH = 19_999;
const taken = new Set<number>();

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** `n` distinct free ports, never handed out twice in one run. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let attempt = 0; out.length < n; attempt++) {
    if (attempt > 2000) throw new Error(`no ${n} free ports found in ${LOW}-${HIGH}`);
    const p = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (taken.has(p) || out.includes(p)) continue;
    if (await portFree(p)) out.push(p);
  }
  for (const p of out) taken.add(p);
  return out;
}

/**
 * Entry point of a client worker process (forked by the harness with an IPC channel): waits for
 * its config, connects its own SDK client (on the run's clock, its keepalive answers observed for
 * the session-lease records), runs its workload until told to stop, closes its session and
 * client, and exits. Exits at once if the harness goes away.
 */
import { GrpcRpcTransport } from '../../../src/client/grpc-transport.js';
import { LatchClient } from '../../../src/client/index.js';
import { SeededRng } from '../../../src/common/rng.js';
import { MonoClock } from '../harness/mono-clock.js';
import { parseToWorker, type FromWorker } from '../harness/worker-protocol.js';
import { describeError } from './classify.js';
import { SessionKeeper } from './context.js';
import { workloadFor } from './index.js';
import { LeaseRecorder } from './session-leases.js';
import { WorkerRuntime } from './worker-runtime.js';

let lastSend: Promise<void> = Promise.resolve();
function send(msg: FromWorker): void {
  if (!process.connected || !process.send) return;
  lastSend = new Promise<void>((resolve) => {
    process.send?.(msg, undefined, {}, () => resolve());
  });
}
const onDisconnect = (): void => {
  rt.disconnect();
  process.exit(1);
};

const rt = new WorkerRuntime(send);
process.on('message', (raw: unknown) => {
  try {
    rt.onMessage(parseToWorker(raw));
  } catch (err) {
    send({ type: 'log', message: `bad message from the harness: ${describeError(err)}` });
  }
});
process.on('disconnect', onDisconnect);

const config = await rt.config();
send({ type: 'ready' });
// The SDK runs on the run's clock, so its lease ends are history times (session-leases.ts).
const clock = new MonoClock(BigInt(config.originNs));
const leases = new LeaseRecorder({ note: (lane, f, value) => rt.note(lane, f, value), log: (m) => rt.log(m) }, clock, config.driftMarginMs);
const client = await LatchClient.connect({
  endpoints: config.endpoints,
  verify: false,
  callTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  name: `jepsen-${config.slot}`,
  clock,
  transport: leases.observe(new GrpcRpcTransport()),
});
const sessions = new SessionKeeper(client, config.ttlMs, `jepsen-${config.slot}`, rt.stop, (m) => rt.log(m), config.driftMarginMs, (s) => leases.track(s));
const ctx = { config, client, rt, rng: new SeededRng(config.seed), clock, sessions };
try {
  await workloadFor(config.workload)(ctx);
} catch (err) {
  rt.log(`workload failed: ${describeError(err)}`);
}
await sessions.close(3_000);
await Promise.race([client.close(), new Promise((r) => setTimeout(r, 3_000).unref())]);
send({ type: 'stopped' });
await Promise.race([lastSend, new Promise((r) => setTimeout(r, 1_000).unref())]);
process.off('disconnect', onDisconnect);
process.exit(0);

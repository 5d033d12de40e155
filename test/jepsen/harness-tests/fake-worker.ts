/**
 * A stand-in client worker for the WorkerPool tests: speaks the real protocol (through
 * WorkerRuntime) but follows a fixed script instead of using the SDK. The script is named by the
 * config's `election` field: `hold` takes a section and keeps it; `script` crashes one op, then
 * takes a section, writes the register and leaves.
 */
import { parseToWorker, type FromWorker } from '../harness/worker-protocol.js';
import { WorkerRuntime } from '../workloads/worker-runtime.js';

const rt = new WorkerRuntime((msg: FromWorker) => process.send?.(msg));
process.on('message', (raw: unknown) => rt.onMessage(parseToWorker(raw)));
process.on('disconnect', () => process.exit(1));
const config = await rt.config();
process.send?.({ type: 'ready' });
const keepAlive = setInterval(() => undefined, 1_000);

if (config.election === 'hold') {
  await rt.invoke(0, 'enter', { name: 'a' });
  rt.complete(0, 'ok', { token: 7, sessionId: '1' });
  rt.note(0, 'held', { name: 'a', token: 7, at: 1 });
} else {
  await rt.invoke(0, 'enter', { name: 'a' });
  rt.complete(0, 'info', null, 'lost in the post');
  await rt.invoke(0, 'enter', { name: 'a' });
  rt.complete(0, 'ok', { token: 8, sessionId: '2' });
  const accepted = await rt.write(0, 'a', 8, 'v');
  const stale = await rt.write(0, 'a', 3, 'old');
  const value = await rt.read(0, 'a');
  rt.log(`accepted=${accepted} stale=${stale} value=${String(value)}`);
  await rt.invoke(0, 'exit', { name: 'a', token: 8 });
  rt.complete(0, 'ok', { released: true });
}
rt.stop.addEventListener('abort', () => {
  clearInterval(keepAlive);
  process.send?.({ type: 'stopped' }, undefined, {}, () => process.exit(0));
});

/**
 * A child process that holds a shard of the sessions workload's sessions (so no one process needs
 * more file descriptors than the machine's limit allows: a ZooKeeper session is one connection).
 * Started by workload-sessions.ts with an IPC channel; reports its counters every second; closes
 * its sessions and exits when told to, or when the parent goes away.
 */
import { asToHolder, type FromHolder } from './holder-protocol.js';
import { sessionOpener } from './session-openers.js';
import type { HeldSessions, SessionCounters } from './types.js';

const counters: SessionCounters = { opened: 0, keepalives: 0, expiries: 0, openErrors: 0 };
const abort = new AbortController();
let held: HeldSessions | undefined;
let closing = false;

function send(msg: FromHolder): void {
  if (process.connected) process.send?.(msg);
}

async function closeAndExit(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  abort.abort();
  clearInterval(ticker);
  await held?.close().catch(() => undefined);
  send({ type: 'closed', counters: { ...counters } });
  process.disconnect?.();
  // Give the IPC message a moment to flush, then go even if some socket lingers.
  setTimeout(() => process.exit(code), 200).unref();
}

const ticker = setInterval(() => send({ type: 'progress', counters: { ...counters } }), 1000);

process.on('disconnect', () => void closeAndExit(0));
// A client library that throws from a socket handler (node-zookeeper-client does, on a frame it
// cannot parse) would kill the holder silently: report why first, then stop.
process.on('uncaughtException', (err) => {
  send({ type: 'error', message: `client library threw: ${err instanceof Error ? err.message : String(err)}` });
  void closeAndExit(1);
});
process.on('message', (raw: unknown) => {
  const msg = asToHolder(raw);
  if (msg === undefined) {
    send({ type: 'error', message: `holder: unexpected message ${JSON.stringify(raw)}` });
    return;
  }
  switch (msg.type) {
    case 'start':
      sessionOpener(msg.system)
        .then((open) => open(msg.endpoints, msg.count, msg.ttlMs, counters, abort.signal))
        .then(
          (h) => {
            held = h;
            if (closing) void h.close();
            else send({ type: 'opened', counters: { ...counters } });
          },
          (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
        );
      break;
    case 'report':
      send({ type: 'progress', counters: { ...counters } });
      break;
    case 'close':
      void closeAndExit(0);
      break;
  }
});

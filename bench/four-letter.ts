/**
 * ZooKeeper's four-letter-word admin commands over its client port (`srvr`, `mntr`), and parsers
 * for their answers (pure).
 */
import { connect } from 'node:net';

/** Sends a four-letter word to `host:port` and resolves with the whole answer. */
export function fourLetter(endpoint: string, word: string, timeoutMs = 1000): Promise<string> {
  const idx = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, idx);
  const port = Number(endpoint.slice(idx + 1));
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${word} to ${endpoint} timed out`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(word));
    sock.on('data', (d: Buffer) => {
      out += d.toString();
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The server's role from a `srvr` answer (`leader`, `follower`, `standalone`...), or undefined. */
export function parseMode(srvr: string): string | undefined {
  return /^Mode:\s*(\S+)/m.exec(srvr)?.[1];
}

/** The numeric fields of an `mntr` answer (tab-separated `key value` lines). */
export function parseMntr(mntr: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of mntr.split('\n')) {
    const [k, v] = line.split('\t');
    if (k === undefined || v === undefined) continue;
    const n = Number(v.trim());
    if (k.trim().length > 0 && v.trim().length > 0 && Number.isFinite(n)) out[k.trim()] = n;
  }
  return out;
}

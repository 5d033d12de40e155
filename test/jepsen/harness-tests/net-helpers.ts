/** Real-socket helpers for the proxy tests: a target server that records and echoes, and a client. */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP server on 127.0.0.1 that echoes every chunk and remembers what it received. */
export interface EchoServer {
  readonly address: string;
  /** Everything received, per accepted connection, in accept order. */
  readonly received: string[];
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** Starts an echo server on an ephemeral port; `echo: false` only records. */
export async function startEchoServer(echo = true): Promise<EchoServer> {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    const i = received.length;
    received.push('');
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received[i] += d.toString();
      if (echo) s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    address: `127.0.0.1:${addr.port}`,
    received,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A connected client that collects what it receives and notes how it closed. */
export interface TestClient {
  readonly socket: Socket;
  data: string;
  closed: boolean;
  error: NodeJS.ErrnoException | undefined;
}

/** Connects to `address`; resolves once connected, or once closed (a reset may beat the connect event). */
export async function connectClient(address: string): Promise<TestClient> {
  const i = address.lastIndexOf(':');
  const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
  const c: TestClient = { socket, data: '', closed: false, error: undefined };
  socket.on('data', (d: Buffer) => {
    c.data += d.toString();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    c.error = e;
  });
  socket.on('close', () => {
    c.closed = true;
  });
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return c;
}

/** Polls `cond` on every turn of the event loop (plus a 5 ms pause) until it holds or `ms` passes. */
export async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

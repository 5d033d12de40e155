/**
 * A tiny in-process gRPC server on 127.0.0.1 (any free port) for client tests that stand in for
 * a Latch node with hand-written handlers.
 */
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';

/** A listening fake server: its address and how to stop it. */
export interface ListeningServer {
  readonly address: string;
  stop(): Promise<void>;
}

/** Serves `impl` for `definition` on a free loopback port. */
export async function listenFake(definition: ServiceDefinition, impl: UntypedServiceImplementation): Promise<ListeningServer> {
  const server = new Server();
  server.addService(definition, impl);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((res) => server.tryShutdown(() => res())).then(() => server.forceShutdown()),
  };
}

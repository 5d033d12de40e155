/**
 * TLS for the client and peer listeners (@grpc/grpc-js credentials). One cluster CA signs every
 * node and client certificate; both listeners require a certificate signed by it (mutual TLS), so
 * a client or peer without one, or with one from another CA, fails the handshake.
 */
import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials, credentials as grpcCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../common/errors.js';
import type { TlsPaths } from './config.js';

/** PEM bytes of a node's (or client's) certificate and key, and of the cluster CA. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

function readPem(field: string, path: string, marker: RegExp): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new ConfigError(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!marker.test(buf.toString('latin1'))) throw new ConfigError(field, `${path} holds no PEM ${field === 'key' ? 'private key' : 'certificate'}`);
  return buf;
}

/** Reads and checks the PEM files; ConfigError naming the field when one is missing or not PEM. */
export function loadTlsMaterial(paths: TlsPaths): TlsMaterial {
  return {
    cert: readPem('cert', paths.cert, /-----BEGIN CERTIFICATE-----/),
    key: readPem('key', paths.key, /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/),
    ca: readPem('ca', paths.ca, /-----BEGIN CERTIFICATE-----/),
  };
}

/** Listener credentials: TLS with a client certificate signed by the CA required; plain text when `tls` is null. */
export function serverCredentials(tls: TlsMaterial | null): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

/** Outbound credentials (peer channels, CLI, SDK): verify the server against the CA and present our certificate. */
export function channelCredentials(tls: TlsMaterial | null): ChannelCredentials {
  if (!tls) return grpcCredentials.createInsecure();
  return grpcCredentials.createSsl(tls.ca, tls.key, tls.cert);
}

/**
 * Client-side TLS from the environment, for the `latch` CLI: `LATCH_CA`, `LATCH_CERT`, `LATCH_KEY`
 * (the same names a node reads, so the CLI works inside a node's container). All or none.
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsMaterial | null {
  const ca = env.LATCH_CA || undefined;
  const cert = env.LATCH_CERT || undefined;
  const key = env.LATCH_KEY || undefined;
  if (!ca && !cert && !key) return null;
  if (!ca || !cert || !key) throw new ConfigError(!ca ? 'LATCH_CA' : !cert ? 'LATCH_CERT' : 'LATCH_KEY', 'client TLS needs LATCH_CA, LATCH_CERT and LATCH_KEY');
  return loadTlsMaterial({ ca, cert, key });
}

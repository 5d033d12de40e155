/**
 * Test PKI made with openssl at test time (never committed): a cluster CA, a node certificate for
 * 127.0.0.1/localhost usable as server and client, and a client certificate; plus the same from a
 * second, untrusted CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM file paths of one certificate. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** A CA and certificates it signed. */
export interface TestPki {
  readonly dir: string;
  readonly ca: CertFiles;
  readonly node: CertFiles;
  readonly client: CertFiles;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(path: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', path]);
}

/** Makes a CA named `name` and a node and a client certificate signed by it, in a fresh temp dir. */
export function makePki(name: string, dir = mkdtempSync(join(tmpdir(), `latch-pki-${name}-`))): TestPki {
  const p = (f: string): string => join(dir, f);
  newKey(p('ca.key'));
  openssl(['req', '-x509', '-new', '-key', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (who: string, ext: string): CertFiles => {
    newKey(p(`${who}.key`));
    openssl(['req', '-new', '-key', p(`${who}.key`), '-out', p(`${who}.csr`), '-subj', `/CN=${name} ${who}`]);
    writeFileSync(p(`${who}.ext`), ext);
    openssl(['x509', '-req', '-in', p(`${who}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${who}.crt`), '-days', '2', '-extfile', p(`${who}.ext`)]);
    return { cert: p(`${who}.crt`), key: p(`${who}.key`) };
  };
  const node = issue('node', 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  const client = issue('client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  return { dir, ca: { cert: p('ca.crt'), key: p('ca.key') }, node, client };
}

/** The `latch server` flags that use `pki`'s node certificate. */
export function tlsArgs(pki: TestPki): string[] {
  return ['--cert', pki.node.cert, '--key', pki.node.key, '--ca', pki.ca.cert];
}

import { ConfigError } from '../common/errors.js';

/** A parsed `host:port` (IPv6 hosts written `[::1]:port`). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port`; throws ConfigError naming `field` when malformed. Port 0 is allowed only
 * with `allowPortZero` (a listen address that lets the OS pick).
 */
export function parseHostPort(address: unknown, field: string, allowPortZero = false): HostPort {
  if (typeof address !== 'string') throw new ConfigError(field, 'expected a host:port string');
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):([0-9]{1,5})$/.exec(address);
  if (!m) throw new ConfigError(field, `"${address}" is not host:port`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowPortZero)) throw new ConfigError(field, `port ${port} out of range in "${address}"`);
  return { host, port };
}

/** Formats a host and port back into an address string. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

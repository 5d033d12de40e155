/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the segment log's
 * records, as in etcd's WAL and hashicorp/raft-wal. `node:zlib`'s `crc32` is CRC-32/IEEE, a
 * different polynomial; CRC-32C is computed here, table-driven, slicing by 8 (eight 256-entry
 * tables, one 32-bit table lookup per input byte but eight bytes per loop turn). Pure and
 * allocation-free after the tables are built once per module load (they are constants).
 */

/** Eight 256-entry tables: T[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: readonly Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    tables.push(t);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/**
 * The CRC-32C of `bytes[start, end)`, continuing from `crc` (the result of a previous call over
 * the preceding bytes, or 0 to start). Returns an unsigned 32-bit integer.
 * Check value: crc32c of ASCII "123456789" is 0xE3069283.
 */
export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let c = ~crc;
  let i = start;
  // Byte at a time until 8-byte runs remain.
  const stop8 = end - 8;
  while (i <= stop8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = T0[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

import { Packr } from 'msgpackr';

/**
 * The one msgpackr codec for everything on disk or on the wire. Records are off (`useRecords: false`)
 * so no shared structures need persisting; every envelope starts with a version byte.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** Current envelope version. */
export const CODEC_VERSION = 1;

/** Raised when bytes cannot be decoded (wrong version, truncated, garbage). */
export class CodecError extends Error {
  readonly code = 'CODEC_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
  }
}

/** Encodes a value as msgpack without an envelope (for values nested in an enveloped value). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes msgpack without an envelope. */
export function unpack<T>(bytes: Uint8Array): T {
  try {
    return packr.unpack(bytes) as T;
  } catch (err) {
    throw new CodecError(`cannot decode msgpack (${bytes.length} bytes)`, { cause: err });
  }
}

/** Encodes a value into a versioned envelope: [version byte][msgpack]. */
export function encode(value: unknown): Uint8Array {
  const body = packr.pack(value);
  const out = new Uint8Array(body.length + 1);
  out[0] = CODEC_VERSION;
  out.set(body, 1);
  return out;
}

/** Decodes a versioned envelope made by `encode`; throws CodecError on a wrong version or bad bytes. */
export function decode<T>(bytes: Uint8Array): T {
  if (bytes.length < 2) throw new CodecError(`envelope too short (${bytes.length} bytes)`);
  if (bytes[0] !== CODEC_VERSION) throw new CodecError(`unsupported envelope version ${bytes[0]} (expected ${CODEC_VERSION})`);
  return unpack<T>(bytes.subarray(1));
}

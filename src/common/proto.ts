import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** The package root (the folder holding package.json), found from this file whether run from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the latch package root (package.json beside proto/)');
    dir = up;
  }
}

const cache = new Map<string, GrpcObject>();

/** Loads `proto/<file>` with 64-bit integers as decimal strings and defaults filled in. */
export function loadProto(file: string): GrpcObject {
  const hit = cache.get(file);
  if (hit) return hit;
  const def = loadSync(join(packageRoot(), 'proto', file), {
    keepCase: false,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  const obj = loadPackageDefinition(def);
  cache.set(file, obj);
  return obj;
}

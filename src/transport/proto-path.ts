/** Where proto/raft.proto lives in this package (from src/ under tsx/vitest or dist/src/ after tsc). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../common/proto.js';

/** Absolute path of proto/raft.proto in this package. */
export function raftProtoPath(): string {
  const path = join(packageRoot(), 'proto', 'raft.proto');
  if (!existsSync(path)) throw new Error(`proto/raft.proto not found in package root ${packageRoot()}`);
  return path;
}

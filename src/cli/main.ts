#!/usr/bin/env node
/** Entry point of the `latch` command: runs the program and maps failures to exit codes. */
import { CommanderError } from 'commander';
import { ConfigError, isLatchError } from '../common/errors.js';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; usage errors exit 2 (the message is already printed).
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`latch: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`latch: ${isLatchError(err) ? err.message : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

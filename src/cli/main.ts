#!/usr/bin/env node
import { Command } from 'commander';

/** Builds the `latch` command tree. */
export function buildProgram(): Command {
  const program = new Command('latch').description('Latch: a Chubby-style lock service on Raft').version('0.1.0');
  return program;
}

await buildProgram().parseAsync(process.argv);

/**
 * A `latch` entry with only the client commands, for the integration tests (run from dist/ after
 * `tsc -p tsconfig.json`), so they do not depend on how src/cli/main.ts wires its commands.
 */
import { Command } from 'commander';
import { registerClientCommands } from '../../src/cli/commands/index.js';

const program = new Command('latch');
registerClientCommands(program);
await program.parseAsync(process.argv);

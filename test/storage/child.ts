/** Starts crash-writer.ts as a child process and reads its stdout line by line; kills only by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const writerPath = resolve(here, 'crash-writer.ts');

/** A running crash-writer. */
export class Writer {
  private readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private ended = false;
  private err = '';
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.push(line));
    child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((done) => child.once('exit', () => done()));
    child.stdout!.once('close', () => {
      this.ended = true;
      this.push(undefined);
    });
  }

  /** Spawns `node --import tsx crash-writer.ts ...args`. */
  static start(args: readonly string[]): Writer {
    const child = spawn(process.execPath, ['--import', 'tsx', writerPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Writer(child);
  }

  /** The child's PID. */
  get pid(): number {
    return this.child.pid!;
  }

  /** What the child wrote to stderr so far. */
  get stderr(): string {
    return this.err;
  }

  /** The next stdout line, or undefined once stdout has closed. */
  next(): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined || this.ended) return Promise.resolve(line);
    return new Promise((res) => (this.waiting = res));
  }

  /** SIGKILLs the child by PID if it is still running, and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  private push(line: string | undefined): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(line);
    } else if (line !== undefined) {
      this.lines.push(line);
    }
  }
}

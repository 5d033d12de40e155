/**
 * A real headless Chromium (Debian's /usr/bin/chromium) driven over CDP by playwright-core.
 * We spawn the browser ourselves so the test owns its PID and its fresh user-data-dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { waitFor } from '../helpers/local-cluster.js';

/** Path of the browser binary (installed by .ci/run with `apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium';

/** A running browser; `close()` stops it by PID and removes its profile. */
export interface HeadlessChromium {
  readonly browser: Browser;
  readonly pid: number;
  close(): Promise<void>;
}

/** Starts Chromium headless with a fresh profile and connects playwright-core to it. */
export async function launchChromium(): Promise<HeadlessChromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'latch-chromium-'));
  const child: ChildProcess = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const portFile = join(profile, 'DevToolsActivePort');
    const port = await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`chromium exited with ${child.exitCode}: ${stderr}`);
        return existsSync(portFile) ? readFileSync(portFile, 'utf8').split('\n')[0] : undefined;
      },
      30_000,
      'chromium to open its DevTools port',
    );
    const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
    return {
      browser,
      pid: child.pid!,
      close: async () => {
        await browser.close().catch(() => undefined);
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

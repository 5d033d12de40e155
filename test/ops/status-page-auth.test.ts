/**
 * The status page in a real headless Chromium against a real 3-node cluster with `--token-file`
 * (issue 16.2): without a token it asks for one, a wrong or insufficient one is refused with a
 * clear message, the right one shows the leader, members and a lock just taken; the token lives in
 * the tab's sessionStorage, so a reload keeps it and a new tab or browser context asks again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { hashToken } from '../../src/server/auth.js';
import type { TestCluster } from '../helpers/local-cluster.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';
import { startTokenCluster } from './token-cluster.js';

let cluster: TestCluster;
let browser: HeadlessChromium;
let client: LatchClient;
let dir: string;
const contexts: BrowserContext[] = [];

const TOKENS = `role:reader:read:*
role:jobs:read,lock:jobs/
ops:${hashToken('ops-secret')}:root
viewer:${hashToken('viewer-secret')}:reader
runner:${hashToken('runner-secret')}:jobs
`;

/** Console errors other than the browser's own "Failed to load resource" line for a 401/403 (the page handles those). */
const unexpected: string[] = [];

async function open(ctx: BrowserContext, url: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => unexpected.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) unexpected.push(m.text());
  });
  await page.goto(url);
  return page;
}

async function newContext(): Promise<BrowserContext> {
  const ctx = await browser.browser.newContext();
  contexts.push(ctx);
  return ctx;
}

/** Waits until the page shows the token form with a message matching `message`, and no data. */
async function asksForToken(page: Page, message: RegExp): Promise<void> {
  await expect.poll(() => page.locator('#auth-message').textContent(), { timeout: 15_000 }).toMatch(message);
  expect(await page.locator('#auth').isVisible()).toBe(true);
  expect(await page.locator('#data').isVisible()).toBe(false);
  expect(await page.locator('#summary').getAttribute('data-leader')).toBeNull();
}

async function submit(page: Page, token: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.locator('#auth button[type=submit]').click();
}

/** The token in the tab's sessionStorage (a string expression: this project compiles without the DOM lib). */
const stored = (page: Page): Promise<string | null> => page.evaluate<string | null>("sessionStorage.getItem('latch-token')");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-page-auth-'));
  writeFileSync(join(dir, 'tokens'), TOKENS);
  cluster = await startTokenCluster(join(dir, 'tokens'), 'viewer-secret', { nodes: 3 });
  browser = await launchChromium();
  client = await LatchClient.connect({ endpoints: cluster.endpoints, token: 'ops-secret' });
});

afterAll(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
  await client?.close();
  await browser?.close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('status page with --token-file', () => {
  it('asks for a token, refuses wrong ones clearly, then shows the cluster live; reload keeps the token, a new tab does not', async () => {
    const leader = await cluster.leader();
    const leaderNode = cluster.nodes.find((n) => n.id === leader)!;
    const url = `http://${leaderNode.httpAddress}/`;
    const ctx = await newContext();
    const page = await open(ctx, url);

    // No token: the page asks for one and shows nothing of the cluster.
    await asksForToken(page, /^This node requires a bearer token with read on every name\.$/);

    // A wrong token: refused with the server's reason, forgotten, asked again.
    await submit(page, 'wrong-secret');
    await asksForToken(page, /^That token was refused: unknown token\. Enter a valid token\.$/);
    expect(await stored(page)).toBeNull();

    // A valid token without read on every name: told what it lacks.
    await submit(page, 'runner-secret');
    await asksForToken(page, /valid but may not read this page: token "runner" lacks read on every name/);
    expect(await stored(page)).toBeNull();

    // The right token: the leader, the members, then a lock taken after the page opened.
    await submit(page, 'viewer-secret');
    await expect.poll(() => page.locator('#summary').getAttribute('data-leader'), { timeout: 15_000 }).toBe(leader);
    expect(await page.locator('#auth').isVisible()).toBe(false);
    expect(await stored(page)).toBe('viewer-secret');
    const members = page.locator('#members tbody tr');
    await expect.poll(() => members.count(), { timeout: 15_000 }).toBe(3);
    for (const n of cluster.nodes) {
      const cells = await page.locator('#members tbody tr', { hasText: n.id }).first().locator('td').allTextContents();
      expect([cells[0], cells[1], cells[4]]).toEqual([n.id, n.id === leader ? 'leader' : 'follower', 'voter']);
    }

    const session = await client.session({ ttlMs: 10_000, name: 'page-auth-client' });
    const lock = await session.lock('jobs/page-auth');
    const row = page.locator('#locks tbody tr', { hasText: 'jobs/page-auth' });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    expect(await row.locator('td').allTextContents()).toEqual(['jobs/page-auth', 'exclusive', `${session.id}: ${lock.sequencer.token}`, '', '']);
    // The session row: its state once a keepalive has renewed it (the time left needs the leader's deadlines).
    const sessionRow = page.locator('#sessions tbody tr', { hasText: 'page-auth-client' });
    await expect.poll(async () => (await sessionRow.locator('td').allTextContents())[2], { timeout: 15_000 }).toBe('ok');
    const sessionCells = await sessionRow.locator('td').allTextContents();
    expect([sessionCells[0], sessionCells[1], sessionCells[4], sessionCells[5]]).toEqual([String(session.id), 'page-auth-client', '10000', 'jobs/page-auth']);
    // Time left, from the leader's own deadline for the session.
    expect(sessionCells[3]).toMatch(/^\d+\.\d s$/);

    // Reload: the tab's sessionStorage keeps the token, so no question, straight to the data.
    await page.reload();
    await expect.poll(() => page.locator('#summary').getAttribute('data-leader'), { timeout: 15_000 }).toBe(leader);
    expect(await page.locator('#auth').isVisible()).toBe(false);
    await expect.poll(() => page.locator('#locks tbody').textContent(), { timeout: 15_000 }).toContain('jobs/page-auth');

    // A new tab of the same browser context, and a new context: each asks again.
    const tab = await open(ctx, url);
    await asksForToken(tab, /^This node requires a bearer token/);
    const other = await open(await newContext(), url);
    await asksForToken(other, /^This node requires a bearer token/);

    // "Forget token" drops it from the tab.
    await page.locator('#forget').click();
    await asksForToken(page, /^This node requires a bearer token/);
    expect(await stored(page)).toBeNull();

    await lock.release();
    await session.close();
    expect(unexpected).toEqual([]);
  });
});

/**
 * The status page at `/` in a real headless Chromium against a real 3-node cluster: it loads,
 * shows the leader, and shows a lock (holder and fencing token) that the test has just taken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { startTestCluster, type TestCluster } from '../helpers/local-cluster.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

let cluster: TestCluster;
let browser: HeadlessChromium;
let client: LatchClient;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 3 });
  browser = await launchChromium();
  client = await LatchClient.connect({ endpoints: cluster.endpoints });
});

afterAll(async () => {
  await client?.close();
  await browser?.close();
  await cluster?.stop();
});

describe('status page', () => {
  it('loads on a follower and the leader, shows the leader and a lock just taken, live', async () => {
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n.id !== leader)!;
    const leaderNode = cluster.nodes.find((n) => n.id === leader)!;
    const ctx = await browser.browser.newContext();
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    // Opened before the lock exists, so the lock must arrive through the live refresh.
    await page.goto(`http://${follower.httpAddress}/`);
    await expect.poll(() => page.locator('#summary').getAttribute('data-leader'), { timeout: 15_000 }).toBe(leader);
    expect(await page.locator('#node').textContent()).toBe(follower.id);
    expect(await page.locator('#locks tbody').textContent()).not.toContain('ops/page-lock');

    const session = await client.session({ ttlMs: 10_000 });
    const lock = await session.lock('ops/page-lock');
    const token = lock.sequencer.token.toString();
    const row = page.locator('#locks tbody tr', { hasText: 'ops/page-lock' });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe('ops/page-lock');
    expect(cells[1]).toBe('exclusive');
    expect(cells[2]).toBe(`${session.id}: ${token}`);
    await expect.poll(() => page.locator('#sessions tbody').textContent(), { timeout: 15_000 }).toContain('ops/page-lock');
    await expect.poll(() => page.locator('#events tbody').textContent(), { timeout: 15_000 }).toContain(`ops/page-lock by session ${session.id} (token ${token})`);

    // The leader's page knows every member's lag.
    await page.goto(`http://${leaderNode.httpAddress}/`);
    const memberRows = page.locator('#members tbody tr');
    await expect.poll(() => memberRows.count(), { timeout: 15_000 }).toBe(3);
    const leaderRow = await page.locator('#members tbody tr', { hasText: leader }).first().locator('td').allTextContents();
    expect(leaderRow.slice(0, 3)).toEqual([leader, 'leader', '0']);
    await expect.poll(async () => (await page.locator('#members tbody tr').allTextContents()).every((t) => /voter|leader/.test(t)), { timeout: 15_000 }).toBe(true);

    await lock.release();
    await expect.poll(() => page.locator('#locks tbody').textContent(), { timeout: 15_000 }).not.toContain('ops/page-lock');
    await session.close();
    await ctx.close();
    expect(errors).toEqual([]);
  });

  it('serves the page under a strict content security policy and the overview as JSON', async () => {
    const node = cluster.nodes[0]!;
    const res = await fetch(`http://${node.httpAddress}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const o = (await (await fetch(`http://${node.httpAddress}/api/overview`)).json()) as { node: string; members: unknown[] };
    expect(o.node).toBe(node.id);
    expect(o.members).toHaveLength(3);
    expect((await fetch(`http://${node.httpAddress}/nope`)).status).toBe(404);
  });
});

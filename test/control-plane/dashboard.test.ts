import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { silentLogger } from '../../src/observability/logger.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

// Debian's chromium, driven by playwright-core (which brings no browser of its own).
const chromiumPath = requireSystemBinary('chromium', 'chromium');

/** Flags for a headless chromium here: as root it needs --no-sandbox, and outside connections are refused. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'];

describe.skipIf(!chromiumPath)('the dashboard in a real browser', () => {
  let mesh: TestMesh;
  let browser: Browser;
  let page: Page;
  const agents = new Map<string, RunningAgent>();
  const problems: string[] = [];
  const foreignRequests: string[] = [];

  const start = async (name: string, type: string) => {
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type,
      methods: { query: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
      leaseTtlMs: 3_000,
      drainGraceMs: 1_000,
      logger: silentLogger(),
    });
    agents.set(name, agent);
    return agent;
  };

  const rowCount = (selector: string) => page.locator(selector).count();

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: '127.0.0.1:0', dashboard: { refreshMs: 200 } });
    await start('planner-1', 'planner');
    await start('search-1', 'search');
    await start('search-2', 'search');
    browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    const origin = mesh.controlPlane.httpUrl!;
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith(`${origin}/`)) foreignRequests.push(request.url());
    });
    await page.goto(`${origin}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([...agents.values()].map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('shows the registered agents grouped by type, with health, identity and certificate expiry', async () => {
    await page.locator('#live[data-state="live"]').waitFor();
    for (const name of ['planner-1', 'search-1', 'search-2']) {
      await page.locator(`tr[data-agent-id="${name}"]`).waitFor();
    }
    expect(await rowCount('[data-type="search"] tbody tr')).toBe(2);
    expect(await rowCount('[data-type="planner"] tbody tr')).toBe(1);
    const row = page.locator('tr[data-agent-id="search-2"]');
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('spiffe://agentmesh.local/agent/search-2');
    expect(text).toContain('healthy');
    // The agent's registration presented its certificate, so the expiry shown is the certificate's, not the lease's.
    expect(text).toMatch(/in (2[34] h|1 d)certificate/);
    expect(await page.locator('[data-tile="Agents"] .value').textContent()).toBe('3');
    expect(await page.locator('#control-plane').textContent()).toContain(
      'spiffe://agentmesh.local/control-plane',
    );
  });

  it('draws who calls whom from the call reports heartbeats carry', async () => {
    const planner = await mesh.client('planner-1');
    await planner.heartbeat('planner-1', undefined, false, [
      {
        calleeId: 'search-1',
        calleeType: 'search',
        method: 'query',
        calls: 90,
        errors: 9,
        latencyMsSum: 1_800,
        latencyMsMax: 120,
        lastError: 'UNAVAILABLE: connection refused',
      },
    ]);
    // An SVG group has no box of its own to be "visible": wait for it to be in the page.
    await page.locator('.graph g.edge[data-from="planner"][data-to="search"]').waitFor({ state: 'attached' });
    const edgeRow = page.locator('#edges-body tr[data-from="planner-1"][data-to="search-1"]');
    await edgeRow.waitFor();
    const text = (await edgeRow.textContent()) ?? '';
    expect(text).toContain('10%'); // 9 errors in 90 calls
    expect(text).toContain('20 ms'); // mean latency
    expect(text).toContain('UNAVAILABLE: connection refused');
    expect(await page.locator('.graph .edge-label').first().textContent()).toMatch(
      /\/s · p95 20 ms · 10% err/,
    );
    await page.locator('#activity li[data-kind="call-failures"]').waitFor();
  });

  it('shows an agent going away as it drains, without a reload', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    await agents.get('search-2')!.drain();
    agents.delete('search-2');
    await until(
      async () => (await rowCount('tr[data-agent-id="search-2"]')) === 0,
      'search-2 leaves the page',
    );
    expect(await rowCount('[data-type="search"] tbody tr')).toBe(1);
    await until(
      async () =>
        (await page.locator('#activity').textContent())?.includes('search-2 (search) left: deregistered') ??
        false,
      'the activity tells that search-2 left',
    );
    expect(await page.locator('#activity').textContent()).toContain('search-2 (search) is draining');
    expect(await page.locator('[data-tile="Agents"] .value').textContent()).toBe('2');
    expect(
      await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument === true),
    ).toBe(true);
  });

  it('ran without script errors or policy violations, and loaded nothing from elsewhere', () => {
    expect(problems).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});

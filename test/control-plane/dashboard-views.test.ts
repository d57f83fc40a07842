import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { silentLogger } from '../../src/observability/logger.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

// Debian's chromium, driven by playwright-core (which brings no browser of its own).
const chromiumPath = requireSystemBinary('chromium', 'chromium');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'];
/** Every wait on the page is bounded by this, and ends as soon as the content is there. */
const WAIT = { timeout: 30_000 };

/** The page's globals the checks read in the browser (the tests are compiled without the DOM's types). */
interface PageGlobals {
  document: {
    querySelectorAll(selector: string): { length: number };
    querySelector(selector: string): object | null;
    documentElement: { scrollWidth: number };
  };
  getComputedStyle(element: unknown): { strokeDasharray: string };
}

/** Waits until `locator` shows `text` (a string it contains or a pattern). */
const showsText = (locator: Locator, text: string | RegExp) =>
  locator.filter({ hasText: text }).first().waitFor(WAIT);
/** Waits until `locator` is visible. */
const visible = (locator: Locator) => locator.first().waitFor({ state: 'visible', ...WAIT });
/** Waits until exactly `count` elements match `selector`. */
const countIs = (page: Page, selector: string, count: number) =>
  page.waitForFunction(
    ([css, n]) =>
      (globalThis as unknown as PageGlobals).document.querySelectorAll(css as string).length === n,
    [selector, count] as const,
    WAIT,
  );
const PERCENTILES = /p50[\s\S]*p95[\s\S]*p99/;

describe.skipIf(!chromiumPath)("the dashboard's views in a real browser", () => {
  let mesh: TestMesh;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const agents: RunningAgent[] = [];
  const problems: string[] = [];

  const start = async (name: string, type: string, extra: Partial<Parameters<typeof startAgent>[0]> = {}) => {
    agents.push(
      await startAgent({
        identity: await mesh.identity(name),
        controlPlane: mesh.controlPlane.address,
        type,
        methods: { summarize: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
        logger: silentLogger(),
        ...extra,
      }),
    );
  };

  const watch = (target: Page) => {
    target.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    target.on('pageerror', (error) => problems.push(error.message));
  };

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: '127.0.0.1:0', dashboard: { refreshMs: 200 } });
    origin = mesh.controlPlane.httpUrl!;
    await start('planner-1', 'planner', { labels: { demo: 'fails-on-purpose' } });
    await start('summarizer-1', 'summarizer', { labels: { model: 'small' } });
    await start('summarizer-2', 'summarizer', { labels: { model: 'large' } });
    await start('audit-1', 'audit', {
      subscriptions: [{ pattern: 'tasks.>', group: 'auditors', handler: async () => {} }],
    });
    // The planner's calls as its heartbeat reports them: one in ten fails, on purpose (the demo's blank pages).
    const planner = await mesh.client('planner-1');
    await planner.heartbeat('planner-1', undefined, false, [
      {
        calleeId: 'summarizer-1',
        calleeType: 'summarizer',
        method: 'summarize',
        calls: 1,
        errors: 1,
        latencyMsSum: 30,
        latencyMsMax: 30,
        lastError: 'INVALID_ARGUMENT: the document has no text',
      },
    ]);
    browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    watch(page);
    await page.goto(`${origin}/`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('draws the subscriptions as event edges from a topic to its subscribers, apart from the calls', async () => {
    const event = page.locator('.graph g.edge.event[data-topic="tasks.>"][data-to="audit"]');
    await event.waitFor({ state: 'attached', ...WAIT });
    await page.locator('.graph g.node.topic[data-topic="tasks.>"]').waitFor({ state: 'attached', ...WAIT });
    await page.locator('.graph g.edge[data-from="planner"][data-to="summarizer"]').waitFor({
      state: 'attached',
      ...WAIT,
    });
    // Calls are solid, events dashed: checked in one go in the page, as the graph may be redrawn between two reads.
    await page.waitForFunction(
      () => {
        const { document, getComputedStyle } = globalThis as unknown as PageGlobals;
        const event = document.querySelector('.graph g.edge.event path');
        const call = document.querySelector('.graph g.edge[data-from="planner"][data-to="summarizer"] path');
        return (
          event !== null &&
          call !== null &&
          getComputedStyle(event).strokeDasharray !== 'none' &&
          getComputedStyle(call).strokeDasharray === 'none'
        );
      },
      undefined,
      WAIT,
    );
  });

  it('shows latency as p50/p95/p99 and marks the demo failures as expected', async () => {
    const row = page.locator('#edges-body tr[data-from="planner-1"][data-to="summarizer-1"]');
    await row.waitFor(WAIT);
    expect(await page.locator('#edges thead').textContent()).toMatch(PERCENTILES);
    await showsText(row.locator('.demo-note'), 'expected: demo');
    expect(await row.textContent()).toContain('30 ms');
    await showsText(page.locator('[data-tile="Error ratio"] .tile-note'), 'expected (demo)');
    await visible(page.locator('tr[data-agent-id="planner-1"] .demo-note'));
    // In the graph too: the planner's failures do not colour its edge, and its label says they are the demo's.
    await page
      .locator('.graph g.edge.ok[data-from="planner"][data-to="summarizer"]')
      .waitFor({ state: 'attached', ...WAIT });
    await showsText(page.locator('.graph .edge-label'), '100% err (demo)');
    await visible(page.locator('#activity li.expected[data-agent-id="planner-1"] .demo-note'));
  });

  it('filters the agents table by type, label and health', async () => {
    const rows = '#agent-types tbody tr';
    await countIs(page, rows, 4);
    await page.selectOption('#filter-type', 'summarizer');
    await countIs(page, rows, 2);
    await page.fill('#filter-label', 'model=large');
    await countIs(page, rows, 1);
    await visible(page.locator('tr[data-agent-id="summarizer-2"]'));
    await page.selectOption('#filter-health', 'unhealthy');
    await showsText(page.locator('#agent-types'), 'No agent matches the filter.');
    await page.selectOption('#filter-health', '');
    await page.selectOption('#filter-type', '');
    await page.fill('#filter-label', 'model');
    await countIs(page, rows, 2);
    await page.fill('#filter-label', '');
    await countIs(page, rows, 4);
  });

  it("goes from the overview's agent table to the agent's page, and back", async () => {
    await page.locator('tr[data-agent-id="summarizer-1"] a.agent-link').click();
    await page.waitForURL(/#\/agents\/summarizer-1$/, WAIT);
    const view = page.locator('#view-agent');
    await view.locator('.agent-title[data-agent-id="summarizer-1"]').waitFor(WAIT);
    expect(await page.locator('#view-overview').isHidden()).toBe(true);
    const card = view.locator('[data-section="card"]');
    await showsText(card, 'spiffe://agentmesh.local/agent/summarizer-1');
    await showsText(card, 'model=small');
    await showsText(card, /Certificateexpires in (2[34] h|1 d)/);
    const callIn = view.locator('table[data-side="in"] tr[data-from="planner-1"]');
    await showsText(callIn, 'INVALID_ARGUMENT: the document has no text');
    await visible(callIn.locator('.demo-note'));
    expect(await view.locator('table[data-side="in"] thead').textContent()).toMatch(PERCENTILES);
    await countIs(page, '#view-agent [data-section="load"] figure', 3);
    await view.locator('a.back').click();
    await page.waitForURL(/#\/$/, WAIT);
    await visible(page.locator('#view-overview')); // Anywhere on the row opens the page too, not only the name.
    await page.locator('tr[data-agent-id="summarizer-2"] td').nth(1).click();
    await page.waitForURL(/#\/agents\/summarizer-2$/, WAIT);
    await view.locator('.agent-title[data-agent-id="summarizer-2"]').waitFor(WAIT);
    await view.locator('a.back').click();
    await page.waitForURL(/#\/$/, WAIT);
  });

  it('shows the topics with their subscribers and queue groups, and the policies', async () => {
    await page.locator('nav a[data-nav="topics"]').click();
    const topic = page.locator('#view-topics [data-topic="tasks.>"]');
    await showsText(topic, 'audit-1');
    await showsText(topic, 'group auditors: 1 member');
    await showsText(page.locator('[data-section="event-store"]'), 'No event store');
    await page.locator('nav a[data-nav="policies"]').click();
    await showsText(page.locator('#view-policies'), 'No policies set: everything is allowed');
    await page.locator('nav a[data-nav="overview"]').click();
    await visible(page.locator('#view-overview'));
  });

  it('shows the calls over a longer range of the history when one is chosen', async () => {
    await page.selectOption('#range', '60');
    await showsText(page.locator('#topology-window'), 'last 60 min');
    await visible(page.locator('#edges-body tr[data-from="planner-1"][data-to="summarizer-1"]'));
    await page.selectOption('#range', '1');
    await showsText(page.locator('#topology-window'), 'last 60 s');
  });

  it('fits a phone 420 px wide: nothing wider than the screen, the live badge whole', async () => {
    const phone = await browser.newPage({ viewport: { width: 420, height: 860 } });
    watch(phone);
    try {
      for (const path of ['/', '/#/agents/summarizer-1', '/#/topics', '/#/policies']) {
        await phone.goto(`${origin}${path}`);
        await phone.locator('#live[data-state="live"]').waitFor(WAIT);
        await phone.locator('main.view:not([hidden]) .panel').first().waitFor(WAIT);
        if (path === '/') await phone.locator('#edges-body tr[data-from="planner-1"]').waitFor(WAIT);
        if (path.includes('agents')) await phone.locator('table[data-side="in"]').waitFor(WAIT);
        const width = await phone.evaluate(
          () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
        );
        expect(width, path).toBeLessThanOrEqual(420);
        const live = await phone.locator('#live').boundingBox();
        expect(live, path).not.toBeNull();
        expect(live!.x, path).toBeGreaterThanOrEqual(0);
        expect(live!.x + live!.width, path).toBeLessThanOrEqual(420);
        expect(await phone.locator('#live-text').textContent()).toBe('live');
        // The text is not clipped: the badge is as wide as its content.
        const clipped = await phone
          .locator('#live')
          .evaluate((badge) => badge.scrollWidth > badge.clientWidth);
        expect(clipped, path).toBe(false);
      }
    } finally {
      await phone.close();
    }
  });

  it('ran without script errors or policy violations', () => {
    expect(problems).toEqual([]);
  });
});

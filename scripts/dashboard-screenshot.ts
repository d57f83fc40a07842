/**
 * Makes the dashboard screenshots of docs/operations.md and docs/dashboard.md:
 * `npx tsx scripts/dashboard-screenshot.ts [out.png]` (default docs/dashboard.png) saves the overview there, an
 * agent's page next to it as `<out>-agent.png` and the overview at phone width (420 px) as `<out>-phone.png`.
 * Needs Debian's chromium on PATH (`apt-get install chromium`).
 *
 * It starts a control plane with a fresh CA in a temporary directory, and real agents of several types that
 * register over mTLS (one with its server stopped, so that active health checks mark it unhealthy; one draining).
 * The traffic between them is described rather than made: each caller sends heartbeats carrying call reports
 * (rates, errors, latencies) through the ControlPlaneClient, as the agent runtime does with the calls it makes.
 * Then it loads the dashboard in headless chromium and saves a full-page screenshot.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import type { CallReport } from '../src/control-plane/call-graph.js';
import { ControlPlaneClient, renewIdentity } from '../src/control-plane/client.js';
import { startControlPlane } from '../src/control-plane/control-plane.js';
import type { AgentsView } from '../src/control-plane/operations-view.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const output = resolve(process.argv[2] ?? 'docs/dashboard.png');
const agentOutput = output.replace(/(\.png)?$/, '-agent.png');
const phoneOutput = output.replace(/(\.png)?$/, '-phone.png');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The mesh in the picture: agents by type, and who calls whom (calls per heartbeat, errors, latency). */
const AGENTS: Array<
  [
    type: string,
    names: string[],
    options?: { maxConcurrency?: number; labels?: Record<string, string>; subscribes?: string },
  ]
> = [
  ['gateway', ['gateway-1', 'gateway-2'], { labels: { zone: 'eu-1' } }],
  ['audit', ['audit-1'], { subscribes: 'tasks.>' }],
  ['planner', ['planner-1', 'planner-2'], { maxConcurrency: 16 }],
  ['search', ['search-1', 'search-2', 'search-3'], { maxConcurrency: 32, labels: { index: 'web' } }],
  ['summarizer', ['summarizer-1', 'summarizer-2'], { maxConcurrency: 8, labels: { model: 'large' } }],
  ['translator', ['translator-1', 'translator-2'], { maxConcurrency: 8 }],
  ['llm', ['llm-1', 'llm-2'], { maxConcurrency: 4, labels: { gpu: 'a100' } }],
];

interface Traffic {
  from: string;
  to: string;
  method: string;
  calls: number;
  meanMs: number;
  maxMs: number;
  errors?: number;
  lastError?: string;
}

const TRAFFIC: Traffic[] = [
  { from: 'gateway-1', to: 'planner-1', method: 'plan', calls: 48, meanMs: 420, maxMs: 1_900 },
  { from: 'gateway-2', to: 'planner-2', method: 'plan', calls: 44, meanMs: 450, maxMs: 2_100 },
  { from: 'planner-1', to: 'search-1', method: 'query', calls: 160, meanMs: 38, maxMs: 210 },
  { from: 'planner-2', to: 'search-2', method: 'query', calls: 150, meanMs: 41, maxMs: 260 },
  {
    from: 'planner-1',
    to: 'search-3',
    method: 'query',
    calls: 40,
    meanMs: 2_400,
    maxMs: 10_000,
    errors: 31,
    lastError: 'UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:40871',
  },
  { from: 'planner-1', to: 'summarizer-1', method: 'summarize', calls: 30, meanMs: 310, maxMs: 980 },
  { from: 'planner-2', to: 'summarizer-2', method: 'summarize', calls: 28, meanMs: 290, maxMs: 1_120 },
  { from: 'planner-2', to: 'translator-1', method: 'translate', calls: 12, meanMs: 180, maxMs: 540 },
  {
    from: 'summarizer-1',
    to: 'llm-1',
    method: 'complete',
    calls: 30,
    meanMs: 240,
    maxMs: 900,
    errors: 1,
    lastError: 'RESOURCE_EXHAUSTED: agent "llm-1" is busy: it handles at most 4 calls at once',
  },
  { from: 'summarizer-2', to: 'llm-2', method: 'complete', calls: 28, meanMs: 230, maxMs: 870 },
  { from: 'translator-1', to: 'llm-2', method: 'complete', calls: 12, meanMs: 150, maxMs: 400 },
  { from: 'planner-1', to: 'llm-1', method: 'complete', calls: 20, meanMs: 260, maxMs: 700 },
];

/** Calls in flight per agent at the moment of the picture. */
const LOAD: Record<string, number> = {
  'planner-1': 5,
  'planner-2': 3,
  'search-1': 7,
  'search-2': 4,
  'summarizer-1': 3,
  'summarizer-2': 2,
  'translator-1': 1,
  'llm-1': 4,
  'llm-2': 2,
};

const typeOf = (name: string) => name.replace(/-\d+$/, '');

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

const certs = await mkdtemp(join(tmpdir(), 'agent-mesh-screenshot-'));
const agents: RunningAgent[] = [];
const reporters = new Map<string, ControlPlaneClient>();
const controlPlane = await (async () => {
  await ensureCaDir(certs, 'agentmesh.local');
  await ensureIdentity(certs, 'control-plane');
  return startControlPlane({
    certsDir: certs,
    listen: '127.0.0.1:0',
    httpListen: '127.0.0.1:0',
    store: new MemoryStore(),
    logger: silentLogger(),
    healthChecks: {
      intervalMs: 300,
      timeoutMs: 500,
      failureThreshold: 2,
      successThreshold: 1,
      holdDownMs: 0,
    },
    dashboard: { refreshMs: 500 },
  });
})();
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
try {
  for (const [type, names, { subscribes, ...options } = {}] of AGENTS) {
    for (const name of names) {
      const identity = new MeshIdentity(await ensureIdentity(certs, name, { types: [type] }));
      agents.push(
        await startAgent({
          identity,
          controlPlane: controlPlane.address,
          type,
          methods: { [type]: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
          description: `${type} agent`,
          ...options,
          ...(subscribes ? { subscriptions: [{ pattern: subscribes, handler: async () => {} }] } : {}),
          // Long leases: the agents' own heartbeats (every 20 s) do not overwrite the load described below.
          leaseTtlMs: 60_000,
          logger: silentLogger(),
        }),
      );
      reporters.set(name, new ControlPlaneClient({ address: controlPlane.address, identity }));
    }
  }
  // search-3's server goes away while it stays registered: health checks fail and mark it unhealthy.
  await agents.find((agent) => agent.name === 'search-3')!.server.shutdown(0);
  // translator-2 starts draining; summarizer-2 renews its certificate (both show in the activity).
  await reporters.get('translator-2')!.heartbeat('translator-2', undefined, true);
  const summarizer2 = agents.find((agent) => agent.name === 'summarizer-2')!;
  await renewIdentity(reporters.get('summarizer-2')!, summarizer2.identity);

  // Two rounds of reports, as two heartbeats would carry them.
  for (let round = 0; round < 2; round += 1) {
    const byCaller = new Map<string, CallReport[]>();
    for (const traffic of TRAFFIC) {
      const calls = Math.round(traffic.calls / 2);
      const errors = Math.round((traffic.errors ?? 0) / 2);
      const reports = byCaller.get(traffic.from) ?? [];
      reports.push({
        calleeId: traffic.to,
        calleeType: typeOf(traffic.to),
        method: traffic.method,
        calls,
        errors,
        latencyMsSum: traffic.meanMs * calls,
        latencyMsMax: traffic.maxMs,
        lastError: errors > 0 ? (traffic.lastError ?? '') : '',
      });
      byCaller.set(traffic.from, reports);
    }
    for (const [name, client] of reporters) {
      await client.heartbeat(
        name,
        { inFlight: LOAD[name] ?? 0, queueDepth: 0 },
        name === 'translator-2',
        byCaller.get(name) ?? [],
      );
    }
  }

  const url = controlPlane.httpUrl!;
  await waitFor('search-3 is unhealthy', async () => {
    const view = (await (await fetch(`${url}/api/agents`)).json()) as AgentsView;
    return view.counts.unhealthy === 1 && view.counts.draining === 1;
  });

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${url}/`);
  await page.locator('#live[data-state="live"]').waitFor();
  await page.locator('tr[data-agent-id="search-3"][data-health="unhealthy"]').waitFor();
  await page.locator('.graph g.edge[data-from="summarizer"][data-to="llm"]').waitFor({ state: 'attached' });
  await mkdir(dirname(output), { recursive: true });
  await page.screenshot({ path: output, fullPage: true });
  console.log(`saved ${output}`);

  // planner-1's page: its card, load, calls out (one callee failing) and in.
  await page.locator('tr[data-agent-id="planner-1"] a.agent-link').click();
  await page.locator('#view-agent table[data-side="out"] tr[data-to="search-3"]').waitFor();
  await page.locator('#view-agent table[data-side="in"] tr[data-from="gateway-1"]').waitFor();
  await page.screenshot({ path: agentOutput, fullPage: true });
  console.log(`saved ${agentOutput}`);

  const phone = await browser.newPage({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 2 });
  await phone.goto(`${url}/`);
  await phone.locator('#live[data-state="live"]').waitFor();
  await phone.locator('tr[data-agent-id="search-3"][data-health="unhealthy"]').waitFor();
  await phone.locator('#edges-body tr[data-to="search-3"]').waitFor();
  await phone.screenshot({ path: phoneOutput, fullPage: false });
  console.log(`saved ${phoneOutput}`);
} finally {
  await browser.close();
  for (const client of reporters.values()) client.close();
  await Promise.all(agents.map((agent) => agent.drain(0).catch(() => undefined)));
  await controlPlane.close(0);
  await rm(certs, { recursive: true, force: true });
}

/**
 * Control-plane benchmark: 10,000 registered agents, on each store.
 * - registrations per second: through the registrar (store-bound) and over gRPC (mTLS, identity-bound);
 * - discovery p99 in-process against a full scan of every agent (the baseline), and over gRPC against the
 *   cheapest control-plane call on the same channel (the transport baseline);
 * - time for one change to reach 100 watchers, p50/p99;
 * - memory per registered agent (heap growth / agents; for etcd the data itself lives in etcd).
 */
import { performance } from 'node:perf_hooks';
import { ControlPlaneClient, type WatchMessage } from '../src/control-plane/client.js';
import { startControlPlane } from '../src/control-plane/control-plane.js';
import { matchesLabels, parseLabelSelector } from '../src/core/label-selector.js';
import { Registrar } from '../src/control-plane/registrar.js';
import type { Store } from '../src/control-plane/store.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { heapUsed, percentile } from './baseline.js';

type Figures = Record<string, number>;

const AGENTS = 10_000;
const TYPES = 100;
const WATCHERS = 100;
const CHANGES = 200;
const GRPC_IDENTITIES = 20;

async function timed<T>(count: number, run: (i: number) => Promise<T> | T): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = performance.now();
    await run(i);
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b);
}

/** Runs the scenario on one store; `makeStore` is called once. */
export async function benchControlPlane(makeStore: () => Promise<Store>): Promise<Figures> {
  const temp = await makeTempDir('agent-mesh-bench-');
  await ensureCaDir(temp.dir, 'bench.local');
  await ensureIdentity(temp.dir, 'control-plane');
  const heapBefore = heapUsed();
  const store = await makeStore();
  const controlPlane = await startControlPlane({
    certsDir: temp.dir,
    listen: '127.0.0.1:0',
    store,
    logger: silentLogger(),
    healthChecks: false,
    // Registration throughput is what is measured here: the per-identity limits that protect a real control plane
    // from one flooding agent would measure those limits instead.
    requestLimits: { register: { perSecond: 1e9, burst: 1e9 } },
  });
  const registrar = new Registrar({
    store,
    state: controlPlane.state,
    logger: silentLogger(),
    leases: { maxTtlMs: 3_600_000 },
  });
  const clients: ControlPlaneClient[] = [];
  try {
    // 10,000 registrations through the registrar, 64 at a time (each as the agent itself).
    let start = performance.now();
    for (let batch = 0; batch < AGENTS; batch += 64) {
      const jobs = [];
      for (let i = batch; i < Math.min(AGENTS, batch + 64); i += 1) {
        const name = `agent-${i}`;
        jobs.push(
          registrar.register(
            { id: `spiffe://bench.local/agent/${name}`, name, agentTypes: [`type-${i % TYPES}`] },
            {
              type: `type-${i % TYPES}`,
              name,
              capabilities: [`cap-${i % 50}`, `cap-${(i * 7) % 50}`],
              labels: { zone: `zone-${i % 5}`, model: i % 2 ? 'large' : 'small' },
              endpoint: `127.0.0.1:${10_000 + (i % 50_000)}`,
              weight: 0,
              maxConcurrency: 8,
              description: '',
              subscriptions: [],
              skills: [],
            },
            3_600_000,
          ),
        );
      }
      await Promise.all(jobs);
    }
    const registrarPerSecond = AGENTS / ((performance.now() - start) / 1000);
    while (controlPlane.state.registry.size < AGENTS) await new Promise((resolve) => setTimeout(resolve, 10));
    const heapAfter = heapUsed();

    // Identity-bound registrations over gRPC: a few agents re-registering as themselves, in parallel.
    const identities = await Promise.all(
      Array.from(
        { length: GRPC_IDENTITIES },
        async (_, i) => new MeshIdentity(await ensureIdentity(temp.dir, `grpc-${i}`, { types: ['grpc'] })),
      ),
    );
    for (const identity of identities)
      clients.push(new ControlPlaneClient({ address: controlPlane.address, identity }));
    const perClient = 100;
    start = performance.now();
    await Promise.all(
      clients.map(async (client, i) => {
        for (let n = 0; n < perClient; n += 1) {
          await client.register({ type: 'grpc', name: `grpc-${i}`, endpoint: '127.0.0.1:9' }, 60_000);
        }
      }),
    );
    const grpcPerSecond = (GRPC_IDENTITIES * perClient) / ((performance.now() - start) / 1000);

    // Discovery: one type (100 agents) with a label filter; in-process index, full scan, and over gRPC.
    const selector = parseLabelSelector('zone=zone-1');
    if (!selector.ok) throw selector.error;
    const query = (i: number) => ({ type: `type-${i % TYPES}`, selector: selector.value });
    const indexed = await timed(2_000, (i) => controlPlane.state.registry.discover(query(i)));
    const scanned = await timed(200, (i) => {
      const q = query(i);
      return [...controlPlane.state.registry.all()].filter(
        (agent) =>
          agent.health === 'healthy' &&
          agent.spec.type === q.type &&
          matchesLabels(q.selector, agent.spec.labels),
      );
    });
    const client = clients[0]!;
    for (let i = 0; i < 200; i += 1)
      await client.discover({ type: `type-${i % TYPES}`, labelSelector: 'zone=zone-1' });
    heapUsed(); // settle the garbage of the registrations first
    // Over gRPC, interleaved with the transport baseline, the cheapest control-plane call (GetPolicies) on the same
    // channel with the same deadline, so that both see the same machine.
    const overGrpc: number[] = [];
    const emptyCall: number[] = [];
    for (let i = 0; i < 2_000; i += 1) {
      let start = performance.now();
      await client.discover({ type: `type-${i % TYPES}`, labelSelector: 'zone=zone-1' });
      overGrpc.push(performance.now() - start);
      start = performance.now();
      await client.getPolicies();
      emptyCall.push(performance.now() - start);
    }
    overGrpc.sort((a, b) => a - b);
    emptyCall.sort((a, b) => a - b);

    // A change reaching 100 watchers: each watcher takes the 10,000-agent snapshot, then we time changes.
    let received = 0;
    let target = 0;
    let done: (() => void) | undefined;
    const handles = [];
    let snapshots = 0;
    for (let i = 0; i < WATCHERS; i += 1) {
      handles.push(
        clients[i % clients.length]!.watch(0, (message: WatchMessage) => {
          if (message.kind === 'snapshot') snapshots += 1;
          if (message.kind === 'load' && message.agentId === 'agent-0' && message.load.inFlight === target) {
            received += 1;
            if (received === WATCHERS) done?.();
          }
        }),
      );
    }
    while (snapshots < WATCHERS) await new Promise((resolve) => setTimeout(resolve, 20));
    const propagation = await timed(CHANGES, async (i) => {
      received = 0;
      target = i + 1;
      const all = new Promise<void>((resolve) => (done = resolve));
      await registrar.heartbeat('agent-0', 'agent-0', { inFlight: target, queueDepth: 0 }, false);
      await all;
    });
    for (const handle of handles) handle.cancel();

    return {
      agents: controlPlane.state.registry.size,
      registrationsPerSecond: Math.round(registrarPerSecond),
      grpcRegistrationsPerSecond: Math.round(grpcPerSecond),
      discoveryGrpcP50Ms: percentile(overGrpc, 50),
      discoveryGrpcP99Ms: percentile(overGrpc, 99),
      emptyCallGrpcP50Ms: percentile(emptyCall, 50),
      emptyCallGrpcP99Ms: percentile(emptyCall, 99),
      discoveryIndexP99Ms: percentile(indexed, 99),
      discoveryFullScanP99Ms: percentile(scanned, 99),
      changeTo100WatchersP50Ms: percentile(propagation, 50),
      changeTo100WatchersP99Ms: percentile(propagation, 99),
      bytesPerAgent: Math.round((heapAfter - heapBefore) / AGENTS),
    };
  } finally {
    for (const client of clients) client.close();
    await controlPlane.close(0);
    await temp.remove();
  }
}

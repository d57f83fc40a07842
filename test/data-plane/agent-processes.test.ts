import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient, type MeshCallResult } from '../../src/data-plane/mesh-client.js';
import { OutlierDetector } from '../../src/data-plane/outlier-detector.js';
import { silentLogger } from '../../src/observability/logger.js';
import { spawnScript, type RunningEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const WORKER = fileURLToPath(new URL('../fixtures/agents/worker-agent.ts', import.meta.url));

/** The data plane against agents that each run in their own process, killed and stopped like real ones. */
describe('agents as separate processes', () => {
  let mesh: TestMesh;
  let cache: EndpointCache;
  let client: MeshClient;
  const agents = new Map<string, RunningEntryPoint>();

  async function startWorker(name: string, type = 'worker'): Promise<RunningEntryPoint> {
    await mesh.identity(name); // issued into the certificate directory the process reads
    const agent = spawnScript(WORKER, [mesh.certsDir, mesh.controlPlane.address, name, type]);
    agents.set(name, agent);
    await agent.waitFor(/ready /);
    return agent;
  }

  beforeAll(async () => {
    mesh = await startTestMesh();
    await Promise.all(['worker-1', 'worker-2', 'worker-3'].map((name) => startWorker(name)));
    cache = new EndpointCache({ client: await mesh.client('caller'), logger: silentLogger() });
    await cache.start();
    client = new MeshClient({
      identity: await mesh.identity('caller'),
      cache,
      logger: silentLogger(),
      outliers: { consecutiveFailures: 3, baseEjectionMs: 400 },
    });
    await until(() => cache.select({ type: 'worker' }).length === 3);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    cache?.close();
    await Promise.all([...agents.values()].map((agent) => agent.stop('SIGKILL')));
    await mesh?.close();
  });

  it('least-connections sends new calls away from the instance with calls in flight', async () => {
    const worker1 = { type: 'worker', labelSelector: 'instance=worker-1' };
    const busy = Promise.all(
      Array.from({ length: 4 }, () => client.call(worker1, 'hold', '', { timeoutMs: 60_000 })),
    );
    busy.catch(() => undefined); // awaited below; a failed assertion must not leave it unhandled
    const served: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const result = await client.call({ type: 'worker' }, 'whoami', '', { balancer: 'least-connections' });
      served.push(result.payload.toString());
    }
    expect(served).not.toContain('worker-1');
    expect(served.filter((name) => name === 'worker-2')).toHaveLength(15); // the two idle ones take turns
    await client.call(worker1, 'release', '');
    expect((await busy).map((result) => result.payload.toString())).toEqual(Array(4).fill('worker-1'));
  });

  it('spreads calls over the processes and fails over when one is killed mid-run: no idempotent call fails', async () => {
    const served = new Map<string, number>();
    let failures = 0;
    for (let i = 0; i < 300; i += 10) {
      if (i === 120) await agents.get('worker-3')!.stop('SIGKILL'); // no drain: still registered, lease running
      const batch = Array.from({ length: 10 }, () =>
        client.call({ type: 'worker' }, 'whoami', '', { idempotent: true, balancer: 'round-robin' }).then(
          (result) => served.set(result.payload.toString(), (served.get(result.payload.toString()) ?? 0) + 1),
          () => (failures += 1),
        ),
      );
      await Promise.all(batch);
    }
    expect(failures).toBe(0);
    expect(served.get('worker-3')).toBe(40); // every third of the first 120
    expect(served.get('worker-1')! + served.get('worker-2')!).toBe(260);
    expect(cache.get('worker-3')).toBeDefined(); // the registry still lists it: the client routed around it
  });

  it('drains on SIGTERM: the call in flight finishes, the process exits 0 and leaves the registry', async () => {
    const inFlight = client.call({ type: 'worker', labelSelector: 'instance=worker-2' }, 'sleep', '500');
    await agents.get('worker-2')!.waitFor(/sleeping/); // the call has reached the handler
    const exited = agents.get('worker-2')!.stop('SIGTERM');
    const during = await Promise.all(
      Array.from({ length: 20 }, () => client.call({ type: 'worker' }, 'whoami', '', { idempotent: true })),
    );
    expect((await inFlight).payload.toString()).toBe('worker-2');
    expect(await exited).toBe(0);
    expect(during.map((result) => result.payload.toString())).not.toContain('worker-3');
    await until(() => cache.get('worker-2') === undefined);
  });

  it('ejects an instance that keeps failing and takes it back once it recovers', async () => {
    await Promise.all([startWorker('flaky-1', 'flaky'), startWorker('flaky-2', 'flaky')]);
    await until(() => cache.select({ type: 'flaky' }).length === 2);
    // A client whose ejections run on a clock the test moves: an ejection lasts until the test lets it pass.
    const clock = { time: 0, now: () => clock.time };
    const ejecting = new MeshClient({
      identity: await mesh.identity('caller'),
      cache,
      logger: silentLogger(),
    });
    (ejecting as unknown as { loop: { outliers: OutlierDetector } }).loop.outliers = new OutlierDetector(
      { consecutiveFailures: 3, baseEjectionMs: 400 },
      clock,
    );
    const flaky1 = { type: 'flaky', labelSelector: 'instance=flaky-1' };
    const call = () =>
      ejecting.call({ type: 'flaky' }, 'whoami', '', { idempotent: true, balancer: 'round-robin' });
    try {
      await client.call(flaky1, 'fail', '');
      const whileFailing: MeshCallResult[] = [];
      for (let i = 0; i < 40; i += 1) whileFailing.push(await call());
      // While flaky-1 failed, round-robin without ejection would have failed over from it on every other call.
      const failedOver = whileFailing.filter((result) => result.attempts > 1);
      expect(failedOver.length).toBeGreaterThan(0);
      expect(failedOver.length).toBeLessThan(whileFailing.length / 4);
      expect(whileFailing.every((result) => result.payload.toString() === 'flaky-2')).toBe(true);
      // Back once healthy and its ejection (400 ms) has passed.
      await client.call(flaky1, 'recover', '');
      clock.time += 400;
      const recovered: MeshCallResult[] = [];
      for (let i = 0; i < 4; i += 1) recovered.push(await call());
      expect(recovered.some((result) => result.payload.toString() === 'flaky-1')).toBe(true);
    } finally {
      ejecting.close();
    }
  });
});

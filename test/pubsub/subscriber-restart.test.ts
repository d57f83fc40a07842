import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { spawnScript, type RunningEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const WORKER = fileURLToPath(new URL('../fixtures/agents/worker-agent.ts', import.meta.url));
const EVENTS = 2_000;
const KEYS = 20;

/** The ids a worker printed `receiving <id>` for, in the order it received them. */
function received(worker: RunningEntryPoint): string[] {
  return [...worker.output().matchAll(/receiving (\S+)/g)].map((match) => match[1]!);
}

/**
 * A subscriber in its own process, killed with SIGKILL while it holds deliveries and restarted under the same name
 * at a new address: the publisher holds what it could not deliver meanwhile and delivers it to the new process.
 */
describe('a subscriber killed and restarted while events are pending', () => {
  let mesh: TestMesh;
  let publisher: RunningAgent;
  const workers: RunningEntryPoint[] = [];

  const startSubscriber = (env: Record<string, string> = {}) => {
    const worker = spawnScript(WORKER, [mesh.certsDir, mesh.controlPlane.address, 'listener-1', 'listener'], {
      WORKER_SUBSCRIBE: 'orders.>',
      WORKER_HANDLE_MS: '1',
      ...env,
    });
    workers.push(worker);
    return worker;
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    publisher = await startAgent({
      identity: await mesh.identity('publisher-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'publisher',
      // Few attempts and short backoffs: before the fix an absent subscriber used them all up within milliseconds.
      publisher: { topics: ['orders.>'], maxAttempts: 2, backoffMs: 20, maxBackoffMs: 200 },
    });
    await mesh.identity('listener-1');
    // The first process stops finishing events after a fifth of them: when it is killed it holds one delivery of
    // every key, and the publisher the rest.
    await startSubscriber({ WORKER_STALL_AFTER: String(EVENTS / 5) }).waitFor(/ready /);
    await until(
      () => publisher.cache.get('listener-1')?.spec.subscriptions.length === 1,
      'the subscriber in the registry',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await publisher?.drain(0);
    await mesh?.close();
  });

  it('loses no event and dead-letters none; each key is first delivered in publish order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < EVENTS; i += 1) {
      const key = `k${i % KEYS}`;
      const eventId = `${key}-${Math.floor(i / KEYS)}`;
      ids.push((await publisher.publish('orders.created', { i }, { key, eventId })).eventId);
    }
    const first = workers[0]!;
    await until(() => received(first).length === EVENTS / 5 + KEYS, 'the first subscriber stalled', 60_000);
    await first.stop('SIGKILL');
    // The publisher notices the loss (or, as it did before, gives up on the events): only then is it restarted.
    await until(
      () => publisher.publisher.stats.deadLettered > 0 || publisher.publisher.stats.held >= KEYS,
      'the stalled deliveries held for the absent subscriber',
      60_000,
    );
    const endpoint = publisher.cache.get('listener-1')!.spec.endpoint;
    const second = startSubscriber();
    await second.waitFor(/ready /);
    await until(
      () => publisher.cache.get('listener-1')?.spec.endpoint !== endpoint,
      'the restarted subscriber in the registry',
      20_000,
    );
    await until(async () => await publisher.publisher.flush(1_000), 'every event acknowledged', 120_000);

    const deliveries = [...received(first), ...received(second)];
    const seen = new Set(deliveries);
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    expect(publisher.publisher.stats.deadLettered).toBe(0);
    // Per key, the first delivery of each event comes in publish order (duplicates after a kill are allowed).
    const next = new Map<string, number>();
    const outOfOrder: string[] = [];
    const firstTime = new Set<string>();
    for (const id of deliveries) {
      if (firstTime.has(id)) continue;
      firstTime.add(id);
      const [key, seq] = id.split('-') as [string, string];
      if (Number(seq) !== (next.get(key) ?? 0)) outOfOrder.push(id);
      next.set(key, Number(seq) + 1);
    }
    expect(outOfOrder).toEqual([]);
    console.log(`duplicates: ${deliveries.length - seen.size} of ${deliveries.length} deliveries`);
  }, 180_000);
});

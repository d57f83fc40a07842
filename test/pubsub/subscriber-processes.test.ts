import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { spawnScript, type RunningEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const WORKER = fileURLToPath(new URL('../fixtures/agents/worker-agent.ts', import.meta.url));

/** Subscribers in their own processes, one of which is killed while it holds deliveries. */
describe('a queue group whose member dies mid-delivery', () => {
  let mesh: TestMesh;
  let publisher: RunningAgent;
  const workers = new Map<string, RunningEntryPoint>();

  beforeAll(async () => {
    mesh = await startTestMesh();
    publisher = await startAgent({
      identity: await mesh.identity('publisher-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'publisher',
      publisher: { backoffMs: 20, maxBackoffMs: 200, ackTimeoutMs: 3_000 },
    });
    for (const name of ['member-1', 'member-2']) {
      await mesh.identity(name);
      const worker = spawnScript(WORKER, [mesh.certsDir, mesh.controlPlane.address, name, 'member'], {
        WORKER_SUBSCRIBE: 'tasks.>',
        WORKER_GROUP: 'crew',
        // member-1 never finishes an event: when it is killed it surely holds deliveries, however fast the machine.
        WORKER_HANDLE_MS: name === 'member-1' ? '600000' : '10',
      });
      workers.set(name, worker);
    }
    await Promise.all([...workers.values()].map((worker) => worker.waitFor(/ready /)));
    await until(
      () =>
        ['member-1', 'member-2'].every((name) => publisher.cache.get(name)?.spec.subscriptions.length === 1),
      'both members in the registry',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...workers.values()].map((worker) => worker.stop('SIGKILL')));
    await publisher?.drain(0);
    await mesh?.close();
  });

  it('redelivers what the dead member held to the other: every event is handled at least once', async () => {
    const handled = () =>
      new Set(
        [...workers.values()].flatMap((worker) =>
          [...worker.output().matchAll(/handled (\S+)/g)].map((match) => match[1]!),
        ),
      );
    const ids: string[] = [];
    for (let i = 0; i < 400; i += 1) {
      ids.push((await publisher.publish('tasks.created', { task: i })).eventId);
      if (i === 150) {
        await until(() => /receiving/.test(workers.get('member-1')!.output()), 'member-1 at work', 20_000);
        await workers.get('member-1')!.stop('SIGKILL');
      }
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await publisher.publisher.flush(30_000)).toBe(true);
    await until(() => ids.every((id) => handled().has(id)), 'every event handled', 20_000);
    expect(publisher.publisher.stats.retried).toBeGreaterThan(0); // member-1 died holding deliveries
    expect(publisher.publisher.stats.deadLettered).toBe(0);
  }, 60_000);
});

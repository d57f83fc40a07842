import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { EtcdStore } from '../../src/control-plane/stores/etcd-store.js';
import type { ReceivedEvent } from '../../src/pubsub/event.js';
import { silentLogger } from '../../src/observability/logger.js';
import { etcdBinary, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { startTestMesh, type TestMesh, knows } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * Subscriptions live in the shared store: a publisher attached to one control-plane replica reaches subscribers
 * registered through another, and the events themselves pass through neither.
 */
describe.skipIf(!etcdBinary)('publish/subscribe across control-plane replicas on etcd', () => {
  let etcd: EtcdProcess;
  let first: TestMesh;
  let second: TestMesh;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    const store = () => EtcdStore.connect({ endpoints: [etcd.endpoint], logger: silentLogger() });
    first = await startTestMesh({ store });
    second = await startTestMesh({ store, certsDir: first.certsDir });
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await second?.close();
    await first?.close();
    await etcd?.stop();
  });

  it('delivers to every subscriber whichever replica each one registered with', async () => {
    const received = new Map<string, ReceivedEvent[]>();
    for (const [name, mesh, group] of [
      ['audit-1', second, ''],
      ['worker-1', first, 'workers'],
      ['worker-2', second, 'workers'],
    ] as const) {
      received.set(name, []);
      agents.push(
        await startAgent({
          identity: await mesh.identity(name),
          controlPlane: mesh.controlPlane.address,
          type: name.replace(/-\d$/, ''),
          subscriptions: [
            { pattern: 'invoices.>', group, handler: (event) => void received.get(name)!.push(event) },
          ],
        }),
      );
    }
    const publisher = await startAgent({
      identity: await first.identity('billing-1'),
      controlPlane: first.controlPlane.address,
      type: 'billing',
    });
    agents.push(publisher);
    await until(() => knows(publisher, 'audit-1', 'worker-1', 'worker-2'), 'the subscribers known');
    for (let i = 0; i < 50; i += 1) {
      expect(await publisher.publish('invoices.paid', { invoice: i })).toMatchObject({
        subscriptions: 1,
        groups: 1,
      });
    }
    expect(await publisher.publisher.flush()).toBe(true);
    expect(received.get('audit-1')).toHaveLength(50);
    expect(received.get('worker-1')!.length + received.get('worker-2')!.length).toBe(50);
  });
});

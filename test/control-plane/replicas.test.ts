import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, type WatchMessage } from '../../src/control-plane/client.js';
import { EtcdStore } from '../../src/control-plane/stores/etcd-store.js';
import { silentLogger } from '../../src/observability/logger.js';
import { etcdBinary, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

describe.skipIf(!etcdBinary)('two control-plane replicas on one etcd', () => {
  let etcd: EtcdProcess;
  let first: TestMesh;
  let second: TestMesh;

  beforeAll(async () => {
    etcd = await startEtcd();
    const store = () => EtcdStore.connect({ endpoints: [etcd.endpoint], logger: silentLogger() });
    first = await startTestMesh({ store });
    second = await startTestMesh({ store, certsDir: first.certsDir });
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
    await etcd?.stop();
  });

  it('serves one registry: registered through one, discovered and watched through the other, kept when one dies', async () => {
    const watcher = await second.client('watcher');
    const messages = collector<WatchMessage>();
    const watch = watcher.watch(0, (m) => messages.push(m));
    await messages.next((m) => m.kind === 'snapshot');

    const agent = await first.agentServer('replicated-1');
    const viaFirst = await first.client('replicated-1', ['worker']);
    const { record } = await viaFirst.register(
      { type: 'worker', name: 'replicated-1', endpoint: agent.server.address },
      3_000,
    );
    const heard = await messages.next((m) => m.kind === 'agent' && m.record.id === 'replicated-1');
    expect(heard.revision).toBe(record.revision);
    expect((await watcher.discover({ type: 'worker' })).agents.map((a) => a.id)).toEqual(['replicated-1']);

    // The first replica goes away; the agent keeps its lease alive through the second.
    watch.cancel();
    await first.controlPlane.close(0);
    const viaSecond = new ControlPlaneClient({
      address: second.controlPlane.address,
      identity: agent.identity,
    });
    try {
      // Heartbeats every 300 ms (within the rate limit), for longer than the lease.
      const closedAt = Date.now();
      while (Date.now() < closedAt + 4_000) {
        await viaSecond.heartbeat('replicated-1');
        await new Promise((resolve) => setTimeout(resolve, 300)); // the pace of heartbeats
      }
      // Longer than the 3 s lease: the registration lived on because heartbeats reached the surviving replica.
      expect((await watcher.getAgent('replicated-1')).health).toBe('healthy');
      await viaSecond.deregister('replicated-1');
    } finally {
      viaSecond.close();
    }
  });
});

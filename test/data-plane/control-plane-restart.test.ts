import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { EtcdStore } from '../../src/control-plane/stores/etcd-store.js';
import { silentLogger } from '../../src/observability/logger.js';
import { etcdBinary, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * Static stability across a control-plane restart (on etcd, whose registry outlives the control plane): calls go
 * on while it is away, and the client's watch resumes when it is back at the same address.
 */
describe.skipIf(!etcdBinary)('a mesh client across a control-plane restart', () => {
  let etcd: EtcdProcess;
  let before: TestMesh;
  let after: TestMesh | undefined;
  let cache: EndpointCache;
  let client: MeshClient;
  const store = () => EtcdStore.connect({ endpoints: [etcd.endpoint], logger: silentLogger() });

  beforeAll(async () => {
    etcd = await startEtcd();
    before = await startTestMesh({ store });
    const steady = await before.agentServer('steady-1', ['echo']);
    await (
      await before.client('steady-1', ['echo'])
    ).register({ type: 'echo', name: 'steady-1', endpoint: steady.server.address }, 60_000);
    cache = new EndpointCache({ client: await before.client('caller'), logger: silentLogger() });
    await cache.start();
    client = new MeshClient({ identity: await before.identity('caller'), cache, logger: silentLogger() });
  });

  afterAll(async () => {
    client?.close();
    cache?.close();
    await after?.close();
    await before?.close();
    await etcd?.stop();
  });

  it('keeps calling while the control plane is down, and follows the registry again once it is back', async () => {
    const address = before.controlPlane.address;
    await before.controlPlane.close(0);
    for (let i = 0; i < 10; i += 1) {
      expect((await client.call({ type: 'echo' }, 'ping', '')).payload.toString()).toBe('steady-1');
    }

    after = await startTestMesh({ store, certsDir: before.certsDir, listen: address });
    const newcomer = await after.agentServer('newcomer-1', ['echo']);
    await (
      await after.client('newcomer-1', ['echo'])
    ).register({ type: 'echo', name: 'newcomer-1', endpoint: newcomer.server.address }, 60_000);
    // The cache reconnects with backoff (at most a few seconds) and resumes its watch from its last revision.
    await until(() => cache.get('newcomer-1') !== undefined, 'the newcomer known');
    expect(cache.select({ type: 'echo' }).map((record) => record.id)).toEqual(['newcomer-1', 'steady-1']);
    const served = new Set<string>();
    for (let i = 0; i < 10; i += 1) {
      served.add(
        (await client.call({ type: 'echo' }, 'ping', '', { balancer: 'round-robin' })).payload.toString(),
      );
    }
    expect([...served].sort()).toEqual(['newcomer-1', 'steady-1']);
  });
});

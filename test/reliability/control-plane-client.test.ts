import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '../../src/control-plane/client.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from '../helpers/ports.js';
import { testMeshes } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** The control-plane client and the endpoint cache against control planes that go away and come back. */
describe('following a control plane that fails', () => {
  const meshes = testMeshes();
  afterEach(() => meshes.closeAll());

  it('moves from a replica that cannot be reached to the next one, for calls and for watches', async () => {
    const live = await meshes.start();
    const dead = `127.0.0.1:${await freePort()}`;
    const identity = await live.identity('follower');
    // random() = 0: the dead replica, listed first, is the one it starts with.
    const client = new ControlPlaneClient({
      address: `${dead},${live.controlPlane.address}`,
      identity,
      random: () => 0,
    });
    meshes.defer(() => client.close());
    expect(client.address).toBe(dead);
    expect(await client.getPolicies()).toMatchObject({ defaultEffect: 'allow' });
    expect(client.address).toBe(live.controlPlane.address);

    const other = new ControlPlaneClient({
      address: [dead, live.controlPlane.address],
      identity,
      random: () => 0,
    });
    meshes.defer(() => other.close());
    const ended: Array<Error | undefined> = [];
    other.watch(
      0,
      () => undefined,
      (error) => ended.push(error),
    );
    await until(() => ended.length > 0, 'the watch on the dead replica ended');
    expect(MeshError.from(ended[0]).code).toBe(Code.UNAVAILABLE);
    let snapshot = false;
    const watch = other.watch(0, (message) => (snapshot ||= message.kind === 'snapshot'));
    meshes.defer(() => watch.cancel());
    await until(() => snapshot, 'a snapshot from the live replica');
    // grpc-js reports a failed stream as `error` and then `end`: the first watch ended once, not twice.
    expect(ended).toHaveLength(1);
  });

  it('keeps what a partial snapshot lacks, and drops it when the complete one comes; keeps set policies', async () => {
    const first = await meshes.start();
    const address = first.controlPlane.address;
    const admin = await first.client('control-plane');
    await admin.setPolicies({
      defaultEffect: 'deny',
      rules: [
        {
          ...{ id: 'workers', effect: 'allow', actions: ['invoke'], callers: [], callerTypes: [] },
          ...{ targetTypes: ['worker'], methods: ['*'], topics: [] },
        },
      ],
    });
    for (const name of ['stays-1', 'goes-1']) {
      await (
        await first.client(name, ['worker'])
      ).register({ type: 'worker', name, endpoint: '127.0.0.1:9' }, 60_000);
    }
    const cache = new EndpointCache({ client: await first.client('follower'), logger: silentLogger() });
    meshes.defer(() => cache.close());
    await cache.start();
    expect(cache.select({ type: 'worker' }).map((agent) => agent.id)).toEqual(['goes-1', 'stays-1']);
    const kinds: string[] = [];
    meshes.defer(cache.onChange((kind) => kinds.push(kind)));

    // The control plane restarts on the same port with an empty store, still settling for a while.
    await first.controlPlane.close(0);
    const second = await meshes.start({ certsDir: first.certsDir, listen: address, settleMs: 600_000 });
    await until(() => kinds.includes('snapshot'), 'the cache followed the new control plane');
    // Its snapshot is partial (empty): what the cache knew is still routable, and the policies still hold.
    expect(cache.select({ type: 'worker' }).map((agent) => agent.id)).toEqual(['goes-1', 'stays-1']);
    expect(cache.policies.defaultEffect).toBe('deny');
    await (
      await second.client('stays-1', ['worker'])
    ).register({ type: 'worker', name: 'stays-1', endpoint: '127.0.0.1:9' });
    const partialRevision = cache.currentRevision;
    // When the control plane has settled, its complete snapshot drops the agent that never came back.
    second.controlPlane.state.settle();
    await until(() => cache.get('goes-1') === undefined, 'the complete snapshot dropped goes-1');
    expect(cache.select({ type: 'worker' }).map((agent) => agent.id)).toEqual(['stays-1']);
    // A watcher that was away at that moment and resumes from the partial period gets a complete snapshot too.
    const resumed: string[] = [];
    const late = (await second.client('late-watcher')).watch(partialRevision, (message) => {
      resumed.push(message.kind === 'snapshot' ? `snapshot partial=${message.partial}` : message.kind);
    });
    meshes.defer(() => late.cancel());
    await until(() => resumed.length > 0, 'the resumed watch said something');
    expect(resumed[0]).toBe('snapshot partial=false');
    // No policies were ever set on the new control plane: the cache does not fall open to allow-all.
    expect(cache.policies.defaultEffect).toBe('deny');
  });
});

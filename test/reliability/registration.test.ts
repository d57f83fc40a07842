import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { AgentRegistration } from '../../src/agent/registration.js';
import { ControlPlaneClient } from '../../src/control-plane/client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { testMeshes } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** An agent's registration against a control plane that limits it, restarts, or hangs. */
describe('an agent registration', () => {
  const meshes = testMeshes();
  afterEach(() => meshes.closeAll());

  it("waits out the control plane's rate limit: a burst of subscriptions all land", async () => {
    const limited = await meshes.start({ requestLimits: { register: { perSecond: 20, burst: 3 } } });
    const agent: RunningAgent = await startAgent({
      identity: await limited.identity('subscriber-1'),
      controlPlane: limited.controlPlane.address,
      type: 'subscriber',
    });
    meshes.defer(() => agent.drain(1_000));
    for (let i = 0; i < 12; i += 1) await agent.subscribe(`topic-${i}.>`, () => undefined);
    const record = await agent.controlPlane.getAgent('subscriber-1');
    expect(record.spec.subscriptions.map((s) => s.pattern).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `topic-${i}.>`).sort(),
    );
  });

  it('stays draining when it registers again while draining, and registers no more once it left', async () => {
    const plain = await meshes.start();
    const client = await plain.client('drainer-1', ['worker']);
    const registration = new AgentRegistration({
      client,
      spec: () => ({ type: 'worker', name: 'drainer-1', endpoint: '127.0.0.1:9' }),
      leaseTtlMs: 60_000,
      load: () => ({ inFlight: 0, queueDepth: 0 }),
      logger: silentLogger(),
    });
    await registration.register();
    await registration.drain(2_000);
    await registration.register(); // e.g. a subscription removed during shutdown
    expect((await client.getAgent('drainer-1')).health).toBe('draining');
    await registration.deregister(2_000);
    const refused = await registration.register().catch((error: unknown) => error);
    expect(MeshError.from(refused).code).toBe(Code.FAILED_PRECONDITION);
    await expect(client.getAgent('drainer-1')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('registers again at once when a restarted control plane does not list it, long before its next heartbeat', async () => {
    const first = await meshes.start();
    const address = first.controlPlane.address;
    // A 5-minute lease: the next heartbeat is 100 s away, so only the watch's snapshot can bring it back.
    const agent = await startAgent({
      identity: await first.identity('long-lease-1', ['worker']),
      controlPlane: address,
      type: 'worker',
      leaseTtlMs: 300_000,
    });
    meshes.defer(() => agent.drain(1_000));
    await first.controlPlane.close(0);
    const second = await meshes.start({ certsDir: first.certsDir, listen: address, settleMs: 60_000 });
    const observer = await second.client('observer');
    await until(
      async () => (await observer.discover({ type: 'worker' })).agents.some((a) => a.id === 'long-lease-1'),
      'the agent registered with the new control plane',
      30_000,
    );
    second.controlPlane.state.settle();
  });

  it('moves on from a replica that hangs within the same call, with time left for the next', async () => {
    const live = await meshes.start();
    // A "control plane" that accepts connections and never answers (a stopped process looks the same).
    const sockets: Socket[] = [];
    const hung: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    meshes.defer(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          hung.close(() => resolve());
        }),
    );
    const hungAddress = `127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const client = new ControlPlaneClient({
      address: [hungAddress, live.controlPlane.address],
      identity: await live.identity('mover-1'),
      random: () => 0, // starts at the hung one
      timeoutMs: 6_000,
    });
    meshes.defer(() => client.close());
    expect(await client.getPolicies()).toMatchObject({ defaultEffect: 'allow' });
    expect(client.address).toBe(live.controlPlane.address);
  });
});

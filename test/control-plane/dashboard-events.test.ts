import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { EventsView } from '../../src/control-plane/dashboard/dashboard-routes.js';
import { silentLogger } from '../../src/observability/logger.js';
import { natsBinary, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { makeCertsDir } from '../helpers/processes.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe.skipIf(!natsBinary)("the dashboard's view of the durable event store", () => {
  let certs: { dir: string; remove(): Promise<void> };
  let nats: NatsCluster;
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    certs = await makeCertsDir();
    nats = await startNatsCluster({ size: 1, certsDir: certs.dir });
    mesh = await startTestMesh({
      certsDir: certs.dir,
      events: { servers: nats.urls },
      httpListen: '127.0.0.1:0',
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
    await nats?.stop();
    await certs?.remove();
  });

  it('answers the stream, the events stored per topic and each consumer with its backlog', async () => {
    // A subscriber that never acknowledges: what it was sent stays unacknowledged.
    const held: Array<() => void> = [];
    agents.push(
      await startAgent({
        identity: await mesh.identity('audit-1'),
        controlPlane: mesh.controlPlane.address,
        type: 'audit',
        subscriptions: [
          {
            pattern: 'tasks.>',
            handler: () => new Promise<void>((release) => held.push(release)),
          },
        ],
        logger: silentLogger(),
      }),
    );
    const publisher = await startAgent({
      identity: await mesh.identity('planner-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'planner',
      logger: silentLogger(),
    });
    agents.push(publisher);
    await publisher.publish('tasks.completed', { task: 1 });
    await publisher.publish('tasks.completed', { task: 2 });
    await until(() => held.length > 0, 'the subscriber holds an event');

    const view = (await (await fetch(`${mesh.controlPlane.httpUrl}/api/events`)).json()) as EventsView;
    expect(view.enabled).toBe(true);
    if (!view.enabled || !('store' in view)) throw new Error(`no store in ${JSON.stringify(view)}`);
    expect(view.store.topics).toContainEqual({ topic: 'tasks.completed', messages: 2 });
    const consumer = view.store.consumers.find((c) => c.pattern === 'tasks.>');
    expect(consumer).toBeDefined();
    expect(consumer!.subscribers).toEqual(['spiffe://agentmesh.local/agent/audit-1']);
    expect(consumer!.pending + consumer!.ackPending).toBeGreaterThan(0);
    expect(view.consumersOmitted).toBe(0);
    for (const release of held) release();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code } from '../../src/core/errors.js';
import { DEFAULT_MAX_PENDING } from '../../src/pubsub/publisher.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const LIMIT = 100;

/** A subscriber that acknowledges nothing until it is unblocked: the publisher's pending bound pushes back. */
describe('the pending bound', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  const handled = new Set<string>();
  let unblock: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));

  beforeAll(async () => {
    mesh = await startTestMesh();
    agents.push(
      await startAgent({
        identity: await mesh.identity('listener-1'),
        controlPlane: mesh.controlPlane.address,
        type: 'listener',
        subscriptions: [
          {
            pattern: 'orders.>',
            handler: async (event) => {
              await blocked;
              handled.add(event.id);
            },
          },
        ],
      }),
    );
    agents.push(
      await startAgent({
        identity: await mesh.identity('publisher-1'),
        controlPlane: mesh.controlPlane.address,
        type: 'publisher',
        publisher: { topics: ['orders.>'], maxPending: LIMIT },
      }),
    );
    await until(
      () => (agents[1]!.cache.get('listener-1')?.spec.subscriptions.length ?? 0) > 0,
      'the subscription',
      10_000,
    );
  });

  afterAll(async () => {
    unblock();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('is bounded by default', () => {
    expect(DEFAULT_MAX_PENDING).toBe(10_000);
  });

  it('refuses a publish beyond it with RESOURCE_EXHAUSTED, and delivers every accepted event once unblocked', async () => {
    const publisher = agents[1]!;
    const ids: string[] = [];
    for (let i = 0; i < LIMIT; i += 1) ids.push((await publisher.publish('orders.created', { i })).eventId);
    let refusal: unknown;
    try {
      await publisher.publish('orders.created', { i: LIMIT });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: expect.stringMatching(/100 deliveries are pending and the limit is maxPending=100.*slow/),
    });
    expect(publisher.publisher.stats.pending).toBe(LIMIT);
    unblock();
    await until(
      async () => await publisher.publisher.flush(1_000),
      'every accepted event acknowledged',
      30_000,
    );
    expect(ids.filter((id) => !handled.has(id))).toEqual([]);
    expect(publisher.publisher.stats.deadLettered).toBe(0);
  });
});

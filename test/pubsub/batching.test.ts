import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent, type SubscriptionOptions } from '../../src/agent/agent-runtime.js';
import type { ReceivedEvent } from '../../src/pubsub/event.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** How deliveries and acks travel on a real link: several to a message, and never more than a message may hold. */
describe('batched delivery links', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];

  async function agent(name: string, subscriptions: SubscriptionOptions[] = []): Promise<RunningAgent> {
    const running = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      subscriptions,
    });
    agents.push(running);
    return running;
  }

  async function known(publisher: RunningAgent, subscriber: RunningAgent): Promise<void> {
    await until(
      () => (publisher.cache.get(subscriber.name)?.spec.subscriptions.length ?? 0) > 0,
      `${subscriber.name}'s subscription`,
      10_000,
    );
  }

  beforeAll(async () => {
    mesh = await startTestMesh();
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
  });

  it('carries many deliveries in fewer messages and acknowledges them in fewer ack messages', async () => {
    const received: ReceivedEvent[] = [];
    // The handler holds every event until all have arrived, so that their acks finish together.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const subscriber = await agent('batch-sink-1', [
      {
        pattern: 'batch.>',
        maxInFlight: 500,
        handler: async (event) => {
          received.push(event);
          if (received.length === 300) release();
          await released;
        },
      },
    ]);
    const publisher = await agent('batch-source-1');
    await known(publisher, subscriber);
    const before = publisher.publisher.stats;
    for (let i = 0; i < 300; i += 1) await publisher.publish('batch.created', { i });
    expect(await publisher.publisher.flush()).toBe(true);
    const after = publisher.publisher.stats;
    expect(after.delivered - before.delivered).toBe(300);
    expect(received.map((event) => JSON.parse(event.payload.toString()).i)).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
    // Published in one turn, the 300 deliveries leave together (at most 512 to a message) ...
    expect(after.deliveryMessages - before.deliveryMessages).toBeLessThan(300);
    // ... and their acks, finished together, come back together.
    expect(after.ackMessages - before.ackMessages).toBeLessThan(300);
  });

  it('splits a batch by bytes, so that large events reach the subscriber within its message limit', async () => {
    const received: ReceivedEvent[] = [];
    const subscriber = await agent('batch-sink-2', [
      { pattern: 'large.>', maxInFlight: 16, handler: (event) => void received.push(event) },
    ]);
    const publisher = await agent('batch-source-2');
    await known(publisher, subscriber);
    const before = publisher.publisher.stats;
    // Eight events of 900 KB: 7 MB in all, over the subscriber's 4 MiB message limit if they went as one message.
    for (let i = 0; i < 8; i += 1) await publisher.publish('large.created', Buffer.alloc(900 * 1024, i));
    expect(await publisher.publisher.flush()).toBe(true);
    const after = publisher.publisher.stats;
    expect(after.delivered - before.delivered).toBe(8);
    expect(after.retried - before.retried).toBe(0);
    expect(after.deadLettered - before.deadLettered).toBe(0);
    expect(after.deliveryMessages - before.deliveryMessages).toBeGreaterThanOrEqual(8);
    expect(received.map((event) => event.payload[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(received.every((event) => event.payload.length === 900 * 1024)).toBe(true);
  });

  it('gives each handler its own event object, context and chain when one process has several subscriptions', async () => {
    const seen: ReceivedEvent[] = [];
    const handler = (event: ReceivedEvent) => {
      seen.push(event);
      event.context.chain.push('spiffe://agentmesh.local/agent/changed-by-a-handler');
    };
    const one = await agent('batch-sink-3', [
      { pattern: 'shared.*', handler },
      { pattern: 'shared.>', handler },
    ]);
    const two = await agent('batch-sink-4', [{ pattern: 'shared.>', handler }]);
    const publisher = await agent('batch-source-3');
    await known(publisher, one);
    await known(publisher, two);
    await publisher.publish('shared.created', 'same bytes for all three');
    expect(await publisher.publisher.flush()).toBe(true);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((event) => event.pattern))).toEqual(new Set(['shared.*', 'shared.>']));
    for (const event of seen) {
      expect(event.payload.toString()).toBe('same bytes for all three');
      // The handler's own change is the only one its event shows.
      expect(event.context.chain.at(-1)).toBe('spiffe://agentmesh.local/agent/changed-by-a-handler');
      expect(event.context.chain.at(-2)).toBe(publisher.identity.spiffeId.uri);
    }
    expect(new Set(seen).size).toBe(3);
  });
});

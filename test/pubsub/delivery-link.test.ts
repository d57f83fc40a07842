import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { DeliveryLinks, type DeliveryLink } from '../../src/pubsub/delivery-link.js';
import { encodeEvent } from '../../src/transport/delivery-codec.js';
import { eventToWire } from '../../src/pubsub/event.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** A delivery link replaced while deliveries are queued on it (its agent restarted at a new address). */
describe('a closed delivery link', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['publisher-1', 'listener-1']) {
      agents.push(
        await startAgent({
          identity: await mesh.identity(name),
          controlPlane: mesh.controlPlane.address,
          type: name.replace(/-\d+$/, ''),
          subscriptions:
            name === 'listener-1' ? [{ pattern: 'orders.>', handler: async () => undefined }] : [],
          publisher: { topics: ['orders.>'] },
        }),
      );
    }
    await until(
      () => agents[0]!.cache.get('listener-1') !== undefined,
      'the listener in the registry',
      10_000,
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('never opens a stream: a send on it is refused and what it held is reported lost, nothing is thrown', async () => {
    const broken: string[] = [];
    const links = new DeliveryLinks(await mesh.identity('publisher-1'), {
      onAcks: () => undefined,
      onWritten: () => undefined,
      onBroken: (_link: DeliveryLink, reason: string) => broken.push(reason),
      wanted: () => true,
    });
    const record = agents[0]!.cache.get('listener-1')!;
    const event = encodeEvent(
      eventToWire({
        id: 'e1',
        topic: 'orders.created',
        publisher: (await mesh.identity('publisher-1')).spiffeId.uri,
        publishedAt: Date.now(),
        payload: Buffer.from('{}'),
        contentType: 'application/json',
        key: '',
        context: { chain: [] },
      }),
    );
    const delivery = (deliveryId: string) => ({
      deliveryId,
      attempt: 1,
      event,
      pattern: 'orders.>',
      group: '',
    });
    const old = links.linkFor(record);
    expect(old.send(delivery('1'))).toBe(true);
    // The agent moved: the link is replaced while a flush is scheduled on it, and a stale holder sends again.
    links.prune(() => ({ ...record, spec: { ...record.spec, endpoint: '127.0.0.1:1' } }));
    expect(old.send(delivery('2'))).toBe(false);
    // Before the fix, the flush scheduled above opened a stream on the closed channel and threw from setImmediate.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(broken).toEqual(['the subscriber left the mesh']);
    const current = links.linkFor(record);
    expect(current).not.toBe(old);
    expect(current.send(delivery('3'))).toBe(true);
    links.close();
  });
});

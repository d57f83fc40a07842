import { describe, expect, it } from 'vitest';
import { encodeEvent, serializeDeliveryBatch } from '../../src/pubsub/delivery-codec.js';
import { eventToWire, type MeshEvent } from '../../src/pubsub/event.js';
import { loadMeshProtos } from '../../src/transport/protos.js';

const { DeliverEvents } = loadMeshProtos().protos.agentmesh.v1.Agent.service;

const event: MeshEvent = {
  id: 'e1',
  topic: 'tasks.created',
  publisher: 'spiffe://mesh.local/agent/publisher',
  publishedAt: 1_790_000_000_123,
  payload: Buffer.from('{"task":"ünïcode ✓"}'),
  contentType: 'application/json',
  key: 'order-7',
  context: {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    conversationId: 'c-1',
    chain: ['spiffe://mesh.local/agent/a', 'spiffe://mesh.local/agent/publisher'],
  },
  deadLetter: {
    originalEventId: 'e0',
    originalTopic: 'tasks.created',
    reason: 'handler failed',
    attempts: 5,
    subscriber: 'spiffe://mesh.local/agent/sink',
    pattern: 'tasks.*',
    group: 'workers',
    deadLetteredAt: 1_790_000_000_999,
  },
};

describe('delivery codec', () => {
  it('writes what the generic EventDeliveryBatch serializer writes, as the subscriber decodes it', () => {
    const deliveries = [
      { deliveryId: 'a1', attempt: 1, pattern: 'tasks.*', group: '' },
      { deliveryId: 'a2', attempt: 3, pattern: 'tasks.>', group: 'workers' },
      { deliveryId: '', attempt: 0, pattern: '', group: '' },
    ];
    const wire = eventToWire(event);
    const ours = serializeDeliveryBatch(deliveries.map((d) => ({ ...d, event: encodeEvent(wire) })));
    const generic = DeliverEvents.requestSerialize({
      deliveries: deliveries.map((d) => ({ ...d, event: wire })),
    });
    // The generic serializer also writes fields holding their default value; decoded, the two are the same.
    expect(DeliverEvents.requestDeserialize(ours)).toEqual(DeliverEvents.requestDeserialize(generic));
    const decoded = DeliverEvents.requestDeserialize(ours);
    expect(decoded.deliveries).toHaveLength(3);
    expect(decoded.deliveries[1]).toMatchObject({ deliveryId: 'a2', attempt: 3, group: 'workers' });
    expect(decoded.deliveries[1]!.event!.payload.toString()).toBe('{"task":"ünïcode ✓"}');
    expect(decoded.deliveries[1]!.event!.deadLetter!.deadLetteredAtUnixMs).toBe(1_790_000_000_999);
  });

  it('writes an empty batch as no bytes', () => {
    expect(serializeDeliveryBatch([]).length).toBe(0);
  });
});

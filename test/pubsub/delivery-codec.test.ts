import { describe, expect, it } from 'vitest';
import {
  decodeAckBatch,
  decodeDeliveryBatch,
  decodeEvent,
  encodeAckBatch,
  encodeEvent,
  serializeDeliveryBatch,
  type AckAnswer,
} from '../../src/transport/delivery-codec.js';
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

  it('reads what the generic serializer writes: each delivery with its event still bytes, decoded alike', () => {
    const wire = eventToWire(event);
    const generic = DeliverEvents.requestSerialize({
      deliveries: [
        { deliveryId: 'a1', attempt: 2, pattern: 'tasks.*', group: 'workers', event: wire },
        { deliveryId: 'a2', attempt: 1, pattern: 'tasks.>', group: '' },
      ],
    });
    const [first, second] = decodeDeliveryBatch(generic);
    expect(first).toMatchObject({ deliveryId: 'a1', attempt: 2, pattern: 'tasks.*', group: 'workers' });
    expect(second).toMatchObject({ deliveryId: 'a2', attempt: 1, event: undefined });
    const expected = DeliverEvents.requestDeserialize(generic).deliveries[0]!.event;
    expect(decodeEvent(first!.event!)).toEqual(expected);
  });

  it('writes and reads acks as the generic AckBatch (de)serializer does', () => {
    const acks: AckAnswer[] = [
      { deliveryId: 'a1', outcome: 'ACK_OUTCOME_ACK', retryAfterMs: 0, reason: '' },
      { deliveryId: 'a2', outcome: 'ACK_OUTCOME_RETRY', retryAfterMs: 1_500, reason: 'later, ✓' },
      { deliveryId: 'a3', outcome: 'ACK_OUTCOME_REFUSED', retryAfterMs: 0, reason: 'no' },
      { deliveryId: 'a4', outcome: 'ACK_OUTCOME_DROP', retryAfterMs: 0, reason: 'never' },
    ];
    expect(DeliverEvents.responseDeserialize(encodeAckBatch(acks)).acks).toEqual(acks);
    expect(decodeAckBatch(DeliverEvents.responseSerialize({ acks }))).toEqual(acks);
  });

  it('refuses to read a string that runs past the end of its message', () => {
    // An Event whose id claims 100 bytes where 3 follow: protobufjs alone would read "abc".
    expect(() => decodeEvent(Buffer.from([0x0a, 100, 0x61, 0x62, 0x63]))).toThrow(RangeError);
    expect(() => decodeAckBatch(Buffer.from([0x0a, 4, 0x0a, 9, 0x61, 0x62]))).toThrow(RangeError);
  });

  it('writes an empty batch as no bytes', () => {
    expect(serializeDeliveryBatch([]).length).toBe(0);
  });
});

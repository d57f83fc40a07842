import protobuf from 'protobufjs';
import type { Event } from '../generated/agentmesh/v1/Event.js';
import { PROTO_ROOT } from '../transport/protos.js';

/**
 * The publisher's side of `Agent.DeliverEvents` on the wire. An event goes to many subscribers, so it is encoded
 * once ({@link encodeEvent}) and each delivery carries those bytes: a length-delimited field holds an embedded
 * message's encoding as is, so a batch written by {@link serializeDeliveryBatch} is byte for byte the
 * `EventDeliveryBatch` the generic serializer would write, without encoding the event again per subscriber.
 */
export interface EncodedDelivery {
  deliveryId: string;
  attempt: number;
  /** The `Event` message, from {@link encodeEvent}. */
  event: Uint8Array;
  pattern: string;
  group: string;
}

let eventType: protobuf.Type | undefined;

/** Encodes an `Event` (the object grpc-js would take for it) to its protobuf bytes. */
export function encodeEvent(event: Event): Uint8Array {
  eventType ??= loadEventType();
  return eventType.encode(eventType.fromObject(event)).finish();
}

/** `EventDeliveryBatch { repeated EventDelivery deliveries = 1; }` with each event already encoded. */
export function serializeDeliveryBatch(deliveries: readonly EncodedDelivery[]): Buffer {
  const writer = protobuf.Writer.create();
  for (const delivery of deliveries) {
    writer.uint32(tag(1)).fork();
    if (delivery.deliveryId) writer.uint32(tag(1)).string(delivery.deliveryId);
    if (delivery.attempt) writer.uint32(tag(2, VARINT)).uint32(delivery.attempt);
    writer.uint32(tag(3)).bytes(delivery.event);
    if (delivery.pattern) writer.uint32(tag(4)).string(delivery.pattern);
    if (delivery.group) writer.uint32(tag(5)).string(delivery.group);
    writer.ldelim();
  }
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const VARINT = 0;
const LENGTH_DELIMITED = 2;

function tag(field: number, wireType = LENGTH_DELIMITED): number {
  return (field << 3) | wireType;
}

function loadEventType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}/${target}`);
  root.loadSync('agentmesh/v1/agent.proto', { keepCase: false });
  return root.lookupType('agentmesh.v1.Event');
}

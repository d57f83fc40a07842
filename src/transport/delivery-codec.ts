import protobuf from 'protobufjs';
import type { AckOutcome__Output } from '../generated/agentmesh/v1/AckOutcome.js';
import type { Event } from '../generated/agentmesh/v1/Event.js';
import type { Event__Output } from '../generated/agentmesh/v1/Event.js';
import { PROTO_ROOT } from './protos.js';

/**
 * `Agent.DeliverEvents` on the wire, both ways, without the generic (de)serializers: the messages are those of
 * types.proto (`EventDeliveryBatch`, `AckBatch`), byte for byte what the generic serializer writes and reads, so a
 * peer using generated code in any language interoperates. An event goes to many subscribers, so the publisher
 * encodes it once ({@link encodeEvent}) and each delivery carries those bytes (a length-delimited field holds an
 * embedded message's encoding as is). The subscriber reads a batch without converting it to objects: each
 * delivery's event stays bytes ({@link WireDelivery}) until {@link decodeEvent} reads it, once per distinct event.
 */

/** One delivery as the publisher writes it, its event already encoded. */
export interface EncodedDelivery {
  deliveryId: string;
  attempt: number;
  /** The `Event` message, from {@link encodeEvent}. */
  event: Uint8Array;
  pattern: string;
  group: string;
}

/** One delivery as the subscriber reads it: the event still encoded (a view of the received message). */
export interface WireDelivery {
  deliveryId: string;
  attempt: number;
  /** The `Event` message's bytes; undefined when the delivery has none. */
  event: Buffer | undefined;
  pattern: string;
  group: string;
}

/** A subscriber's answer to one delivery (`Ack` in types.proto). */
export interface AckAnswer {
  deliveryId: string;
  outcome: AckOutcome__Output;
  /** For a retry: the delay the subscriber asks for (0: the publisher's backoff). */
  retryAfterMs: number;
  reason: string;
}

let eventType: protobuf.Type | undefined;

/** Encodes an `Event` (the object grpc-js would take for it) to its protobuf bytes. */
export function encodeEvent(event: Event): Uint8Array {
  eventType ??= loadEventType();
  return eventType.encode(eventType.fromObject(event)).finish();
}

/**
 * The bytes of one delivery inside an `EventDeliveryBatch` (its tag and length prefix included): what
 * {@link serializeDeliveryBatch} writes for it. Batches are cut by this size, to keep each message within the
 * receiver's limit.
 */
export function encodedDeliverySize(delivery: EncodedDelivery): number {
  const body = deliveryBodySize(delivery);
  return 1 + varintSize(body) + body;
}

/** `EventDeliveryBatch { repeated EventDelivery deliveries = 1; }` with each event already encoded. */
export function serializeDeliveryBatch(deliveries: readonly EncodedDelivery[]): Buffer {
  let total = 0;
  const bodies = new Array<number>(deliveries.length);
  for (let i = 0; i < deliveries.length; i += 1) {
    const body = deliveryBodySize(deliveries[i]!);
    bodies[i] = body;
    total += 1 + varintSize(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < deliveries.length; i += 1) {
    const delivery = deliveries[i]!;
    out[at++] = tag(1);
    at = writeVarint(out, at, bodies[i]!);
    if (delivery.deliveryId) at = writeString(out, at, 1, delivery.deliveryId);
    if (delivery.attempt) {
      out[at++] = tag(2, VARINT);
      at = writeVarint(out, at, delivery.attempt);
    }
    out[at++] = tag(3);
    at = writeVarint(out, at, delivery.event.length);
    out.set(delivery.event, at);
    at += delivery.event.length;
    if (delivery.pattern) at = writeString(out, at, 4, delivery.pattern);
    if (delivery.group) at = writeString(out, at, 5, delivery.group);
  }
  return out;
}

/**
 * Reads an `EventDeliveryBatch`, leaving each event encoded.
 * @throws RangeError or Error for bytes that are not such a message (grpc-js then fails the stream with INTERNAL,
 *   as for any message that does not deserialize).
 */
export function decodeDeliveryBatch(bytes: Buffer): WireDelivery[] {
  const reader = protobuf.Reader.create(bytes);
  const deliveries: WireDelivery[] = [];
  while (reader.pos < reader.len) {
    const key = reader.uint32();
    if (key === tag(1)) deliveries.push(readDelivery(reader, reader.uint32()));
    else reader.skipType(key & 7);
  }
  return deliveries;
}

/** `AckBatch { repeated Ack acks = 1; }`. */
export function encodeAckBatch(acks: readonly AckAnswer[]): Buffer {
  let total = 0;
  const bodies = new Array<number>(acks.length);
  for (let i = 0; i < acks.length; i += 1) {
    const body = ackBodySize(acks[i]!);
    bodies[i] = body;
    total += 1 + varintSize(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < acks.length; i += 1) {
    const ack = acks[i]!;
    out[at++] = tag(1);
    at = writeVarint(out, at, bodies[i]!);
    if (ack.deliveryId) at = writeString(out, at, 1, ack.deliveryId);
    const outcome = OUTCOME_NUMBERS[ack.outcome];
    if (outcome) {
      out[at++] = tag(2, VARINT);
      at = writeVarint(out, at, outcome);
    }
    const retryAfterMs = retryAfterOf(ack);
    if (retryAfterMs > 0) {
      out[at++] = tag(3, VARINT);
      at = writeVarint(out, at, retryAfterMs);
    }
    if (ack.reason) at = writeString(out, at, 4, ack.reason);
  }
  return out;
}

/** The bytes one ack adds to an `AckBatch`: acks are batched within a byte budget too. */
export function encodedAckSize(ack: AckAnswer): number {
  const body = ackBodySize(ack);
  return 1 + varintSize(body) + body;
}

/** Reads an `AckBatch`. An outcome this version does not know reads as `ACK_OUTCOME_UNSPECIFIED` (a retry). */
export function decodeAckBatch(bytes: Buffer): AckAnswer[] {
  const reader = protobuf.Reader.create(bytes);
  const acks: AckAnswer[] = [];
  while (reader.pos < reader.len) {
    const key = reader.uint32();
    if (key !== tag(1)) {
      reader.skipType(key & 7);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    const ack: AckAnswer = {
      deliveryId: '',
      outcome: 'ACK_OUTCOME_UNSPECIFIED',
      retryAfterMs: 0,
      reason: '',
    };
    while (reader.pos < end) {
      const field = reader.uint32();
      switch (field) {
        case tag(1):
          ack.deliveryId = readString(reader);
          break;
        case tag(2, VARINT):
          ack.outcome = OUTCOME_NAMES[reader.int32()] ?? 'ACK_OUTCOME_UNSPECIFIED';
          break;
        case tag(3, VARINT):
          ack.retryAfterMs = int64(reader);
          break;
        case tag(4):
          ack.reason = readString(reader);
          break;
        default:
          reader.skipType(field & 7);
      }
    }
    if (reader.pos !== end) throw new RangeError('an Ack overruns its length');
    acks.push(ack);
  }
  return acks;
}

/**
 * Reads an `Event` into the object the generic deserializer would make (defaults for absent fields, int64 as
 * numbers); the payload is a view of `bytes`, not a copy.
 * @throws RangeError or Error for bytes that are not an `Event`.
 */
export function decodeEvent(bytes: Buffer): Event__Output {
  const reader = protobuf.Reader.create(bytes);
  const event: Event__Output = {
    id: '',
    topic: '',
    publisher: '',
    publishedAtUnixMs: 0,
    payload: EMPTY,
    contentType: '',
    key: '',
    context: null,
    deadLetter: null,
  };
  while (reader.pos < reader.len) {
    const field = reader.uint32();
    switch (field) {
      case tag(1):
        event.id = readString(reader);
        break;
      case tag(2):
        event.topic = readString(reader);
        break;
      case tag(3):
        event.publisher = readString(reader);
        break;
      case tag(4, VARINT):
        event.publishedAtUnixMs = int64(reader);
        break;
      case tag(5):
        event.payload = reader.bytes() as Buffer;
        break;
      case tag(6):
        event.contentType = readString(reader);
        break;
      case tag(7):
        event.key = readString(reader);
        break;
      case tag(8):
        event.context = readContext(reader, reader.uint32(), event.context);
        break;
      case tag(9):
        event.deadLetter = readDeadLetter(reader, reader.uint32(), event.deadLetter);
        break;
      default:
        reader.skipType(field & 7);
    }
  }
  return event;
}

/**
 * How an agent's server reads `DeliverEvents` requests and writes its responses: the (de)serializers to put in the
 * method's definition in place of the generic ones.
 */
export const DELIVER_EVENTS_SERVER_CODEC = Object.freeze({
  requestDeserialize: decodeDeliveryBatch,
  responseSerialize: encodeAckBatch,
});

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const EMPTY = Buffer.alloc(0);

const OUTCOME_NAMES: readonly AckOutcome__Output[] = [
  'ACK_OUTCOME_UNSPECIFIED',
  'ACK_OUTCOME_ACK',
  'ACK_OUTCOME_RETRY',
  'ACK_OUTCOME_DROP',
  'ACK_OUTCOME_REFUSED',
];
const OUTCOME_NUMBERS: Record<string, number> = Object.fromEntries(
  OUTCOME_NAMES.map((name, number) => [name, number]),
);

function tag(field: number, wireType = LENGTH_DELIMITED): number {
  return (field << 3) | wireType;
}

function readDelivery(reader: protobuf.Reader, length: number): WireDelivery {
  const end = reader.pos + length;
  const delivery: WireDelivery = { deliveryId: '', attempt: 0, event: undefined, pattern: '', group: '' };
  while (reader.pos < end) {
    const field = reader.uint32();
    switch (field) {
      case tag(1):
        delivery.deliveryId = readString(reader);
        break;
      case tag(2, VARINT):
        delivery.attempt = reader.uint32();
        break;
      case tag(3):
        // A repeated embedded message field merges; a sender writes it once, and the last one is taken here.
        delivery.event = reader.bytes() as Buffer;
        break;
      case tag(4):
        delivery.pattern = readString(reader);
        break;
      case tag(5):
        delivery.group = readString(reader);
        break;
      default:
        reader.skipType(field & 7);
    }
  }
  if (reader.pos !== end) throw new RangeError('an EventDelivery overruns its length');
  return delivery;
}

function readContext(
  reader: protobuf.Reader,
  length: number,
  into: Event__Output['context'],
): NonNullable<Event__Output['context']> {
  const end = reader.pos + length;
  const context = into ?? {
    traceparent: '',
    tracestate: '',
    conversationId: '',
    tenant: '',
    callerChain: [],
  };
  while (reader.pos < end) {
    const field = reader.uint32();
    switch (field) {
      case tag(1):
        context.traceparent = readString(reader);
        break;
      case tag(2):
        context.tracestate = readString(reader);
        break;
      case tag(3):
        context.conversationId = readString(reader);
        break;
      case tag(4):
        context.tenant = readString(reader);
        break;
      case tag(5):
        context.callerChain.push(readString(reader));
        break;
      default:
        reader.skipType(field & 7);
    }
  }
  if (reader.pos !== end) throw new RangeError('a CallContext overruns its length');
  return context;
}

function readDeadLetter(
  reader: protobuf.Reader,
  length: number,
  into: Event__Output['deadLetter'],
): NonNullable<Event__Output['deadLetter']> {
  const end = reader.pos + length;
  const dead = into ?? {
    originalEventId: '',
    originalTopic: '',
    reason: '',
    attempts: 0,
    subscriber: '',
    pattern: '',
    group: '',
    deadLetteredAtUnixMs: 0,
  };
  while (reader.pos < end) {
    const field = reader.uint32();
    switch (field) {
      case tag(1):
        dead.originalEventId = readString(reader);
        break;
      case tag(2):
        dead.originalTopic = readString(reader);
        break;
      case tag(3):
        dead.reason = readString(reader);
        break;
      case tag(4, VARINT):
        dead.attempts = reader.uint32();
        break;
      case tag(5):
        dead.subscriber = readString(reader);
        break;
      case tag(6):
        dead.pattern = readString(reader);
        break;
      case tag(7):
        dead.group = readString(reader);
        break;
      case tag(8, VARINT):
        dead.deadLetteredAtUnixMs = int64(reader);
        break;
      default:
        reader.skipType(field & 7);
    }
  }
  if (reader.pos !== end) throw new RangeError('a DeadLetter overruns its length');
  return dead;
}

/**
 * A string field, checked against the end of the message: protobufjs's own reader cuts a string that runs past
 * the end short without a word, and a truncated event must not pass as a shorter one.
 */
function readString(reader: protobuf.Reader): string {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new RangeError(`a string of ${length} bytes runs past the end of its message`);
  reader.pos = end;
  return (reader.buf as Buffer).toString('utf8', start, end);
}

/** An int64 varint as a number (protobufjs gives a Long when long.js is installed, which it is here). */
function int64(reader: protobuf.Reader): number {
  const value = reader.int64() as unknown as number | { toNumber(): number };
  return typeof value === 'number' ? value : value.toNumber();
}

function deliveryBodySize(delivery: EncodedDelivery): number {
  let size = 1 + varintSize(delivery.event.length) + delivery.event.length;
  if (delivery.deliveryId) size += stringFieldSize(delivery.deliveryId);
  if (delivery.attempt) size += 1 + varintSize(delivery.attempt);
  if (delivery.pattern) size += stringFieldSize(delivery.pattern);
  if (delivery.group) size += stringFieldSize(delivery.group);
  return size;
}

function ackBodySize(ack: AckAnswer): number {
  let size = 0;
  if (ack.deliveryId) size += stringFieldSize(ack.deliveryId);
  const outcome = OUTCOME_NUMBERS[ack.outcome];
  if (outcome) size += 1 + varintSize(outcome);
  const retryAfterMs = retryAfterOf(ack);
  if (retryAfterMs > 0) size += 1 + varintSize(retryAfterMs);
  if (ack.reason) size += stringFieldSize(ack.reason);
  return size;
}

/** An ack's delay as the varint it is written as: whole milliseconds, at most 2^53 - 1; none when not positive. */
function retryAfterOf(ack: AckAnswer): number {
  return ack.retryAfterMs > 0 ? Math.min(Math.floor(ack.retryAfterMs), Number.MAX_SAFE_INTEGER) : 0;
}

function stringFieldSize(value: string): number {
  const bytes = Buffer.byteLength(value);
  return 1 + varintSize(bytes) + bytes;
}

/** The size of a non-negative integer (below 2^53) as a varint. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size += 1;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

function writeString(out: Buffer, at: number, field: number, value: string): number {
  out[at++] = tag(field);
  const bytes = Buffer.byteLength(value);
  at = writeVarint(out, at, bytes);
  return at + out.write(value, at, bytes, 'utf8');
}

function loadEventType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}/${target}`);
  root.loadSync('agentmesh/v1/agent.proto', { keepCase: false });
  return root.lookupType('agentmesh.v1.Event');
}

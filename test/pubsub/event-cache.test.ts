import { describe, expect, it } from 'vitest';
import { CheckedEvents } from '../../src/pubsub/event-cache.js';
import { eventToWire, type MeshEvent } from '../../src/pubsub/event.js';
import { deliveryInfoOf, publisherToken } from '../../src/nats/subjects.js';
import { encodeEvent } from '../../src/transport/delivery-codec.js';

const publisher = 'spiffe://mesh.local/agent/publisher';

function encoded(id: string): Buffer {
  const event: MeshEvent = {
    id,
    topic: 'tasks.created',
    publisher,
    publishedAt: 1_790_000_000_123,
    payload: Buffer.from(`payload of ${id}`),
    contentType: 'text/plain',
    key: '',
    context: { chain: [publisher] },
  };
  // In a larger buffer, as a message read from a socket is.
  const bytes = encodeEvent(eventToWire(event));
  const chunk = Buffer.alloc(bytes.length + 16);
  chunk.set(bytes, 8);
  return chunk.subarray(8, 8 + bytes.length);
}

describe('CheckedEvents', () => {
  it('decodes the same bytes once, and tells different bytes apart', () => {
    const cache = new CheckedEvents();
    const a = encoded('a');
    const first = cache.check(a);
    expect(first.event?.id).toBe('a');
    expect(cache.check(Buffer.from(a))).toBe(first);
    expect(cache.check(encoded('b')).event?.id).toBe('b');
  });

  it('tells apart events of the same length (two meshes read in one process, say)', () => {
    const cache = new CheckedEvents();
    expect(cache.check(encoded('mesh-a')).event?.id).toBe('mesh-a');
    expect(cache.check(encoded('mesh-b')).event?.id).toBe('mesh-b');
    expect(cache.check(encoded('mesh-a')).event?.id).toBe('mesh-a');
  });

  it('keeps nothing when told no other delivery can come', () => {
    const cache = new CheckedEvents();
    cache.check(encoded('a'), false);
    expect(cache.size).toBe(0);
  });

  it('stays within its bounds', () => {
    const cache = new CheckedEvents({ maxEvents: 4 });
    for (let i = 0; i < 20; i += 1) cache.check(encoded(`e${i}`));
    expect(cache.size).toBeLessThanOrEqual(4);
  });
});

describe('deliveryInfoOf', () => {
  it('reads the delivery count and stream sequence of both forms of the ack subject', () => {
    expect(deliveryInfoOf('$JS.ACK.EVENTS.s-abc.3.1234.77.1790000000123456789.5')).toEqual({
      sequence: 1234,
      deliveryCount: 3,
    });
    expect(deliveryInfoOf('$JS.ACK._.ACCOUNTHASH.EVENTS.s-abc.2.99.10.1790000000123456789.0.R4nd0m')).toEqual(
      { sequence: 99, deliveryCount: 2 },
    );
    expect(deliveryInfoOf('$JS.ACK.domain.HASH.EVENTS.c.1.5.5.17.0')).toEqual({
      sequence: 5,
      deliveryCount: 1,
    });
  });

  it('refuses another subject', () => {
    for (const subject of [
      '',
      'events.x.topic',
      '$JS.ACK.EVENTS',
      '$JS.ACK.EVENTS.c.x.y.1.2.0',
      '$JS.ACK.a.b.c.d.e.f.g.h',
      '$JS.ACK.EVENTS.c.0.5.5.17.0',
      '$JS.ACK.EVENTS.c.1..5.17.0',
      '$JS.ACK.EVENTS.c.1.0x10.5.17.0',
      '$JS.ACK.EVENTS.c.1.1e3.5.17.0',
      '$JS.ACK.EVENTS.c. 1.5.5.17.0',
    ]) {
      expect(deliveryInfoOf(subject)).toBeUndefined();
    }
  });
});

describe('publisherToken', () => {
  it('gives the same token when asked again, and still refuses what is not a SPIFFE ID', () => {
    expect(publisherToken(publisher)).toBe('agent!publisher');
    expect(publisherToken(publisher)).toBe('agent!publisher');
    expect(publisherToken('spiffe://mesh.local/agent/other.one')).toBe('agent!other~one');
    expect(() => publisherToken('')).toThrow();
    expect(() => publisherToken('not a spiffe id')).toThrow();
    expect(publisherToken(publisher)).toBe('agent!publisher');
  });
});

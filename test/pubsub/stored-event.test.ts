import { describe, expect, it } from 'vitest';
import { CheckedEvents } from '../../src/pubsub/event-cache.js';
import { eventFromWire, eventToWire, type MeshEvent } from '../../src/pubsub/event.js';
import { readStoredEvent, storedEventToWire } from '../../src/pubsub/jetstream/stored-event.js';
import { eventSubject, publisherOfToken, publisherToken } from '../../src/nats/subjects.js';
import { decodeEvent, encodeEvent } from '../../src/transport/delivery-codec.js';
import type { Event } from '../../src/generated/agentmesh/v1/Event.js';

const trustDomain = 'mesh.local';
const publisher = `spiffe://${trustDomain}/agent/billing.eu-1`;
const caller = `spiffe://${trustDomain}/agent/frontend`;

function event(overrides: Partial<MeshEvent> = {}): MeshEvent {
  return {
    id: 'event-1',
    topic: 'tasks.created',
    publisher,
    publishedAt: 1_790_000_000_123,
    payload: Buffer.from('payload'),
    contentType: 'text/plain',
    key: 'k',
    context: {
      chain: [caller, publisher],
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    ...overrides,
  };
}

/** What a reader decodes from the bytes of `wire`. */
function decoded(wire: Event): MeshEvent {
  return eventFromWire(decodeEvent(Buffer.from(encodeEvent(wire))));
}

describe('stored events', () => {
  it('are stored without what their subject names, and read back whole', () => {
    const original = event();
    const compact = encodeEvent(storedEventToWire(original));
    const whole = encodeEvent(eventToWire(original));
    expect(compact.length).toBeLessThan(whole.length - publisher.length * 2 - original.topic.length);
    const read = readStoredEvent(
      eventSubject(publisher, original.topic),
      eventFromWire(decodeEvent(Buffer.from(compact))),
      undefined,
      trustDomain,
    );
    expect(read.refusal).toBeUndefined();
    expect(read.event).toEqual(original);
  });

  it('end the chain with the publisher, as a delivered event does', () => {
    const original = event({ context: { chain: [caller] } });
    const read = readStoredEvent(
      eventSubject(publisher, original.topic),
      decoded(storedEventToWire(original)),
      undefined,
      trustDomain,
    );
    expect(read.event?.context.chain).toEqual([caller, publisher]);
  });

  it('keep a chain that ends with the publisher twice (it published while handling its own event)', () => {
    for (const chain of [
      [publisher, publisher],
      [caller, publisher, publisher],
    ]) {
      const original = event({ context: { chain } });
      const read = readStoredEvent(
        eventSubject(publisher, original.topic),
        decoded(storedEventToWire(original)),
        undefined,
        trustDomain,
      );
      expect(read.event?.context.chain).toEqual(chain);
    }
  });

  it('read events stored whole, naming the publisher and topic of their subject', () => {
    const original = event();
    const read = readStoredEvent(
      eventSubject(publisher, original.topic),
      decoded(eventToWire(original)),
      undefined,
      trustDomain,
    );
    expect(read.event).toEqual(original);
  });

  it('refuse a whole event naming another publisher or topic than its subject', () => {
    // Another domain's identity of the same path has the same token: still not the subject's publisher.
    const foreign = event({ publisher: 'spiffe://partner.example/agent/billing.eu-1' });
    expect(
      readStoredEvent(
        eventSubject(publisher, foreign.topic),
        decoded(eventToWire(foreign)),
        undefined,
        trustDomain,
      ).refusal,
    ).toMatch(/names publisher spiffe:\/\/partner.example/);
    const forged = event({ publisher: caller });
    const subject = eventSubject(publisher, forged.topic);
    expect(readStoredEvent(subject, decoded(eventToWire(forged)), undefined, trustDomain).refusal).toMatch(
      /names publisher .*frontend.* but was stored by agent!billing~eu-1/,
    );
    const otherTopic = readStoredEvent(
      eventSubject(publisher, 'tasks.deleted'),
      decoded(eventToWire(event())),
      undefined,
      trustDomain,
    );
    expect(otherTopic.refusal).toMatch(/topic tasks.created but was stored .* on tasks.deleted/);
  });

  it('refuse what a subject cannot stand for, or a compact event that fails the checks', () => {
    const compact = decoded(storedEventToWire(event()));
    expect(readStoredEvent('elsewhere.tasks', compact, undefined, trustDomain).refusal).toMatch(
      /not an event subject/,
    );
    expect(readStoredEvent('am.ev.agent!!x.tasks.created', compact, undefined, trustDomain).refusal).toMatch(
      /not an identity of the mesh/,
    );
    const noId = decoded(storedEventToWire(event({ id: '' })));
    expect(
      readStoredEvent(eventSubject(publisher, 'tasks.created'), noId, undefined, trustDomain).refusal,
    ).toMatch(/has no id/);
    // The reason a whole event fails its checks, as the reader of its bytes found it.
    expect(
      readStoredEvent(
        eventSubject(publisher, 'tasks.created'),
        decoded(eventToWire(event())),
        'the reason',
        trustDomain,
      ).refusal,
    ).toBe('the reason');
  });

  it('keep dead letters whole, and refuse dead-letter details on an ordinary event, compact or not', () => {
    const letter = event({
      id: 'event-1~s-1',
      topic: 'dead-letter.tasks.created',
      deadLetter: {
        originalEventId: 'event-1',
        originalTopic: 'tasks.created',
        reason: 'gave up',
        attempts: 5,
        subscriber: publisher,
        pattern: 'tasks.>',
        group: '',
        deadLetteredAt: 1_790_000_000_999,
      },
    });
    const stored = storedEventToWire(letter);
    expect(stored.publisher).toBe(publisher);
    const read = readStoredEvent(
      eventSubject(publisher, letter.topic),
      decoded(stored),
      undefined,
      trustDomain,
    );
    expect(read.event).toEqual(letter);
    // The same details on an event of an ordinary topic, stored compact by a client of its own.
    const disguised = { ...storedEventToWire(event()), deadLetter: stored.deadLetter };
    expect(
      readStoredEvent(eventSubject(publisher, 'tasks.created'), decoded(disguised), undefined, trustDomain)
        .refusal,
    ).toMatch(/a dead letter must come from the subscriber it names/);
  });

  it('are refused as they are stored by a reader of deliveries, which has no subject to complete them', () => {
    const bytes = Buffer.from(encodeEvent(storedEventToWire(event())));
    expect(new CheckedEvents().check(bytes).invalid).toBe('the event names no publisher and no topic');
  });

  it('name publishers by the token of their subject, exactly', () => {
    expect(publisherOfToken(publisherToken(publisher), trustDomain)).toBe(publisher);
    expect(publisherOfToken('agent', trustDomain)).toBe(`spiffe://${trustDomain}/agent`);
    for (const token of ['', 'agent!', '!agent', 'agent!a b', 'agent!%41']) {
      expect(publisherOfToken(token, trustDomain)).toBeUndefined();
    }
  });
});

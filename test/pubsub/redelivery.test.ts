import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryLink } from '../../src/pubsub/delivery-link.js';
import { newPending, type Pending, type Route, type Slot } from '../../src/pubsub/delivery-state.js';
import { Redelivery } from '../../src/pubsub/redelivery.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { MeshEvent } from '../../src/pubsub/event.js';

/** The publisher's bookkeeping of deliveries between their send and their ack (pure logic, with fake parts). */
describe('redelivery bookkeeping', () => {
  const opened: Redelivery[] = [];
  afterEach(() => {
    for (const redelivery of opened.splice(0)) redelivery.close();
  });

  function setUp() {
    const done: Pending[] = [];
    const redelivery = new Redelivery({
      queue: { schedule: () => undefined, requeue: () => undefined, done: (pending) => done.push(pending) },
      logger: silentLogger(),
      deadLetter: () => undefined,
      count: () => undefined,
      absent: () => undefined,
    });
    opened.push(redelivery);
    const sent: string[] = [];
    const link = { send: (delivery: { deliveryId: string }) => sent.push(delivery.deliveryId) > 0 };
    const slot = { inFlight: 0, subscription: { pattern: 'orders.>', group: '' }, agentId: 'sink-1' };
    const event = { id: 'e-1', topic: 'orders.new', payload: Buffer.from('x') } as MeshEvent;
    const send = () => {
      const pending = newPending(event, new Uint8Array(4), {} as Route);
      redelivery.send(pending, slot as unknown as Slot, link as unknown as DeliveryLink);
      return pending;
    };
    const ack = (deliveryId: string) =>
      redelivery.onAck({ deliveryId, outcome: 'ACK_OUTCOME_ACK', retryAfterMs: 0, reason: '' });
    return { redelivery, done, sent, link: link as unknown as DeliveryLink, slot, send, ack };
  }

  it('releases a delivery on the ack that names it, once', () => {
    const { redelivery, done, sent, link, slot, send, ack } = setUp();
    const pending = send();
    expect(sent).toEqual([pending.deliveryId]);
    expect(redelivery.wanted(link, pending.deliveryId)).toBe(true);
    ack(pending.deliveryId);
    expect(done).toEqual([pending]);
    expect(slot.inFlight).toBe(0);
    expect(redelivery.wanted(link, pending.deliveryId)).toBe(false);
    ack(pending.deliveryId);
    expect(done).toHaveLength(1);
  });

  it('ignores an ack whose id only parses to the delivery number, or is not one at all', () => {
    const { redelivery, done, link, send, ack } = setUp();
    const pending = send();
    for (const forged of [
      `0${pending.deliveryId}`,
      `${pending.deliveryId}!`,
      ` ${pending.deliveryId}`,
      '',
      'zz',
      '-1',
    ]) {
      ack(forged);
      expect(redelivery.wanted(link, forged)).toBe(false);
    }
    expect(done).toEqual([]);
    expect(redelivery.wanted(link, pending.deliveryId)).toBe(true);
  });

  it('tells the ack of one delivery from another sent over the same link', () => {
    const { done, send, ack } = setUp();
    const first = send();
    const second = send();
    expect(second.deliveryId).not.toBe(first.deliveryId);
    ack(second.deliveryId);
    expect(done).toEqual([second]);
    ack(first.deliveryId);
    expect(done).toEqual([second, first]);
  });
});

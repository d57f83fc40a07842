import { describe, expect, it } from 'vitest';
import { Code } from '../../src/core/errors.js';
import { DeliveryQueue } from '../../src/pubsub/delivery-queue.js';
import {
  newPending,
  newRoute,
  type Pending,
  type Route,
  type Slot,
} from '../../src/pubsub/delivery-state.js';
import { pickSlot } from '../../src/pubsub/event-routing.js';
import type { MeshEvent } from '../../src/pubsub/event.js';

// Unit tests of the publisher's queue logic, with fake members: the end-to-end behaviour over gRPC is in
// pubsub.test.ts. The queue pumps in a microtask; `settled()` waits until every microtask has run.
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function event(id: string, key = ''): MeshEvent {
  return {
    id,
    topic: 'tasks.created',
    publisher: 'spiffe://mesh.local/agent/publisher',
    publishedAt: 0,
    payload: Buffer.alloc(0),
    contentType: 'application/octet-stream',
    key,
    context: { chain: [] },
  };
}

const route = (): Route => newRoute('group|workers', 'workers', undefined, 'tasks.*');

function slot(agentId: string, limit: number, inFlight = 0): Slot {
  return {
    agentId,
    spiffeId: `spiffe://mesh.local/agent/${agentId}`,
    subscription: { pattern: 'tasks.*', group: 'workers', maxInFlight: limit },
    inFlight,
    limit,
  };
}

/** A queue whose route has `members`; sends take room on their slot, and are recorded. */
function queueWith(members: Slot[], maxPending = 100) {
  const sent: string[] = [];
  const deadLettered: string[] = [];
  const queue = new DeliveryQueue(
    { maxPending, maxPendingBytes: 1024 * 1024 },
    {
      membersOf: () => members,
      send: (pending, to) => {
        to.inFlight += 1;
        pending.slot = to;
        sent.push(pending.event.id);
      },
      absent: (pending, reason) => {
        deadLettered.push(`${pending.event.id}: ${reason}`);
        queue.done(pending);
      },
    },
  );
  /** The subscriber acknowledged `pending`: its room is free and its route may go on. */
  const ack = (pending: Pending) => {
    pending.slot!.inFlight -= 1;
    queue.done(pending);
    queue.schedule(pending.route);
  };
  return { queue, sent, deadLettered, ack };
}

describe('the delivery queue', () => {
  it('sends the events of one ordering key one at a time, in publish order, and other events beside them', async () => {
    const { queue, sent, ack } = queueWith([slot('a', 10)]);
    const target = route();
    const first = newPending(event('k1', 'order-7'), new Uint8Array(), target);
    queue.enqueue(first);
    queue.enqueue(newPending(event('k2', 'order-7'), new Uint8Array(), target));
    queue.enqueue(newPending(event('free'), new Uint8Array(), target));
    await settled();
    expect(sent).toEqual(['k1', 'free']);
    ack(first);
    await settled();
    expect(sent).toEqual(['k1', 'free', 'k2']);
  });

  it('holds events while every member is full, and sends the oldest first when one has room', async () => {
    const member = slot('a', 1);
    const { queue, sent, ack } = queueWith([member]);
    const target = route();
    const pendings = ['e1', 'e2', 'e3'].map((id) => newPending(event(id), new Uint8Array(), target));
    for (const pending of pendings) queue.enqueue(pending);
    await settled();
    expect(sent).toEqual(['e1']);
    ack(pendings[0]!);
    await settled();
    expect(sent).toEqual(['e1', 'e2']);
    expect(queue.pending).toBe(2);
  });

  it('puts a retried event back before the events published after it', async () => {
    const member = slot('a', 1);
    const { queue, sent } = queueWith([member]);
    const target = route();
    const first = newPending(event('e1'), new Uint8Array(), target);
    queue.enqueue(first);
    queue.enqueue(newPending(event('e2'), new Uint8Array(), target));
    await settled();
    member.inFlight -= 1; // e1 failed: its room is free, and it comes back for a retry
    queue.requeue(first);
    await settled();
    expect(sent).toEqual(['e1', 'e1']);
  });

  it('hands the events of a route with no member left to the absent-subscriber hold, in order', async () => {
    const { queue, deadLettered } = queueWith([]);
    const pending = newPending(event('e1'), new Uint8Array(), route());
    queue.enqueue(pending);
    queue.enqueue(newPending(event('e2'), new Uint8Array(), pending.route));
    await settled();
    expect(deadLettered).toEqual([
      'e1: the subscription is not in the registry (its agent left the mesh)',
      'e2: the subscription is not in the registry (its agent left the mesh)',
    ]);
    expect(queue.pending).toBe(0);
  });

  it('refuses more than maxPending deliveries, and flush resolves once the last is done', async () => {
    const { queue, ack } = queueWith([slot('a', 10)], 2);
    const target = route();
    const pendings = ['e1', 'e2'].map((id) => newPending(event(id), new Uint8Array(), target));
    queue.admit(2);
    for (const pending of pendings) queue.enqueue(pending);
    expect(() => queue.admit(1)).toThrow(
      expect.objectContaining({
        code: Code.RESOURCE_EXHAUSTED,
        message: expect.stringMatching(/maxPending=2/),
      }),
    );
    await settled();
    const flushed = queue.flush(10_000);
    for (const pending of pendings) ack(pending);
    await expect(flushed).resolves.toBe(true);
  });
});

describe('picking a member', () => {
  it('takes the member with the most room, and avoids the one that failed last while another has room', () => {
    const members = [slot('a', 4, 1), slot('b', 4, 3), slot('c', 4, 4)];
    expect(pickSlot(members, undefined, 0)?.agentId).toBe('a');
    expect(pickSlot(members, 'a', 0)?.agentId).toBe('b');
    expect(pickSlot([slot('a', 4, 1)], 'a', 0)?.agentId).toBe('a');
    expect(pickSlot([slot('a', 1, 1), slot('b', 2, 2)], undefined, 0)).toBeUndefined();
  });

  it('passes over a member whose connection was lost while another is reachable, even a full one', () => {
    const dead = (id: string) => id === 'a';
    // The dead member has the most room, and is the only one with room: the event waits for the live one.
    expect(pickSlot([slot('a', 4, 0), slot('b', 4, 1)], undefined, 0, dead)?.agentId).toBe('b');
    expect(pickSlot([slot('a', 4, 0), slot('b', 4, 4)], 'b', 0, dead)).toBeUndefined();
    // With no reachable member left, the lost ones are tried (they may be back).
    expect(pickSlot([slot('a', 4, 0), slot('c', 4, 0)], undefined, 0, () => true)?.agentId).toBe('a');
    expect(pickSlot([slot('a', 4, 0)], undefined, 0, dead)?.agentId).toBe('a');
  });

  it('lets members with equal room take turns', () => {
    const members = [slot('a', 4), slot('b', 4)];
    expect([0, 1, 2, 3].map((turn) => pickSlot(members, undefined, turn)?.agentId)).toEqual([
      'a',
      'b',
      'a',
      'b',
    ]);
  });
});

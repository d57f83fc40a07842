import { describe, expect, it } from 'vitest';
import { AbsentSubscribers } from '../../src/pubsub/absent-subscribers.js';
import { newPending, newRoute, type Pending } from '../../src/pubsub/delivery-state.js';
import type { MeshEvent } from '../../src/pubsub/event.js';

// Unit tests of the hold's logic, with an explicit clock (the `now` argument): the end-to-end behaviour, a
// subscriber killed and restarted, is in subscriber-restart.test.ts.
function event(id: string): MeshEvent {
  return {
    id,
    topic: 'orders.created',
    publisher: 'spiffe://mesh.local/agent/publisher',
    publishedAt: 0,
    payload: Buffer.alloc(0),
    contentType: 'application/octet-stream',
    key: '',
    context: { chain: [] },
  };
}

/** The test clock's start (0 means "never" in the delivery state, as Date.now() never returns it). */
const T = 1_000_000;

function hold() {
  const requeued: string[] = [];
  const deadLettered: string[] = [];
  const absent = new AbsentSubscribers({
    retentionMs: 1_000,
    backoffMs: 60_000, // no probe comes due during a test: releases are explicit
    maxBackoffMs: 60_000,
    random: () => 0.5,
    requeue: (pending: Pending) => requeued.push(pending.event.id),
    deadLetter: (pending: Pending, reason: string) => deadLettered.push(`${pending.event.id}: ${reason}`),
  });
  return { absent, requeued, deadLettered };
}

describe('deliveries held for an absent subscriber', () => {
  it('go again in the order they were held when the registry changes', () => {
    const { absent, requeued } = hold();
    const route = newRoute('agent|listener|orders.>|', '', 'listener', 'orders.>');
    for (const id of ['e1', 'e2', 'e3'])
      absent.hold(newPending(event(id), new Uint8Array(), route), 'lost', T);
    expect(absent.size).toBe(3);
    expect(absent.holds(route)).toBe(true);
    absent.releaseAll();
    // requeue puts each at the front of the route's queue: last first, so that e1 ends up first.
    expect(requeued).toEqual(['e3', 'e2', 'e1']);
    expect(absent.size).toBe(0);
    absent.close();
  });

  it('are dead-lettered with the reason once the subscriber was absent longer than the retention', () => {
    const { absent, deadLettered } = hold();
    const route = newRoute('agent|listener|orders.>|', '', 'listener', 'orders.>');
    const first = newPending(event('e1'), new Uint8Array(), route);
    absent.hold(first, 'connection refused', T);
    absent.releaseAll();
    absent.hold(first, 'connection refused', T + 999);
    expect(deadLettered).toEqual([]);
    absent.releaseAll();
    // A later event of the same absence (e.g. behind an ordering key) shares its start, not a retention of its own.
    absent.hold(newPending(event('e2'), new Uint8Array(), route), 'connection refused', T + 1_000);
    expect(deadLettered).toEqual([
      'e2: the subscriber was absent for more than absentRetentionMs (1000 ms): connection refused',
    ]);
    absent.close();
  });

  it('get a fresh retention once the subscriber answered', () => {
    const { absent, deadLettered } = hold();
    const route = newRoute('agent|listener|orders.>|', '', 'listener', 'orders.>');
    absent.hold(newPending(event('e1'), new Uint8Array(), route), 'lost', T);
    absent.releaseAll();
    absent.seen(route);
    absent.hold(newPending(event('e2'), new Uint8Array(), route), 'lost', T + 5_000);
    expect(deadLettered).toEqual([]);
    expect(absent.size).toBe(1);
    absent.close();
  });
});

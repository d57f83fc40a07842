/**
 * The state the publisher's parts share about deliveries: where events may go ({@link Slot}, {@link Route}) and
 * each event on its way to one route ({@link Pending}). Plain records, so that routing, the delivery queue,
 * redelivery and dead letters each change only their own fields and the facade wires them together.
 */

import type { Subscription } from '../core/subscription.js';
import type { DeliveryLink } from './delivery-link.js';
import type { MeshEvent } from './event.js';

/** One subscription of one agent, as deliveries see it: where it lives and how much it takes at once. */
export interface Slot {
  agentId: string;
  spiffeId: string;
  subscription: Subscription;
  /** Deliveries sent to it and not yet answered. */
  inFlight: number;
  /** Its `maxInFlight`: no more deliveries are sent while `inFlight` reaches it. */
  limit: number;
}

/** An event on its way to one route (an ungrouped subscription, or a queue group). */
export interface Pending {
  event: MeshEvent;
  /** The event's protobuf encoding, made once for all its deliveries. */
  wire: Uint8Array;
  route: Route;
  attempt: number;
  /** The number of its current delivery (see `Redelivery`), and the same as the id its ack names it by. */
  delivery: number;
  deliveryId: string;
  slot: Slot | undefined;
  link: DeliveryLink | undefined;
  ackDeadline: number;
  /** The instance that failed it last, avoided on the next attempt when the group has another. */
  avoid: string | undefined;
  lastFailure: string;
  /** Attempts lost with their link (the subscriber absent): they count toward no `maxAttempts`. */
  lost: number;
  /** When its subscriber was first found absent (0: never), for `absentRetentionMs`. */
  absentSince: number;
}

/** Where events go: one ungrouped subscription, or one queue group (one delivery per event). */
export interface Route {
  key: string;
  group: string;
  /** For an ungrouped subscription: its agent and pattern. */
  agentId?: string;
  pattern?: string;
  /** Ready to send, in publish order. */
  ready: Pending[];
  readyHead: number;
  /** Ordering keys with an event in flight (or waiting to be retried), and the events queued behind each. */
  busyKeys: Map<string, Pending[]>;
  /** Members by topic, recomputed after registry changes. */
  members: Map<string, Slot[]>;
  /** Where the next search for a member starts: members with equal room take turns. */
  turn: number;
  scheduled: boolean;
  /** Probes of an absent subscriber since it last answered: the exponent of the probe backoff. */
  probes: number;
  /** When its subscriber was found absent since it last answered (0: it answered since), for the retention. */
  absentSince: number;
}

/** How one delivery attempt ended, as the publisher counts it (the `eventDelivery` metric's label). */
export type DeliveryOutcome = 'delivered' | 'retried' | 'dead_lettered' | 'refused';

/**
 * A new route with an empty queue: a queue group's (`agentId` undefined), or an ungrouped subscription's, of the
 * agent `agentId` with the pattern `pattern`.
 */
export function newRoute(key: string, group: string, agentId: string | undefined, pattern: string): Route {
  return {
    key,
    group,
    ...(agentId !== undefined ? { agentId, pattern } : {}),
    ready: [],
    readyHead: 0,
    busyKeys: new Map(),
    members: new Map(),
    turn: 0,
    scheduled: false,
    probes: 0,
    absentSince: 0,
  };
}

/** A new, not yet attempted delivery of `event` (encoded as `wire`) to `route`. */
export function newPending(event: MeshEvent, wire: Uint8Array, route: Route): Pending {
  return {
    event,
    wire,
    route,
    attempt: 0,
    delivery: -1,
    deliveryId: '',
    slot: undefined,
    link: undefined,
    ackDeadline: 0,
    avoid: undefined,
    lastFailure: '',
    lost: 0,
    absentSince: 0,
  };
}

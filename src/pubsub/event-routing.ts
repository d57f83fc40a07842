import type { AgentRecord } from '../core/agent-record.js';
import { DEFAULT_MAX_IN_FLIGHT, subscriptionKey, type Subscription } from '../core/subscription.js';
import { matchesTopic } from '../core/topic.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import { newRoute, type Route, type Slot } from './delivery-state.js';

/**
 * Where the events of a topic go, read from the subscriptions in the registry: the routes of a topic (each
 * matching subscription without a group, and each queue group with a matching member) and the members of a route
 * that may take an event. Both are computed on first use and kept until the next registry change
 * ({@link EventRouting.invalidate}); a route and a slot, once made, keep their identity (and their queue and
 * in-flight count) across changes.
 */
export class EventRouting {
  private readonly routes = new Map<string, Route>();
  /** Routes by topic, recomputed after registry changes. */
  private readonly routing = new Map<string, Route[]>();
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly cache: Pick<EndpointCache, 'get' | 'all'>) {}

  /** The routes of a topic: each matching subscription without a group, and each group with a matching member. */
  routesFor(topic: string): Route[] {
    const cached = this.routing.get(topic);
    if (cached) return cached;
    const found = new Map<string, Route>();
    for (const record of this.cache.all()) {
      if (record.health === 'draining') continue;
      for (const subscription of record.spec.subscriptions) {
        if (!matchesTopic(subscription.pattern, topic)) continue;
        const key = subscription.group
          ? `group|${subscription.group}`
          : `agent|${record.id}|${subscriptionKey(subscription)}`;
        if (found.has(key)) continue;
        found.set(
          key,
          this.routeFor(
            key,
            subscription.group,
            subscription.group ? undefined : record.id,
            subscription.pattern,
          ),
        );
      }
    }
    const routes = [...found.values()];
    this.routing.set(topic, routes);
    return routes;
  }

  /** The slots an event of `topic` on `route` may go to: routable members whose pattern matches. */
  membersOf(route: Route, topic: string): Slot[] {
    let members = route.members.get(topic);
    if (members) return members;
    members = [];
    const records = route.agentId ? [this.cache.get(route.agentId)].filter(isRecord) : this.cache.all();
    for (const record of records) {
      if (record.health === 'draining') continue;
      for (const subscription of record.spec.subscriptions) {
        if (subscription.group !== route.group || !matchesTopic(subscription.pattern, topic)) continue;
        if (route.agentId && subscriptionKey(subscription) !== `${route.pattern}|`) continue;
        members.push(this.slotFor(record, subscription));
        break; // one slot per agent and route
      }
    }
    // Healthy members first; unhealthy ones only when nothing else is left.
    const healthy = members.filter((slot) => this.cache.get(slot.agentId)?.health === 'healthy');
    members = healthy.length > 0 ? healthy : members;
    route.members.set(topic, members);
    return members;
  }

  /** The SPIFFE ID of an ungrouped route's subscriber (its agent id when it left the mesh); '' for a group. */
  subscriberOf(route: Route): string {
    return route.agentId ? (this.cache.get(route.agentId)?.spiffeId ?? route.agentId) : '';
  }

  /**
   * After a registry change: forgets the routes of every topic and the members of every route, and returns all
   * routes, whose queues the caller pumps again (a member may have joined or left).
   */
  invalidate(): Iterable<Route> {
    this.routing.clear();
    for (const route of this.routes.values()) route.members.clear();
    return this.routes.values();
  }

  private routeFor(key: string, group: string, agentId: string | undefined, pattern: string): Route {
    let route = this.routes.get(key);
    if (!route) {
      route = newRoute(key, group, agentId, pattern);
      this.routes.set(key, route);
    }
    return route;
  }

  private slotFor(record: AgentRecord, subscription: Subscription): Slot {
    const key = `${record.id}|${subscriptionKey(subscription)}`;
    let slot = this.slots.get(key);
    if (!slot || slot.spiffeId !== record.spiffeId) {
      slot = {
        agentId: record.id,
        spiffeId: record.spiffeId,
        subscription,
        inFlight: slot?.inFlight ?? 0,
        limit: subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT,
      };
      this.slots.set(key, slot);
    } else {
      slot.subscription = subscription;
      slot.limit = subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT;
    }
    return slot;
  }
}

/**
 * The member with the most room (never `avoid` when another has room), or undefined when all are full. The search
 * starts at member `turn` (modulo their number), so that members with equal room take turns. A member whose
 * connection was lost (`unreachable`: its process died, or its link is cut) is passed over while another member is
 * reachable, even a full one: the event waits for room there rather than going to an agent that cannot take it and
 * using up its attempts (a dead member stays registered until its lease runs out).
 */
export function pickSlot(
  members: Slot[],
  avoid: string | undefined,
  turn: number,
  unreachable: (agentId: string) => boolean = () => false,
): Slot | undefined {
  let best: Slot | undefined;
  let bestRoom = 0;
  let fallback: Slot | undefined;
  let lost: Slot | undefined;
  let reachable = false;
  for (let i = 0; i < members.length; i += 1) {
    const slot = members[(turn + i) % members.length]!;
    const gone = members.length > 1 && unreachable(slot.agentId);
    reachable ||= !gone;
    const room = slot.limit - slot.inFlight;
    if (room <= 0) continue;
    if (gone) {
      lost ??= slot;
      continue;
    }
    if (slot.agentId === avoid && members.length > 1) {
      fallback = slot;
      continue;
    }
    if (room > bestRoom) {
      best = slot;
      bestRoom = room;
    }
  }
  return best ?? fallback ?? (reachable ? undefined : lost);
}

function isRecord(record: AgentRecord | undefined): record is AgentRecord {
  return record !== undefined;
}

/**
 * Load balancing: strategies behind one interface. A balancer is given the current endpoints of a target with
 * {@link LoadBalancer.update} and picks one per call; it never sees grpc-js, so every strategy is testable as pure
 * logic. Per-endpoint statistics (in-flight calls, latency) live in {@link EndpointStats}, shared with the caller
 * that records each call's start and end.
 */
import type { EndpointStats } from './endpoint-stats.js';

/** One instance of a target, as the balancer sees it. */
export interface Endpoint {
  /** The agent id (its name): stable across updates. */
  id: string;
  /** Relative share for weighted strategies (from the registration; 100 by default). */
  weight: number;
  /** The agent's own load report from its last heartbeat. */
  reported: { inFlight: number; queueDepth: number };
  /** This client's view of the endpoint: its in-flight calls and latency. */
  stats: EndpointStats;
}

/** What a pick may depend on. */
export interface PickOptions {
  /** For consistent hashing: the key that should stick to one instance (e.g. a conversation id). */
  key?: string;
  /** Endpoints not to pick (failover never retries the instance that just failed). */
  exclude?: ReadonlySet<string>;
}

/** A strategy. */
export interface LoadBalancer {
  /** The strategy's name, e.g. `round-robin`. */
  readonly name: string;
  /** Replaces the endpoint set; called whenever the target's instances change. */
  update(endpoints: readonly Endpoint[]): void;
  /** Picks an endpoint, or undefined when none is eligible. */
  pick(options?: PickOptions): Endpoint | undefined;
}

/** The strategies a caller may ask for by name. */
export const BALANCER_NAMES = [
  'round-robin',
  'least-connections',
  'weighted',
  'p2c-ewma',
  'consistent-hash',
] as const;

/** The name of a strategy: one of {@link BALANCER_NAMES}. */
export type BalancerName = (typeof BALANCER_NAMES)[number];

/** Endpoints not excluded, in their given order. */
export function eligible(
  endpoints: readonly Endpoint[],
  exclude: ReadonlySet<string> | undefined,
): readonly Endpoint[] {
  if (!exclude || exclude.size === 0) return endpoints;
  return endpoints.filter((endpoint) => !exclude.has(endpoint.id));
}

import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';

/**
 * The endpoint with the fewest calls in flight: this client's own count, plus what the agent last reported
 * (in flight and queued, from all its callers). Ties go round-robin so that idle endpoints share the work.
 */
export class LeastConnectionsBalancer implements LoadBalancer {
  readonly name = 'least-connections';
  private endpoints: readonly Endpoint[] = [];
  private tieBreak = 0;

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    const candidates = eligible(this.endpoints, options.exclude);
    if (candidates.length === 0) return undefined;
    const offset = this.tieBreak++ % candidates.length;
    let best: Endpoint | undefined;
    let bestLoad = Infinity;
    for (let i = 0; i < candidates.length; i += 1) {
      const endpoint = candidates[(i + offset) % candidates.length]!;
      const load = endpoint.stats.inFlight + endpoint.reported.inFlight + endpoint.reported.queueDepth;
      if (load < bestLoad) {
        best = endpoint;
        bestLoad = load;
      }
    }
    return best;
  }
}

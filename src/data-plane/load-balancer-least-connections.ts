import { eligible, type Endpoint, type LoadBalancer, type PickOptions } from './load-balancer.js';

/**
 * The endpoint with the fewest calls in flight: this client's own count, plus what the agent last reported
 * (in flight and queued, from all its callers). The endpoints tied for the fewest take turns, so that idle
 * endpoints share the work evenly.
 */
export class LeastConnectionsBalancer implements LoadBalancer {
  readonly name = 'least-connections';
  private endpoints: readonly Endpoint[] = [];
  private turn = 0;

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(options: PickOptions = {}): Endpoint | undefined {
    const candidates = eligible(this.endpoints, options.exclude);
    let fewest = Infinity;
    let tied = 0;
    for (const endpoint of candidates) {
      const load = loadOf(endpoint);
      if (load < fewest) {
        fewest = load;
        tied = 1;
      } else if (load === fewest) {
        tied += 1;
      }
    }
    if (tied === 0) return undefined;
    let skip = this.turn++ % tied;
    for (const endpoint of candidates) {
      if (loadOf(endpoint) === fewest && skip-- === 0) return endpoint;
    }
    return undefined;
  }
}

function loadOf(endpoint: Endpoint): number {
  return endpoint.stats.inFlight + endpoint.reported.inFlight + endpoint.reported.queueDepth;
}

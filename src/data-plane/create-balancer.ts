import { Code, MeshError } from '../core/errors.js';
import { BALANCER_NAMES, type BalancerName, type LoadBalancer } from './load-balancer.js';
import { ConsistentHashBalancer } from './load-balancer-consistent-hash.js';
import { LeastConnectionsBalancer } from './load-balancer-least-connections.js';
import { P2cEwmaBalancer } from './load-balancer-p2c-ewma.js';
import { RoundRobinBalancer } from './load-balancer-round-robin.js';
import { WeightedBalancer } from './load-balancer-weighted.js';

/**
 * Creates a balancer by strategy name; `p2c-ewma` is the default.
 * @throws MeshError INVALID_ARGUMENT for a name that is not a strategy (a caller may pass any string at run time).
 */
export function createBalancer(
  name: BalancerName = 'p2c-ewma',
  random: () => number = Math.random,
): LoadBalancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'least-connections':
      return new LeastConnectionsBalancer();
    case 'weighted':
      return new WeightedBalancer();
    case 'p2c-ewma':
      return new P2cEwmaBalancer(random);
    case 'consistent-hash':
      return new ConsistentHashBalancer();
    default:
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `unknown load-balancing strategy "${String(name)}": use one of ${BALANCER_NAMES.join(', ')}`,
      );
  }
}

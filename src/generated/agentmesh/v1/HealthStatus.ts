// Original file: proto/agentmesh/v1/types.proto

/**
 * The health of a registered agent, as seen by the control plane.
 */
export const HealthStatus = {
  /**
   * Never set by the control plane; treated as unknown.
   */
  HEALTH_STATUS_UNSPECIFIED: 'HEALTH_STATUS_UNSPECIFIED',
  /**
   * Passing health checks with a live lease: routable.
   */
  HEALTH_STATUS_HEALTHY: 'HEALTH_STATUS_HEALTHY',
  /**
   * Failing active health checks: kept in the registry, not routed to, restored when checks pass again.
   */
  HEALTH_STATUS_UNHEALTHY: 'HEALTH_STATUS_UNHEALTHY',
  /**
   * The agent asked not to receive new calls; it still finishes in-flight work before it deregisters.
   */
  HEALTH_STATUS_DRAINING: 'HEALTH_STATUS_DRAINING',
} as const;

/**
 * The health of a registered agent, as seen by the control plane.
 */
export type HealthStatus =
  /**
   * Never set by the control plane; treated as unknown.
   */
  | 'HEALTH_STATUS_UNSPECIFIED'
  | 0
  /**
   * Passing health checks with a live lease: routable.
   */
  | 'HEALTH_STATUS_HEALTHY'
  | 1
  /**
   * Failing active health checks: kept in the registry, not routed to, restored when checks pass again.
   */
  | 'HEALTH_STATUS_UNHEALTHY'
  | 2
  /**
   * The agent asked not to receive new calls; it still finishes in-flight work before it deregisters.
   */
  | 'HEALTH_STATUS_DRAINING'
  | 3

/**
 * The health of a registered agent, as seen by the control plane.
 */
export type HealthStatus__Output = typeof HealthStatus[keyof typeof HealthStatus]

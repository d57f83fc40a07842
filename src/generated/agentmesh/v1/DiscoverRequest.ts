// Original file: proto/agentmesh/v1/control_plane.proto


export interface DiscoverRequest {
  /**
   * Only agents of this type; empty matches every type.
   */
  'type'?: (string);
  /**
   * Only agents that have all of these capabilities.
   */
  'capabilities'?: (string)[];
  /**
   * Only agents whose labels match this Kubernetes-style selector, e.g. "zone=eu-1,model in (large,xl),!beta".
   */
  'labelSelector'?: (string);
  /**
   * Also return agents that are unhealthy or draining (by default only healthy agents are returned).
   */
  'includeUnhealthy'?: (boolean);
  /**
   * Only agents that offer the skill with this id.
   */
  'skill'?: (string);
  /**
   * Only agents that offer a skill with this tag.
   */
  'skillTag'?: (string);
}

export interface DiscoverRequest__Output {
  /**
   * Only agents of this type; empty matches every type.
   */
  'type': (string);
  /**
   * Only agents that have all of these capabilities.
   */
  'capabilities': (string)[];
  /**
   * Only agents whose labels match this Kubernetes-style selector, e.g. "zone=eu-1,model in (large,xl),!beta".
   */
  'labelSelector': (string);
  /**
   * Also return agents that are unhealthy or draining (by default only healthy agents are returned).
   */
  'includeUnhealthy': (boolean);
  /**
   * Only agents that offer the skill with this id.
   */
  'skill': (string);
  /**
   * Only agents that offer a skill with this tag.
   */
  'skillTag': (string);
}

// Original file: proto/agentmesh/v1/control_plane.proto

/**
 * What a caller wants to do.
 */
export const PolicyAction = {
  POLICY_ACTION_UNSPECIFIED: 'POLICY_ACTION_UNSPECIFIED',
  /**
   * Call a method of another agent (Invoke, InvokeStream, or a typed service method).
   */
  POLICY_ACTION_INVOKE: 'POLICY_ACTION_INVOKE',
  /**
   * Publish an event to a topic.
   */
  POLICY_ACTION_PUBLISH: 'POLICY_ACTION_PUBLISH',
  /**
   * Subscribe to a topic pattern.
   */
  POLICY_ACTION_SUBSCRIBE: 'POLICY_ACTION_SUBSCRIBE',
} as const;

/**
 * What a caller wants to do.
 */
export type PolicyAction =
  | 'POLICY_ACTION_UNSPECIFIED'
  | 0
  /**
   * Call a method of another agent (Invoke, InvokeStream, or a typed service method).
   */
  | 'POLICY_ACTION_INVOKE'
  | 1
  /**
   * Publish an event to a topic.
   */
  | 'POLICY_ACTION_PUBLISH'
  | 2
  /**
   * Subscribe to a topic pattern.
   */
  | 'POLICY_ACTION_SUBSCRIBE'
  | 3

/**
 * What a caller wants to do.
 */
export type PolicyAction__Output = typeof PolicyAction[keyof typeof PolicyAction]

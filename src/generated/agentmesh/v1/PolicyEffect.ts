// Original file: proto/agentmesh/v1/control_plane.proto

/**
 * What an authorization rule does when it matches.
 */
export const PolicyEffect = {
  POLICY_EFFECT_UNSPECIFIED: 'POLICY_EFFECT_UNSPECIFIED',
  POLICY_EFFECT_ALLOW: 'POLICY_EFFECT_ALLOW',
  POLICY_EFFECT_DENY: 'POLICY_EFFECT_DENY',
} as const;

/**
 * What an authorization rule does when it matches.
 */
export type PolicyEffect =
  | 'POLICY_EFFECT_UNSPECIFIED'
  | 0
  | 'POLICY_EFFECT_ALLOW'
  | 1
  | 'POLICY_EFFECT_DENY'
  | 2

/**
 * What an authorization rule does when it matches.
 */
export type PolicyEffect__Output = typeof PolicyEffect[keyof typeof PolicyEffect]

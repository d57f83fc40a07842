// Original file: proto/agentmesh/v1/control_plane.proto

import type { PolicyEffect as _agentmesh_v1_PolicyEffect, PolicyEffect__Output as _agentmesh_v1_PolicyEffect__Output } from '../../agentmesh/v1/PolicyEffect.js';
import type { PolicyRule as _agentmesh_v1_PolicyRule, PolicyRule__Output as _agentmesh_v1_PolicyRule__Output } from '../../agentmesh/v1/PolicyRule.js';
import type { RateLimit as _agentmesh_v1_RateLimit, RateLimit__Output as _agentmesh_v1_RateLimit__Output } from '../../agentmesh/v1/RateLimit.js';
import type { Grant as _agentmesh_v1_Grant, Grant__Output as _agentmesh_v1_Grant__Output } from '../../agentmesh/v1/Grant.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The authorization policies of the mesh.
 */
export interface PolicySet {
  /**
   * What happens when no rule matches: allow (the default of a new mesh) or deny.
   */
  'defaultEffect'?: (_agentmesh_v1_PolicyEffect);
  /**
   * The rules, in no significant order.
   */
  'rules'?: (_agentmesh_v1_PolicyRule)[];
  /**
   * The store revision of the set's last change (ignored in SetPolicies).
   */
  'revision'?: (number | string | Long);
  /**
   * Per-caller rate limits, enforced by each callee instance for each caller identity.
   */
  'rateLimits'?: (_agentmesh_v1_RateLimit)[];
  /**
   * What identities are granted beyond their certificates: agent types, priority.
   */
  'grants'?: (_agentmesh_v1_Grant)[];
  /**
   * SPIFFE ID patterns of identities cut off from the mesh (e.g. a stolen key): the control plane refuses their
   * every request, renewals included, and removes their registrations; every agent refuses their calls and events.
   */
  'revokedIdentities'?: (string)[];
}

/**
 * The authorization policies of the mesh.
 */
export interface PolicySet__Output {
  /**
   * What happens when no rule matches: allow (the default of a new mesh) or deny.
   */
  'defaultEffect': (_agentmesh_v1_PolicyEffect__Output);
  /**
   * The rules, in no significant order.
   */
  'rules': (_agentmesh_v1_PolicyRule__Output)[];
  /**
   * The store revision of the set's last change (ignored in SetPolicies).
   */
  'revision': (number);
  /**
   * Per-caller rate limits, enforced by each callee instance for each caller identity.
   */
  'rateLimits': (_agentmesh_v1_RateLimit__Output)[];
  /**
   * What identities are granted beyond their certificates: agent types, priority.
   */
  'grants': (_agentmesh_v1_Grant__Output)[];
  /**
   * SPIFFE ID patterns of identities cut off from the mesh (e.g. a stolen key): the control plane refuses their
   * every request, renewals included, and removes their registrations; every agent refuses their calls and events.
   */
  'revokedIdentities': (string)[];
}

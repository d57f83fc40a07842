// Original file: proto/agentmesh/v1/control_plane.proto

import type { PolicyEffect as _agentmesh_v1_PolicyEffect, PolicyEffect__Output as _agentmesh_v1_PolicyEffect__Output } from '../../agentmesh/v1/PolicyEffect.js';
import type { PolicyAction as _agentmesh_v1_PolicyAction, PolicyAction__Output as _agentmesh_v1_PolicyAction__Output } from '../../agentmesh/v1/PolicyAction.js';

/**
 * One authorization rule. Every non-empty condition must hold for it to match; deny rules win over allow rules,
 * and when no rule matches, the set's default effect applies.
 */
export interface PolicyRule {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'. Named in denials and logs.
   */
  'id'?: (string);
  /**
   * Allow or deny.
   */
  'effect'?: (_agentmesh_v1_PolicyEffect);
  /**
   * The actions the rule is about; empty means all.
   */
  'actions'?: (_agentmesh_v1_PolicyAction)[];
  /**
   * Caller SPIFFE ID patterns; `*` matches any characters within one path segment,
   * e.g. "spiffe://agentmesh.local/agent/billing-*".
   */
  'callers'?: (string)[];
  /**
   * Caller agent types: those the caller's certificate and the set's grants entitle it to, and the one it
   * registered as (which the control plane admitted); one of them must be listed.
   */
  'callerTypes'?: (string)[];
  /**
   * For invoke: the callee's agent types.
   */
  'targetTypes'?: (string)[];
  /**
   * For invoke: method names; a trailing `*` matches any suffix.
   */
  'methods'?: (string)[];
  /**
   * For publish and subscribe: topic patterns (`*` one segment, final `>` the rest). A subscription pattern must
   * be covered by one of them.
   */
  'topics'?: (string)[];
}

/**
 * One authorization rule. Every non-empty condition must hold for it to match; deny rules win over allow rules,
 * and when no rule matches, the set's default effect applies.
 */
export interface PolicyRule__Output {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'. Named in denials and logs.
   */
  'id': (string);
  /**
   * Allow or deny.
   */
  'effect': (_agentmesh_v1_PolicyEffect__Output);
  /**
   * The actions the rule is about; empty means all.
   */
  'actions': (_agentmesh_v1_PolicyAction__Output)[];
  /**
   * Caller SPIFFE ID patterns; `*` matches any characters within one path segment,
   * e.g. "spiffe://agentmesh.local/agent/billing-*".
   */
  'callers': (string)[];
  /**
   * Caller agent types: those the caller's certificate and the set's grants entitle it to, and the one it
   * registered as (which the control plane admitted); one of them must be listed.
   */
  'callerTypes': (string)[];
  /**
   * For invoke: the callee's agent types.
   */
  'targetTypes': (string)[];
  /**
   * For invoke: method names; a trailing `*` matches any suffix.
   */
  'methods': (string)[];
  /**
   * For publish and subscribe: topic patterns (`*` one segment, final `>` the rest). A subscription pattern must
   * be covered by one of them.
   */
  'topics': (string)[];
}

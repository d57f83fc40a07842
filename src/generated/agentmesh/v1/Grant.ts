// Original file: proto/agentmesh/v1/control_plane.proto


/**
 * An administrator's grant, beyond what certificates say. Agent types: the identities `callers` matches may
 * register as them and are known by them in `caller_types` (types do not grant types, so such a grant selects by
 * `callers` only). Priority: calls from the identities `callers` and `caller_types` match may run at `priority` or
 * any less urgent class; a call that asks for more runs at the most urgent class granted (`default` without one).
 */
export interface Grant {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'.
   */
  'id'?: (string);
  /**
   * Caller SPIFFE ID patterns (as in PolicyRule); empty matches every identity (not allowed with `types`).
   */
  'callers'?: (string)[];
  /**
   * Entitled agent types, one of which the caller must have (only with `priority`).
   */
  'callerTypes'?: (string)[];
  /**
   * Agent types granted.
   */
  'types'?: (string)[];
  /**
   * The most urgent priority class granted: "interactive", "default" or "batch"; empty grants none.
   */
  'priority'?: (string);
}

/**
 * An administrator's grant, beyond what certificates say. Agent types: the identities `callers` matches may
 * register as them and are known by them in `caller_types` (types do not grant types, so such a grant selects by
 * `callers` only). Priority: calls from the identities `callers` and `caller_types` match may run at `priority` or
 * any less urgent class; a call that asks for more runs at the most urgent class granted (`default` without one).
 */
export interface Grant__Output {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'.
   */
  'id': (string);
  /**
   * Caller SPIFFE ID patterns (as in PolicyRule); empty matches every identity (not allowed with `types`).
   */
  'callers': (string)[];
  /**
   * Entitled agent types, one of which the caller must have (only with `priority`).
   */
  'callerTypes': (string)[];
  /**
   * Agent types granted.
   */
  'types': (string)[];
  /**
   * The most urgent priority class granted: "interactive", "default" or "batch"; empty grants none.
   */
  'priority': (string);
}

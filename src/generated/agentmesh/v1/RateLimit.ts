// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A rate limit on invoke calls: every caller (SPIFFE ID) the selectors match gets its own budget at each callee
 * instance the selectors match. A call over budget is refused with RESOURCE_EXHAUSTED and a retry-after hint.
 */
export interface RateLimit {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'. Named in refusals.
   */
  'id'?: (string);
  /**
   * Which calls it limits; an empty list matches all (same syntax as PolicyRule).
   */
  'callers'?: (string)[];
  'callerTypes'?: (string)[];
  'targetTypes'?: (string)[];
  'methods'?: (string)[];
  /**
   * Calls per second per caller (0: not limited), with bursts of up to `burst` calls (0: one second's worth).
   */
  'requestsPerSecond'?: (number | string);
  'burst'?: (number);
  /**
   * Tokens per minute per caller (0: not limited), as handlers report them (`tokens` in their answer, sent in the
   * `x-agentmesh-tokens` trailer). A call starts while the caller's budget is positive; its tokens are charged
   * when it ends.
   */
  'tokensPerMinute'?: (number | string | Long);
}

/**
 * A rate limit on invoke calls: every caller (SPIFFE ID) the selectors match gets its own budget at each callee
 * instance the selectors match. A call over budget is refused with RESOURCE_EXHAUSTED and a retry-after hint.
 */
export interface RateLimit__Output {
  /**
   * Unique within the set: 1-64 letters, digits, '.', '_' or '-'. Named in refusals.
   */
  'id': (string);
  /**
   * Which calls it limits; an empty list matches all (same syntax as PolicyRule).
   */
  'callers': (string)[];
  'callerTypes': (string)[];
  'targetTypes': (string)[];
  'methods': (string)[];
  /**
   * Calls per second per caller (0: not limited), with bursts of up to `burst` calls (0: one second's worth).
   */
  'requestsPerSecond': (number);
  'burst': (number);
  /**
   * Tokens per minute per caller (0: not limited), as handlers report them (`tokens` in their answer, sent in the
   * `x-agentmesh-tokens` trailer). A call starts while the caller's budget is positive; its tokens are charged
   * when it ends.
   */
  'tokensPerMinute': (number);
}

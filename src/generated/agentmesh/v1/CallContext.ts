// Original file: proto/agentmesh/v1/types.proto


/**
 * Context that travels with a call from agent to agent. The mesh also carries it in gRPC metadata, so typed
 * services see it too. It is informational: authorization never trusts it, only the verified peer certificate.
 */
export interface CallContext {
  /**
   * W3C trace context `traceparent` header value, e.g. "00-<trace-id>-<span-id>-01".
   */
  'traceparent'?: (string);
  /**
   * W3C trace context `tracestate` header value; may be empty.
   */
  'tracestate'?: (string);
  /**
   * Identifies a conversation across calls, e.g. for sticky routing by consistent hashing.
   */
  'conversationId'?: (string);
  /**
   * The tenant on whose behalf the call runs.
   */
  'tenant'?: (string);
  /**
   * SPIFFE IDs of the agents the call has passed through, the originating caller first. Its length is the hop
   * count that the mesh limits to stop call loops.
   */
  'callerChain'?: (string)[];
}

/**
 * Context that travels with a call from agent to agent. The mesh also carries it in gRPC metadata, so typed
 * services see it too. It is informational: authorization never trusts it, only the verified peer certificate.
 */
export interface CallContext__Output {
  /**
   * W3C trace context `traceparent` header value, e.g. "00-<trace-id>-<span-id>-01".
   */
  'traceparent': (string);
  /**
   * W3C trace context `tracestate` header value; may be empty.
   */
  'tracestate': (string);
  /**
   * Identifies a conversation across calls, e.g. for sticky routing by consistent hashing.
   */
  'conversationId': (string);
  /**
   * The tenant on whose behalf the call runs.
   */
  'tenant': (string);
  /**
   * SPIFFE IDs of the agents the call has passed through, the originating caller first. Its length is the hop
   * count that the mesh limits to stop call loops.
   */
  'callerChain': (string)[];
}

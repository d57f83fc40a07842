// Original file: proto/agentmesh/v1/agent.proto

import type { CallContext as _agentmesh_v1_CallContext, CallContext__Output as _agentmesh_v1_CallContext__Output } from '../../agentmesh/v1/CallContext.js';

export interface InvokeRequest {
  /**
   * The handler to run, e.g. "summarize". Letters, digits, '.', '_', '-' and '/'; at most 128 characters.
   */
  'method'?: (string);
  /**
   * The request body, opaque to the mesh.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type, e.g. "application/json" or "text/plain".
   */
  'contentType'?: (string);
  /**
   * Context propagated from the caller's own call, if any.
   */
  'context'?: (_agentmesh_v1_CallContext | null);
}

export interface InvokeRequest__Output {
  /**
   * The handler to run, e.g. "summarize". Letters, digits, '.', '_', '-' and '/'; at most 128 characters.
   */
  'method': (string);
  /**
   * The request body, opaque to the mesh.
   */
  'payload': (Buffer);
  /**
   * The payload's media type, e.g. "application/json" or "text/plain".
   */
  'contentType': (string);
  /**
   * Context propagated from the caller's own call, if any.
   */
  'context': (_agentmesh_v1_CallContext__Output | null);
}

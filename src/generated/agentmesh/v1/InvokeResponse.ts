// Original file: proto/agentmesh/v1/agent.proto


export interface InvokeResponse {
  /**
   * The response body, opaque to the mesh.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type.
   */
  'contentType'?: (string);
}

export interface InvokeResponse__Output {
  /**
   * The response body, opaque to the mesh.
   */
  'payload': (Buffer);
  /**
   * The payload's media type.
   */
  'contentType': (string);
}

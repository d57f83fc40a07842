// Original file: proto/agentmesh/v1/agent.proto


export interface InvokeChunk {
  /**
   * One piece of the streamed response, e.g. a few tokens.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type; set on the first chunk at least.
   */
  'contentType'?: (string);
}

export interface InvokeChunk__Output {
  /**
   * One piece of the streamed response, e.g. a few tokens.
   */
  'payload': (Buffer);
  /**
   * The payload's media type; set on the first chunk at least.
   */
  'contentType': (string);
}

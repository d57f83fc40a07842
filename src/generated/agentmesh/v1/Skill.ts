// Original file: proto/agentmesh/v1/types.proto


/**
 * One skill (tool) an agent offers: what it does and what it takes and gives. It maps onto an A2A AgentSkill.
 */
export interface Skill {
  /**
   * Unique within the agent, e.g. "summarize" or "search.web": 1-128 letters, digits, '.', '_', '-' or '/'.
   * It is also the method `callTool` invokes.
   */
  'id'?: (string);
  /**
   * A human-readable name (at most 200 characters); empty means the id.
   */
  'name'?: (string);
  /**
   * What it does, for people and for LLMs choosing tools (at most 2048 characters).
   */
  'description'?: (string);
  /**
   * Keywords for discovery, e.g. ["text", "nlp"] (at most 32, each like a capability).
   */
  'tags'?: (string)[];
  /**
   * JSON Schema of the input and output, as JSON text (at most 16 KiB each); empty when not described.
   */
  'inputSchema'?: (string);
  'outputSchema'?: (string);
  /**
   * Media types accepted and produced, e.g. ["application/json"] (at most 8 each); empty means JSON.
   */
  'inputContentTypes'?: (string)[];
  'outputContentTypes'?: (string)[];
  /**
   * Example requests, for people and LLMs (at most 8, each at most 1024 characters).
   */
  'examples'?: (string)[];
  /**
   * The skill is a streamed method (`InvokeStream`): it answers with a sequence of chunks, not one payload.
   */
  'streaming'?: (boolean);
}

/**
 * One skill (tool) an agent offers: what it does and what it takes and gives. It maps onto an A2A AgentSkill.
 */
export interface Skill__Output {
  /**
   * Unique within the agent, e.g. "summarize" or "search.web": 1-128 letters, digits, '.', '_', '-' or '/'.
   * It is also the method `callTool` invokes.
   */
  'id': (string);
  /**
   * A human-readable name (at most 200 characters); empty means the id.
   */
  'name': (string);
  /**
   * What it does, for people and for LLMs choosing tools (at most 2048 characters).
   */
  'description': (string);
  /**
   * Keywords for discovery, e.g. ["text", "nlp"] (at most 32, each like a capability).
   */
  'tags': (string)[];
  /**
   * JSON Schema of the input and output, as JSON text (at most 16 KiB each); empty when not described.
   */
  'inputSchema': (string);
  'outputSchema': (string);
  /**
   * Media types accepted and produced, e.g. ["application/json"] (at most 8 each); empty means JSON.
   */
  'inputContentTypes': (string)[];
  'outputContentTypes': (string)[];
  /**
   * Example requests, for people and LLMs (at most 8, each at most 1024 characters).
   */
  'examples': (string)[];
  /**
   * The skill is a streamed method (`InvokeStream`): it answers with a sequence of chunks, not one payload.
   */
  'streaming': (boolean);
}

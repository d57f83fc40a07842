// Original file: proto/agentmesh/v1/control_plane.proto


export interface GetAgentRequest {
  /**
   * The agent's id (its name).
   */
  'agentId'?: (string);
}

export interface GetAgentRequest__Output {
  /**
   * The agent's id (its name).
   */
  'agentId': (string);
}
